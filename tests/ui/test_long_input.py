"""A long input in the real main window: key frames built on the worker (progress, cancel), the views
show a window at its absolute steps with an overview of the whole run, seeking stays exact."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QThreadPool

from inspector.app import long_stepper as longrun
from inspector.app.present import visible
from inspector.core.stepper import Stepper
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Session

ROOT = Path(__file__).resolve().parents[2]
CLASSIC = ROOT / "resources" / "samples" / "classic.h5"
TEXT = (ROOT / "resources" / "samples" / "shakespeare.txt").read_text(encoding="utf-8").lower()
SHOTS = os.environ.get("INSPECTOR_SHOTS", "")  # a folder: screenshots of a 1M-character run go there


@pytest.fixture
def window(qtbot, ui_settings):
    session = Session()
    win = MainWindow(session, settings=QSettings())
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    with qtbot.waitSignal(session.file_loaded, timeout=30000):
        session.open(str(CLASSIC))
    win.show_page("Stepper")
    yield win
    QThreadPool.globalInstance().waitForDone()


def _run(qtbot, win, n: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    session = win.session
    text = (TEXT * (n // len(TEXT) + 1))[:n]
    _enc, x = session.encode(text)
    seen: list[tuple[int, int]] = []
    session.input_progress.connect(lambda d, t: seen.append((d, t)))
    with qtbot.waitSignal(session.input_changed, timeout=600000):
        session.set_input(x)
    qtbot.waitUntil(lambda: not session.busy, timeout=20000)
    return x, seen


def _seek(qtbot, win, t: int) -> None:
    session = win.session
    session.set_step(t)
    qtbot.waitUntil(lambda: session.step == t, timeout=20000)


def test_long_input_views_show_an_exact_window(qtbot, window, monkeypatch):
    monkeypatch.setattr(longrun, "LONG_INPUT_STEPS", 3000)
    x, seen = _run(qtbot, window, 12_000)
    session, panel = window.session, window.stepper
    stepper = session.stepper
    assert isinstance(stepper, longrun.LongStepper)
    assert seen and seen[-1] == (12_000, 12_000)
    assert session.model_file is not None and session.run_network is not None
    full = Stepper(session.run_network, x, session.model_file.semantics)
    h_full = full.trace.layers["lstm"].h[0]
    for t in (9_000, 7_777, 40, 11_999):
        _seek(qtbot, window, t)
        lo, hi = stepper.window_start, stepper.window_stop
        assert lo <= t < hi
        # the heatmap holds exactly the window of the full trace, drawn at its absolute steps
        img = panel.timeline.image_data()["hidden"]
        np.testing.assert_array_equal(img, h_full[lo:hi].T)
        assert panel.timeline.step_marker() == t
        labels = panel.timeline.time_labels()
        assert len(labels) == hi - lo and labels[t - lo] == visible(TEXT[t])
        strips = panel.gate_strips.strip_values("lstm")
        np.testing.assert_array_equal(strips["hidden"], h_full[t])
        assert f"step {t:,} /" in panel.step_label.text() and "window" in panel.step_label.text()
    # the overview covers the whole run; its window marker is the window
    ov = panel.timeline._overview
    assert ov.image.image.shape == (full.trace.layers["lstm"].units, -(-12_000 // longrun.KEYFRAME_EVERY))
    lo, hi = ov.window.getRegion()
    assert (lo, hi) == (stepper.window_start, stepper.window_stop)  # wide enough to be seen as it is
    # the output at the current step is the full run's
    np.testing.assert_allclose(stepper.outputs_at(11_999)[0], full.outputs_at(11_999)[0], atol=2e-6)


def test_cancel_keeps_the_previous_run(qtbot, window, monkeypatch):
    monkeypatch.setattr(longrun, "LONG_INPUT_STEPS", 3000)
    session, panel = window.session, window.stepper
    _enc, x = session.encode(TEXT[:200])
    with qtbot.waitSignal(session.input_changed, timeout=20000):
        session.set_input(x)
    first = session.stepper
    _enc, x = session.encode((TEXT * 3)[:600_000])
    with qtbot.waitSignal(session.input_progress, timeout=20000):
        session.set_input(x)
    assert panel.cancel_button.isVisible() and "%" in panel.busy_label.text()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not session.busy, timeout=20000)
    QThreadPool.globalInstance().waitForDone()
    qtbot.wait(50)
    assert session.stepper is first and not panel.cancel_button.isVisible()


@pytest.mark.skipif(not SHOTS, reason="set INSPECTOR_SHOTS=/tmp/shots for the 1M-character screenshots")
def test_million_character_screenshots(qtbot, window):
    session, panel = window.session, window.stepper
    _run(qtbot, window, 1_000_000)
    assert isinstance(session.stepper, longrun.LongStepper)
    session.select_unit("lstm", 5)
    for name, t in (("long_start", 300), ("long_middle", 512_345), ("long_end", 999_999)):
        _seek(qtbot, window, t)
        qtbot.wait(300)
        window.grab().save(os.path.join(SHOTS, f"{name}.png"))
    assert panel.timeline.image_data()["hidden"].shape[1] == longrun.WINDOW


def test_timeline_text_does_not_overlap_at_1024x700(qtbot, window):
    """Issue 15.3 leftovers: axis titles of short trace plots, crowded step ticks, header vs legend."""
    from PySide6.QtGui import QFontMetrics

    session, panel = window.session, window.stepper
    window.resize(1024, 700)
    _enc, x = session.encode(TEXT[:400])
    with qtbot.waitSignal(session.input_changed, timeout=20000):
        session.set_input(x)
    session.select_unit("lstm", 3)
    qtbot.wait(200)
    tl = panel.timeline
    for plot in (tl.gate_plot, tl.trace_plot):
        axis = plot.getAxis("left")
        need = QFontMetrics(axis.label.font()).horizontalAdvance(axis.labelText)
        # a rotated title is drawn only where the plot is tall enough to hold it
        assert not axis.label.isVisible() or plot.getViewBox().height() >= need
    ticks = tl.trace_plot.getAxis("bottom")._tickLevels[0]
    assert 2 <= len(ticks) < 400
    px_per_step = tl.trace_plot.getViewBox().width() / 400
    gap = (ticks[1][0] - ticks[0][0]) * px_per_step
    widest = max(QFontMetrics(tl.font()).horizontalAdvance(label) for _x, label in ticks)
    assert gap >= widest + 4  # neighbouring labels leave room between them
    strips = panel.gate_strips
    if strips.width() < strips.legend.sizeHint().width() + 260:
        assert not strips.legend_beside()  # the legend moved under "after input t=…"
    if SHOTS:
        window.grab().save(os.path.join(SHOTS, "long_polish_1024x700.png"))
