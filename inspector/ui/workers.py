"""The one place where the GUI runs work off its thread.

`QtRunner` implements the app layer's `Runner` protocol (`inspector.app.runner`) on Qt's global
thread pool: ``fn(*args)`` runs on a pool thread and its result (or one-line error) is delivered to
the callbacks on the GUI thread, through a queued signal.  A strong reference to every running job
is kept until it has reported.  `TaskRunner` adds "only the newest request counts" for widgets with
their own background job (the Weights page's statistics).

Python's cyclic garbage collector runs on whichever thread happens to allocate.  If it runs on a
pool thread and frees a cycle that holds Qt widgets, the widgets are destroyed off the GUI thread:
that thread takes a Qt lock then waits for the GIL while the GUI thread, holding the GIL, waits
for the lock -- the whole app freezes (issue 16, seen once in a few hundred test runs).  So while
the GUI runs work off its thread, automatic collection is off and pyqtgraph's `GarbageCollector`
collects on a timer on the GUI thread instead (`collect_garbage_on_gui_thread`, called by every
`QtRunner`).

Tests wait for background work with ``state.wait_until_idle()`` or
``QThreadPool.globalInstance().waitForDone()`` (then process events, e.g. ``qtbot.waitSignal``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from inspector.app.runner import Done, Failed, Report, Runner, SyncRunner, error_message

log = logging.getLogger(__name__)

_collector: GarbageCollector | None = None


def collect_garbage_on_gui_thread() -> None:
    """Turn automatic garbage collection off; collect every second on the GUI thread instead.

    Call on the GUI thread; once is enough (later calls do nothing).
    """
    global _collector  # noqa: PLW0603 - one collector for the process, created on first use
    if _collector is None:
        _collector = GarbageCollector(interval=1.0)


class _Relay(QObject):
    """Lives on the GUI thread; emitting from the pool thread queues the call onto the GUI thread."""

    done = Signal(object)
    failed = Signal(str)
    progress = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], relay: _Relay, reports: bool) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps it alive until the result has been delivered
        self._fn = fn
        self._args = args
        self._relay = relay
        self._reports = reports

    def run(self) -> None:
        try:
            if self._reports:
                result = self._fn(*self._args, report=self._relay.progress.emit)
            else:
                result = self._fn(*self._args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line message
            log.debug("background task failed", exc_info=True)
            self._relay.failed.emit(error_message(exc))
        else:
            self._relay.done.emit(result)
        finally:  # memory (issue 16): PySide keeps every started non-auto-delete job alive, so drop
            self._fn, self._args = None, ()  # its inputs (a ModelFile, a WeightMatrix) once it has run


class QtRunner:
    """`Runner` on `QThreadPool.globalInstance()`; callbacks run on the GUI thread."""

    def __init__(self) -> None:
        collect_garbage_on_gui_thread()
        self._running: set[tuple[_Job, _Relay]] = set()

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Done,
        on_error: Failed,
        on_progress: Report | None = None,
    ) -> None:
        relay = _Relay()
        job = _Job(fn, args, relay, on_progress is not None)
        entry = (job, relay)
        self._running.add(entry)

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            self._running.discard(entry)
            callback(value)

        relay.done.connect(lambda result: finish(on_done, result))
        relay.failed.connect(lambda message: finish(on_error, message))
        if on_progress is not None:
            relay.progress.connect(on_progress)
        QThreadPool.globalInstance().start(job)

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Wait for the pool, then deliver the queued results (process GUI events)."""
        deadline = time.monotonic() + timeout
        QThreadPool.globalInstance().waitForDone(int(timeout * 1000))
        while self._running and time.monotonic() < deadline:
            QCoreApplication.processEvents()
        return not self._running


class TaskRunner(QObject):
    """Runs one kind of job off the GUI thread; only the newest request is delivered.

    Signals
    -------
    finished(object) : the result of the newest request, on the GUI thread.
    failed(str) : one-line message for the newest request's exception.
    busy_changed(bool) : True while the newest request is pending.
    progress(object) : a value the newest request reported (``submit(..., progress=True)``).
    """

    finished = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)
    progress = Signal(object)

    def __init__(self, parent: QObject | None = None, sync: bool = False) -> None:
        super().__init__(parent)
        self._runner: Runner = SyncRunner() if sync else QtRunner()
        self._latest = 0
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, fn: Callable[..., Any], *args: Any, progress: bool = False) -> None:
        """Run ``fn(*args)``; every older pending request becomes stale.

        With `progress`, ``fn`` is called as ``fn(*args, report=callable)`` and what it reports is
        emitted as `progress` on the GUI thread (unless stale).
        """
        self._latest += 1
        req = self._latest
        self._set_busy(True)
        self._runner.submit(
            fn,
            *args,
            on_done=lambda r: self._deliver(req, r),
            on_error=lambda m: self._fail(req, m),
            on_progress=(lambda v: self._report(req, v)) if progress else None,
        )

    def cancel(self) -> None:
        """Forget every pending request (their results will be dropped when they arrive)."""
        self._latest += 1
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _report(self, req: int, value: object) -> None:
        if req == self._latest:
            self.progress.emit(value)

    @Slot(int, object)
    def _deliver(self, req: int, result: object) -> None:
        if req == self._latest:
            self._set_busy(False)
            self.finished.emit(result)

    @Slot(int, str)
    def _fail(self, req: int, message: str) -> None:
        if req == self._latest:
            self._set_busy(False)
            self.failed.emit(message)
