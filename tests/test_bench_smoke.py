"""The benchmark harness (bench/, issue 6) runs end to end at tiny sizes, so it cannot rot.

Only the plumbing is checked (every key is produced, the reports are written); the numbers of a
smoke run mean nothing.  The full run is `python -m bench.run` (see bench/RESULTS.md).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KEYS = [  # issue 6, exactly
    "predict_vs_keras_classic",
    "predict_vs_keras_large",
    "trace_overhead",
    "step_ms_classic_median",
    "step_ms_classic_p95",
    "step_ms_large_median",
    "open_vs_h5py_large",
    "ui_stall_ms_open_large",
    "rss_mb_open_large",
    "file_mb_large",
    "start_s_over_qt",
]


def test_bench_smoke(tmp_path: Path) -> None:
    if not (REPO / "bench" / "run.py").is_file():
        pytest.skip("bench/ is not part of this checkout")
    pytest.importorskip("PySide6")
    pytest.importorskip("pyqtgraph")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--no-keras",
            "--threads",
            "1",
            "--out",
            str(tmp_path),
            "--cache",
            str(tmp_path / "cache"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results) == list(KEYS)
    # without Keras the two ratios against Keras are null; everything else is measured
    measured = {k: v for k, v in results.items() if not k.startswith("predict_vs_keras")}
    for key, value in measured.items():
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)
    full = json.loads((tmp_path / "results_full.json").read_text())
    assert full["smoke"] is True and full["raw"]["ours_versions"]["tf_imported"] is False
    md = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert all(f"`{k}`" in md for k in KEYS)
