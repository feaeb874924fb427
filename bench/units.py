"""Bench: `units` over 1,000,000 characters of the classic sample vs a plain predict of the same text.

    python -m bench.units [--chars 1000000] [--repeats 1]

Each side runs in a fresh process (so peak RSS = that process' VmHWM): `units` = encode the text +
`inspector.app.units.analyse` (continuous, one hypothesis regex, top 10) + the report of the layer;
`predict` = encode + one-hot + `engine.predict` of the same (1, T, 36) sequence.  The corpus is
resources/samples/shakespeare.txt repeated.  Goals (issue 11): time <= 3 x predict, peak RSS <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "resources" / "samples" / "classic.keras"


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _side(which: str, chars: int) -> dict:
    from inspector.app import units
    from inspector.app.keyframes import ids_to_input
    from inspector.core import engine
    from inspector.io import load

    base = (REPO / "resources" / "samples" / "shakespeare.txt").read_text()
    text = (base * (chars // len(base) + 1))[:chars]
    mf = load(MODEL)
    enc = units.find_text_encoder(str(MODEL))
    t0 = time.perf_counter()
    corpus = units.TextCorpus.from_text(mf.network, text, enc)
    if which == "units":
        mask = units.regex_mask(corpus, r"\n")
        res = units.analyse(mf.network, mf.semantics, corpus, top=10, hypotheses=[(r"\n", mask)])
        rep = res.report()
        extra = {"steps": rep["steps"], "best_newline_unit": rep["hypothesis"]["ranking"][0]}
    else:
        engine.predict(mf.network, ids_to_input(corpus.ids[None], corpus.width), mf.semantics)
        extra = {}
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": _peak_mb(), **extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--side", choices=("units", "predict"))
    args = ap.parse_args()
    if args.side:
        print(json.dumps(_side(args.side, args.chars)))
        return
    results: dict[str, list[dict]] = {"predict": [], "units": []}
    for _ in range(args.repeats):
        for side in ("predict", "units"):
            out = subprocess.run(
                [sys.executable, "-m", "bench.units", "--side", side, "--chars", str(args.chars)],
                cwd=REPO, capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    p = min(r["seconds"] for r in results["predict"])
    u = min(r["seconds"] for r in results["units"])
    rss = max(r["peak_rss_mb"] for r in results["units"])
    print(f"units over {args.chars:,} characters (classic sample, continuous, top 10, one regex)")
    print(
        f"  predict of the same sequence: {p:7.1f} s   peak RSS {results['predict'][0]['peak_rss_mb']:.0f} MB"
    )
    print(f"  units:                        {u:7.1f} s   peak RSS {rss:.0f} MB")
    print(f"  ratio units / predict:        {u / p:7.2f}   (goal <= 3)")
    print(f"  goal peak RSS <= 1024 MB:     {'met' if rss <= 1024 else 'NOT met'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
