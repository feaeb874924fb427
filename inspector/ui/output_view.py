"""The model's output at the current step as labelled bars, named for what it is, and a generate mode.

`Stepper.outputs_at(t)` is what the model would return if the sequence ended after step t; the bars
show exactly that array (batch row `sample`, last timestep for sequence outputs).  What the output is
comes from `AppState.output_kinds` (`inspector.app.outputs.describe_outputs`): class probabilities
with class names, P(positive) of a sigmoid with its two labels, independent probabilities, or signed
values (linear, tanh, a recurrent state) on a signed axis.  Only a model predicting its own next
symbol ('next_symbol') gets "what comes next" and Generate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from inspector.app.outputs import OutputKind
from inspector.app.runner import error_message
from inspector.app.state import AppState
from inspector.core.stepper import Stepper
from inspector.ui import step_common as ta
from inspector.ui.widgets import ElidedLabel

_MAX_ALL_CLASSES = 64  # above this many classes only the top _TOP_BARS are drawn, sorted
_TOP_BARS = 40  # fewer when the plot is too short for one readable label per bar (_rows_that_fit)
_BAR = QColor(90, 130, 190)
_NEXT = QColor(240, 140, 30)


def sample_next(probs: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Draw a class index from `probs` (C,) sharpened/flattened by `temperature` (> 0).

    temperature -> 0 is arg-max; 1 samples the model's distribution as is.
    """
    p = np.asarray(probs, dtype=np.float64).ravel()
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    if p.sum() <= 0:
        return int(np.argmax(probs))
    if temperature <= 1e-3:
        return int(np.argmax(p))
    logits = np.log(p, where=p > 0, out=np.full_like(p, -np.inf)) / temperature
    logits -= logits.max()
    w = np.exp(logits)
    w /= w.sum()
    return int(rng.choice(p.size, p=w))


