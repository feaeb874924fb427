"""Units x time view (in the spirit of LSTMVis) of one recurrent layer, plus the selected unit's traces.

Images hold the whole trajectory (levels fixed over it) and are set once per input; a step only
moves the current-step line and the shaded "not yet consumed" region, so stepping stays cheap.  The
plot items are made once and reused (a new input of the same layout is one setImage per heatmap).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPen, QResizeEvent, QTransform
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from inspector.app.state import AppState
from inspector.core.stepper import Stepper
from inspector.ui import step_common as ta
from inspector.ui.step_common import RunOverview
from inspector.ui.widgets import ItemPool

_STEP_PEN = pg.mkPen(QColor(20, 20, 20), width=1.5)
_UNIT_PEN = pg.mkPen(QColor(255, 64, 160), width=1.5)
_FUTURE_BRUSH = pg.mkBrush(255, 255, 255, 200)
_MASK_COLOUR = QColor(110, 110, 110, 150)
_ZERO_PEN = pg.mkPen(QColor(170, 170, 170), width=1, style=Qt.PenStyle.DashLine)
_WINDOW_BRUSH = pg.mkBrush(255, 64, 160, 60)
TICK_CHAR_PX = 8  # width of one tick-label character, and the gap kept between two labels
TICK_GAP_PX = 10


def _mask_runs(masked: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] of the contiguous runs of True in a (T,) bool array."""
    runs: list[tuple[int, int]] = []
    start = -1
    for t, m in enumerate(masked.tolist() + [False]):
        if m and start < 0:
            start = t
        elif not m and start >= 0:
            runs.append((start, t - 1))
            start = -1
    return runs


