"""A weight matrix as gate panels: one pyqtgraph heatmap per GateSlice, one shared diverging scale.

`WeightMatrix` (plain data, from `inspector.app.present.describe_weight`) says what to draw: the
2-D float32 matrix, its gate column blocks and the labels of its rows and columns.  `HeatmapView`
draws it following the pyqtgraph performance rules:
row-major float32 C-contiguous images, fixed symmetric levels, a 256-entry CET-D1 lookup table,
big panels decimated to their size on screen (see `decimate`), and plot items made once and
updated in place (a new weight sets images, levels, labels and ranges; nothing is re-created).
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from inspector.app.present import WeightMatrix
from inspector.core.stats import symmetric_levels
from inspector.ui.widgets import ItemPool

COLORMAP_NAME = "CET-D1"
AXIS_COLOR = "#303030"
HIGHLIGHT_COLOR = QColor(255, 200, 0)  # amber: distinct from both ends and the white middle of CET-D1


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


# Big panels are drawn from a decimated copy about the size of the panel on screen: one image pixel per
# block of sr x sc values.  A block shows its value of largest magnitude, sign kept (not the mean): a
# lone strong weight, a dead (all-zero) region and the sign structure stay visible at every zoom,
# where a mean would fade zero-mean weights to white and average outliers away.  Smaller panels are
# drawn exactly, one image pixel per value.
EXACT_CELLS = 512 * 512  # a panel of at most this many values is drawn exactly
MAX_IMAGE_SIDE = 1024  # a decimated image is at most this many pixels wide and high
_FALLBACK_PIXELS = 512  # assumed panel size before the layout has given it one
_DETAIL_DELAY_MS = 40  # after zoom / pan / resize: re-render once the view has settled


def decimate(values: np.ndarray, sr: int, sc: int) -> np.ndarray:
    """Each sr x sc block's value of largest magnitude, float32, C-contiguous.

    `values` is (rows, cols) -> (ceil(rows / sr), ceil(cols / sc)), or (rows, panels, cols) for
    several equal panels in one pass -> (ceil(rows / sr), panels, ceil(cols / sc)).  The sign is
    kept (the block's max when max >= -min, else its min); the last row / column of blocks may be
    narrower; a block holding a NaN shows NaN.  sr = sc = 1 is a plain copy.
    """
    v = values
    if sr <= 1 and sc <= 1:
        return np.ascontiguousarray(v, dtype=np.float32)
    hi = lo = v
    if sr > 1:
        hi, lo = _fold(v, sr, 0, np.maximum), _fold(v, sr, 0, np.minimum)
    if sc > 1:
        hi, lo = _fold(hi, sc, v.ndim - 1, np.maximum), _fold(lo, sc, v.ndim - 1, np.minimum)
    out = np.where(hi >= -lo, hi, lo)
    return np.ascontiguousarray(out, dtype=np.float32)


def _fold(v: np.ndarray, step: int, axis: int, op: np.ufunc) -> np.ndarray:
    """`op` over consecutive groups of `step` along `axis`, the last group possibly shorter (`step`
    whole-array ufunc calls, no Python loop per element)."""

    def along(a: np.ndarray, part: slice) -> np.ndarray:
        index = [slice(None)] * a.ndim
        index[axis] = part
        return a[tuple(index)]

    first, second = along(v, slice(0, None, step)), along(v, slice(1, None, step))
    if second.shape == first.shape:
        out = op(first, second, dtype=np.float32)
    else:
        out = np.array(first, dtype=np.float32)
        dst = along(out, slice(0, second.shape[axis]))
        op(dst, second, out=dst)
    for i in range(2, step):
        part = along(v, slice(i, None, step))
        k = part.shape[axis]
        if k == 0:
            break
        dst = along(out, slice(0, k))
        op(dst, part, out=dst)
    return out


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """True when `a` and `b` hold the same numbers (same memory is enough; else compared)."""
    if a is b:
        return True
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.strides == b.strides and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]:
        return True
    return bool(np.array_equal(a, b) or np.array_equal(a, b, equal_nan=True))


def _strides(n_rows: int, n_cols: int, px_h: float, px_w: float) -> tuple[int, int]:
    """Block size (rows, cols) that fits n_rows x n_cols values into about px_h x px_w pixels."""
    ph = int(min(max(px_h, 16), MAX_IMAGE_SIDE))
    pw = int(min(max(px_w, 16), MAX_IMAGE_SIDE))
    return max(1, -(-n_rows // ph)), max(1, -(-n_cols // pw))


def unclamp(layout: pg.GraphicsLayout) -> None:
    """Let a GraphicsLayout fill its view while all its items are hidden.  Without this its size is
    capped at its (empty) layout's maximum, the margins, and stays so after items are shown again."""
    layout.setMaximumSize(QSizeF(1e6, 1e6))


class _Panel:
    """One gate's PlotItem, its images (whole panel + zoomed-in detail) and highlight rectangles.

    Created once and reused for every matrix: `HeatmapView` keeps a pool of them.
    """

    def __init__(self, plot: pg.PlotItem, left: LabelAxis, bottom: LabelAxis, colormap: pg.ColorMap) -> None:
        self.plot = plot
        self.left = left
        self.bottom = bottom
        self.start = 0
        self.stop = 0
        self.title = ""  # the full title ('i – input gate')
        self.shown_title = ""  # what the panel shows: the full title, or its symbol when narrow
        self.axis_titles: tuple[str | None, str] | None = None  # (left, bottom) axis titles set
        self.full = np.zeros((0, 0), dtype=np.float32)  # the panel's true values (a view of the matrix)
        # (row0, col0, sr, sc) of what each image shows; None: nothing
        self.shown: tuple[int, int, int, int] | None = None
        self.detail_shown: tuple[int, int, int, int, int, int] | None = None  # + (row1, col1)
        self.image = self._make_image(colormap, 0)
        self.detail = self._make_image(colormap, 1)  # a finer window over the image when zoomed in
        self.detail.setVisible(False)
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

    def _make_image(self, colormap: pg.ColorMap, z: int) -> pg.ImageItem:
        image = pg.ImageItem(axisOrder="row-major")
        image.setAutoDownsample(True)
        image.setColorMap(colormap)
        image.setZValue(z)
        self.plot.addItem(image)
        return image

    @property
    def data(self) -> np.ndarray:
        """(rows, columns) true values of this panel (hover and statistics read these)."""
        return self.full

    def pixels(self) -> tuple[float, float]:
        """(height, width) of the panel's view on screen, in device pixels (a guess before layout)."""
        vb = self.plot.getViewBox()
        size = vb.size()
        h, w = size.height(), size.width()
        if h < 16 or w < 16:
            return float(_FALLBACK_PIXELS), float(_FALLBACK_PIXELS)
        views = vb.scene().views() if vb.scene() is not None else []
        ratio = views[0].devicePixelRatioF() if views else 1.0
        return h * ratio, w * ratio

    def wanted(self) -> tuple[int, int]:
        """Block size (rows, cols) for the whole panel: (1, 1) when small, else its on-screen size."""
        rows, cols = self.full.shape
        if rows * cols <= EXACT_CELLS:
            return 1, 1
        return _strides(rows, cols, *self.pixels())

    def render(self, levels: tuple[float, float]) -> None:
        """Draw the whole panel at its wanted block size (no-op when the image already has it;
        `shown = None` forces a redraw)."""
        sr, sc = self.wanted()
        if self.shown != (0, 0, sr, sc):
            rows, cols = self.full.shape
            self._set(self.image, 0, 0, rows, cols, sr, sc, levels)

    def update_detail(self, levels: tuple[float, float]) -> None:
        """Zoomed in on a decimated panel: draw the visible part (plus a margin) at a finer block size."""
        rows, cols = self.full.shape
        if self.shown is None or self.shown[2:] == (1, 1):
            self.hide_detail()
            return
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        r0, r1 = max(0, int(np.floor(y0 + 0.5))), min(rows, int(np.ceil(y1 + 0.5)))
        c0, c1 = max(0, int(np.floor(x0 + 0.5))), min(cols, int(np.ceil(x1 + 0.5)))
        if r1 <= r0 or c1 <= c0:
            self.hide_detail()
            return
        if (r1 - r0) * (c1 - c0) <= EXACT_CELLS:
            sr = sc = 1
        else:
            sr, sc = _strides(r1 - r0, c1 - c0, *self.pixels())
        if 3 * sr > 2 * self.shown[2] and 3 * sc > 2 * self.shown[3]:
            # the whole-panel image is about as fine as the screen needs (within 1.5x; gate panels
            # share the block size of the narrowest one)
            self.hide_detail()
            return
        d = self.detail_shown
        if d is not None and d[2:4] == (sr, sc) and d[0] <= r0 and r1 <= d[4] and d[1] <= c0 and c1 <= d[5]:
            return  # still covers the view at the right resolution
        # a margin of half the visible span on each side: small pans need no new image
        mr, mc = (r1 - r0) // 2, (c1 - c0) // 2
        a0, a1 = max(0, (r0 - mr) // sr * sr), min(rows, r1 + mr)
        b0, b1 = max(0, (c0 - mc) // sc * sc), min(cols, c1 + mc)
        self._set(self.detail, a0, b0, a1, b1, sr, sc, levels)
        self.detail_shown = (a0, b0, sr, sc, a1, b1)
        self.detail.setVisible(True)

    def hide_detail(self) -> None:
        if self.detail_shown is not None:
            self.detail.setVisible(False)
            self.detail.clear()
            self.detail_shown = None

    def _set(self, image: pg.ImageItem, r0: int, c0: int, r1: int, c1: int, sr: int, sc: int, levels) -> None:
        data = decimate(self.full[r0:r1, c0:c1], sr, sc)
        self.show_image(image, data, r0, c0, sr, sc, levels)

    def show_image(
        self, image: pg.ImageItem, data: np.ndarray, r0: int, c0: int, sr: int, sc: int, levels
    ) -> None:
        """Show `data`, the values from (r0, c0) on in sr x sc blocks, in data coordinates."""
        # pixel (i, j) covers rows r0 + i*sr .. and columns c0 + j*sc .. (the last block may reach
        # past the matrix edge: the view's limits stop there)
        rect = QRectF(c0 - 0.5, r0 - 0.5, data.shape[1] * sc, data.shape[0] * sr)
        image.setImage(data, autoLevels=False, levels=levels, rect=rect)
        if image is self.image:
            self.shown = (r0, c0, sr, sc)

    def clear_images(self) -> None:
        """Out of use: let go of the images and of the matrix."""
        self.image.clear()
        self.shown = None
        self.hide_detail()
        self.full = np.zeros((0, 0), dtype=np.float32)


class HeatmapView(QWidget):
    """Gate panels for one weight matrix, synchronised zoom/pan, one colour bar.

    The panels' pyqtgraph items are made once (a pool; `PREWARM_PANELS` of them right after
    start-up) and updated in place when another matrix is set.

    Signals
    -------
    hovered(str) : the readout for the cell under the mouse ('' when leaving).
    unit_clicked(int) : a column (unit within its gate) was clicked.
    """

    hovered = Signal(str)
    unit_clicked = Signal(int)
    PREWARM_PANELS = 4  # an LSTM weight's gates: made after start-up, not while a file opens

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(self.palette().color(self.backgroundRole()))
        self.graphics.ci.setContentsMargins(4, 4, 4, 4)
        self.graphics.ci.setSpacing(6)
        unclamp(self.graphics.ci)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.colormap = pg.colormap.get(COLORMAP_NAME)
        self.matrix: WeightMatrix | None = None
        self.panels: list[_Panel] = []  # the panels showing the current matrix, in column order
        # every panel ever made (the first len(panels) are in use)
        self._pool: ItemPool[_Panel] = ItemPool(self._new_panel)
        self.levels: tuple[float, float] = (-1.0, 1.0)
        self.unit: int = -1
        self.colorbar = pg.ColorBarItem(
            values=self.levels, colorMap=self.colormap, interactive=False, width=14, rounding=1e-6
        )
        self.colorbar.axis.setPen(pg.mkPen(AXIS_COLOR))
        self.colorbar.axis.setTextPen(pg.mkPen(AXIS_COLOR))
        self._bar_images_stale = False  # the panels in use changed: tell the colour bar
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(_DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._refresh_resolution)
        self.colorbar.setVisible(False)
        self.graphics.ci.addItem(self.colorbar, row=0, col=0)
        # the pool is filled right after start-up (the window shows first), not while a file opens
        QTimer.singleShot(0, self, lambda: self._grow_pool(self.PREWARM_PANELS))
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # ------------------------------------------------------------------ panel pool
    def _new_panel(self) -> _Panel:
        k = len(self._pool)
        left = LabelAxis("left")
        bottom = LabelAxis("bottom")
        plot = pg.PlotItem(axisItems={"left": left, "bottom": bottom})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setDefaultPadding(0)
        plot.invertY(True)
        vb = plot.getViewBox()
        vb.setBorder(pg.mkPen("#9a9a9a"))
        vb.setMouseEnabled(x=True, y=True)
        for ax in (left, bottom):
            ax.setPen(pg.mkPen(AXIS_COLOR))
            ax.setTextPen(pg.mkPen(AXIS_COLOR))
            ax.enableAutoSIPrefix(False)  # row / unit indices: never "x1e3"; no label update per range
        if k > 0:
            left.setStyle(showValues=False)
            left.setWidth(6)
            plot.setXLink(self._pool[0].plot)
            plot.setYLink(self._pool[0].plot)
        vb.sigRangeChanged.connect(self._schedule_refresh)
        vb.sigResized.connect(self._schedule_refresh)
        panel = _Panel(plot, left, bottom, self.colormap)
        # equal panel widths regardless of title and tick label widths: the same minimum and preferred
        # width for every panel, so the layout shares the room equally (no column stretch factors: a
        # column given one keeps its room while its panel is hidden)
        plot.setMinimumWidth(60)
        plot.setPreferredWidth(60)
        plot.setVisible(False)
        self.graphics.ci.addItem(plot, row=0, col=k)
        return panel

    def _grow_pool(self, n: int) -> None:
        """At least `n` panels made (new ones hidden); the colour bar stays right of the last one."""
        if n <= len(self._pool):
            return
        ci = self.graphics.ci
        ci.removeItem(self.colorbar)
        self._pool.grow(n)
        ci.addItem(self.colorbar, row=0, col=len(self._pool))

    def _use_panels(self, n: int) -> None:
        """Show exactly `n` panels (then the colour bar).  Every panel made stays in the layout; the ones
        not in use are hidden (a grid layout gives hidden items no room): nothing is rebuilt."""
        if n == len(self.panels):
            return
        self._grow_pool(n)
        self.panels = self._pool.take(n)
        for p in self._pool.extra():
            p.clear_images()
            p.plot.setVisible(False)
        for p in self.panels:
            p.plot.setVisible(True)
        self.colorbar.setVisible(n > 0)
        self._bar_images_stale = True

    # ------------------------------------------------------------------ content
    def clear(self) -> None:
        self._use_panels(0)
        self.matrix = None
        self.unit = -1

    def shows_values_of(self, matrix: WeightMatrix | None) -> bool:
        """True when `matrix` is the weight shown now with the same numbers and panels (cheap check)."""
        m = self.matrix
        return (
            m is not None
            and matrix is not None
            and m.path == matrix.path
            and m.panels() == matrix.panels()
            and _same_values(m.value, matrix.value)
        )

    def set_matrix(self, matrix: WeightMatrix | None) -> None:
        """Show `matrix` (None clears).  The plot items are reused; the same weight again only relabels."""
        if matrix is None:
            self.clear()
            return
        same = self.shows_values_of(matrix)
        self.matrix = matrix
        panels = matrix.panels()
        value = matrix.value
        if not same:
            self.levels = symmetric_levels(value)
            self._use_panels(len(panels))
        n_rows = value.shape[0]
        for k, ((title, start, stop), p) in enumerate(zip(panels, self.panels)):
            p.full = value[:, start:stop]  # a view: no copy
            p.start, p.stop = start, stop
            if title != p.title:
                p.title = title
                p.plot.titleLabel.setToolTip(title)
                self._set_title(p, title)
            # gate panels number their own units from 0; vocabulary columns keep their global index
            if p.bottom.labels != matrix.col_labels or p.bottom.offset != start:
                p.bottom.set_labels(matrix.col_labels, offset=start)
            if p.left.labels != matrix.row_labels:
                p.left.set_labels(matrix.row_labels)
            titles = (matrix.row_title if k == 0 else None, matrix.col_title)
            if p.axis_titles != titles:
                if k == 0:
                    p.plot.setLabel("left", matrix.row_title, color=AXIS_COLOR)
                p.plot.setLabel("bottom", matrix.col_title, color=AXIS_COLOR)
                p.axis_titles = titles
        if same:
            return  # same numbers: images, levels and the user's zoom stay
        # lay the panels out now (shown panels, titles and labels just changed), so the images are
        # decimated for the size they get on screen
        self.graphics.ci.layout.activate()
        self._fit_titles()
        for p in self.panels:
            p.plot.layout.activate()
        # limits of every panel first: the panels are linked, a range set on one reaches the others
        for p in self.panels:
            width = p.stop - p.start
            p.plot.getViewBox().setLimits(
                xMin=-0.5,
                xMax=width - 0.5,
                yMin=-0.5,
                yMax=n_rows - 0.5,
                minXRange=min(4, width),
                minYRange=min(4, n_rows),
            )
        # each panel gets its range itself (a panel just added has no geometry to follow a link by);
        # links blocked meanwhile, or every range would be passed on to every other panel
        for p in self.panels:
            p.plot.getViewBox().blockLink(True)
        for p in self.panels:
            p.plot.getViewBox().setRange(
                xRange=(-0.5, p.stop - p.start - 0.5), yRange=(-0.5, n_rows - 0.5), padding=0
            )
        for p in self.panels:
            p.plot.getViewBox().blockLink(False)
        for p in self.panels:
            p.shown = None
            p.hide_detail()
        self._render_panels()
        self.colorbar.setLevels(values=self.levels, update_items=False)
        if self._bar_images_stale:  # after the images have data: it sets their levels and colour map
            self.colorbar.setImageItem([p.image for p in self.panels])
            self._bar_images_stale = False
        self._detail_timer.stop()
        self.highlight_unit(-1)

    # ------------------------------------------------------------------ resolution follows the view
    def _schedule_refresh(self, *_args) -> None:
        if self.matrix is not None:
            self._detail_timer.start()

    def _refresh_resolution(self) -> None:
        """After a resize / zoom / pan: the whole-panel image at the new size, a finer window if zoomed."""
        self._fit_titles()
        self._render_panels()
        for p in self.panels:
            p.update_detail(self.levels)

    @staticmethod
    def _set_title(p: _Panel, text: str) -> None:
        if text != p.shown_title:
            # bold: DejaVu Sans regular mis-places the combining tilde of c\u0303 / h\u0303
            p.plot.setTitle(text, size="11pt", color=AXIS_COLOR, bold=True)
            p.plot.titleLabel.setMinimumWidth(0)  # a title never widens its panel
            p.shown_title = text

    def _fit_titles(self) -> None:
        """Full gate titles where they fit, else just the symbol ('i'): narrow panels' titles never
        overlap (the full title is in the tooltip)."""
        font = QFont()
        font.setPointSizeF(11)
        font.setBold(True)
        metrics = QFontMetrics(font)
        for p in self.panels:
            room = p.plot.getViewBox().width()
            fits = metrics.horizontalAdvance(p.title) + 8 <= room
            self._set_title(p, p.title if fits else p.title.split(" \u2013 ")[0])

    def _render_panels(self) -> None:
        """Whole-panel images at the size on screen.  Gate panels (equal blocks of columns side by side)
        are decimated in one pass with one block size, the coarsest any of them needs (the first is
        narrower: it carries the row axis): a few whole-matrix ufunc calls instead of a few per panel."""
        panels = self.panels
        if not panels or self.matrix is None:
            return
        width = panels[0].stop - panels[0].start
        tiled = len(panels) > 1 and all(
            p.start == panels[0].start + k * width and p.stop - p.start == width for k, p in enumerate(panels)
        )
        wants = [p.wanted() for p in panels]
        sr, sc = max(w[0] for w in wants), max(w[1] for w in wants)
        if not tiled or (sr, sc) == (1, 1):
            for p in panels:
                p.render(self.levels)
            return
        if all(p.shown == (0, 0, sr, sc) for p in panels):
            return
        value = self.matrix.value
        block = value[:, panels[0].start : panels[-1].stop].reshape(value.shape[0], len(panels), width)
        data = decimate(block, sr, sc)
        for k, p in enumerate(panels):
            p.show_image(p.image, np.ascontiguousarray(data[:, k]), 0, 0, sr, sc, self.levels)

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
