"""Bench: the Stepper on a long text of the classic sample, full trace (before) vs key frames (after).

    python -m bench.long_stepper [--chars 100000 1000000] [--full-up-to 100000]

Each case runs in a fresh process (peak RSS = that process' VmHWM, which includes ~the imports and
the open model, reported as `base`):
  predict : encode + `engine.predict` of the (1, T, 36) one-hot sequence (the reference time);
  full    : encode + `AppState.set_input` with the long-input path off, i.e. the plain Stepper that
            keeps the whole trace (what main did before);
  long    : encode + `AppState.set_input` (key frames every KEYFRAME_EVERY steps, a WINDOW-step
            window), then 20 seeks to random steps (`seek` = their mean time).
The corpus is resources/samples/shakespeare.txt (lower case) repeated.  Goal: memory bounded (well
under 1 GB at 1M), build time comparable to a plain predict.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "resources" / "samples" / "classic.h5"
CORPUS = REPO / "resources" / "samples" / "shakespeare.txt"


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def child(mode: str, chars: int) -> dict[str, float]:
    import numpy as np

    from inspector.app import long_stepper
    from inspector.app.state import open_model
    from inspector.core import engine

    state = open_model(MODEL)
    text = CORPUS.read_text(encoding="utf-8").lower()
    text = (text * (chars // len(text) + 1))[:chars]
    base = _peak_mb()
    t0 = time.perf_counter()
    enc, x = state.encode(text)
    out: dict[str, float] = {"base_mb": base}
    if mode == "predict":
        assert state.run_network is not None and state.model_file is not None
        engine.predict(state.run_network, x, state.model_file.semantics)
    else:
        if mode == "full":
            long_stepper.LONG_INPUT_STEPS = 10**12
        state.set_input(x)
        assert (type(state.stepper).__name__ == "LongStepper") == (mode == "long")
    out["build_s"] = time.perf_counter() - t0
    del x, enc
    if mode == "long":
        rng = np.random.default_rng(0)
        t1 = time.perf_counter()
        for t in rng.integers(0, chars, 20).tolist():
            state.set_step(int(t))
            state.stepper.outputs_at()  # type: ignore[union-attr]
        out["seek_ms"] = (time.perf_counter() - t1) / 20 * 1000
    out["peak_mb"] = _peak_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chars", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--full-up-to", type=int, default=100_000, help="longest text given a full trace")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "CHARS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    results = []
    for chars in args.chars:
        for mode in ("predict", "full", "long"):
            if mode == "full" and chars > args.full_up_to:
                results.append({"chars": chars, "mode": mode, "skipped": "does not fit (~15 GB per 1M)"})
                continue
            proc = subprocess.run(
                [sys.executable, "-m", "bench.long_stepper", "--child", mode, str(chars)],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
            row = {"chars": chars, "mode": mode, **json.loads(proc.stdout.strip().splitlines()[-1])}
            results.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
