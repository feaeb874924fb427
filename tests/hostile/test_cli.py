"""The command line on hostile files: exit code 2, exactly one stderr line naming the file, no traceback.

Runs `python -m inspector` in a subprocess, as a user would (so a crash or hang of the reader
would show here as a signal exit or a timeout, not take pytest down).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hostile import files

REPO = Path(__file__).resolve().parents[2]
WALL_S = 60

INFO_REFUSED = [
    "zero_byte_h5",
    "text_named_keras",
    "git_lfs_pointer",
    "truncated_tf_h5_0_3",
    "truncated_keras_0_6",
    "hdf5_not_keras",
    "zip_without_weights",
    "h5_malformed_json",
    "h5_deep_json",
    "non_utf8_layer_names",
    "zip_bomb_weights",
    "zip_header_understates_size",
    "config_2_31_units_h5",
    "external_link_fifo",
    "virtual_dataset",
    "npz_weights_with_pickle",
    "dataset_declares_terabytes",
]
PREDICT_REFUSED = [
    "lambda_keras2",
    "lambda_keras3",
    "custom_object_module_keras3",
    "unknown_layer_class",
    "h5_dense_shape_disagrees",
    "h5_config_layer_missing_from_weights",
]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WALL_S,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )


def _assert_one_line_error(cp: subprocess.CompletedProcess, path: Path) -> str:
    out = cp.stdout + cp.stderr
    assert "Traceback" not in out, out
    assert cp.returncode == 2, f"exit {cp.returncode}\n{out}"
    lines = [ln for ln in cp.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one stderr line, got:\n{cp.stderr}"
    assert str(path) in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name", INFO_REFUSED)
def test_info_refuses_cleanly(name: str, tmp_path: Path) -> None:
    case = files.CASE_BY_NAME[name]
    path = case.make(tmp_path / "case")
    cp = _run(["info", str(path)], cwd=tmp_path / "case")
    _assert_one_line_error(cp, path)
    assert not list(tmp_path.rglob("*.EXECUTED"))


@pytest.mark.parametrize("name", PREDICT_REFUSED)
def test_predict_refuses_cleanly(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "case"
    path = files.CASE_BY_NAME[name].make(folder)
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, files.T, files.D), np.float32))
    out = tmp_path / "y.npy"
    cp = _run(["predict", str(path), "--input", str(x), "--output", str(out)], cwd=folder)
    _assert_one_line_error(cp, path)
    assert not out.exists()
    assert not list(tmp_path.rglob("*.EXECUTED")), "a payload from the file ran"


@pytest.mark.parametrize(
    "name", ["lambda_keras1", "lambda_keras2", "lambda_keras3", "custom_object_module_tfkeras"]
)
def test_info_shows_unsafe_layers_as_not_executable(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "case"
    path = files.CASE_BY_NAME[name].make(folder)
    cp = _run(["info", str(path)], cwd=folder)
    assert cp.returncode == 0, cp.stderr
    assert "Traceback" not in cp.stdout + cp.stderr
    assert "not executable" in cp.stdout and "[not runnable]" in cp.stdout, cp.stdout
    assert not list(tmp_path.rglob("*.EXECUTED")), "a payload from the file ran"


def test_info_survives_a_libhdf5_crash(seeds: dict, tmp_path: Path) -> None:
    """A file on which libhdf5 segfaults: the CLI still prints one line and exits 2."""
    patch = next(p for p in files.LIBHDF5_KILLERS if p.effect == "crash")
    made = files.write_byte_patch(patch, tmp_path, seeds)
    if made is None:
        pytest.skip("seed byte layout differs on this h5py/libhdf5")
    path, _ = made
    line = _assert_one_line_error(_run(["info", str(path)], cwd=tmp_path), path)
    assert "crashed" in line
