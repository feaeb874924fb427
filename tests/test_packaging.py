"""The built wheel ships the sample models under inspector/_resources, and works from that layout.

Builds the wheel from this checkout (hatchling, via pip), installs it with `--target` (no deps: the
test environment already has them) and runs the installed copy in a subprocess whose working
directory is outside the checkout, so nothing can be found through the source tree.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = ("classic", "explainer")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-build-isolation")  # offline-friendly and faster; else pip fetches hatchling
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = out.glob("keras_weight_inspector-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target


def _run_installed(target: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(target), QT_QPA_PLATFORM="offscreen")
    env.pop("INSPECTOR_RESOURCES", None)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=target.parent, env=env, timeout=300
    )


def test_wheel_contains_samples_and_vocabularies(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SAMPLES:
        for suffix in (".keras", ".h5", ".vocab.json"):
            assert f"inspector/_resources/samples/{name}{suffix}" in names
    assert "inspector/resources.py" in names
    assert "inspector/cli/__init__.py" in names
    assert not any("__pycache__" in n or n.startswith(("tests/", ".venv/")) for n in names), sorted(names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "keras-inspector = inspector.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_is_small(wheel):
    assert wheel.stat().st_size < 6 * 1024 * 1024


def test_installed_wheel_finds_its_resources(installed):
    code = (
        "import inspector, json\n"
        "from inspector import resources as r\n"
        "print(json.dumps([inspector.__file__, str(r.resource_dir()), str(r.sample_model_path()),\n"
        "                  str(r.sample_model_path('explainer', 'h5')), len(r.sample_vocabulary())]))\n"
    )
    proc = _run_installed(installed, "-c", code)
    assert proc.returncode == 0, proc.stderr
    import json

    module, res, classic, explainer_h5, n_vocab = json.loads(proc.stdout)
    assert Path(module).is_relative_to(installed), module
    assert Path(res) == installed / "inspector" / "_resources"
    assert Path(classic) == installed / "inspector" / "_resources" / "samples" / "classic.keras"
    assert Path(classic).is_file() and Path(explainer_h5).is_file()
    assert n_vocab > 20


def test_installed_cli_help_and_info(installed):
    if not (REPO / "inspector" / "__main__.py").is_file():
        pytest.skip("inspector/__main__.py not written yet")
    proc = _run_installed(installed, "-m", "inspector", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "keras-inspector" in proc.stdout
    sample = installed / "inspector" / "_resources" / "samples" / "classic.h5"
    proc = _run_installed(installed, "-m", "inspector", "info", str(sample))
    assert proc.returncode == 0, proc.stderr
    assert "lstm" in proc.stdout.lower()
