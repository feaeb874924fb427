"""Compare mode: two checkpoints (or a folder of them) side by side -- wiring and drawing only.

The numbers come from `inspector.app.diff` and `inspector.app.checkpoints`; this module shows them:
A, B and B-A heatmaps per gate (A and B on one shared diverging scale), a table of the relative change
per weight and gate, the outputs of both over the steps with their difference and the per-layer
divergence of h, and for a checkpoint folder an epoch slider with the per-gate norm curves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.app import diff
from inspector.app.checkpoints import CheckpointSeries
from inspector.app.present import WeightMatrix, describe_weight
from inspector.core.network import ModelFile, find_weight
from inspector.core.stats import symmetric_levels
from inspector.ui.heatmap_view import AXIS_COLOR, HeatmapView
from inspector.ui.workers import TaskRunner

GATE_PENS = {"i": "#1f77b4", "f": "#2ca02c", "c": "#ff7f0e", "o": "#d62728", "z": "#9467bd", "r": "#8c564b"}
A_PEN, B_PEN, DIFF_PEN = "#1f77b4", "#d62728", "#303030"


class ScaledHeatmapView(HeatmapView):
    """A HeatmapView whose colour levels can be set from outside (one scale for several views)."""

    PREWARM_PANELS = 0  # made when a comparison is first shown, not at start-up

    def set_matrix_levels(self, matrix: WeightMatrix, levels: tuple[float, float]) -> None:
        self.set_matrix(matrix)
        if levels == self.levels:
            return
        # HeatmapView takes its levels from the matrix; re-render its panels with the shared ones
        self.levels = levels
        for p in self.panels:
            p.shown = None
        self._render_panels()
        for p in self.panels:
            p.update_detail(levels)
        self.colorbar.setLevels(values=levels, update_items=False)


def _plot(title: str, left: str, bottom: str = "step") -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color=AXIS_COLOR, size="10pt")
    w.setLabel("left", left, color=AXIS_COLOR)
    w.setLabel("bottom", bottom, color=AXIS_COLOR)
    w.showGrid(x=True, y=True, alpha=0.2)
    w.setMenuEnabled(False)
    w.addLegend(offset=(-6, 6), labelTextColor=AXIS_COLOR)
    for ax in ("left", "bottom"):
        w.getAxis(ax).setPen(pg.mkPen(AXIS_COLOR))
        w.getAxis(ax).setTextPen(pg.mkPen(AXIS_COLOR))
        w.getAxis(ax).enableAutoSIPrefix(False)  # "(x0.001)" on a difference axis reads as a unit
    return w


def _short_titles(matrix: WeightMatrix) -> WeightMatrix:
    """Gate panels titled 'i – input' instead of 'i – input gate': three views share the width."""
    gates = tuple(dataclasses.replace(g, title=g.title.replace(" gate", "")) for g in matrix.gates)
    return dataclasses.replace(matrix, gates=gates)


class CompareView(QWidget):
    """Two files of one architecture, or a checkpoint folder, compared.

    Signals
    -------
    weight_selected(str) : the weight shown changed (display path).
    epoch_changed(int) : the epoch slider moved (the epoch number from the file name).
    """

    weight_selected = Signal(str)
    epoch_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None, sync: bool = False) -> None:
        super().__init__(parent)
        self.a: ModelFile | None = None
        self.b: ModelFile | None = None
        self.series: CheckpointSeries | None = None
        self.changes: list[diff.WeightChange] = []
        self.run: diff.RunDiff | None = None
        self.path = ""
        self._runner = TaskRunner(self, sync=sync)
        self._runner.finished.connect(self._on_run)
        self._runner.failed.connect(self._show_error)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("QLabel { background: #fde2e1; color: #7a1410; padding: 4px; }")
        self.banner.hide()
        self.files = QLabel()
        self.files.setWordWrap(True)
        self.weight_box = QComboBox()
        self.weight_box.setMinimumContentsLength(18)
        self.weight_box.currentTextChanged.connect(self.select_weight)
        head = QHBoxLayout()
        head.addWidget(self.files, 1)
        head.addWidget(QLabel("Weight:"))
        head.addWidget(self.weight_box)

        self.views: list[ScaledHeatmapView] = []
        self.titles: list[QLabel] = []
        maps = QWidget()
        col = QVBoxLayout(maps)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        for _ in range(3):
            title = QLabel()
            title.setStyleSheet(f"QLabel {{ color: {AXIS_COLOR}; font-weight: bold; }}")
            view = ScaledHeatmapView()
            self.titles.append(title)
            self.views.append(view)
            col.addWidget(title)
            col.addWidget(view, 1)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            ["weight", "gate", "\u2016B\u2212A\u2016/\u2016A\u2016", "max |B\u2212A|"]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellClicked.connect(lambda row, _c: self.select_weight(self.table.item(row, 0).text()))

        self.output_plot = _plot("Outputs of A and B (sample 0)", "output")
        self.diff_plot = _plot("max |B\u2212A| of the outputs", "|B\u2212A|")
        self.div_plot = _plot("Divergence \u2016h_B \u2212 h_A\u2016 per layer", "\u2016h_B \u2212 h_A\u2016")
        self.top_units = QLabel("Run an input through both files to compare outputs.")
        self.top_units.setWordWrap(True)
        runs = QWidget()
        rl = QVBoxLayout(runs)
        rl.setContentsMargins(0, 0, 0, 0)
        for w in (self.output_plot, self.diff_plot, self.div_plot):
            rl.addWidget(w, 1)
        rl.addWidget(self.top_units)

        self.norm_plot = _plot("Norm per gate over training", "\u2016W_gate\u2016", bottom="epoch")
        self.epoch_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.norm_plot.addItem(self.epoch_line)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self.set_epoch)
        self.epoch_label = QLabel("Open a folder of checkpoints to play the training.")
        train = QWidget()
        tl = QVBoxLayout(train)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.norm_plot, 1)
        tl.addWidget(self.slider)
        tl.addWidget(self.epoch_label)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Changes")
        self.tabs.addTab(runs, "Outputs")
        self.tabs.addTab(train, "Training")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(maps)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 400])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.banner)
        lay.addLayout(head)
        lay.addWidget(split, 1)

    # ------------------------------------------------------------------ inputs
    def set_pair(self, a: ModelFile, b: ModelFile) -> bool:
        """Compare `a` with `b`.  False (and a message naming the first difference) when they differ."""
        why = diff.first_difference(a, b)
        if why is not None:
            self._show_error(f"Cannot compare: different architectures: {why}")
            return False
        self.banner.hide()
        self.a, self.b, self.run = a, b, None
        self.changes = diff.weight_changes(a, b)
        self.files.setText(f"<b>A</b> {Path(a.path).name} &nbsp; <b>B</b> {Path(b.path).name}")
        self._fill_table()
        paths = list(dict.fromkeys(c.path for c in sorted(self.changes, key=lambda c: c.path)))
        order = [p for p, _ in _weight_order(a) if p in paths]
        self.weight_box.blockSignals(True)
        self.weight_box.clear()
        self.weight_box.addItems(order)
        self.weight_box.blockSignals(False)
        first = self.path if self.path in order else (self.changes[0].path if self.changes else "")
        self.path = ""
        self.select_weight(first)
        return True

    def set_series(self, series: CheckpointSeries) -> None:
        """A checkpoint folder: A is the first checkpoint, B follows the epoch slider."""
        self.series = series
        n = len(series.files)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(n - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 1)
        self.set_pair(series.files[0], series.files[-1])
        self._update_epoch_label(n - 1)
        self.tabs.setCurrentIndex(2)

    def set_input(self, inputs: np.ndarray | Sequence[np.ndarray] | None) -> None:
        """Run `inputs` (batch axis first) through both files; the Outputs tab shows the result."""
        self.inputs = inputs
        if inputs is None or self.a is None or self.b is None:
            return
        self._runner.submit(diff.run_both, self.a, self.b, inputs)

    def select_weight(self, path: str) -> None:
        """Show weight `path` as A, B and B-A heatmaps."""
        if not path or path == self.path or self.a is None or self.b is None:
            return
        self.path = path
        if self.weight_box.currentText() != path:
            self.weight_box.setCurrentText(path)
        self._show_weight()
        self._show_norms()
        self.weight_selected.emit(path)

    def set_epoch(self, index: int) -> None:
        """Slider position `index`: B becomes that checkpoint (A stays the first)."""
        if self.series is None or not 0 <= index < len(self.series.files):
            return
        if self.slider.value() != index:
            self.slider.setValue(index)
            return
        keep = self.path
        self.set_pair(self.series.files[0], self.series.files[index])
        if keep:
            self.select_weight(keep)
        self._update_epoch_label(index)
        if getattr(self, "inputs", None) is not None:
            self.set_input(self.inputs)
        self.epoch_changed.emit(int(self.series.epochs[index]))

    # ------------------------------------------------------------------ drawing
    def _show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.changes))
        for row, c in enumerate(self.changes):
            cells = [c.path, c.gate or "", f"{c.rel_change:.4g}", f"{c.max_abs_change:.4g}"]
            for k, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if k >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, k, item)

    def _show_weight(self) -> None:
        assert self.a is not None and self.b is not None
        fa, fb = find_weight(self.a, self.path), find_weight(self.b, self.path)
        if fa is None:
            return
        layer, wa = fa
        vb = fb[1].value if fb is not None else _by_order(self.a, self.b, self.path)
        net = self.a.network
        ma = _short_titles(describe_weight(layer, self.path, wa, net))
        mb = dataclasses.replace(ma, value=np.ascontiguousarray(vb.reshape(ma.value.shape), dtype=np.float32))
        md = dataclasses.replace(ma, value=np.ascontiguousarray(mb.value - ma.value))
        shared = symmetric_levels(np.concatenate([ma.value.ravel(), mb.value.ravel()]))
        own = symmetric_levels(md.value)
        names = (Path(self.a.path).name, Path(self.b.path).name)
        self.titles[0].setText(f"A \u2013 {names[0]}   (scale \u00b1{shared[1]:.3g}, shared with B)")
        self.titles[1].setText(f"B \u2013 {names[1]}   (scale \u00b1{shared[1]:.3g})")
        self.titles[2].setText(f"B \u2212 A   (own scale \u00b1{own[1]:.3g})")
        self.views[0].set_matrix_levels(ma, shared)
        self.views[1].set_matrix_levels(mb, shared)
        self.views[2].set_matrix_levels(md, own)

    def _show_norms(self) -> None:
        plot = self.norm_plot
        for item in list(plot.listDataItems()):
            plot.removeItem(item)
        if self.series is None:
            return
        x = self.series.epochs.astype(float)
        if len(x) <= 20:  # whole epochs on the axis, not 1.5
            plot.getAxis("bottom").setTicks([[(float(e), str(int(e))) for e in x]])
        for (path, gate), values in self.series.norms.items():
            if path == self.path:
                pen = pg.mkPen(GATE_PENS.get(gate or "", "#303030"), width=2)
                plot.plot(
                    x, values, pen=pen, symbol="o", symbolSize=5, symbolBrush=pen.color(), name=gate or path
                )
        self.epoch_line.setValue(float(self.series.epochs[self.slider.value()]))

    def _update_epoch_label(self, index: int) -> None:
        if self.series is None:
            return
        epochs, files = self.series.epochs, self.series.files
        self.epoch_label.setText(
            f"Epoch {epochs[index]} ({index + 1} of {len(epochs)}): B = {Path(files[index].path).name}, "
            f"A = {Path(files[0].path).name}"
        )
        self.epoch_line.setValue(float(epochs[index]))

    def _on_run(self, result: object) -> None:
        assert isinstance(result, diff.RunDiff)
        self.run = result
        for p in (self.output_plot, self.diff_plot, self.div_plot):
            for item in list(p.listDataItems()):
                p.removeItem(item)
        ya, yb = result.outputs_a[0][0], result.outputs_b[0][0]
        if ya.ndim == 2:  # (T, C): follow the class A ranks first at the last step
            k = int(np.argmax(ya[-1]))
            self.output_plot.setTitle(f"Output {k} of A and B over the steps (sample 0)", color=AXIS_COLOR)
            self.output_plot.plot(ya[:, k], pen=pg.mkPen(A_PEN, width=2), name="A")
            self.output_plot.plot(
                yb[:, k], pen=pg.mkPen(B_PEN, width=2, style=Qt.PenStyle.DashLine), name="B"
            )
        else:
            self.output_plot.setLabel("bottom", "output")
            self.output_plot.plot(np.ravel(ya), pen=pg.mkPen(A_PEN, width=2), name="A")
            self.output_plot.plot(np.ravel(yb), pen=pg.mkPen(B_PEN, width=2), name="B")
        step_diff = np.ravel(result.output_step_diff[0])  # (T,), or one value for an output without steps
        self.diff_plot.plot(
            step_diff,
            pen=pg.mkPen(DIFF_PEN, width=2),
            symbol="o" if step_diff.size == 1 else None,
            name="max |B\u2212A|",
        )
        for k, (key, d) in enumerate(result.divergence.items()):
            pen = pg.mkPen(pg.intColor(k, hues=max(len(result.divergence), 3)), width=2)
            self.div_plot.plot(d, pen=pen, name=key)
        lines = [
            f"<b>{key}</b>: most diverging units " + ", ".join(f"{u} ({v:.3g})" for u, v in units[:6])
            for key, units in result.top_units.items()
        ]
        self.top_units.setText(f"outputs: max |B\u2212A| = {result.max_abs:.4g}<br>" + "<br>".join(lines))


def _weight_order(mf: ModelFile) -> list[tuple[str, object]]:
    layers = mf.network.layers if mf.network is not None else mf.weight_layers
    return [pw for lay in layers for pw in lay.all_weights()]


def _by_order(a: ModelFile, b: ModelFile, path: str) -> np.ndarray:
    """B's weight matched to A's `path` in order (two writers named the layers differently)."""
    for pa, _, wb in diff.matched_weights(a, b):
        if pa == path:
            return wb.value
    raise KeyError(path)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m inspector.ui.compare_view A B
    import sys

    from PySide6.QtWidgets import QApplication

    from inspector.io import load

    app = QApplication(sys.argv)
    w = CompareView(sync=True)
    w.set_pair(load(sys.argv[1]), load(sys.argv[2]))
    w.resize(1280, 800)
    w.show()
    sys.exit(app.exec())
