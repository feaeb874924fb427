"""The GUI's app state: `inspector.app.state.AppState` with the Qt thread-pool runner.

Everything the state does lives in the Qt-free `AppState`; this adapter only picks the runner
(`QtRunner`, or inline with ``sync=True`` for tests and snapshots) and starts the reader process
in the background so that opening the first file does not wait for an interpreter start.
"""

from __future__ import annotations

import threading

from inspector.app.state import AppState, trace_key_of
from inspector.ui.workers import QtRunner

__all__ = ["Session", "trace_key_of"]


def _prestart_reader() -> None:
    from inspector.io.sandbox import prestart

    prestart()


class Session(AppState):
    """`AppState` for the GUI: work runs on Qt's thread pool unless `sync`."""

    def __init__(self, sync: bool = False) -> None:
        super().__init__(runner=None if sync else QtRunner())
        threading.Thread(target=_prestart_reader, name="reader-prestart", daemon=True).start()
