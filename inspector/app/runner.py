"""App layer: how long work is run. One small protocol; the GUI supplies a thread-pool runner.

`AppState` hands every long job (reading a file, tracing an input) to a `Runner`.  The runner calls
``fn(*args)`` somewhere (inline, or on a worker thread) and later calls ``on_done(result)`` or
``on_error(message)`` **on the thread that owns the state** (the GUI thread for the Qt runner).
Stale results are dropped by `AppState` itself (each request carries an id), so runners stay dumb.
No Qt here: `inspector.ui.workers.QtRunner` implements the same protocol with Qt's thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[str], None]
Report = Callable[[Any], None]


def error_message(exc: BaseException) -> str:
    """One line describing `exc` for a status bar, banner or CLI.

    Exceptions of this project already have one-line messages (ModelFileError is '<file>: <reason>');
    anything else gets its class name prepended so 'KeyError: x' stays meaningful.
    """
    text = " ".join(str(exc).split())
    mod = type(exc).__module__ or ""
    if mod.startswith("inspector") or isinstance(exc, ValueError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_job(
    fn: Callable[..., Any], args: tuple[Any, ...], on_done: Done, on_error: Failed, report: Report | None
) -> None:
    """Call ``fn(*args)`` (with ``report=`` when given) here, then `on_done(result)` or
    `on_error(one-line message)`: the body of every runner, whichever thread it runs on."""
    try:
        result = fn(*args, report=report) if report is not None else fn(*args)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line message
        log.debug("task failed", exc_info=True)
        on_error(error_message(exc))
    else:
        on_done(result)


class Runner(Protocol):
    """Runs ``fn(*args)`` and reports back with `on_done` / `on_error` (and `on_progress`)."""

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Done,
        on_error: Failed,
        on_progress: Report | None = None,
    ) -> None:
        """Start the job.  With `on_progress`, `fn` is called as ``fn(*args, report=...)``."""

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Block until every submitted job has reported; False on timeout."""


class SyncRunner:
    """Runs every job inline, at once (tests, the CLI, notebooks)."""

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Done,
        on_error: Failed,
        on_progress: Report | None = None,
    ) -> None:
        run_job(fn, args, on_done, on_error, on_progress)

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        return True
