"""Render explainer_depth_unit.png: the stepper on the bracket-depth sample with its counting unit selected.

    QT_QPA_PLATFORM=offscreen python resources/screenshots/make_explainer_screenshot.py [--out DIR]

Input "((a)(b(c)))", unit 7 of the LSTM (its cell state tracks the nesting depth, see
resources/samples/PROVENANCE.md), stopped at the deepest point; 1280x800, checked to stay < 300 KB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

MAX_BYTES = 300_000
TEXT = "((a)(b(c)))"
UNIT = 7
STEP = 7  # 'c' at depth 3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(HERE))
    p.add_argument("--step", type=int, default=STEP)
    args = p.parse_args(argv)

    from PySide6.QtCore import QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    app = QApplication.instance() or QApplication(["make_explainer_screenshot"])
    tmp = tempfile.TemporaryDirectory()

    def settle(rounds: int = 20) -> None:
        for _ in range(rounds):
            QThreadPool.globalInstance().waitForDone(50)
            app.processEvents()

    session = Session()
    settings = QSettings(os.path.join(tmp.name, "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(session, settings=settings)
    win.resize(1280, 800)
    win.show()
    session.open(str(REPO / "resources" / "samples" / "explainer.keras"))
    settle(40)
    win.tabs.setCurrentIndex(1)
    win.stepper.input_panel.set_text(TEXT)
    settle()
    win.stepper.timeline._checks["hidden"].setChecked(False)  # c over time only: room for the traces
    session.select_unit("lstm", UNIT)
    session.set_step(args.step)
    settle(10)
    path = Path(args.out) / "explainer_depth_unit.png"
    win.grab().save(str(path), "PNG")
    size = path.stat().st_size
    print(f"{path.name}: {size // 1024} KB")
    win.close()
    settle()
    tmp.cleanup()
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes, more than {MAX_BYTES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
