"""The app's start-up, measured from outside it (start_s_over_qt).

`python bench/start_app.py SAMPLE [--loaded]`:

Builds what `inspector.ui.app.run_gui` builds (QApplication, `Session`, `MainWindow`), shows it and,
on the first event-loop pass, paints it synchronously, prints "window shown" and leaves without any
teardown: the same protocol as bench/bare_qt.py.  With --loaded it opens SAMPLE once the window is
up (as run_gui does) and prints "model shown" once the file is loaded and painted.  The harness
times Popen -> that line.  Nothing here is part of the product.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, as `python -m inspector`

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def main(argv: list[str]) -> None:
    sample, loaded = argv[0], "--loaded" in argv[1:]
    app = QApplication(sys.argv[:1])
    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    session = Session()
    window = MainWindow(session)

    def shown(what: str) -> None:
        window.repaint()
        print(what, flush=True)
        os._exit(0)

    if loaded:
        session.file_loaded.connect(lambda _mf: QTimer.singleShot(0, lambda: shown("model shown")))
        session.load_failed.connect(lambda _msg: os._exit(3))
        QTimer.singleShot(0, lambda: session.open(sample, None))
    else:
        QTimer.singleShot(0, lambda: shown("window shown"))
    window.show()
    app.exec()


if __name__ == "__main__":
    main(sys.argv[1:])
