"""Fixtures for the hostile-file tests: `--fuzz-cases`, a folder of valid seed files, the probe.

The helper modules (`hostile.files`, `hostile.harness`) are imported as the package `hostile`, so
`tests/` goes on sys.path here (the suite runs with --import-mode=importlib, which adds nothing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from hostile import files  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GENERATED = Path(os.environ.get("INSPECTOR_GENERATED", REPO / "tests" / ".generated")) / "hostile"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-cases",
        type=int,
        default=None,
        help="number of mutation-fuzzing cases for tests/hostile/test_fuzz.py "
        "(default: env FUZZ_CASES, else 300)",
    )
    parser.addoption(
        "--fuzz-corpus",
        action="store_true",
        default=False,
        help="also use the small files of the shared keras corpus as fuzzing seeds (or env FUZZ_CORPUS=1)",
    )
    parser.addoption(
        "--fuzz-seed",
        type=int,
        default=None,
        help="random seed of the mutation fuzzer (default: env FUZZ_SEED, else 20261126)",
    )


@pytest.fixture(scope="session")
def hostile_dir() -> Path:
    """The git-ignored cache for generated hostile files (the zip bombs take a second to build)."""
    GENERATED.mkdir(parents=True, exist_ok=True)
    return GENERATED


@pytest.fixture(scope="session")
def seeds(hostile_dir: Path) -> dict[str, files.Seed]:
    """Small valid files in every format (written once per session, regenerated if missing)."""
    return files.write_seeds(hostile_dir / "seeds")


@pytest.fixture
def window(qtbot, tmp_path: Path):
    """The real main window on a fresh Session, with a private QSettings folder."""
    from PySide6.QtCore import QSettings, QThreadPool

    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    win = MainWindow(Session(), settings=QSettings())
    qtbot.addWidget(win)
    win.resize(1100, 700)
    yield win
    QThreadPool.globalInstance().waitForDone()
