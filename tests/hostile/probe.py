"""Open one file in a fresh process under an address-space limit; print one JSON line.

    python tests/hostile/probe.py FILE [--config C] [--mem-mb 3072] [--timeout 10] [--no-engine]

Run by the tests (`probe()` below) for files that could hang, crash the interpreter or allocate
gigabytes if the reader mishandled them: pytest itself stays safe.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--config")
    ap.add_argument("--mem-mb", type=int, default=3072)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--no-engine", action="store_true")
    args = ap.parse_args(argv)

    limit = args.mem_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for p in (str(REPO), str(HERE.parent)):
        if p not in sys.path:
            sys.path.insert(0, p)
    from hostile import harness

    before = set(sys.modules)
    res = harness.open_file(args.path, args.config, engine=not args.no_engine, timeout=args.timeout)
    out = res.as_dict()
    out["new_modules"] = sorted(m for m in set(sys.modules) - before if not m.startswith(("encodings.",)))
    out["maxrss_mb"] = harness.maxrss_mb()
    print(json.dumps(out, default=str))
    return 0


def probe(
    path: str | Path,
    config: str | Path | None = None,
    *,
    mem_mb: int = 3072,
    timeout: float = 10.0,
    engine: bool = True,
    wall: float = 60.0,
    cwd: str | Path | None = None,
    extra_path: str | Path | None = None,
) -> dict[str, Any]:
    """Run this script on `path` in a subprocess; return its JSON (or an outcome 'crash'/'hang').

    `wall` bounds the whole subprocess (interpreter start-up included): a reader stuck in C code
    (e.g. opening a FIFO named by an external link) is reported as outcome 'hang'.
    """
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        str(path),
        "--mem-mb",
        str(mem_mb),
        "--timeout",
        str(timeout),
    ]
    if config is not None:
        cmd += ["--config", str(config)]
    if not engine:
        cmd.append("--no-engine")
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), str(extra_path) if extra_path else "", env.get("PYTHONPATH", "")) if p
    )
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=wall, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        return {
            "path": str(path),
            "outcome": "hang",
            "seconds": wall,
            "message": f"no answer after {wall:g} s (stuck outside Python?)",
            "stderr": (exc.stderr or b"")[-2000:].decode("utf8", "replace")
            if isinstance(exc.stderr, bytes)
            else str(exc.stderr or "")[-2000:],
        }
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    if cp.returncode != 0 or not lines:
        return {
            "path": str(path),
            "outcome": "crash",
            "seconds": 0.0,
            "returncode": cp.returncode,
            "message": f"probe exited with {cp.returncode}",
            "stderr": cp.stderr[-4000:],
        }
    out = json.loads(lines[-1])
    out["stderr"] = cp.stderr[-2000:]
    return out


if __name__ == "__main__":
    sys.exit(main())
