"""The one place where the GUI runs work off its thread.

`QtRunner` implements the app layer's `Runner` protocol (`inspector.app.runner`) on Qt's global
thread pool: ``fn(*args)`` runs on a pool thread and its result (or one-line error) is delivered to
the callbacks on the GUI thread, through a queued signal of one relay object; a job keeps nothing
alive once its result is delivered.  `TaskRunner` adds "only the newest request counts" for
widgets with their own background job (the Weights page's statistics).

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

import itertools
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal, Slot

from inspector.app.runner import Done, Failed, Report, Runner, SyncRunner, run_job

_collector: GarbageCollector | None = None


def collect_garbage_on_gui_thread() -> None:
    """Turn automatic garbage collection off; collect every second on the GUI thread instead.

    Call on the GUI thread; once is enough (later calls do nothing).
    """
    global _collector  # noqa: PLW0603 - one collector for the process, created on first use
    if _collector is None:
        _collector = GarbageCollector(interval=1.0)


_DONE, _FAILED, _PROGRESS = 0, 1, 2  # what a job reports; done / failed index its callbacks
_job_ids = itertools.count(1)


class _Relay(QObject):
    """The one object pool threads report through; it lives on the GUI thread for the whole process.

    A job on a pool thread holds only its function, its arguments and its number: the callbacks
    stay here, on the GUI thread, and are dropped once the result is delivered.  So no object is kept
    per finished job (issue 16: every job used to stay alive, with the callbacks it held) and no
    callback, widget or signal object is ever released by a pool thread.
    """

    reported = Signal(int, int, object)  # job number, _DONE / _FAILED / _PROGRESS, value

    def __init__(self) -> None:
        super().__init__()
        self.callbacks: dict[int, tuple[Done, Failed, Report | None]] = {}
        self.reported.connect(self._deliver)  # queued when emitted from a pool thread

    @Slot(int, int, object)
    def _deliver(self, job: int, kind: int, value: object) -> None:
        if kind == _PROGRESS:
            callbacks = self.callbacks.get(job)
            if callbacks is not None and callbacks[2] is not None:
                callbacks[2](value)
            return
        callbacks = self.callbacks.pop(job, None)
        if callbacks is not None:
            callbacks[kind](value)


_relay: _Relay | None = None


def _run(relay: _Relay, job: int, fn: Callable[..., Any], args: tuple[Any, ...], reports: bool) -> None:
    """On a pool thread: ``fn(*args)``, its result or one-line error reported to the GUI thread."""

    def report(value: object) -> None:
        relay.reported.emit(job, _PROGRESS, value)

    run_job(
        fn,
        args,
        on_done=lambda result: relay.reported.emit(job, _DONE, result),
        on_error=lambda message: relay.reported.emit(job, _FAILED, message),
        report=report if reports else None,
    )


class QtRunner:
    """`Runner` on `QThreadPool.globalInstance()`; callbacks run on the GUI thread.

    Create it on the GUI thread.
    """

    def __init__(self) -> None:
        global _relay  # noqa: PLW0603 - one relay for the process, created on the GUI thread
        collect_garbage_on_gui_thread()
        if _relay is None:
            _relay = _Relay()
        self._relay = _relay
        self._pending: set[int] = set()

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Done,
        on_error: Failed,
        on_progress: Report | None = None,
    ) -> None:
        job = next(_job_ids)
        pending = self._pending

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            pending.discard(job)
            callback(value)

        self._relay.callbacks[job] = (
            lambda result: finish(on_done, result),
            lambda message: finish(on_error, message),
            on_progress,
        )
        pending.add(job)
        QThreadPool.globalInstance().start(partial(_run, self._relay, job, fn, args, on_progress is not None))

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Wait for the pool, then deliver the queued results (process GUI events)."""
        deadline = time.monotonic() + timeout
        QThreadPool.globalInstance().waitForDone(int(timeout * 1000))
        while self._pending and time.monotonic() < deadline:
            QCoreApplication.processEvents()
        return not self._pending


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
