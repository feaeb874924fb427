"""The desktop app: `run_gui(path)` creates the QApplication and the main window."""

from __future__ import annotations

import os
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from inspector import __version__
from inspector.resources import sample_model_path
from inspector.ui.main_window import APP_NAME, SETTINGS_APP, SETTINGS_ORG, MainWindow
from inspector.ui.session import Session


def _sample_model() -> str | None:
    """The bundled sample model, or None when the resources are not installed."""
    try:
        return os.fspath(sample_model_path())
    except (OSError, LookupError, ValueError):
        return None


def run_gui(path: str | None = None, config: str | None = None) -> int:
    """Open the main window on `path` (the bundled sample when None) and run the event loop."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(SETTINGS_ORG)
    app.setApplicationName(SETTINGS_APP)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    session = Session()
    window = MainWindow(session)
    window.show()
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
