"""A weight matrix as gate panels: one pyqtgraph heatmap per GateSlice, one shared diverging scale.

`WeightMatrix` (plain data) says what to draw: the 2-D float32 matrix, its gate column blocks and the
labels of its rows and columns.  `HeatmapView` draws it following the pyqtgraph performance rules:
row-major float32 C-contiguous images, fixed symmetric levels, a 256-entry CET-D1 lookup table,
display downsampling, and no item re-creation unless the selected weight changes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from inspector.core.network import RECURRENT_KINDS, GateSlice, Layer, Network, Weight
from inspector.core.stats import symmetric_levels as core_levels

COLORMAP_NAME = "CET-D1"
AXIS_COLOR = "#303030"
HIGHLIGHT_COLOR = QColor(255, 200, 0)  # amber: distinct from both ends and the white middle of CET-D1


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """(-m, m) colour levels for `values`, symmetric around 0 (the largest finite |w|)."""
    return core_levels(values)


def display_token(token: str) -> str:
    """A vocabulary token made visible on an axis (space, newline, tab and empty become symbols)."""
    if token == "":
        return "\u2205"
    return token.replace(" ", "\u2423").replace("\n", "\u23ce").replace("\t", "\u21e5").replace("\r", "\\r")


@dataclass(frozen=True)
class WeightMatrix:
    """What a weight heatmap shows.

    Attributes
    ----------
    path : weight display path ('lstm/kernel', 'bidi/forward/recurrent_kernel').
    layer_name, weight_name : for the hover readout.
    value : (rows, cols) float32, C-contiguous (1-D weights become one row; >2-D are folded to rows).
    gates : column blocks (empty: one panel over all columns).
    row_labels / col_labels : per-row / per-column labels (None: numbered).
    row_title / col_title : axis titles.
    trace_key : the recurrent layer this weight belongs to ('' when it is not recurrent).
    rows_are_units : rows index the same layer's hidden units (recurrent kernel) -> row highlight.
    """

    path: str
    layer_name: str
    weight_name: str
    value: np.ndarray
    gates: tuple[GateSlice, ...] = ()
    row_labels: tuple[str, ...] | None = None
    col_labels: tuple[str, ...] | None = None
    row_title: str = "row"
    col_title: str = "unit"
    trace_key: str = ""
    rows_are_units: bool = False
    extra: dict = field(default_factory=dict)

    def panels(self) -> tuple[tuple[str, int, int], ...]:
        """(title, start, stop) column blocks, one per gate panel."""
        if not self.gates:
            return ((self.weight_name, 0, self.value.shape[1]),)
        return tuple((f"{g.label} \u2013 {g.title}", g.start, g.stop) for g in self.gates)


def _first_weighted_layer(net: Network | None) -> str | None:
    if net is None:
        return None
    for lay in net.layers:
        if lay.kind == "InputLayer":
            continue
        return lay.name if lay.all_weights() else None
    return None


def _last_weighted_layer(net: Network | None) -> str | None:
    if net is None:
        return None
    for lay in reversed(net.layers):
        if lay.all_weights():
            return lay.name
    return None


def _owner_kind(layer: Layer, path: str) -> tuple[str, Layer]:
    """The layer kind that owns `path` inside `layer` (wrappers resolved) and that sub-layer."""
    parts = path.split("/")[1:-1]  # between the top layer and the weight name
    cur = layer
    for part in parts:
        if cur.kind == "Bidirectional" and len(cur.children) == 2 and part in ("forward", "backward"):
            cur = cur.children[0 if part == "forward" else 1]
        elif cur.network is not None:
            try:
                cur = cur.network.layer(part)
            except KeyError:
                break
        elif cur.children:
            cur = cur.children[0]
    # TimeDistributed(inner): the weight lives on the inner layer
    while cur.kind == "TimeDistributed" and cur.children:
        cur = cur.children[0]
    return cur.kind, cur


def describe_weight(
    layer: Layer,
    path: str,
    weight: Weight,
    network: Network | None = None,
    vocabulary: Sequence[str] | None = None,
) -> WeightMatrix:
    """Decide how `weight` (display path `path` under top-level `layer`) is drawn."""
    value = np.asarray(weight.value, dtype=np.float32)
    kind, owner = _owner_kind(layer, path)
    name = weight.name
    row_labels: tuple[str, ...] | None = None
    col_labels: tuple[str, ...] | None = None
    row_title, col_title = "row", "column"
    rows_are_units = False
    row_vocab = False
    if value.ndim == 0:
        value = value.reshape(1, 1)
    elif value.ndim == 1:
        value = value.reshape(1, -1)
        row_labels = (name,)
        row_title = ""
    elif value.ndim > 2:
        value = value.reshape(-1, value.shape[-1])
        row_title = "flattened " + " \u00d7 ".join(str(s) for s in weight.shape[:-1])
    vocab = tuple(vocabulary) if vocabulary else None
    recurrent = kind in RECURRENT_KINDS and bool(weight.gates)
    first = _first_weighted_layer(network) == layer.name
    last = _last_weighted_layer(network) == layer.name
    if recurrent:
        col_title = "unit"
        if name == "kernel":
            if first and vocab and len(vocab) == value.shape[0]:
                row_labels = tuple(display_token(t) for t in vocab)
                row_title = "input symbol"
                row_vocab = True
            else:
                row_title = "input feature"
        elif name == "recurrent_kernel":
            row_title = "hidden unit h\u209c\u208b\u2081"
            rows_are_units = True
        elif name == "bias" and value.shape[0] == 2:
            row_labels = ("input", "recurrent")
            row_title = "bias"
        elif name == "bias":
            row_labels = ("bias",)
    elif kind == "Embedding" or name == "embeddings":
        row_title, col_title = "token id", "embedding dim"
        if vocab and len(vocab) == value.shape[0]:
            row_labels = tuple(display_token(t) for t in vocab)
            row_title = "token"
            row_vocab = True
    elif kind in ("Dense", "TimeDistributed") or name in ("kernel", "bias"):
        row_title = row_title if value.shape[0] == 1 else ("input feature" if first else "input unit")
        col_title = "output unit"
        if name == "kernel" and first and vocab and len(vocab) == value.shape[0]:
            row_labels = tuple(display_token(t) for t in vocab)
            row_title = "input symbol"
            row_vocab = True
        if last and vocab and len(vocab) == value.shape[1]:
            col_labels = tuple(display_token(t) for t in vocab)
            col_title = "output symbol"
    trace_key = path.rsplit("/", 1)[0] if recurrent else ""
    return WeightMatrix(
        path=path,
        layer_name=path.rsplit("/", 1)[0],
        weight_name=name,
        value=np.ascontiguousarray(value),
        gates=weight.gates if recurrent or weight.gates else (),
        row_labels=row_labels,
        col_labels=col_labels,
        row_title=row_title,
        col_title=col_title,
        trace_key=trace_key,
        rows_are_units=rows_are_units,
        extra={
            "owner_kind": owner.kind,
            "shape": weight.shape,
            "source": weight.source,
            "row_vocab": row_vocab,
        },
    )


class LabelAxis(pg.AxisItem):
    """An axis whose integer ticks show text labels (vocabulary tokens, 'input'/'recurrent' ...)."""

    def __init__(self, orientation: str, **kw) -> None:
        super().__init__(orientation, **kw)
        self.labels: tuple[str, ...] | None = None
        self.offset = 0  # label index = tick value + offset (gate panels number units from 0)

    def set_labels(self, labels: tuple[str, ...] | None, offset: int = 0) -> None:
        self.labels = labels
        self.offset = offset
        # tickValues() already spaces labelled ticks so they do not overlap: let them all be drawn
        self.setStyle(
            textFillLimits=[(0, 1.0)] if labels is not None else [(0, 0.8), (2, 0.6), (4, 0.4), (6, 0.2)]
        )
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N803 - pyqtgraph's signature
        minVal, maxVal = sorted((minVal, maxVal))  # inverted (row) axes pass them reversed
        span = maxVal - minVal
        if self.labels is not None and span > 0 and size > 0:
            # every label when there is room, else every k-th with k from 1-2-5 steps
            if self.orientation in ("left", "right"):
                need = 14.0
            else:
                need = 7.5 * max((len(t) for t in self.labels), default=1) + 6.0
            per_unit = size / span
            step = 1
            for cand in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000):
                step = cand
                if cand * per_unit >= need:
                    break
            lo = int(np.ceil(minVal / step) * step)
            hi = int(np.floor(maxVal))
            return [(float(step), list(range(lo, hi + 1, step)))]
        levels = super().tickValues(minVal, maxVal, size)
        # rows and units are integers: drop fractional tick levels
        out = []
        for spacing, values in levels:
            if spacing < 1:
                continue
            out.append((spacing, [v for v in values if float(v).is_integer()]))
        if not out:
            lo, hi = int(np.ceil(minVal)), int(np.floor(maxVal))
            out = [(1.0, list(range(lo, hi + 1)))]
        return out

    def tickStrings(self, values, scale, spacing):  # noqa: N803
        if self.labels is None:
            return [str(int(round(v))) for v in values]
        out = []
        for v in values:
            k = int(round(v)) + self.offset
            out.append(self.labels[k] if 0 <= k < len(self.labels) else "")
        return out


class _Panel:
    """One gate's PlotItem + ImageItem + highlight rectangles."""

    def __init__(self, plot: pg.PlotItem, image: pg.ImageItem, start: int, stop: int, title: str) -> None:
        self.plot = plot
        self.image = image
        self.start = start
        self.stop = stop
        self.title = title
        self.col_marker = QGraphicsRectItem()
        self.row_marker = QGraphicsRectItem()
        for m in (self.col_marker, self.row_marker):
            pen = QPen(HIGHLIGHT_COLOR)
            pen.setCosmetic(True)
            pen.setWidthF(2.0)
            m.setPen(pen)
            m.setBrush(Qt.BrushStyle.NoBrush)
            m.setZValue(10)
            m.setVisible(False)
            plot.addItem(m)

    @property
    def data(self) -> np.ndarray:
        return self.image.image


