"""The model's output at every step "if the sequence ended here", with an optional target overlaid.

Draws plain arrays (`inspector.app.outputs.output_over_time` makes them) according to the output's
`OutputKind`: a probability axis [0, 1] for probabilities (P(positive) for a binary output, the most
likely classes for class probabilities), a signed value axis with a zero line for values.  Padding
steps are shaded; the current step is a vertical line; tokens label the time axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from inspector.app.outputs import OutputKind
from inspector.ui import step_common as ta
from inspector.ui.widgets import ItemPool

MAX_CURVES = 6
MAX_TICKS = 40
_COLORS = [QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
           QColor(148, 103, 189), QColor(140, 86, 75)]  # fmt: skip
_TARGET = QColor(40, 40, 40)
_PAD = QColor(200, 200, 200, 90)


def curves_to_draw(values: np.ndarray, kind: OutputKind) -> list[int]:
    """Which output units get a curve: the positive unit of a binary output, else the units that reach
    the highest value (probabilities) or the largest magnitude (values) anywhere, at most MAX_CURVES."""
    v = np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)
    if v.shape[1] <= MAX_CURVES:
        return list(range(v.shape[1]))
    score = np.nanmax(v if kind.is_probability else np.abs(v), axis=0)
    return sorted(np.argsort(-score, kind="stable")[:MAX_CURVES].tolist())


class OutputOverTimeView(QWidget):
    """Output per step, for one model output.  Feed it with `set_series`; move the cursor with `set_step`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Output if the sequence ended here")
        self.title.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.legend.setLabelTextColor(QColor(40, 40, 40))
        self.cursor = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(QColor(120, 120, 120), width=1, style=Qt.DashLine)
        )
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.title)
        lay.addWidget(self.plot, 1)
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.target_curve: pg.PlotDataItem | None = None
        self.kind: OutputKind | None = None
        self._tokens: Sequence[str] | None = None
        # items made once and updated in place (a new input only sets their data)
        item = self.plot.getPlotItem()
        self._zero = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(QColor(150, 150, 150), width=1))
        self._target = ta.still_curve(pg.PlotDataItem(pen=pg.mkPen(_TARGET, width=2, style=Qt.DashLine)))
        self._lines = ItemPool(self._new_curve)
        self._pads = ItemPool(self._new_pad)
        for it in (self._zero, self._target, self.cursor):
            item.addItem(it)
            it.setVisible(False)

    def _new_curve(self) -> pg.PlotDataItem:
        curve = ta.still_curve(pg.PlotDataItem())
        self.plot.getPlotItem().addItem(curve)
        return curve

    def _new_pad(self) -> pg.LinearRegionItem:
        region = pg.LinearRegionItem((0, 1), movable=False, brush=_PAD, pen=pg.mkPen(None))
        self.plot.getPlotItem().addItem(region)
        return region

    def clear(self) -> None:
        """Nothing shown (e.g. after an input was rejected)."""
        for it in (*self._lines, *self._pads, self._zero, self._target, self.cursor):
            it.setVisible(False)
        self.legend.clear()
        self.curves = {}
        self.target_curve = None
        self.kind = None
        self.title.setText("Output if the sequence ended here")

    def set_series(
        self,
        steps: np.ndarray,
        values: np.ndarray,
        kind: OutputKind,
        *,
        tokens: Sequence[str] | None = None,
        target: np.ndarray | None = None,
        padding: np.ndarray | None = None,
    ) -> None:
        """Draw `values` (K, units) at `steps` (K,), labelled by `kind`; `target` (K,) or (K, units) dashed;
        `tokens` (T,) label the time axis; `padding` (T,) bool shades padded steps."""
        self.clear()
        self.kind = kind
        steps = np.asarray(steps, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64).reshape(len(steps), -1)
        plot = self.plot.getPlotItem()
        padded = np.flatnonzero(np.asarray(padding, dtype=bool)) if padding is not None else []
        for region, t in zip(self._pads.take(len(padded)), padded):
            region.setRegion((t - 0.5, t + 0.5))
            region.setVisible(True)
        self._zero.setVisible(not kind.is_probability)
        units = [v.shape[1] - 1] if kind.kind == "binary_probability" else curves_to_draw(v, kind)
        marker = "o" if len(steps) <= 80 else None  # dots only where they stay apart
        for k, (curve, u) in enumerate(zip(self._lines.take(len(units)), units)):
            color = _COLORS[k % len(_COLORS)]
            curve.setPen(pg.mkPen(color, width=2))
            curve.setSymbol(marker)
            curve.setSymbolSize(5)
            curve.setSymbolBrush(color)
            curve.setSymbolPen(None)
            curve.setData(steps, v[:, u])
            curve.setVisible(True)
            name = kind.axis_label if kind.kind == "binary_probability" else self._label(kind, u)
            self.legend.addItem(curve, name)
            self.curves[u] = curve
        if target is not None:
            tg = np.asarray(target, dtype=np.float64).reshape(len(steps), -1)
            self._target.setData(steps, tg[:, 0])
            self._target.setVisible(True)
            self.legend.addItem(self._target, "target")
            self.target_curve = self._target
        self.cursor.setVisible(True)
        plot.enableAutoRange(x=True, y=not kind.is_probability)
        # only curves with a finite value measure the range (an all-NaN series has no bounds)
        shown = [c for c in (*self.curves.values(), self.target_curve) if c is not None]
        finite = [c for c in shown if np.isfinite(np.asarray(c.getData()[1], dtype=np.float64)).any()]
        if finite:
            plot.autoRange(items=finite)
        if kind.is_probability:
            plot.setYRange(0.0, 1.0, padding=0.02)
        self.legend.setVisible(len(units) > 1 or target is not None)  # one curve: the axis names it
        plot.setLabel("left", kind.axis_label)
        plot.setLabel("bottom", "step")
        self._ticks(tokens)
        more = (
            ""
            if len(units) >= (kind.units or 0) or kind.kind == "binary_probability"
            else f" (top {len(units)})"
        )
        self.title.setText(f"{kind.name}: {kind.axis_label} if the sequence ended here{more}")
        self.title.setToolTip(kind.summary)

    def _label(self, kind: OutputKind, unit: int) -> str:
        return kind.labels[unit] if unit < len(kind.labels) else f"unit {unit}"

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._tokens:
            self._ticks(self._tokens)  # as many token labels as the new width holds

    def _ticks(self, tokens: Sequence[str] | None) -> None:
        self._tokens = tokens
        axis = self.plot.getPlotItem().getAxis("bottom")
        if not tokens:
            axis.setTicks(None)
            return
        fit = max(2, self.plot.width() // 48)  # about one label per 48 px, so labels never run together
        every = max(1, int(np.ceil(len(tokens) / min(MAX_TICKS, fit))))
        major = [(t, self._short(tok)) for t, tok in enumerate(tokens) if t % every == 0]
        axis.setTicks([major])

    @staticmethod
    def _short(tok: str) -> str:
        tok = tok.replace("\n", "\u21b5")
        if tok.startswith("<oov>:"):  # an unknown word: the word itself, marked
            tok = tok[len("<oov>:") :] + "?"
        return tok if len(tok) <= 8 else tok[:7] + "\u2026"

    def set_step(self, t: int) -> None:
        """Move the current-step line."""
        self.cursor.setValue(float(t))