class OutputView(QWidget):
    """Output probabilities at the current step; generate mode appends sampled symbols.

    Signals
    -------
    sampled(str) : a vocabulary token drawn in generate mode (the StepperPanel appends it to the text).
    """

    sampled = Signal(str)

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.sample = 0
        self.top_k = 5
        self.rng = np.random.default_rng(0)
        self._probs = np.zeros(0, dtype=np.float32)
        self._shown_idx = np.zeros(0, dtype=np.int64)
        self._labels: list[str] = []
        self._n_classes = -1
        self._next_id = -1
        self._awaiting_input = False
        self._n_bars = -1
        self._ids: np.ndarray | None = None
        self._cut_error = ""
        self._per_step = False
        self._label_cache: tuple[Any, list[str]] | None = None
        self._kind: OutputKind | None = None

        self.output_box = QComboBox()
        self.output_box.setToolTip("model output shown")
        self.output_box.currentIndexChanged.connect(lambda _i: self._on_step_changed(self.session.step))
        self.header = ElidedLabel("Output")
        self.header.setStyleSheet("font-weight: bold;")
        self.topk_label = QLabel(" ")
        self.topk_label.setWordWrap(True)
        self.topk_label.setTextFormat(Qt.TextFormat.RichText)
        self.next_label = QLabel(" ")
        self.next_label.setTextFormat(Qt.TextFormat.RichText)
        self.next_label.setWordWrap(True)

        self.plot_widget = pg.PlotWidget(background="w")
        self.plot = self.plot_widget.getPlotItem()
        ta.style_plot(self.plot)
        self.plot.setMouseEnabled(x=False, y=True)
        self.plot.invertY(True)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "probability")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.75, width=[], brush=_BAR, pen=pg.mkPen(None))
        self.next_bar = pg.BarGraphItem(x0=[], y=[], height=0.75, width=[], brush=_NEXT, pen=pg.mkPen(None))
        self.plot.addItem(self.bars)
        self.plot.addItem(self.next_bar)
        self._fit = self._rows_that_fit()
        self.plot.getViewBox().sigResized.connect(self._on_plot_resized)
        self.placeholder = QLabel("The model's output appears here once an input has been run.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #666;")

        # Generate mode (text models): sample, append, re-run, repeat.
        self.generate_button = QPushButton("Generate")
        self.generate_button.setCheckable(True)
        self.generate_button.setToolTip("append the sampled next symbol to the text and keep going")
        self.generate_button.toggled.connect(self._on_generate_toggled)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 3.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.8)
        self.temperature.setPrefix("T = ")
        self.temperature.setToolTip("sampling temperature (0 = always the most likely symbol)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setMaximumWidth(110)
        self.temperature.setMaximumWidth(90)
        self.seed.setToolTip("random seed: the same seed, text and temperature give the same continuation")
        self.seed.valueChanged.connect(self.reseed)
        self.timer = QTimer(self)
        self.timer.setInterval(120)
        self.timer.timeout.connect(self._on_tick)

        head = QHBoxLayout()
        head.addWidget(self.header, 1)
        head.addWidget(self.output_box)
        self.generate_row = QWidget()
        gen = QHBoxLayout(self.generate_row)
        gen.setContentsMargins(0, 0, 0, 0)
        gen.addWidget(self.generate_button)
        gen.addWidget(self.temperature)
        gen.addWidget(self.seed)
        gen.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 0, 0)
        lay.setSpacing(3)
        lay.addLayout(head)
        lay.addWidget(self.topk_label)
        lay.addWidget(self.next_label)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.placeholder, 1)
        lay.addWidget(self.generate_row)

        self._follow = ta.WhileHidden(self, session, self._on_input_changed, self._on_step_changed)
        session.file_loaded.connect(lambda _m: self.stop_generating())
        self._on_input_changed(session.stepper)

    # ------------------------------------------------------------------ introspection (tests)
    def probabilities(self) -> np.ndarray:
        """(C,) the output vector shown (all classes, class order)."""
        return self._probs

    def bar_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(class indices drawn, bar lengths) in drawing order."""
        return self._shown_idx, np.asarray(self.bars.opts["width"])

    def highlighted_class(self) -> int:
        """The class drawn in the 'next symbol' colour, -1 when none."""
        return self._next_id

    def labels(self) -> list[str]:
        return list(self._labels)

    def axis_labels(self) -> list[str]:
        """The class labels currently drawn on the bar axis."""
        ticks = self.plot.getAxis("left")._tickLevels
        return [str(label) for level in (ticks or []) for _pos, label in level]

    @property
    def generating(self) -> bool:
        return self.generate_button.isChecked()

    # ------------------------------------------------------------------ data
    def _current_output(self) -> np.ndarray | None:
        stepper = self.session.stepper
        if stepper is None or self.session.n_steps == 0:
            return None
        n = self.session.n_steps
        t = min(max(int(self.session.step), 0), n - 1)
        self._cut_error = ""
        self._per_step = False
        full = stepper.outputs_at(n - 1)  # = the trace's outputs (model.predict), cached
        k = min(max(self.output_box.currentIndex(), 0), len(full) - 1)
        y = np.asarray(full[k])
        if y.ndim == 3 and y.shape[1] == n:
            # A sequence output (return_sequences ... TimeDistributed): show its row for step t of the
            # whole run, which is what model.predict returns there (no re-run per step).
            self._per_step = True
            row = y[min(self.sample, y.shape[0] - 1), t]
        else:
            try:
                y = np.asarray(stepper.outputs_at(t)[k])
            except Exception as exc:  # noqa: BLE001 - e.g. a Flatten that needs the full length
                self._cut_error = error_message(exc)
            row = y[min(self.sample, y.shape[0] - 1)] if y.ndim >= 1 else y.reshape(1)
            if row.ndim >= 2:  # a shorter sequence output: its last step
                row = row[-1]
        return np.asarray(row, dtype=np.float32).ravel()

    @property
    def kind(self) -> OutputKind | None:
        """What the output shown is (None when the model's outputs are not described)."""
        return self._kind

    def _output_kind(self) -> OutputKind | None:
        kinds = getattr(self.session, "output_kinds", None) or []
        k = max(self.output_box.currentIndex(), 0)
        return kinds[k] if k < len(kinds) else None

    def _predicts_next(self) -> bool:
        return self._kind is not None and self._kind.kind == "next_symbol"

    def _can_generate(self) -> bool:
        vocab = self.session.vocabulary
        return (
            self._predicts_next()
            and bool(vocab)
            and self._n_classes == len(vocab)
            and self.session.stepper is not None
        )

    def _class_labels(self, n: int) -> list[str]:
        kind = self._kind
        if self._label_cache is not None and self._label_cache[0] is kind and len(self._label_cache[1]) == n:
            return self._label_cache[1]  # the same output description: a new input relabels for free
        if kind is not None and len(kind.labels) == n:
            # symbols (' ', '\n') made visible; class names keep their spaces
            symbols = kind.kind == "next_symbol" and bool(self.session.vocabulary)
            labels = [ta.visible(v) for v in kind.labels] if symbols else list(kind.labels)
        elif kind is not None and kind.kind == "binary_probability" and n == 1:
            labels = [kind.labels[-1]]
        else:
            labels = [f"output {k}" for k in range(n)]
        self._label_cache = (kind, labels)
        return labels

    # ------------------------------------------------------------------ slots
    def _on_input_changed(self, stepper: Stepper | None) -> None:
        n_out = 0
        if stepper is not None and self.session.n_steps > 0:
            n_out = len(stepper.outputs_at(self.session.n_steps - 1))
        if self.output_box.count() != n_out:
            self.output_box.blockSignals(True)
            self.output_box.clear()
            self.output_box.addItems([f"output {k}" for k in range(n_out)])
            self.output_box.blockSignals(False)
        self.output_box.setVisible(n_out > 1)
        self._n_classes = -1  # relabel on the next draw
        self._n_bars = -1
        self._kind = self._output_kind()
        self._ids = ta.input_ids(self.session, self.sample)
        self.generate_row.setVisible(self._predicts_next())
        self._on_step_changed(self.session.step)
        self.generate_button.setEnabled(self._can_generate() or self.generating)
        if stepper is not None and self._awaiting_input:
            # The generated text has been run: continue from its last step.
            self._awaiting_input = False
            self.session.set_step(self.session.n_steps - 1)

    def _on_step_changed(self, t: int) -> None:
        kind = self._output_kind()
        if kind is not self._kind:
            self._kind = kind
            self._n_classes = -1
            self.generate_row.setVisible(self._predicts_next())
        probs = self._current_output()
        if probs is None:
            self._clear()
            return
        if self.plot_widget.isHidden():
            self.placeholder.setVisible(False)
            self.plot_widget.setVisible(True)
        self._probs = probs
        n = probs.size
        if n != self._n_classes:
            self._n_classes = n
            self._labels = self._class_labels(n)
            self._shown_idx = np.zeros(0, dtype=np.int64)  # redraw the axis with the new labels
            self._n_bars = -1
            self.generate_button.setEnabled(self._can_generate())
        if n <= min(_MAX_ALL_CLASSES, self._fit):
            idx = np.arange(n)
        else:
            order_by = probs if self._is_probability() else np.abs(probs)
            idx = np.argsort(-order_by, kind="stable")[: min(_TOP_BARS, self._fit)]
        if not np.array_equal(idx, self._shown_idx):
            self._shown_idx = idx
            ticks = [(float(r), self._labels[int(c)]) for r, c in enumerate(idx)]
            self.plot.getAxis("left").setTicks([ticks, []])
            self.plot.setLimits(yMin=-0.6, yMax=len(idx) - 0.4)
            self.plot.setYRange(-0.6, len(idx) - 0.4, padding=0)
        if len(idx) != self._n_bars:
            self._n_bars = len(idx)
            self._bar_pos = np.arange(len(idx), dtype=np.float64)
            self._bar_x0 = np.zeros(len(idx))
            self._set_value_axis(probs)
        elif not self._is_probability():
            self._grow_signed_axis(probs[idx])
        self.bars.setOpts(x0=self._bar_x0, y=self._bar_pos, width=probs[idx], height=0.75)
        step = min(max(int(t), 0), self.session.n_steps - 1)
        self._set_header(step, n)
        self.topk_label.setText(self._summary(probs))
        self._show_next(step, idx, probs)

    def _rows_that_fit(self) -> int:
        """Bars the plot can label one per row without the labels overlapping (at least 5)."""
        line = QFontMetrics(self.plot.getAxis("left").font()).height()
        return max(5, int(self.plot.getViewBox().height() // line))

    def _on_plot_resized(self, *_args: Any) -> None:
        fit = self._rows_that_fit()
        if fit != self._fit:
            self._fit = fit
            if self._n_classes > 0:
                self._shown_idx = np.zeros(0, dtype=np.int64)
                self._on_step_changed(self.session.step)

    def _is_probability(self) -> bool:
        if self._kind is not None:
            return self._kind.is_probability
        return bool(np.all(self._probs >= 0) and self._probs.sum() <= 1.001)

    def _set_value_axis(self, values: np.ndarray) -> None:
        """Probabilities: a fixed 0..1 axis; values: a signed axis symmetric about 0 (grows, never jumps)."""
        axis_label = self._kind.axis_label if self._kind is not None else "value"
        self.plot.disableAutoRange(axis="x")
        if self._is_probability():
            self.plot.setLabel("bottom", axis_label)
            self.plot.setXRange(0, 1, padding=0.02)
            self._signed_extent = 0.0
        else:
            self.plot.setLabel("bottom", f"{axis_label} (signed)")
            self._signed_extent = 0.0
            self._grow_signed_axis(values)

    def _grow_signed_axis(self, values: np.ndarray) -> None:
        m = float(np.nanmax(np.abs(values))) if values.size else 0.0
        m = m if np.isfinite(m) and m > 0 else 1.0
        if m > getattr(self, "_signed_extent", 0.0):
            self._signed_extent = m * 1.1
            self.plot.setXRange(-self._signed_extent, self._signed_extent, padding=0.02)

    def _set_header(self, step: int, n: int) -> None:
        kind = self._kind
        if self._cut_error:
            self.header.setText("Output of the whole sequence")
            self.header.setToolTip(f"the model cannot be cut after step {step}: {self._cut_error}")
            return
        if kind is None:
            what = f"Output at step {step}" + (f"  ({n} values)" if n > 1 else "")
        elif kind.kind == "binary_probability":
            what = f"{kind.axis_label} at step {step}"
        elif kind.kind in ("class_probabilities", "next_symbol"):
            what = f"{'Next symbol' if kind.kind == 'next_symbol' else 'Class'} probabilities at step {step}"
        elif kind.kind == "independent_probabilities":
            what = f"{n} independent probabilities at step {step}"
        else:
            what = f"Output value{'s' if n > 1 else ''} at step {step}"
        if 0 < len(self._shown_idx) < n:
            what += f"  \u00b7  top {len(self._shown_idx)} of {n}"
        self.header.setText(what)
        tip = (
            "the model's output at this timestep of the whole sequence (model.predict)"
            if self._per_step
            else "what the model outputs if the input ended after this step"
        )
        self.header.setToolTip(f"{kind.summary}\n{tip}" if kind is not None else tip)

    def _summary(self, values: np.ndarray) -> str:
        """One line under the header, in the output's own terms."""
        kind = self._kind
        labels = self._labels
        if kind is not None and kind.kind == "binary_probability" and values.size == 1:
            p = float(values[0])
            neg, pos = (_html(ta.visible(x)) for x in kind.labels[-2:])
            lean = pos if p >= 0.5 else neg
            return f"{_html(kind.axis_label)} = <b>{p:.3f}</b> &nbsp;\u2192 <b>{lean}</b>"
        if kind is not None and kind.kind == "independent_probabilities":
            on = [int(c) for c in np.flatnonzero(values >= 0.5)]
            shown = ", ".join(f"<b>{_html(labels[c])}</b>&nbsp;{values[c]:.3f}" for c in on[:6])
            return f"above 0.5: {shown}" if on else "none above 0.5"
        if kind is None or kind.is_probability:
            order = np.argsort(-values, kind="stable")[: self.top_k]
            return f"top {len(order)}: " + " &nbsp; ".join(
                f"<b>{_html(labels[int(c)])}</b>&nbsp;{values[c]:.3f}" for c in order
            )
        order = np.argsort(-np.abs(values), kind="stable")[: self.top_k]
        more = " (largest |value|)" if values.size > len(order) else ""
        return f"value{'s' if values.size > 1 else ''}{more}: " + " &nbsp; ".join(
            f"{_html(labels[int(c)])}&nbsp;<b>{values[c]:+.4g}</b>" for c in order
        )

    def _clear(self) -> None:
        """No output to show: drop the bars and the class labels (a stale vocabulary must not linger)."""
        self._probs = np.zeros(0, dtype=np.float32)
        self._shown_idx = np.zeros(0, dtype=np.int64)
        self._labels = []
        self._n_classes = -1
        self._n_bars = -1
        self.bars.setOpts(x0=[], y=[], width=[])
        self.next_bar.setOpts(x0=[], y=[], width=[])
        self.plot.getAxis("left").setTicks([[], []])
        self.header.setText("Output")
        self.header.setToolTip("")
        self.topk_label.setText(" ")
        self.next_label.setText(" ")
        self._next_id = -1
        self.generate_button.setEnabled(False)
        self.generate_row.setVisible(self._predicts_next())
        model = getattr(self.session, "model_file", None)
        if model is None:
            text = "Open a model to see its output."
        elif getattr(model, "network", None) is None:
            text = "This file holds weights only: open its architecture to run it and see the output."
        else:
            text = "The model's output appears here once an input has been run."
        self.placeholder.setText(text)
        self.plot_widget.setVisible(False)
        self.placeholder.setVisible(True)

    def _show_next(self, step: int, idx: np.ndarray, probs: np.ndarray) -> None:
        """Highlight the symbol the input actually continues with (model input at step+1)."""
        self._next_id = -1
        ids = self._ids if self._predicts_next() else None
        if ids is not None and len(ids) == self.session.n_steps and step + 1 < len(ids):
            nxt = int(ids[step + 1])
            if 0 <= nxt < probs.size:
                self._next_id = nxt
        hit = np.flatnonzero(idx == self._next_id) if self._next_id >= 0 else np.zeros(0, dtype=np.int64)
        if hit.size:
            r = int(hit[0])
            self.next_bar.setOpts(x0=[0.0], y=[float(r)], width=[float(probs[self._next_id])], height=0.75)
        else:
            self.next_bar.setOpts(x0=[], y=[], width=[])
        if self._next_id >= 0:
            rank = int(np.sum(probs > probs[self._next_id])) + 1
            self.next_label.setText(
                f"<span style='color:{_NEXT.name()}'>&#9632;</span> next input "
                f"<b>{_html(self._labels[self._next_id])}</b>: p = {probs[self._next_id]:.3f} (rank {rank})"
            )
        elif ids is not None and step + 1 >= self.session.n_steps:
            self.next_label.setText("end of the input: the bars predict what comes next")
        else:
            self.next_label.setText(" ")
        self.next_label.setVisible(self._predicts_next())

    # ------------------------------------------------------------------ generate mode
    def reseed(self, seed: int | None = None) -> None:
        """Restart the sampler's random stream (tests call this for reproducible continuations)."""
        self.rng = np.random.default_rng(self.seed.value() if seed is None else int(seed))

    def generate_once(self) -> str | None:
        """Sample the next symbol from the output at the last step, emit `sampled`; None if impossible."""
        if not self._can_generate() or self.session.busy:
            return None
        probs = self.session.stepper.outputs_at(self.session.n_steps - 1)
        k = min(max(self.output_box.currentIndex(), 0), len(probs) - 1)
        y = np.asarray(probs[k])
        row = y[min(self.sample, y.shape[0] - 1)]
        if row.ndim >= 2:  # a sequence output: the prediction after the last symbol
            row = row[-1]
        token = self.session.vocabulary[sample_next(row, self.temperature.value(), self.rng)]
        self._awaiting_input = True
        self.sampled.emit(token)
        return token

    def stop_generating(self) -> None:
        self.generate_button.setChecked(False)

    def _on_generate_toggled(self, on: bool) -> None:
        if on:
            self._awaiting_input = False
            self.reseed()
            self.session.set_step(self.session.n_steps - 1)
            self.timer.start()
            self.generate_button.setText("Stop")
        else:
            self.timer.stop()
            self._awaiting_input = False
            self.generate_button.setText("Generate")

    def _on_tick(self) -> None:
        if self._awaiting_input or self.session.busy:
            return  # the previous symbol is still being run
        if self.generate_once() is None:
            self.stop_generating()


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
