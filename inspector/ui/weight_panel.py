"""The Weights view: the selected weight as gate heatmaps, per-gate statistics and histograms."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspector.app.present import WeightMatrix, describe_weight
from inspector.app.state import AppState
from inspector.core.stats import GateStats, finite_range, gate_stats
from inspector.ui.heatmap_view import AXIS_COLOR, HeatmapView, unclamp
from inspector.ui.widgets import ElidedLabel, ItemPool
from inspector.ui.workers import TaskRunner

# |w| below this share of the weight's largest |w| counts as near zero (pruned / dead connections)
NEAR_ZERO_RELATIVE = 1e-3
HIST_BINS = 64
_INLINE_SUMMARY = 1_000_000  # elements; bigger weights are summarised in the background
HIST_COLOR = QColor(70, 90, 120)


@dataclass(frozen=True)
class WeightSummary:
    """Everything below the heatmaps, computed off the GUI thread for big weights."""

    path: str
    stats: list[GateStats]
    edges: np.ndarray  # (HIST_BINS + 1,) shared by every gate
    counts: list[np.ndarray]  # per gate panel


def summarize(matrix: WeightMatrix) -> WeightSummary:
    """Per-gate statistics and histograms of `matrix` (pure numpy; safe to run in a worker)."""
    value = matrix.value
    lo, hi, all_finite = finite_range(value)
    top = max(abs(lo), abs(hi)) if np.isfinite(lo) else 0.0
    tol = NEAR_ZERO_RELATIVE * top
    if not np.isfinite(lo):
        lo, hi = -1.0, 1.0
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    stats, counts = [], []
    for title, a, b in matrix.panels():
        block = value[:, a:b]
        stats.append(gate_stats(title, block, tol, all_finite or None))
        finite = block if all_finite else block[np.isfinite(block)]
        counts.append(np.histogram(finite, bins=edges)[0])
    return WeightSummary(matrix.path, stats, edges, counts)


def matrix_stats(matrix: WeightMatrix) -> list[GateStats]:
    """One GateStats per panel of `matrix` (the whole weight when it has no gates)."""
    return summarize(matrix).stats


class StatsTable(QTableWidget):
    """Per-gate statistics, one row per gate; NaN/Inf counts flagged in red."""

    COLUMNS = ("gate", "mean", "std", "min", "max", "L2 norm", "near 0", "NaN/Inf")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        tip = self.horizontalHeaderItem(6)
        tip.setToolTip(
            f"share of weights with |w| \u2264 {NEAR_ZERO_RELATIVE:g} \u00d7 max|w| of this weight"
        )
        self.verticalHeader().setDefaultSectionSize(22)

    def set_stats(self, stats: list[GateStats], gated: bool = True) -> None:
        """One row per gate; a weight without gates is one row named after itself under 'weight'."""
        self.horizontalHeaderItem(0).setText("gate" if gated else "weight")
        self.setRowCount(len(stats))
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        for r, s in enumerate(stats):
            cells = [
                s.name.split(" \u2013 ")[0],
                f"{s.mean:+.4g}",
                f"{s.std:.4g}",
                f"{s.min:+.4g}",
                f"{s.max:+.4g}",
                f"{s.norm:.4g}",
                f"{100 * s.near_zero:.1f} %",
                str(s.n_nonfinite),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setToolTip(s.name)
                    bold = item.font()
                    bold.setBold(True)  # DejaVu Sans regular mis-places combining tildes
                    item.setFont(bold)
                if c > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    item.setFont(mono)
                if c == 7 and s.n_nonfinite:
                    item.setForeground(QBrush(QColor(200, 0, 0)))
                    item.setToolTip(f"{s.n_nonfinite} of {s.size} values are NaN or Inf")
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.setItem(r, c, item)
        # as wide as its columns: the histograms get the rest of the row
        self.resizeColumnsToContents()
        width = sum(self.columnWidth(c) for c in range(self.columnCount()))
        self.setFixedWidth(width + 2 * self.frameWidth() + 2)


class SparseTickAxis(pg.AxisItem):
    """A value axis with at most one labelled tick per `TICK_PX` pixels (0 kept when in range), so
    the tick labels of narrow histograms never run together."""

    TICK_PX = 44

    def tickValues(self, minVal, maxVal, size):  # noqa: ANN001, ANN201, N802, N803 - pyqtgraph's names
        levels = super().tickValues(minVal, maxVal, size)
        if not levels:
            return levels
        room = max(1, int(size // self.TICK_PX))
        spacing, values = levels[0]
        values = sorted(values)
        if len(values) > room:
            zero = [v for v in values if abs(v) < 1e-12 * max(1.0, abs(spacing))]
            step = -(-len(values) // room)
            start = values.index(zero[0]) % step if zero else 0
            values = values[start::step]
        return [(spacing, values)]


class GateHistograms(pg.GraphicsLayoutWidget):
    """One small histogram per gate panel, sharing the value axis.

    The plots are made once (a pool) and their curves updated in place for every weight.
    """

    PREWARM_PLOTS = 4  # an LSTM weight's gates

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(self.palette().color(self.backgroundRole()))
        self.ci.setContentsMargins(2, 2, 2, 2)
        unclamp(self.ci)
        self.plots: list[pg.PlotItem] = []  # in use (in the layout), one per gate panel
        self.curves: list[pg.PlotDataItem] = []
        self._pool: ItemPool[tuple[pg.PlotItem, pg.PlotDataItem]] = ItemPool(self._new_plot)
        self._titles: dict[int, str] = {}  # id(plot) -> title set
        QTimer.singleShot(0, self, lambda: self._pool.grow(self.PREWARM_PLOTS))  # after start-up

    def _new_plot(self) -> tuple[pg.PlotItem, pg.PlotDataItem]:
        plot = pg.PlotItem(axisItems={"bottom": SparseTickAxis("bottom")})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.hideAxis("left")
        bottom = plot.getAxis("bottom")
        bottom.setPen(pg.mkPen(AXIS_COLOR))
        bottom.setTextPen(pg.mkPen(AXIS_COLOR))
        bottom.setStyle(maxTickLevel=0)  # labelled ticks only: no tick comb
        curve = plot.plot(
            [0.0, 1.0],
            [0.0],
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(HIST_COLOR),
            pen=pg.mkPen(HIST_COLOR),
        )
        plot.addItem(pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen("#c03030", style=Qt.PenStyle.DashLine)))
        if len(self._pool):
            plot.setXLink(self._pool[0][0])
        plot.setVisible(False)
        self.ci.addItem(plot, row=0, col=len(self._pool))
        return plot, curve

    def _use_plots(self, n: int) -> None:
        """Exactly `n` plots in use.  Every plot made stays in the layout; the ones not in use are hidden
        (a grid layout gives hidden items no room): nothing is rebuilt."""
        used = self._pool.take(n)
        for plot, curve in self._pool.extra():
            plot.setVisible(False)
            curve.setData([0.0, 1.0], [0.0])  # let go of the old counts
        self.plots = [p for p, _c in used]
        self.curves = [c for _p, c in used]

    def set_summary(self, matrix: WeightMatrix | None, summary: WeightSummary | None) -> None:
        """Show `summary`'s histograms; None blanks the plots (kept for the next summary)."""
        if matrix is None or summary is None:
            for plot in self.plots:
                plot.setVisible(False)
            return
        panels = matrix.panels()
        self._use_plots(len(panels))
        edges = summary.edges
        lo, hi = float(edges[0]), float(edges[-1])
        for (title, _a, _b), counts, plot, curve in zip(panels, summary.counts, self.plots, self.curves):
            short = title.split(" \u2013 ")[0]
            if self._titles.get(id(plot)) != short:
                plot.setTitle(short, size="10pt", color=AXIS_COLOR, bold=True)
                self._titles[id(plot)] = short
            curve.setData(edges, counts)
            plot.setXRange(lo, hi, padding=0.02)
            plot.enableAutoRange(axis="y")
            plot.setVisible(True)


