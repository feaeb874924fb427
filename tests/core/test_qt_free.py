"""The layering promise: inspector.core and inspector.io import neither Qt nor TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "tensorflow", "keras", "tf_keras")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter on this checkout (a minimal environment); it must succeed."""
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr
    return r


def test_core_and_io_import_no_qt_and_no_tensorflow():
    code = (
        "import json, sys, pkgutil, importlib\n"
        "import inspector.core, inspector.io\n"
        # every module of both packages, not only their __init__
        "for pkg in (inspector.core, inspector.io):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    r = _python(code)
    loaded = json.loads(r.stdout.strip().splitlines()[-1])
    assert "inspector.core.engine" in loaded and "inspector.io.legacy_h5" in loaded  # the test is real
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert not bad, f"core/io pulled in {bad}"


def test_the_check_would_notice_qt():
    """Guard against a vacuous test: the same probe does see PySide6 when the ui is imported."""
    code = "import sys, inspector.ui.session; print('PySide6' in sys.modules)"
    r = _python(code)
    assert r.stdout.strip().splitlines()[-1] == "True"
