"""`inspector.ui.workers`: background jobs never destroy Qt widgets off the GUI thread.

Issue 16: the app froze once in a few hundred test runs.  A loading job's allocation started
Python's cyclic garbage collection on the pool thread; it freed a dropped cycle holding a widget, so
``~QWidget`` ran on the pool thread, took a Qt lock and waited for the GIL, while the GUI thread
held the GIL and waited for that lock.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from inspector.ui.workers import QtRunner


class _Cycle:
    """A reference cycle (only the cyclic collector frees it) that holds a widget."""

    def __init__(self) -> None:
        self.me = self
        self.widget = QWidget()
        menu = QMenu(self.widget)
        menu.addAction(QAction("an action", menu))


def _allocate(n: int) -> int:
    """Many container objects: with automatic collection on, this runs it (on the pool thread)."""
    keep = [[i] for i in range(n)]
    del keep
    return threading.get_ident()


def _dropped_widget(freed_on: list[int]) -> None:
    cycle = _Cycle()
    weakref.finalize(cycle.widget, lambda: freed_on.append(threading.get_ident()))


def test_a_cycle_holding_a_widget_is_freed_on_the_gui_thread_not_by_a_job(qtbot) -> None:
    runner = QtRunner()
    assert not gc.isenabled(), "a QtRunner turns automatic collection off (it runs on any thread)"
    gui = threading.get_ident()
    freed_on: list[int] = []
    _dropped_widget(freed_on)

    results: list[int] = []
    runner.submit(_allocate, 200_000, on_done=results.append, on_error=results.append)
    assert runner.wait_until_idle()
    [pool] = results
    assert pool != gui
    assert pool not in freed_on, "the pool thread's allocations must not collect the dropped widget"

    # The GUI thread's timer collects it: every second, if more objects were made than freed since
    # the last collection -- so keep making some, as a busy app does (widgets of earlier tests being
    # deleted meanwhile would otherwise cancel out a single burst).
    alive: list[list[list[int]]] = []

    def freed() -> bool:
        alive.append([[i] for i in range(1_000)])
        return freed_on != []

    qtbot.waitUntil(freed, timeout=10_000)
    assert freed_on == [gui]


class _Held:
    """Something a job or its callbacks hold (a model, a widget's state)."""


def _echo(held: _Held, report: Callable[[object], None] | None = None) -> _Held:
    if report is not None:
        report(held)
    return held


def _fail(held: _Held) -> None:
    raise ValueError("a one-line reason")


def test_a_finished_job_keeps_nothing_alive(qtbot) -> None:
    """Issue 16: every job stayed alive after it had reported (PySide keeps a started QRunnable that
    is not auto-deleted), and with it the callbacks it held: ~23 objects per file opened, all day."""
    runner = QtRunner()
    freed: list[str] = []
    got: list[object] = []
    for kind in ("done", "failed", "progress"):
        arg, mine = _Held(), _Held()
        weakref.finalize(arg, freed.append, f"{kind}: argument")
        weakref.finalize(mine, freed.append, f"{kind}: callback's")
        runner.submit(
            _fail if kind == "failed" else _echo,
            arg,
            on_done=lambda result, mine=mine: got.append((result, mine)),
            on_error=lambda message, mine=mine: got.append((message, mine)),
            on_progress=(lambda value, mine=mine: got.append((value, mine))) if kind == "progress" else None,
        )
        del arg, mine
    assert runner.wait_until_idle()
    assert len(got) == 4  # done, failed, progress + done
    got.clear()
    expected = [
        f"{kind}: {what}" for kind in ("done", "failed", "progress") for what in ("argument", "callback's")
    ]
    assert sorted(freed) == sorted(expected)