class WeightPanel(QWidget):
    """Heatmaps of the selected weight + statistics; follows the Session's selection and unit."""

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        # the weight (name, kind, shape) in full, then where it is stored: a long source path ends
        # in '…' with the whole path in its tooltip instead of widening the page
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(False)
        self.source = ElidedLabel(minimum_width=20)
        self.source.setStyleSheet("color: #777;")
        self.heatmap = HeatmapView()
        self.readout = QLabel(" ")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setMinimumWidth(50)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setObjectName("readout")
        self.stats = StatsTable()
        self.histograms = GateHistograms()

        bottom = QWidget()
        bl = QHBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.stats, 0)
        bl.addWidget(self.histograms, 1)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(2)
        tl.addWidget(self.heatmap, 1)
        tl.addWidget(self.readout)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 170])

        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(6, 6, 6, 6)
        head = QHBoxLayout()
        head.setSpacing(6)
        head.addWidget(self.header)
        head.addWidget(self.source, 1)
        cl.addLayout(head)
        cl.addWidget(self.splitter, 1)

        self.placeholder = QLabel("Select a weight in the structure panel to see it here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #777; font-size: 14px;")

        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(content)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        self.summary: WeightSummary | None = None
        self._summary_path = ""  # the weight whose statistics are shown or being computed
        self._summarizer = TaskRunner(self, sync=session.sync)
        self._summarizer.finished.connect(self._on_summary)
        self._summarizer.failed.connect(lambda msg: self.readout.setText(f"Statistics failed: {msg}"))
        self.heatmap.hovered.connect(self._on_hovered)
        self.heatmap.unit_clicked.connect(self._on_unit_clicked)
        session.selection_changed.connect(self._update_selection)
        session.file_loaded.connect(lambda _mf: self._update_selection(session.selection))
        session.vocabulary_changed.connect(lambda _v: self._update_selection(session.selection))
        # a CSV with a header names the input features: the first layer's kernel rows take the names
        session.feature_names_changed.connect(lambda _n: self._update_selection(session.selection))
        session.unit_changed.connect(self._on_unit_changed)
        session.preview_loaded.connect(self._on_preview)
        session.load_failed.connect(self._on_load_failed)
        self._previewing = False
        self._update_selection(session.selection)

    @property
    def matrix(self) -> WeightMatrix | None:
        return self.heatmap.matrix

    def _on_preview(self, file: str, path: str, mf, vocabulary) -> None:  # noqa: ANN001 - core types
        """A big file is still being read: show the weight it opens on now.  Only that weight of `mf`
        holds data (every other array is a placeholder), so nothing else of it is shown."""
        from inspector.core.network import find_weight

        found = find_weight(mf, path)
        if found is None:
            return
        layer, weight = found
        self._summarizer.cancel()
        self._summary_path = ""
        self._previewing = True
        matrix = describe_weight(layer, path, weight, mf.network, vocabulary)
        self._show_content()
        if self.heatmap.matrix is None or self.heatmap.matrix.path != path:
            self._fit_splitter(matrix)  # as the whole file will have it: no new layout when it arrives
        self.heatmap.set_matrix(matrix)
        self.histograms.set_summary(None, None)
        self.stats.setRowCount(0)
        self.header.setText(self._header_html(matrix, weight))
        self.header.setToolTip(f"{file}\n{path}")
        self.source.setText(weight.source)
        self.readout.setText(f"Reading the rest of {os.path.basename(file)}\u2026")

    def _on_load_failed(self, _message: str) -> None:
        if self._previewing:  # the file that was previewed could not be read: back to the open one
            self._update_selection(self.session.selection)

    def _update_selection(self, path: str) -> None:
        self._previewing = False
        found = self.session.find_weight(path)
        if found is None:
            self._summarizer.cancel()
            self._summary_path = ""
            self.heatmap.set_matrix(None)
            self.histograms.set_summary(None, None)
            self.stats.setRowCount(0)
            self.stack.setCurrentIndex(0)
            return
        layer, weight = found
        s = self.session
        matrix = describe_weight(layer, path, weight, s.network, s.vocabulary, s.feature_names)
        # the same weight again (file re-read, vocabulary relabelled, the preview's full read): the
        # heatmap only relabels, and statistics shown or on their way stay
        same = self.heatmap.shows_values_of(matrix)
        self.header.setText(self._header_html(matrix, weight))
        self.header.setToolTip(f"{path}\n{weight.source}" if weight.source else path)
        self.source.setText(weight.source)
        self.readout.setText(
            "Hover a cell for its value; click a column to select that unit everywhere."
            if matrix.trace_key
            else "Hover a cell for its value."
        )
        self._show_content()
        if not same:  # the same weight again (or after its preview) keeps the splitter where it is
            self._fit_splitter(matrix)
        # page and splitter first: the heatmap is drawn (big weights decimated) for its final size
        self.heatmap.set_matrix(matrix)
        if not (same and self._summary_path == matrix.path):
            # statistics and histograms of a big weight are computed in the background
            self.histograms.set_summary(None, None)
            self.stats.setRowCount(0)
            self._summary_path = matrix.path
            if matrix.value.size <= _INLINE_SUMMARY or self.session.sync:
                self._on_summary(summarize(matrix))
            else:
                # started once this event-loop pass (and the paint it posted) is over: a worker busy
                # in numpy while the GUI thread paints makes every GIL hand-back cost the GUI thread
                QTimer.singleShot(0, self, lambda m=matrix: self._summarize_later(m))
        layer_key, unit = self.session.unit
        self.heatmap.highlight_unit(unit if layer_key and layer_key == matrix.trace_key else -1)

    def _fit_splitter(self, matrix: WeightMatrix) -> None:
        """Heatmap above, statistics below: a bias (one or two rows) needs little height, so the room
        goes to the statistics instead."""
        total = sum(self.splitter.sizes()) or 690
        rows = matrix.value.shape[0]
        top = min(total - 150, 260 + 30 * rows) if rows <= 4 else int(total * 0.75)
        self.splitter.setSizes([top, total - top])

    def _summarize_later(self, matrix: WeightMatrix) -> None:
        if self.heatmap.matrix is not None and self.heatmap.matrix.path == matrix.path == self._summary_path:
            self._summarizer.submit(summarize, matrix)

    def _show_content(self) -> None:
        """The heatmap page, laid out now (not at the next event-loop pass)."""
        if self.stack.currentIndex() != 1:
            self.stack.setCurrentIndex(1)
            if self.isVisible():
                self.layout().activate()
                self.stack.currentWidget().layout().activate()

    def _on_summary(self, summary: WeightSummary) -> None:
        m = self.heatmap.matrix
        if m is None or summary.path != m.path:
            return  # the selection moved on
        self.summary = summary
        self.stats.set_stats(summary.stats, gated=bool(m.gates))
        self.histograms.set_summary(m, summary)

    @staticmethod
    def _header_html(m: WeightMatrix, weight) -> str:
        shape = " \u00d7 ".join(str(s) for s in weight.shape) or "scalar"
        kind = m.extra.get("owner_kind", "")
        gates = ""
        if m.gates:
            units = m.gates[0].stop - m.gates[0].start
            gates = f" \u2014 {len(m.gates)} gate{'s' if len(m.gates) > 1 else ''} \u00d7 {units} units"
        dtype = weight.stored_dtype
        return (
            f"<b>{html.escape(m.layer_name)}</b> / <b>{html.escape(m.weight_name)}</b> &nbsp; "
            f"<span style='color:#444'>{kind} {shape}{gates}, {dtype}</span>"
        )

    def _on_hovered(self, text: str) -> None:
        if text:
            self.readout.setText(text)

    def _on_unit_clicked(self, unit: int) -> None:
        m = self.heatmap.matrix
        if m is not None and m.trace_key:
            self.session.select_unit(m.trace_key, unit)

    def _on_unit_changed(self, layer: str, unit: int) -> None:
        m = self.heatmap.matrix
        if m is None:
            return
        self.heatmap.highlight_unit(unit if layer and layer == m.trace_key else -1)
