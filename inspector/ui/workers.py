"""The one place where the GUI runs work off its thread.

A `TaskRunner` runs plain functions on Qt's global thread pool and delivers the result of the
*latest* request back on the GUI thread; results of superseded requests are dropped (each request
carries an id).  With ``sync=True`` everything runs inline, which keeps tests deterministic.

Tests wait for background work with ``QThreadPool.globalInstance().waitForDone()`` (then process
events, e.g. ``qtbot.waitSignal``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


def error_message(exc: BaseException) -> str:
    """One line describing `exc` for a status bar or banner.

    Exceptions of this project already have one-line messages (ModelFileError is '<file>: <reason>');
    anything else gets its class name prepended so 'KeyError: x' stays meaningful.
    """
    text = " ".join(str(exc).split())
    mod = type(exc).__module__ or ""
    if mod.startswith("inspector") or isinstance(exc, ValueError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Relay(QObject):
    """Lives on the GUI thread; emitting from the pool thread queues the call onto the GUI thread."""

    done = Signal(int, object)
    failed = Signal(int, str)
    progress = Signal(int, object)


class _Job(QRunnable):
    def __init__(
        self, req_id: int, fn: Callable[..., Any], args: tuple[Any, ...], relay: _Relay, reports: bool
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps it alive until the result has been delivered
        self._req_id = req_id
        self._fn = fn
        self._args = args
        self._relay = relay
        self._reports = reports

    def report(self, value: object) -> None:
        """Called by the task on the pool thread: delivered as `TaskRunner.progress` on the GUI thread."""
        self._relay.progress.emit(self._req_id, value)

    def run(self) -> None:
        try:
            result = self._fn(*self._args, report=self.report) if self._reports else self._fn(*self._args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line message
            log.debug("background task failed", exc_info=True)
            self._relay.failed.emit(self._req_id, error_message(exc))
        else:
            self._relay.done.emit(self._req_id, result)
        finally:  # memory fix (issue 16): PySide keeps every started non-auto-delete job alive, so
            self._fn, self._args = None, ()  # drop its inputs (a ModelFile, a WeightMatrix) once run


class TaskRunner(QObject):
    """Runs one kind of job (loading a file, building a trace) off the GUI thread.

    Only the newest request is delivered: `submit` makes every older pending request stale.

    Signals
    -------
    finished(object) : the result of the newest request, on the GUI thread.
    failed(str) : one-line message for the newest request's exception.
    busy_changed(bool) : True while a request is pending.
    progress(object) : a partial result the newest request reported (`submit(..., progress=True)`).
    """

    finished = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)
    progress = Signal(object)

    def __init__(self, parent: QObject | None = None, sync: bool = False) -> None:
        super().__init__(parent)
        self.sync = sync
        self._next_id = 0
        self._latest = -1
        self._pending: dict[int, tuple[_Job, _Relay]] = {}
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, fn: Callable[..., Any], *args: Any, progress: bool = False) -> int:
        """Run ``fn(*args)``; returns the request id.  Inline when `sync`.

        With `progress`, ``fn`` is called as ``fn(*args, report=callable)`` and every value it passes
        to ``report`` (on its thread) is emitted as `progress` on the GUI thread, unless stale.
        """
        self._next_id += 1
        req_id = self._latest = self._next_id
        if self.sync:
            self._set_busy(True)
            try:
                result = fn(*args, report=self.progress.emit) if progress else fn(*args)
            except Exception as exc:  # noqa: BLE001
                log.debug("task failed", exc_info=True)
                self._set_busy(False)
                self.failed.emit(error_message(exc))
            else:
                self._set_busy(False)
                self.finished.emit(result)
            return req_id
        relay = _Relay()
        relay.done.connect(self._on_done)
        relay.failed.connect(self._on_failed)
        relay.progress.connect(self._on_progress)
        job = _Job(req_id, fn, args, relay, progress)
        self._pending[req_id] = (job, relay)
        self._set_busy(True)
        QThreadPool.globalInstance().start(job)
        return req_id

    def cancel(self) -> None:
        """Forget every pending request (their results will be dropped when they arrive)."""
        self._latest = -1
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _take(self, req_id: int) -> bool:
        self._pending.pop(req_id, None)
        if req_id != self._latest:
            return False  # stale: a newer request superseded it
        self._set_busy(False)
        return True

    @Slot(int, object)
    def _on_done(self, req_id: int, result: object) -> None:
        if self._take(req_id):
            self.finished.emit(result)

    @Slot(int, object)
    def _on_progress(self, req_id: int, value: object) -> None:
        if req_id == self._latest:
            self.progress.emit(value)

    @Slot(int, str)
    def _on_failed(self, req_id: int, message: str) -> None:
        if self._take(req_id):
            self.failed.emit(message)
