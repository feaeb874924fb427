"""Stepping through time: input, transport controls, gate strips, units x time view and the output.

The Stepper holds the whole trajectory, so every control here only calls `Session.set_step`; the
views update themselves from `Session.step_changed` (no work beyond indexing and setImage).  The
output over time ("if the sequence ended here", with the input file's target) is computed once per
input on the session's runner from the Stepper's cached prefix outputs.  A rejected input clears the
views and shows a banner saying the previous run is not shown.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.app.outputs import OutputSeries, stepper_output_series
from inspector.app.state import AppState
from inspector.app.text import display_token
from inspector.core.stepper import Stepper
from inspector.ui import step_common as ta
from inspector.ui.gate_strips import GateStripsView
from inspector.ui.input_panel import InputPanel
from inspector.ui.output_over_time import OutputOverTimeView
from inspector.ui.output_view import OutputView
from inspector.ui.timeline_view import TimelineView
from inspector.ui.widgets import ElidedLabel


class StepperPanel(QWidget):
    """Input, play/step/scrub controls (←/→, Space, Home/End) and the per-step views of one Session.

    Signals: none (everything goes through the Session).
    """

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        self._build_views(session)

        style = self.style()

        def button(icon: QStyle.StandardPixmap, tip: str, slot: Any) -> QToolButton:
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep the arrow keys for stepping
            b.clicked.connect(slot)
            return b

        sp = QStyle.StandardPixmap
        self.start_button = button(sp.SP_MediaSkipBackward, "jump to start (Home)", self.go_start)
        self.back_button = button(sp.SP_MediaSeekBackward, "step back (\u2190)", self.step_back)
        self.play_button = button(sp.SP_MediaPlay, "play / pause (Space)", self.toggle_play)
        self.forward_button = button(sp.SP_MediaSeekForward, "step forward (\u2192)", self.step_forward)
        self.end_button = button(sp.SP_MediaSkipForward, "jump to end (End)", self.go_end)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("scrub through the sequence")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.session.set_step)
        self.step_label = QLabel("no input")
        self.step_label.setMinimumWidth(150)
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(1, 60)
        self.speed.setValue(8)
        self.speed.setFixedWidth(110)
        self.speed.setToolTip("playback speed (steps per second)")
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed.valueChanged.connect(self._on_speed)
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(60)
        self.busy_label = QLabel("")
        self.busy_label.setStyleSheet("color: #a06000;")
        # a long input's key frames are built on the runner: progress in busy_label, this stops it
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("stop running this long input (the previous run stays shown)")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.clicked.connect(self._cancel_input)
        self.cancel_button.setVisible(False)
        self._window: tuple[int, int] = (-1, -1)
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._on_play_tick)
        self._on_speed(self.speed.value())

        controls = self._controls_row()

        self.left_splitter = left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.gate_strips)
        left.addWidget(self.timeline)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 1)
        self.right_splitter = right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.output)
        right.addWidget(self.over_time)
        right.setStretchFactor(0, 3)  # the output at this step first: a class per bar needs the height
        right.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.input_panel)
        lay.addWidget(self.stale_label)
        lay.addLayout(controls)
        lay.addWidget(self.splitter, 1)

        self._connect(session)
        session.file_loaded.connect(lambda _m: self.pause())
        self._on_input_changed(session.stepper)

    def _connect(self, session: AppState) -> None:
        """Keyboard shortcuts, generate mode, and the state's events."""
        # Shortcuts work while focus is anywhere in the panel; text fields keep their own keys
        # (they claim Left/Right/Home/End/Space through ShortcutOverride).
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for key, slot in (
            (Qt.Key.Key_Left, self.step_back),
            (Qt.Key.Key_Right, self.step_forward),
            (Qt.Key.Key_Home, self.go_start),
            (Qt.Key.Key_End, self.go_end),
            (Qt.Key.Key_Space, self.toggle_play),
        ):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(ctx)
            sc.activated.connect(slot)

        # Generate mode: the output view samples, the text box appends and re-runs.
        self.output.sampled.connect(self.input_panel.append_text)
        self.input_panel.rejected.connect(lambda _m: self.output.stop_generating())
        session.input_failed.connect(lambda _m: self.output.stop_generating())
        session.input_failed.connect(self._on_input_failed)
        self.output.output_box.currentIndexChanged.connect(lambda _i: self._update_over_time())

        self._follow = ta.WhileHidden(self, session, self._on_input_changed, self._on_step_changed)
        session.busy_changed.connect(self._on_busy_changed)
        progress = getattr(session, "input_progress", None)
        if progress is not None:
            progress.connect(self._on_input_progress)

    def _build_views(self, session: AppState) -> None:
        """The input panel, the per-step views, the output column and the stale-run banner."""
        self.input_panel = InputPanel(session)
        self.gate_strips = GateStripsView(session)
        self.timeline = TimelineView(session)
        self.output = OutputView(session)
        self.over_time = OutputOverTimeView()
        self.over_time.setMinimumHeight(120)
        self._series_id = 0
        self.stale_label = ElidedLabel("")
        self.stale_label.setStyleSheet("color: #7a1010; background: #fde8e8; padding: 2px 6px;")
        self.stale_label.setVisible(False)

    def _controls_row(self) -> QHBoxLayout:
        """Transport buttons, the step slider and label, the speed slider: one row."""
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(2)
        for b in (
            self.start_button,
            self.back_button,
            self.play_button,
            self.forward_button,
            self.end_button,
        ):
            controls.addWidget(b)
        controls.addWidget(self.slider, 1)
        controls.addSpacing(6)
        controls.addWidget(self.step_label)
        controls.addWidget(self.busy_label)
        controls.addWidget(self.cancel_button)
        controls.addSpacing(6)
        controls.addWidget(QLabel("speed"))
        controls.addWidget(self.speed)
        controls.addWidget(self.speed_label)
        return controls

    def showEvent(self, event: Any) -> None:
        """Take the keyboard when shown (e.g. its tab was clicked), so ←/→ step instead of switching tabs."""
        super().showEvent(event)
        focus = QApplication.focusWidget()
        if focus is None or not self.isAncestorOf(focus):
            QTimer.singleShot(0, self._take_focus)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Share the width 60 / 40 between the per-step views and the output column, and the column's
        height 60 / 40 between the output at this step and the output over time, once they are known."""
        super().resizeEvent(event)
        total, height = sum(self.splitter.sizes()), sum(self.right_splitter.sizes())
        if not getattr(self, "_split_done", False) and total > 200 and height > 200:
            self._split_done = True
            self.splitter.setSizes([int(total * 0.6), total - int(total * 0.6)])
            self.right_splitter.setSizes([int(height * 0.6), height - int(height * 0.6)])

    def _take_focus(self) -> None:
        if self.isVisible():
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------ transport
    @property
    def playing(self) -> bool:
        return self.play_timer.isActive()

    def step_forward(self) -> None:
        self.session.set_step(self.session.step + 1)

    def step_back(self) -> None:
        self.session.set_step(self.session.step - 1)

    def go_start(self) -> None:
        self.session.set_step(0)

    def go_end(self) -> None:
        self.session.set_step(self.session.n_steps - 1)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.session.n_steps <= 1:
            return
        if self.session.step >= self.session.n_steps - 1:
            self.session.set_step(0)  # play from the start again
        self.play_timer.start()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def pause(self) -> None:
        self.play_timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    def _on_play_tick(self) -> None:
        if self.session.step >= self.session.n_steps - 1:
            self.pause()
        else:
            self.step_forward()

    def _on_speed(self, steps_per_s: int) -> None:
        self.play_timer.setInterval(max(1, int(round(1000 / steps_per_s))))
        self.speed_label.setText(f"{steps_per_s}/s")

    # ------------------------------------------------------------------ session
    def _on_input_changed(self, stepper: Stepper | None) -> None:
        n = self.session.n_steps
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(self.session.step)
        self.slider.blockSignals(False)
        enabled = stepper is not None and n > 0
        for w in (
            self.slider,
            self.start_button,
            self.back_button,
            self.play_button,
            self.forward_button,
            self.end_button,
        ):
            w.setEnabled(enabled)
        if not enabled:
            self.pause()
        self._symbols = self._step_symbols()
        if stepper is not None:
            self.stale_label.setVisible(False)
        self._fit_strips()
        self._update_over_time()
        self._on_step_changed(self.session.step)

    def _step_symbols(self) -> list[str] | None:
        """Display token per step: the typed input's own tokens (words, '<oov>:word', '<pad>'), else the
        vocabulary symbol of each input id."""
        tokens = getattr(self.session, "tokens", None)
        if tokens is not None:
            return [ta.visible(display_token(t)) for t in tokens]
        return ta.input_symbols(self.session)

    def _on_input_failed(self, message: str) -> None:
        """A rejected input: the views are cleared; say so where the user looks."""
        if self.session.stepper is None and self.session.network is not None:
            self.stale_label.setText(f"This input was not run ({message}); the previous run is not shown.")
            self.stale_label.setToolTip(message)
            self.stale_label.setVisible(True)

    # ------------------------------------------------------------------ output over time
    def _update_over_time(self) -> None:
        """Recompute the output over time for the current input (on the runner; stale results dropped)."""
        self._series_id += 1
        if self._follow.behind():  # hidden: recomputed when the Stepper is shown
            return
        req = self._series_id
        stepper = self.session.stepper
        kind = self.output.kind
        if stepper is None or kind is None or self.session.n_steps < 1:
            self.over_time.clear()
            return
        output = max(self.output.output_box.currentIndex(), 0)
        target = getattr(self.session, "target", None)
        if ta.is_long(stepper):  # the current window only (the whole run is never held)
            self._window = (stepper.window_start, stepper.window_stop)
            self.session.runner.submit(
                stepper.output_series,
                output,
                target,
                on_done=lambda series: self._on_series(req, series),
                on_error=lambda message: self._on_series_failed(req, message),
            )
            return
        self.session.runner.submit(
            stepper_output_series,
            stepper,
            output,
            target,
            on_done=lambda series: self._on_series(req, series),
            on_error=lambda message: self._on_series_failed(req, message),
        )

    def _on_series(self, req: int, series: OutputSeries) -> None:
        kind = self.output.kind
        if req != self._series_id or kind is None:
            return
        pad_fn = getattr(self.session, "padding_mask", None)
        padding = pad_fn() if pad_fn is not None else None
        self.over_time.set_series(
            series.steps, series.values, kind, tokens=self._symbols, target=series.target, padding=padding
        )
        self.over_time.set_step(self.session.step)

    def _on_series_failed(self, req: int, message: str) -> None:
        if req == self._series_id:
            self.over_time.clear()
            self.over_time.title.setText(f"Output over time unavailable: {message}")

    def _fit_strips(self) -> None:
        """Give the gate strips the height they need (at most ~40 %) and the rest to the time view."""
        want = self.gate_strips.preferred_height()
        total = sum(self.left_splitter.sizes())
        if want <= 0 or total <= 0:
            return
        top = min(want, int(total * 0.46))
        self.left_splitter.setSizes([top, total - top])

    def _on_step_changed(self, t: int) -> None:
        n = self.session.n_steps
        if self.session.stepper is None or n == 0:
            self.step_label.setText("no input")
            return
        stepper = self.session.stepper
        if ta.is_long(stepper) and (stepper.window_start, stepper.window_stop) != self._window:
            self._update_over_time()  # a new window: its output over time
        self.over_time.set_step(t)
        if self.slider.value() != t:
            self.slider.blockSignals(True)
            self.slider.setValue(t)
            self.slider.blockSignals(False)
        text = f"step {t:,} / {n - 1:,}"
        symbols = getattr(self, "_symbols", None)
        if symbols is not None and len(symbols) == n and 0 <= t < n:
            text += f"  \u00b7  input \u2018{symbols[t]}\u2019"
        batch = ta.sample_count(self.session)
        if batch > 1:
            text += f"  \u00b7  batch row 0 of {batch}"
        if ta.is_long(stepper):
            text += f"  \u00b7  window {stepper.window_start:,}\u2013{stepper.window_stop - 1:,}"
        self.step_label.setText(text)

    def _on_busy_changed(self, busy: bool) -> None:
        self.busy_label.setText("running\u2026" if busy else "")
        if not busy:
            self.cancel_button.setVisible(False)

    def _on_input_progress(self, done: int, total: int) -> None:
        """A long input is being run: how far (the key frames of the whole sequence come first)."""
        self.busy_label.setText(f"running {done / max(total, 1):.0%} of {total:,} steps\u2026")
        self.cancel_button.setVisible(True)

    def _cancel_input(self) -> None:
        cancel = getattr(self.session, "cancel_input", None)
        if cancel is not None:
            cancel()
        self.cancel_button.setVisible(False)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m inspector.ui.stepper_panel [MODEL]
    import sys

    from inspector.ui.session import Session

    app = QApplication(sys.argv)
    sess = Session()
    panel = StepperPanel(sess)
    panel.resize(1100, 760)
    panel.show()
    if len(sys.argv) > 1:
        sess.open(sys.argv[1])
    else:
        from inspector.resources import sample_model_path

        sess.open(str(sample_model_path()))
    code = app.exec()
    # Drop the widgets before the interpreter finalises: a shown pyqtgraph layout still alive at
    # exit can crash PySide6 6.12 during garbage collection.
    panel.close()
    panel.deleteLater()
    del panel
    app.processEvents()
    sys.exit(code)