class HeatmapView(QWidget):
    """Gate panels for one weight matrix, synchronised zoom/pan, one colour bar.

    Signals
    -------
    hovered(str) : the readout for the cell under the mouse ('' when leaving).
    unit_clicked(int) : a column (unit within its gate) was clicked.
    """

    hovered = Signal(str)
    unit_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(self.palette().color(self.backgroundRole()))
        self.graphics.ci.setContentsMargins(4, 4, 4, 4)
        self.graphics.ci.setSpacing(6)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.colormap = pg.colormap.get(COLORMAP_NAME)
        self.matrix: WeightMatrix | None = None
        self.panels: list[_Panel] = []
        self.colorbar: pg.ColorBarItem | None = None
        self.levels: tuple[float, float] = (-1.0, 1.0)
        self.unit: int = -1
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # ------------------------------------------------------------------ content
    def clear(self) -> None:
        self.graphics.clear()
        self.panels = []
        self.colorbar = None
        self.matrix = None
        self.unit = -1

    def set_matrix(self, matrix: WeightMatrix | None) -> None:
        """Show `matrix` (None clears).  Rebuilds the plot items: called on selection, never per step."""
        self.clear()
        if matrix is None:
            return
        self.matrix = matrix
        value = matrix.value
        self.levels = symmetric_levels(value)
        n_rows = value.shape[0]
        first_plot: pg.PlotItem | None = None
        for k, (title, start, stop) in enumerate(matrix.panels()):
            left = LabelAxis("left")
            bottom = LabelAxis("bottom")
            plot = self.graphics.addPlot(row=0, col=k, axisItems={"left": left, "bottom": bottom})
            # bold: DejaVu Sans regular mis-places the combining tilde of c\u0303 / h\u0303
            plot.setTitle(title, size="11pt", color=AXIS_COLOR, bold=True)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setDefaultPadding(0)
            plot.invertY(True)
            vb = plot.getViewBox()
            vb.setBorder(pg.mkPen("#9a9a9a"))
            vb.setMouseEnabled(x=True, y=True)
            vb.setLimits(
                xMin=-0.5,
                xMax=stop - start - 0.5,
                yMin=-0.5,
                yMax=n_rows - 0.5,
                minXRange=min(4, stop - start),
                minYRange=min(4, n_rows),
            )
            for ax in (left, bottom):
                ax.setPen(pg.mkPen(AXIS_COLOR))
                ax.setTextPen(pg.mkPen(AXIS_COLOR))
            # gate panels number their own units from 0; vocabulary columns keep their global index
            bottom.set_labels(matrix.col_labels, offset=start)
            left.set_labels(matrix.row_labels)
            if k == 0:
                plot.setLabel("left", matrix.row_title, color=AXIS_COLOR)
            else:
                left.setStyle(showValues=False)
                left.setWidth(6)
            plot.setLabel("bottom", matrix.col_title, color=AXIS_COLOR)
            data = np.ascontiguousarray(value[:, start:stop], dtype=np.float32)
            image = pg.ImageItem(axisOrder="row-major")
            image.setAutoDownsample(True)
            image.setTransform(QTransform().translate(-0.5, -0.5))
            image.setColorMap(self.colormap)
            image.setImage(data, autoLevels=False, levels=self.levels)
            plot.addItem(image)
            plot.setXRange(-0.5, stop - start - 0.5, padding=0)
            plot.setYRange(-0.5, n_rows - 0.5, padding=0)
            if first_plot is None:
                first_plot = plot
            else:
                plot.setXLink(first_plot)
                plot.setYLink(first_plot)
            self.panels.append(_Panel(plot, image, start, stop, title))
        bar = pg.ColorBarItem(
            values=self.levels, colorMap=self.colormap, interactive=False, width=14, rounding=1e-6
        )
        bar.setImageItem([p.image for p in self.panels])
        bar.axis.setPen(pg.mkPen(AXIS_COLOR))
        bar.axis.setTextPen(pg.mkPen(AXIS_COLOR))
        self.graphics.addItem(bar, row=0, col=len(self.panels))
        self.colorbar = bar
        # equal panel widths regardless of tick label widths
        layout = self.graphics.ci.layout
        for k in range(len(self.panels)):
            layout.setColumnStretchFactor(k, 1)
        layout.setColumnStretchFactor(len(self.panels), 0)

    # ------------------------------------------------------------------ unit highlight
    def highlight_unit(self, unit: int) -> None:
        """Outline column `unit` of every gate panel (and row `unit` of a recurrent kernel); -1 hides."""
        self.unit = unit
        m = self.matrix
        for p in self.panels:
            n_rows = p.data.shape[0]
            width = p.stop - p.start
            show_col = m is not None and bool(m.gates) and 0 <= unit < width
            p.col_marker.setVisible(show_col)
            if show_col:
                p.col_marker.setRect(QRectF(unit - 0.5, -0.5, 1.0, n_rows))
            show_row = m is not None and m.rows_are_units and 0 <= unit < n_rows
            p.row_marker.setVisible(show_row)
            if show_row:
                p.row_marker.setRect(QRectF(-0.5, unit - 0.5, width, 1.0))

    # ------------------------------------------------------------------ mouse
    def cell_at(self, scene_pos: QPointF) -> tuple[_Panel, int, int] | None:
        """(panel, row, column within the panel) under a scene position, or None."""
        for p in self.panels:
            vb = p.plot.getViewBox()
            if not vb.sceneBoundingRect().contains(scene_pos):
                continue
            pt = vb.mapSceneToView(scene_pos)
            col, row = int(round(pt.x())), int(round(pt.y()))
            rows, cols = p.data.shape
            if 0 <= row < rows and 0 <= col < cols:
                return p, row, col
            return None
        return None

    def readout(self, panel: _Panel, row: int, col: int) -> str:
        """Rich text: 'lstm · kernel · gate f – forget gate · input symbol e (#4) · unit 3 · value -0.12'."""
        m = self.matrix
        assert m is not None
        value = float(panel.data[row, col])
        parts = [f"<b>{m.layer_name}</b>", m.weight_name]
        if m.gates:
            parts.append(f"gate <b>{panel.title}</b>")
        title = m.row_title or "row"
        if m.row_labels and row < len(m.row_labels):
            label = html.escape(m.row_labels[row])
            quoted = f"\u2018{label}\u2019" if m.extra.get("row_vocab") else label
            parts.append(f"{title} {quoted} (#{row})" if m.extra.get("row_vocab") else f"{title} {quoted}")
        else:
            parts.append(f"{title} {row}")
        g_col = panel.start + col
        if m.col_labels:
            label = html.escape(m.col_labels[g_col])
            parts.append(f"{m.col_title} \u2018{label}\u2019 (#{g_col})")
        else:
            parts.append(f"{m.col_title} {col}")
        parts.append(f"value <b>{value:.7g}</b>")
        return " \u00b7 ".join(parts)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        if self.matrix is None:
            return
        hit = self.cell_at(pos)
        self.hovered.emit(self.readout(*hit) if hit else "")

    def _on_mouse_clicked(self, event) -> None:
        if self.matrix is None or event.button() != Qt.MouseButton.LeftButton:
            return
        hit = self.cell_at(event.scenePos())
        if hit is None:
            return
        _, _, col = hit
        self.unit_clicked.emit(col)
