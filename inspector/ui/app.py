"""The desktop app: `run_gui(path)` creates the QApplication and the main window (Qt imported lazily)."""

from __future__ import annotations

import os
import signal
import sys


def _sample_model() -> str | None:
    """The bundled sample model, when the resources module is available."""
    try:
        from inspector.resources import sample_model_path
    except ImportError:
        return None
    try:
        path = sample_model_path()
    except (OSError, LookupError, ValueError):
        return None
    return os.fspath(path) if path else None


def run_gui(path: str | None = None, config: str | None = None) -> int:
    """Open the main window on `path` (the bundled sample when None) and run the event loop."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from inspector import __version__
    from inspector.ui.main_window import APP_NAME, SETTINGS_APP, SETTINGS_ORG, MainWindow
    from inspector.ui.session import Session

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(SETTINGS_ORG)
    app.setApplicationName(SETTINGS_APP)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    session = Session()
    window = MainWindow(session)
    hook = os.environ.get("INSPECTOR_EXIT_AFTER_SHOW")
    if hook in ("1", "loaded"):
        # benchmark hook (bench/ start_s_over_qt, same protocol as bench/bare_qt.py): on the first
        # event-loop pass ('1') or once the file is shown ('loaded'), paint the window, say so and
        # leave at once (no teardown)
        def _shown() -> None:
            window.repaint()
            print("window shown" if hook == "1" else "model shown", flush=True)
            os._exit(0)

        if hook == "1":
            QTimer.singleShot(0, _shown)
        else:
            session.file_loaded.connect(lambda _mf: QTimer.singleShot(0, _shown))
            session.load_failed.connect(lambda _msg: os._exit(3))
    window.show()  # its pages are built on the next event-loop pass (see MainWindow)
    target = path or _sample_model()
    if target:
        # read the file once the window is up: the reader thread would compete for the GIL with it
        QTimer.singleShot(0, lambda: session.open(target, config))
    else:
        window.statusBar().showMessage("Open a Keras model with File \u2192 Open (Ctrl+O) or drop it here.")
    # Ctrl-C in the terminal quits: Python only sees the signal when the interpreter runs now and then
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    ticker = QTimer()
    ticker.start(250)
    ticker.timeout.connect(lambda: None)
    return int(app.exec())


def main(argv: list[str] | None = None) -> int:
    """`python -m inspector` / `keras-inspector` entry: delegates to the CLI (which calls run_gui)."""
    from inspector.cli import main as cli_main

    return cli_main(argv)