class _MaskBands:
    """Hatched grey columns over the masked timesteps of a plot (made per input, never per step)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.items: list[QGraphicsRectItem] = []
        self.runs: list[tuple[int, int]] = []

    def set_runs(self, runs: list[tuple[int, int]], y0: float, y1: float) -> None:
        while len(self.items) < len(runs):
            item = QGraphicsRectItem()
            brush = QBrush(_MASK_COLOUR, Qt.BrushStyle.BDiagPattern)
            item.setBrush(brush)
            pen = QPen(_MASK_COLOUR)
            pen.setCosmetic(True)
            item.setPen(pen)
            item.setZValue(4)
            self.plot.addItem(item, ignoreBounds=True)
            self.items.append(item)
        for k, item in enumerate(self.items):
            if k < len(runs):
                a, b = runs[k]
                item.setRect(QRectF(a - 0.5, y0, b - a + 1.0, y1 - y0))
                item.setVisible(True)
            else:
                item.setVisible(False)
        self.runs = list(runs)


def _symbol_ticks(
    labels: list[str] | None, n: int, width_px: float = 0.0, x0: int = 0
) -> list[list[tuple[float, str]]] | None:
    """Symbol ticks for steps x0..x0+n-1: every k-th step, k chosen so the labels do not overlap in
    `width_px` pixels (at most ~60 when the width is unknown); None = pyqtgraph's numeric ticks."""
    if labels is None or n <= 0:
        return None
    widest = max((len(lab) for lab in labels), default=1)
    room = int(width_px // (TICK_CHAR_PX * min(widest, 12) + TICK_GAP_PX)) if width_px > 0 else 60
    k = max(1, int(np.ceil(n / max(2, min(room, 60)))))
    first = -x0 % k  # label absolute steps that are multiples of k (stable while a window moves)
    return [[(float(x0 + s), labels[s]) for s in range(first, n, k)], []]


def _unseen(step: int, n: int, backward: bool, x0: int = 0) -> tuple[float, float]:
    """The time range (of steps x0..n-1) a layer has not read yet at input timestep `step` (shaded)."""
    if backward:
        return (x0 - 0.5, max(step - 0.5, x0 - 0.5))
    return (step + 0.5, max(n - 0.5, step + 0.5))


class _Heatmap:
    """One quantity as a units x time image with step line, future shade and unit line."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        ta.style_plot(plot)
        plot.invertY(True)
        plot.getViewBox().setDefaultPadding(0)
        plot.getAxis("left").setWidth(48)
        plot.setMouseEnabled(x=True, y=True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(True)
        self.image.setTransform(QTransform().translate(-0.5, -0.5))
        plot.addItem(self.image)
        self.future = pg.LinearRegionItem(
            values=(0, 1), movable=False, brush=_FUTURE_BRUSH, pen=pg.mkPen(None)
        )
        self.future.setZValue(5)
        plot.addItem(self.future, ignoreBounds=True)
        self.step_line = pg.InfiniteLine(angle=90, pen=_STEP_PEN)
        self.step_line.setZValue(6)
        plot.addItem(self.step_line, ignoreBounds=True)
        # The selected unit's row is framed by two lines (a line through it would hide its colours).
        self.unit_lines = [pg.InfiniteLine(angle=0, pen=_UNIT_PEN) for _ in range(2)]
        for line in self.unit_lines:
            line.setZValue(6)
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
        self.mask = _MaskBands(plot)
        self.quantity: ta.Quantity | None = None
        self.backward = False
        self.x0 = 0

    def set_quantity(self, q: ta.Quantity, sample: int, backward: bool, x0: int = 0) -> None:
        """Show `q` with its first step at input step x0 (a long input's window)."""
        self.quantity = q
        self.backward = backward
        self.x0 = x0
        data = np.ascontiguousarray(np.nan_to_num(q.over_time(sample).T), dtype=np.float32)  # (u, T)
        self.image.setColorMap(pg.colormap.get(q.cmap))
        self.image.setImage(data, autoLevels=False, levels=q.levels)
        self.image.setTransform(QTransform().translate(x0 - 0.5, -0.5))
        units, steps = data.shape
        # only the symbol on the axis: a longer rotated title overlaps its neighbours when the heatmaps
        # are short (the scale is in the tooltip and the legend)
        self.plot.getAxis("left").setLabel(q.label)
        self.plot.getAxis("left").label.setFont(ta.math_font(12))
        self.plot.getAxis("left").setToolTip(f"{q.title}: colour scale {q.note}")
        self.plot.setLimits(xMin=x0 - 0.5, xMax=x0 + steps - 0.5, yMin=-0.5, yMax=units - 0.5)
        self.plot.setRange(xRange=(x0 - 0.5, x0 + steps - 0.5), yRange=(-0.5, units - 0.5), padding=0)

    def release(self) -> None:
        """Not shown: let go of the trajectory (kept for reuse)."""
        self.quantity = None
        self.image.clear()

    def show_step(self, step: int, end: int) -> None:
        self.step_line.setValue(step)
        self.future.setRegion(_unseen(step, end, self.backward, self.x0))


class TimelineView(QWidget):
    """Hidden state, cell state and every gate of one recurrent layer over the sequence so far.

    Clicking a cell selects that unit (Session.select_unit) and moves to that step (Session.set_step).
    Signals: none (reads `Session.input_changed`, `step_changed`, `unit_changed`).
    """

    PREWARM_HEATMAPS = 2

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.sample = 0
        self._trajs: dict[str, Any] = {}
        self._layer = ""
        self._quantities: list[ta.Quantity] = []
        # Heatmaps shown by default: the states; gates are one click away (6 stacked maps get too thin).
        self._hidden_qids: set[str] = {"gate/i", "gate/f", "gate/c", "gate/o", "gate/z", "gate/r", "gate/h"}
        self._heatmaps: list[_Heatmap] = []  # shown, top to bottom
        # every heatmap made (the first len(_heatmaps) are shown); those for the states c and h shown by
        # default are made right after start-up, not while a file opens
        self._heatmap_pool: ItemPool[_Heatmap] = ItemPool(lambda: _Heatmap(pg.PlotItem()))
        QTimer.singleShot(0, self, lambda: self._heatmap_pool.grow(self.PREWARM_HEATMAPS))
        self._labels: list[str] = []
        self._unit = -1
        self._backward = False
        self._has_symbols = False
        self._x0 = 0  # input step of the first trajectory step (a long input's window start)
        self._trace: Any = None  # the trace shown (a long input's window changes it)
        self._symbols_all: list[str] | None = None  # one per input step, read once per input

        self.layer_box = QComboBox()
        self.layer_box.setToolTip("recurrent layer shown over time")
        self.layer_box.currentTextChanged.connect(self._on_layer_chosen)
        # the quantity check boxes sit right of the layer box, or on a row of their own when the view
        # is too narrow for both (see resizeEvent)
        self.checks_box = QWidget()
        self.checks_row = QHBoxLayout(self.checks_box)
        self.checks_row.setContentsMargins(0, 0, 0, 0)
        self.checks_row.setSpacing(6)
        self._checks: dict[str, QCheckBox] = {}
        self.top_row = top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(QLabel("Layer over time:"))
        top.addWidget(self.layer_box)
        top.addSpacing(12)
        top.addWidget(self.checks_box)
        top.addStretch(1)
        self.second_row = QHBoxLayout()
        self.second_row.setContentsMargins(4, 0, 4, 0)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.ci.setSpacing(2)
        # The selected unit over time: gates on a fixed 0..1 axis, states (c̃, c, h) on their own axis.
        self.gate_plot = self._make_trace_plot("gates")
        self.gate_plot.setYRange(0, 1, padding=0.04)
        self.gate_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, ".5"), (1.0, "1")], []])
        self.gate_plot.getAxis("bottom").setStyle(showValues=False)
        self.trace_plot = self._make_trace_plot("states")
        self.trace_plot.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=_ZERO_PEN), ignoreBounds=True)
        self.gate_plot.setXLink(self.trace_plot)
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._trace_extras: list[tuple[pg.LinearRegionItem, pg.InfiniteLine, _MaskBands]] = []
        for plot in (self.gate_plot, self.trace_plot):
            future = pg.LinearRegionItem(
                values=(0, 1), movable=False, brush=_FUTURE_BRUSH, pen=pg.mkPen(None)
            )
            future.setZValue(5)
            plot.addItem(future, ignoreBounds=True)
            line = pg.InfiniteLine(angle=90, pen=_STEP_PEN)
            line.setZValue(6)
            plot.addItem(line, ignoreBounds=True)
            self._trace_extras.append((future, line, _MaskBands(plot)))
        self.trace_future, self.trace_step_line = self._trace_extras[1][0], self._trace_extras[1][1]
        self._overview = RunOverview()
        # Colour key / hint above the plots (a QLabel: never drawn over the curves).
        self.trace_legend = QLabel(" ")
        self.trace_legend.setTextFormat(Qt.TextFormat.RichText)
        self.trace_legend.setWordWrap(True)  # a second line rather than a cut one in a narrow window
        self.trace_legend.setMinimumWidth(40)

        self.placeholder = QLabel("The units \u00d7 time view appears once an input has been run.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #666;")
        self.readout = QLabel(" ")
        self.readout.setStyleSheet("color: #333; font-family: monospace;")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addLayout(self.second_row)
        lay.addWidget(self.placeholder)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.trace_legend)
        lay.addWidget(self.readout)
        self.graphics.setVisible(False)

        ta.observe_steps(self, self.graphics, session)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place_checks()
        if self._labels:  # after the layout has sized the plots
            QTimer.singleShot(0, self, self._refit)

    def _refit(self) -> None:
        self._set_ticks()
        self._fit_axis_titles()

    def _place_checks(self) -> None:
        """Check boxes beside the layer box when they fit, else on the row below."""
        beside = self.top_row.indexOf(self.checks_box) >= 0
        need = self.checks_box.sizeHint().width() + self.layer_box.sizeHint().width() + 140
        if beside and need > self.width():
            self.top_row.removeWidget(self.checks_box)
            self.second_row.addWidget(self.checks_box)
            self.second_row.addStretch(1)
        elif not beside and need <= self.width():
            self.second_row.removeWidget(self.checks_box)
            while self.second_row.count():
                self.second_row.takeAt(0)
            self.top_row.insertWidget(3, self.checks_box)

    # ------------------------------------------------------------------ introspection (tests)
    @property
    def layer(self) -> str:
        return self._layer

    def image_data(self) -> dict[str, np.ndarray]:
        """qid -> the (units, T) array each visible heatmap shows."""
        return {h.quantity.qid: h.image.image for h in self._heatmaps if h.quantity is not None}

    def trace_data(self) -> dict[str, np.ndarray]:
        """qid -> the y values of the selected unit's trace curve."""
        return {qid: c.getData()[1] for qid, c in self._curves.items() if c.isVisible()}

    def _make_trace_plot(self, label: str) -> pg.PlotItem:
        plot = pg.PlotItem()
        ta.style_plot(plot)
        plot.setMouseEnabled(x=True, y=False)
        plot.getAxis("left").setWidth(48)
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getViewBox().setDefaultPadding(0.04)
        plot.setLabel("left", label)
        return plot

    def legend_text(self) -> str:
        return self.trace_legend.text()

    def masked_runs(self) -> list[tuple[int, int]]:
        """The (first, last) input timesteps drawn as masked."""
        return list(self._trace_extras[1][2].runs)

    def step_marker(self) -> float:
        return float(self.trace_step_line.value())

    def time_labels(self) -> list[str]:
        return list(self._labels)

    # ------------------------------------------------------------------ building
    def _on_input_changed(self, stepper: Stepper | None) -> None:
        self._trajs = ta.trajectories(stepper)
        self._trace = getattr(stepper, "trace", None)
        self._x0 = ta.window_offset(stepper)
        self._symbols_all = ta.input_symbols(self.session, self.sample) if stepper is not None else None
        self._overview.set_stepper(stepper)
        keys = list(self._trajs)
        self.layer_box.blockSignals(True)
        if keys != [self.layer_box.itemText(i) for i in range(self.layer_box.count())]:
            self.layer_box.clear()
            self.layer_box.addItems(keys)
        self.layer_box.blockSignals(False)
        if not keys:
            self._layer = ""
            if self._quantities:  # no gate boxes of the previous model's cell (an LSTM's i f c~ o on a GRU)
                self._quantities = []
                self._rebuild_checks()
            self.graphics.setVisible(False)
            self.placeholder.setVisible(True)
            return
        layer = self._layer if self._layer in keys else keys[0]
        if self.session.unit[0] in keys:
            layer = self.session.unit[0]
        self.layer_box.blockSignals(True)
        self.layer_box.setCurrentText(layer)
        self.layer_box.blockSignals(False)
        self._show_layer(layer)

    def _on_layer_chosen(self, key: str) -> None:
        if key and key in self._trajs and key != self._layer:
            self._show_layer(key)

    def _show_layer(self, key: str) -> None:
        traj = self._trajs[key]
        self._layer = key
        qs = ta.quantities(traj)
        rebuild = [q.qid for q in qs] != [q.qid for q in self._quantities]
        self._quantities = qs
        if rebuild:
            self._rebuild_checks()
        self._backward = ta.is_backward(traj)
        n = int(np.asarray(traj.h).shape[1])
        x0 = self._x0
        symbols = self._symbols_all
        self._has_symbols = symbols is not None and len(symbols) >= x0 + n
        self._labels = list(symbols[x0 : x0 + n]) if symbols is not None and self._has_symbols else []
        if not self._has_symbols:
            self._labels = [str(x0 + t) for t in range(n)]
        self._overview.set_layer(key)
        self._layout_plots(rebuild)
        self.placeholder.setVisible(False)
        self.graphics.setVisible(True)
        unit_layer, unit = self.session.unit
        self._unit = unit if unit_layer == key else -1
        self._update_unit()
        self._on_step_changed(self.session.step)

    def _rebuild_checks(self) -> None:
        for cb in self._checks.values():
            self.checks_row.removeWidget(cb)
            cb.deleteLater()
        self._checks.clear()
        for q in self._quantities:
            cb = QCheckBox(q.label)
            cb.setFont(ta.math_font(11))
            cb.setToolTip(q.title)
            cb.setChecked(q.qid not in self._hidden_qids)
            cb.toggled.connect(lambda on, qid=q.qid: self._on_check(qid, on))
            self.checks_row.addWidget(cb)
            self._place_checks()
            self._checks[q.qid] = cb

    def _on_check(self, qid: str, on: bool) -> None:
        if on:
            self._hidden_qids.discard(qid)
        else:
            self._hidden_qids.add(qid)
        self._layout_plots(True)
        self._update_unit()
        self._on_step_changed(self.session.step)

    def visible_quantities(self) -> list[ta.Quantity]:
        return [q for q in self._quantities if q.qid not in self._hidden_qids]

    def _has_gate_curves(self) -> bool:
        return any(q.qid.startswith("gate/") and q.qid not in ta.CANDIDATE_QIDS for q in self._quantities)

    def _layout_plots(self, rebuild: bool) -> None:
        """(Re)arrange the heatmaps; items are reused: a new input of the same layout is one setImage each."""
        shown = self.visible_quantities()
        if rebuild or len(shown) != len(self._heatmaps) or self._overview.needs_layout():
            self.graphics.clear()
            self._overview.detach()
            self._heatmaps = self._heatmap_pool.take(len(shown))
            for hm in self._heatmap_pool.extra():
                hm.release()
            for hm in self._heatmaps:
                self.graphics.addItem(hm.plot)
                self.graphics.nextRow()
                hm.plot.setXLink(self.trace_plot)
            row = len(self._heatmaps)
            # Small layers need little room per heatmap: the unit's traces get it instead.
            units = int(self._quantities[0].values.shape[2]) if self._quantities else 0
            for r in range(row):
                self.graphics.ci.layout.setRowStretchFactor(r, 2 if units <= 16 else 3)
            if self._has_gate_curves():
                self.graphics.addItem(self.gate_plot)
                self.graphics.nextRow()
                self.graphics.ci.layout.setRowStretchFactor(row, 2)
                row += 1
            self.graphics.addItem(self.trace_plot)
            self.graphics.ci.layout.setRowStretchFactor(row, 4)
            self._overview.attach(self.graphics, row + 1)
        n, x0 = len(self._labels), self._x0
        masked = ta.masked_steps(self._trajs[self._layer], self.sample) if self._layer else np.zeros(0, bool)
        runs = [(a + x0, b + x0) for a, b in _mask_runs(masked)] if masked.size == n else []
        for q, hm in zip(shown, self._heatmaps):
            hm.set_quantity(q, self.sample, self._backward, x0)
            hm.plot.getAxis("bottom").setStyle(showValues=False)
            units = int(q.values.shape[2])
            hm.mask.set_runs(runs, -0.5, units - 0.5)
        for _future, _line, bands in self._trace_extras:
            bands.set_runs(runs, -1e4, 1e4)
        self._set_ticks()
        self.trace_plot.setLimits(xMin=x0 - 0.5, xMax=x0 + n - 0.5)
        self.trace_plot.setXRange(x0 - 0.5, x0 + n - 0.5, padding=0)
        self._fit_axis_titles()

    def _ticks(self) -> list[list[tuple[float, str]]] | None:
        width = self.trace_plot.getViewBox().width() or self.graphics.width() - 60
        return _symbol_ticks(self._labels if self._has_symbols else None, len(self._labels), width, self._x0)

    def _set_ticks(self) -> None:
        """Symbol tick labels that fit the plot width (recomputed on resize)."""
        ticks = self._ticks()
        for hm in self._heatmaps:
            hm.plot.getAxis("bottom").setTicks(ticks)
        self.gate_plot.getAxis("bottom").setTicks(ticks)
        self.trace_plot.getAxis("bottom").setTicks(ticks)

    def _fit_axis_titles(self) -> None:
        """Rotated 'gates' / 'states' titles only on plots tall enough for them (they overlap the
        neighbouring plot's title otherwise); the legend below names the curves anyway."""
        for plot in (self.gate_plot, self.trace_plot):
            axis = plot.getAxis("left")
            text = axis.labelText
            need = QFontMetrics(axis.label.font()).horizontalAdvance(text) + 8
            axis.showLabel(bool(text) and plot.getViewBox().height() >= need)

    # ------------------------------------------------------------------ updates
    def _update_unit(self) -> None:
        unit = self._unit
        for hm in self._heatmaps:
            for k, line in enumerate(hm.unit_lines):
                line.setVisible(unit >= 0)
                if unit >= 0:
                    line.setValue(unit - 0.5 + k)
        # One curve per quantity, created once and reused; gates on the 0..1 plot, the rest on "states".
        current = {q.qid for q in self._quantities}
        for q in self._quantities:
            curve = self._curves.get(q.qid)
            on_gates = q.qid.startswith("gate/") and q.qid not in ta.CANDIDATE_QIDS
            target = self.gate_plot if on_gates else self.trace_plot
            if curve is None or curve.getViewBox() is not target.getViewBox():
                if curve is not None:
                    curve.getViewBox().removeItem(curve)
                width = 2.6 if q.qid == "cell" else (2.0 if q.qid == "hidden" else 1.5)
                style = Qt.PenStyle.DashLine if q.qid in ta.CANDIDATE_QIDS else Qt.PenStyle.SolidLine
                curve = ta.still_curve(
                    target.plot(
                        pen=pg.mkPen(
                            q.colour, width=1.2 if style != Qt.PenStyle.SolidLine else width, style=style
                        )
                    )
                )
                curve.setZValue(3 if q.qid in ta.STATE_QIDS else 2)
                self._curves[q.qid] = curve
            visible = unit >= 0
            curve.setVisible(visible)
            if visible:
                n = q.values.shape[1]
                dots = q.qid in ta.STATE_QIDS and n <= 80  # short inputs: one dot per step
                curve.setData(
                    self._x0 + np.arange(n),
                    q.over_time(self.sample)[:, unit],
                    symbol="o" if dots else None,
                    symbolSize=6 if q.qid == "cell" else 4,
                    symbolBrush=q.colour,
                    symbolPen=None,
                )
        for qid, curve in self._curves.items():
            if qid not in current:
                curve.setVisible(False)
        if unit >= 0:
            self.trace_plot.setLabel("left", f"unit {unit}")
            self._fit_axis_titles()
            self.trace_plot.enableAutoRange(axis="y")
            keys = []
            for q in self._quantities:
                dash = {"cell": "&#9644;", "hidden": "&#9644;"}.get(q.qid, "&#8212;")
                if q.qid in ta.CANDIDATE_QIDS:
                    dash = "- -"
                keys.append(
                    f"<span style='color:{q.colour};font-weight:bold'>{dash}</span>&nbsp;"
                    f"<i style='font-family:DejaVu Serif'>{q.label}</i>"
                )
            self.trace_legend.setText(
                f"<b>{self._layer} unit {unit}</b> over time: &nbsp;"
                + " &nbsp; ".join(keys)
                + " &nbsp; <span style='color:#777'>("
                + self._placement_note()
                + ")</span>"
            )
        else:
            self.trace_plot.setLabel("left", "states")
            self._fit_axis_titles()
            self.trace_plot.setYRange(-1, 1, padding=0.04)
            self.trace_legend.setText(
                "<span style='color:#777'>click a unit (strips or heatmaps) to follow its gates, "
                "c and h over time</span>"
            )

    def _placement_note(self) -> str:
        gates = self._has_gate_curves()
        states = ", ".join(
            f"<i style='font-family:DejaVu Serif'>{q.label}</i>"
            for q in self._quantities
            if not self._on_gate_plot(q)
        )
        return f"gates on 0..1, {states} below" if gates else f"{states} on the plot"

    def _on_gate_plot(self, q: ta.Quantity) -> bool:
        return q.qid.startswith("gate/") and q.qid not in ta.CANDIDATE_QIDS

    def _follow_window(self) -> None:
        """A long input's window moved: show the new window's trajectories (same layer, same layout)."""
        stepper = self.session.stepper
        trace = getattr(stepper, "trace", None)
        if trace is self._trace or not ta.is_long(stepper) or not self._layer:
            return
        self._trace = trace
        self._trajs = ta.trajectories(stepper)
        self._x0 = ta.window_offset(stepper)
        if self._layer in self._trajs:
            self._show_layer(self._layer)

    def _on_step_changed(self, t: int) -> None:
        self._follow_window()
        n, x0 = len(self._labels), self._x0
        if n == 0:
            return
        step = min(max(int(t), x0), x0 + n - 1)
        for hm in self._heatmaps:
            hm.show_step(step, x0 + n)
        region = _unseen(step, x0 + n, self._backward, x0)
        for future, line, _bands in self._trace_extras:
            line.setValue(step)
            future.setRegion(region)
        self._overview.show_step(int(t))

    def _on_unit_changed(self, layer: str, unit: int) -> None:
        if layer and layer in self._trajs and layer != self._layer:
            self.layer_box.setCurrentText(layer)  # -> _on_layer_chosen -> _show_layer
            return
        self._unit = unit if layer == self._layer else -1
        self._update_unit()

    # ------------------------------------------------------------------ mouse
    def _hit(self, scene_pos: QPointF) -> tuple[_Heatmap | None, int, int] | None:
        """(heatmap or None for the trace plot, unit, step) under a scene position (absolute step)."""
        n, x0 = len(self._labels), self._x0
        for hm in self._heatmaps:
            vb = hm.plot.getViewBox()
            if vb.sceneBoundingRect().contains(scene_pos):
                p = vb.mapSceneToView(scene_pos)
                step, unit = int(round(p.x())), int(round(p.y()))
                units = hm.image.image.shape[0] if hm.image.image is not None else 0
                if x0 <= step < x0 + n and 0 <= unit < units:
                    return hm, unit, step
                return None
        for plot in (self.gate_plot, self.trace_plot):
            vb = plot.getViewBox()
            if plot.scene() is not None and vb.sceneBoundingRect().contains(scene_pos):
                step = int(round(vb.mapSceneToView(scene_pos).x()))
                if x0 <= step < x0 + n:
                    return None, self._unit, step
        step = self._overview.step_at(scene_pos)
        if step is not None:
            return None, self._unit, step
        return None

    def _on_click(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        hit = self._hit(ev.scenePos())
        if hit is None:
            return
        hm, unit, step = hit
        if hm is not None:
            self.session.select_unit(self._layer, unit)
        self.session.set_step(step)

    def _on_hover(self, scene_pos: QPointF) -> None:
        hit = self._hit(scene_pos)
        if hit is None or hit[0] is None or hit[0].quantity is None:
            return
        hm, unit, step = hit
        q = hm.quantity
        value = float(hm.image.image[unit, step - self._x0])
        self.readout.setText(
            f"{self._layer} · {q.label} ({q.title}) · unit {unit} · step {step} "
            f"\u2018{self._labels[step - self._x0]}\u2019 · {value:.6g}"
        )
