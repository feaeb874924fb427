"""The Units page: what has each unit learnt, over a whole corpus (engine: `inspector.app.units`).

Saturation scatter per sigmoid gate (one dot per unit, coloured by layer), the selected unit's top
and bottom contexts coloured character by character, the corpus coloured by the selected unit, a
hypothesis box ranking units by correlation with a regular expression, and LSTMVis' match of a
selected span.  Runs off the GUI thread with progress and cancel.  The page takes plain inputs
(`set_model`, `set_encoder`, `set_corpus_text`) and reports through signals, so any shell can host it.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from inspector.app import units
from inspector.ui.unit_text_view import UnitTextView, coloured_html, mono_font
from inspector.ui.workers import TaskRunner

LAYER_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
GUI_EVERY = 512  # key-frame interval: a context or a page of text is recomputed from <= 512 extra steps
SHOWN_TOP, SHOWN_BOTTOM = 8, 4


def _run_job(
    net: Any, sem: Any, text: str, encoder: Any, value: str | None, window: int | None,
    regex: str | None, cancel: threading.Event, report: Any,
) -> tuple[units.UnitsResult, str]:  # fmt: skip
    corpus = units.TextCorpus.from_text(net, text, encoder)
    hyps = [(regex, units.regex_mask(corpus, regex))] if regex else []
    res = units.analyse(
        net, sem, corpus, value=value, top=SHOWN_TOP, window=window, hypotheses=hyps, every=GUI_EVERY,
        progress=lambda d, t: report((d, t)), cancelled=cancel.is_set,
    )  # fmt: skip
    return res, text


class UnitsPage(QWidget):
    """Signals: unit_selected(layer, unit); open_in_stepper(layer, unit, position)."""

    unit_selected = Signal(str, int)
    open_in_stepper = Signal(str, int, int)

    def __init__(self, parent: QWidget | None = None, *, sync: bool = False) -> None:
        super().__init__(parent)
        self.model_file: Any = None
        self.encoder: Any = None
        self.text = ""
        self.result: units.UnitsResult | None = None
        self.selected: tuple[str, int] | None = None
        self._cancel = threading.Event()
        self.runner = TaskRunner(self, sync=sync)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(self._on_progress)
        self.runner.busy_changed.connect(self._on_busy)
        self._build()
        self._update_enabled()

    # ---------------------------------------------------------------------------------- building

    def _build(self) -> None:
        bar = self._build_controls()
        self.scatter = pg.GraphicsLayoutWidget()
        self.scatter.setBackground("w")
        self.scatter.setMinimumWidth(180)
        self._plots: dict[str, Any] = {}
        self._marks: dict[str, Any] = {}

        self.text_view = UnitTextView()
        self.text_title = QLabel("Corpus")
        self.text_title.setWordWrap(True)  # a long title must not widen the page past a small window
        self.contexts = QTextBrowser()
        self.contexts.setOpenLinks(False)
        self.contexts.setFont(mono_font())
        self.contexts.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)  # one context per line, never split
        self.contexts.anchorClicked.connect(self._on_context_link)
        hyp = self._build_hypothesis()

        textbox = QWidget()
        tl = QVBoxLayout(textbox)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.text_title)
        tl.addWidget(self.text_view, 1)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.contexts)
        lower.addWidget(hyp)
        lower.setSizes([600, 300])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(textbox)
        right.addWidget(lower)
        right.setSizes([300, 300])
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.scatter)
        main.addWidget(right)
        main.setSizes([260, 800])
        main.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        # the progress bar shares the status line, so the controls fit a 1024-pixel-wide window
        self.progress.setFixedWidth(190)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress)
        lay.addLayout(status_row)
        lay.addWidget(main, 1)

    def _build_controls(self) -> QHBoxLayout:
        """Layer, value and window choosers, Run / Cancel, the progress bar and the status line."""
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("layer whose units the contexts and the text show")
        self.layer_box.currentTextChanged.connect(self._on_layer_changed)
        self.value_box = QComboBox()
        self.value_box.addItems(["c", "h"])
        self.value_box.setToolTip("value analysed: the cell state c for LSTM layers (h for others), or h")
        self.window_spin = QSpinBox()
        self.window_spin.setRange(0, 1_000_000)
        self.window_spin.setSpecialValueText("continuous")
        self.window_spin.setToolTip(
            "0: the text is one continuous sequence; N: independent windows of N steps"
        )
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.status = QLabel("Open a model with a vocabulary and a corpus, then Run.")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        for label, w in (("Layer", self.layer_box), ("Value", self.value_box), ("Window", self.window_spin)):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addWidget(self.run_button)
        bar.addWidget(self.cancel_button)
        bar.addStretch(1)
        return bar

    def _build_hypothesis(self) -> QWidget:
        """The hypothesis box: a regular expression, Rank / Match / Open in Stepper, the ranked units."""
        self.regex_edit = QLineEdit()
        self.regex_edit.setPlaceholderText("hypothesis: a regular expression, e.g. [aeiou] or \\n")
        self.regex_edit.returnPressed.connect(self.rank)
        self.rank_button = QPushButton("Rank units")
        self.rank_button.clicked.connect(self.rank)
        self.match_button = QPushButton("Match selection")
        self.match_button.setToolTip(
            "LSTMVis: the units on over the selected text, and where else they all are"
        )
        self.match_button.clicked.connect(self.match_selection)
        self.ranking = QListWidget()
        self.ranking.setFont(mono_font())
        self.ranking.setWordWrap(True)  # the hypothesis header line wraps instead of being cut
        self.ranking.itemClicked.connect(self._on_rank_clicked)
        self.ranking.itemDoubleClicked.connect(self._on_rank_double_clicked)
        self.stepper_button = QPushButton("Open in Stepper")
        self.stepper_button.setToolTip("step through the selected unit's best example")
        self.stepper_button.clicked.connect(self._request_stepper)

        hyp = QWidget()
        hl = QVBoxLayout(hyp)
        hl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.regex_edit, 1)
        row.addWidget(self.rank_button)
        hl.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(self.match_button)
        row2.addWidget(self.stepper_button)
        row2.addStretch(1)
        hl.addLayout(row2)
        hl.addWidget(self.ranking, 1)
        return hyp

    # ---------------------------------------------------------------------------------- inputs

    def set_model(self, model_file: Any, encoder: Any = None) -> None:
        """A ModelFile (`network`, `semantics`, `path`); the encoder defaults to its vocabulary sidecar."""
        self.cancel()
        self.model_file = model_file
        if encoder is None and model_file is not None:
            encoder = units.find_text_encoder(model_file.path)
        self.encoder = encoder
        self._clear()
        self._update_enabled()

    def set_encoder(self, encoder: Any) -> None:
        self.encoder = encoder
        self._update_enabled()

    def set_corpus_text(self, text: str) -> None:
        self.text = text
        self._clear()
        self.text_view.set_corpus(text, None)
        self._update_enabled()

    # ---------------------------------------------------------------------------------- running

    def _can_run(self) -> bool:
        mf = self.model_file
        return mf is not None and mf.network is not None and self.encoder is not None and bool(self.text)

    def run(self, regex: str | None = None) -> None:
        """Analyse the corpus (with `regex` as hypothesis when given), off the GUI thread."""
        if not self._can_run():
            self.status.setText("Needs a model with a vocabulary and a corpus text.")
            return
        self._cancel = threading.Event()
        value = "h" if self.value_box.currentIndex() == 1 else None
        window = self.window_spin.value() or None
        mf = self.model_file
        self.progress.setValue(0)
        self.status.setText("Running the corpus through the model\u2026")
        self.runner.submit(
            _run_job, mf.network, mf.semantics, self.text, self.encoder, value, window, regex, self._cancel,
            progress=True,
        )  # fmt: skip

    def rank(self) -> None:
        regex = self.regex_edit.text()
        if regex:
            self.run(regex)

    def cancel(self) -> None:
        self._cancel.set()

    def _on_busy(self, busy: bool) -> None:
        self._update_enabled(busy)

    def _update_enabled(self, busy: bool | None = None) -> None:
        busy = self.runner.busy if busy is None else busy
        self.run_button.setEnabled(self._can_run() and not busy)
        self.rank_button.setEnabled(self._can_run() and not busy)
        self.cancel_button.setEnabled(busy)
        have = self.result is not None and not busy
        self.match_button.setEnabled(
            have and self.result is not None and isinstance(self.result.corpus, units.TextCorpus)
        )
        self.stepper_button.setEnabled(have and self.selected is not None)

    def _on_progress(self, value: object) -> None:
        done, total = value  # type: ignore[misc]
        self.progress.setValue(int(1000 * done / max(total, 1)))
        self.progress.setFormat(f"{done:,} / {total:,} steps")

    def _on_failed(self, message: str) -> None:
        self.status.setText("Cancelled." if message == "cancelled" else f"Could not run: {message}")
        self._update_enabled(False)

    def _on_finished(self, payload: object) -> None:
        res, text = payload  # type: ignore[misc]
        if text != self.text:
            return  # the corpus changed meanwhile
        self.result = res
        self.progress.setValue(1000)
        layers = list(res.layers)
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(layers)
        self.layer_box.blockSignals(False)
        st0 = res.layer()
        self.status.setText(
            f"{st0.count:,} positions, {res.mode}; {len(layers)} recurrent layer(s). Click a dot, a ranked "
            "unit or a context; select text and Match to find where the same units are on."
        )
        self._draw_scatter()
        self._fill_ranking()
        keep = self.selected if self.selected and self.selected[0] in res.layers else None
        self.select_unit(*(keep or (layers[0], 0)))
        self._update_enabled(False)

    # ---------------------------------------------------------------------------------- views

    def _clear(self) -> None:
        self.result = None
        self.selected = None
        self.scatter.clear()
        self._plots.clear()
        self._marks.clear()
        self.contexts.clear()
        self.ranking.clear()
        self.layer_box.clear()

    def _draw_scatter(self) -> None:
        res = self.result
        assert res is not None
        self.scatter.clear()
        self._plots.clear()
        self._marks.clear()
        gates: list[str] = []
        for st in res.layers.values():
            gates += [g for g in st.left if g not in gates]
        if not gates:
            self.scatter.addLabel("no sigmoid gates (SimpleRNN): nothing saturates")
            return
        for row, g in enumerate(gates):
            plot = self.scatter.addPlot(row=row, col=0)
            plot.setTitle(f"gate {g}: steps saturated", size="9pt")
            plot.setLabel("bottom", "&gt; 0.9")
            plot.setLabel("left", "&lt; 0.1")
            plot.setXRange(0, 1, padding=0.04)
            plot.setYRange(0, 1, padding=0.04)
            plot.plot([0, 1], [1, 0], pen=pg.mkPen("#bbbbbb", style=Qt.PenStyle.DashLine))
            for k, (key, st) in enumerate(res.layers.items()):
                if g not in st.left:
                    continue
                sat = st.saturation()[g]
                colour = LAYER_COLOURS[k % len(LAYER_COLOURS)]
                item = pg.ScatterPlotItem(
                    sat["right"], sat["left"], size=7, brush=pg.mkBrush(colour + "aa"), pen=pg.mkPen(None),
                    data=[(key, u) for u in range(st.units)], name=key,
                )  # fmt: skip
                item.sigClicked.connect(self._on_dot_clicked)
                plot.addItem(item)
            mark = pg.ScatterPlotItem(size=14, symbol="o", brush=pg.mkBrush(None), pen=pg.mkPen("k", width=2))
            plot.addItem(mark)
            self._plots[g], self._marks[g] = plot, mark

    def _on_dot_clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            layer, unit = points[0].data()
            self.select_unit(layer, unit)

    def select_unit(self, layer: str, unit: int) -> None:
        """Show `unit` of `layer` everywhere on the page and emit unit_selected."""
        res = self.result
        if res is None or layer not in res.layers:
            return
        st = res.layers[layer]
        unit = int(unit)
        self.selected = (layer, unit)
        if self.layer_box.currentText() != layer:
            self.layer_box.blockSignals(True)
            self.layer_box.setCurrentText(layer)
            self.layer_box.blockSignals(False)
        for g, mark in self._marks.items():
            if g in st.left:
                sat = st.saturation()[g]
                mark.setData([sat["right"][unit]], [sat["left"][unit]])
            else:
                mark.setData([], [])
        scale = self._scale(st, unit)
        self.text_view.set_values(lambda a, b: self._values(layer, unit, a, b), scale)
        self.text_title.setText(
            f"Corpus coloured by {st.value} of unit {unit} of {layer} "
            f"(red > 0 > blue, full colour at |{st.value}| = {scale:.2f})"
        )
        self._fill_contexts(st, unit, scale)
        self._update_enabled()
        self.unit_selected.emit(layer, unit)

    def _scale(self, st: units.LayerStats, unit: int) -> float:
        vals = [abs(v) for _, v in st.top(True)[unit][:1] + st.top(False)[unit][:1]]
        return max(vals + [1e-6])

    def _values(self, layer: str, unit: int, start: int, stop: int) -> np.ndarray:
        res, mf = self.result, self.model_file
        if res is None or mf is None:
            return np.zeros(0)
        return res.values(mf.network, mf.semantics, layer, start, stop)[:, unit]

    def _fill_contexts(self, st: units.LayerStats, unit: int, scale: float) -> None:
        corpus = self.result.corpus if self.result else None
        if not isinstance(corpus, units.TextCorpus):
            return
        parts = [
            f"<b>unit {unit} of {html.escape(st.layer)}</b>: "
            f"mean {st.mean[unit]:+.3f}, std {st.std[unit]:.3f}"
        ]
        for title, pairs in (
            ("largest", st.top(True)[unit][:SHOWN_TOP]),
            ("smallest", st.top(False)[unit][:SHOWN_BOTTOM]),
        ):
            parts.append(f"<br><i>{title} {st.value}</i>")
            for pos, val in pairs:
                lo = max(0, pos - units.CONTEXT_BEFORE)
                hi = min(corpus.n_positions, pos + 1 + units.CONTEXT_AFTER)
                vals = self._values(st.layer, unit, lo, hi)
                text = "".join(corpus.tokens[lo:hi]).replace("\n", "\u21b5")
                line = coloured_html(text, vals, scale, mark=pos - lo)
                pad = "&nbsp;" * max(0, 8 - len(str(pos)))
                parts.append(
                    f'<br>{pad}<a href="pos:{pos}">{pos}</a> {val:+.2f}&nbsp;&nbsp;<span>{line}</span>'
                )
        self.contexts.setHtml("".join(parts))

    def _on_context_link(self, url: QUrl) -> None:
        s = url.toString()
        if s.startswith("pos:"):
            self.text_view.scroll_to(int(s[4:]))

    def _on_layer_changed(self, layer: str) -> None:
        if layer and self.result is not None and layer in self.result.layers:
            self.select_unit(layer, self.selected[1] if self.selected and self.selected[0] == layer else 0)

    # ---------------------------------------------------------------------------------- hypotheses

    def _fill_ranking(self) -> None:
        self.ranking.clear()
        res = self.result
        if res is None or not res.hypotheses:
            return
        rows = [(key, u, r) for key, st in res.layers.items() for u, r in st.ranking(0)]
        rows.sort(key=lambda t: -abs(t[2]))
        n = int(next(iter(res.layers.values())).mask_n[0])
        head = QListWidgetItem(f"/{res.hypotheses[0]}/ marks {n:,} positions; by |r|:")
        head.setFlags(Qt.ItemFlag.NoItemFlags)
        self.ranking.addItem(head)
        several = len(res.layers) > 1
        for key, u, r in rows[:200]:
            item = QListWidgetItem((f"{key} " if several else "") + f"unit {u:<4} r = {r:+.3f}")
            item.setData(Qt.ItemDataRole.UserRole, (key, u, r))
            self.ranking.addItem(item)

    def best_position(self, layer: str, unit: int, sign: float = 1.0) -> int:
        """Where the unit is most extreme (largest value, or smallest when sign < 0)."""
        assert self.result is not None
        pairs = self.result.layers[layer].top(sign >= 0)[unit]
        return pairs[0][0] if pairs else 0

    def _on_rank_clicked(self, item: QListWidgetItem) -> None:
        data = item.data(Qt.ItemDataRole.UserRole)
        if data and data[0] == "pos":
            self.text_view.scroll_to(int(data[1]))
        elif data:
            self.select_unit(data[0], data[1])

    def _on_rank_double_clicked(self, item: QListWidgetItem) -> None:
        data = item.data(Qt.ItemDataRole.UserRole)
        if data and data[0] != "pos":
            self.open_in_stepper.emit(data[0], int(data[1]), self.best_position(data[0], data[1], data[2]))

    def _request_stepper(self) -> None:
        if self.selected is not None:
            layer, unit = self.selected
            self.open_in_stepper.emit(layer, unit, self.best_position(layer, unit))

    def match_selection(self, span: tuple[int, int] | None = None) -> None:
        """LSTMVis' match over the selected text (or `span`): list where the same units are on."""
        res = self.result
        span = span or self.text_view.selection()
        if res is None or not self.selected or span is None or span[1] <= span[0]:
            self.status.setText("Select some text in the corpus first, then Match.")
            return
        st = res.layers[self.selected[0]]
        on, runs = st.match(*span)
        self.ranking.clear()
        head = QListWidgetItem(
            f"{len(on)} unit(s) of {st.layer} on (> {st.threshold}) over {span[0]}..{span[1]}: {on[:12]}"
            + ("\u2026" if len(on) > 12 else "")
        )
        head.setFlags(Qt.ItemFlag.NoItemFlags)
        self.ranking.addItem(head)
        corpus = res.corpus
        for a, b in runs:
            text = (
                corpus.context(a)[0].replace("\n", "\u21b5") if isinstance(corpus, units.TextCorpus) else ""
            )
            item = QListWidgetItem(f"{a:>8} ({b - a:>3}) {text}")
            item.setData(Qt.ItemDataRole.UserRole, ("pos", a))
            self.ranking.addItem(item)
