"""Per-step gate strips: for every recurrent layer, one 1 x units image per gate, cell and hidden state.

The pyqtgraph items are made once (a pool of per-layer strip sets) and handed to the layers of each
new input; every step updates them in place with `setImage`; colour levels are fixed over the whole
trajectory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import QGraphicsRectItem, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from inspector.app.state import AppState
from inspector.core.recurrent import Trajectory
from inspector.core.stepper import Stepper
from inspector.ui import step_common as ta
from inspector.ui.widgets import ElidedLabel, ItemPool

_ROW_PX = 22  # height of one strip in pixels
_HIGHLIGHT = QColor(255, 64, 160)
HEADER_ROOM = 260  # pixels kept for "after input t=123,456 ‘e’" left of the colour legend


class _LayerStrips:
    """The pyqtgraph items of one recurrent layer (one PlotItem, one ImageItem per quantity).

    Made once and reused: `assign` hands the items to a layer (the same or another one) per input.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.key = ""
        self.kind = ""
        self.units = 0
        self.quantities: list[ta.Quantity] = []
        self.images: list[pg.ImageItem] = []
        self.n_steps = 0
        self.backward = False
        self.masked = np.zeros(0, dtype=bool)
        self._title = ""
        self._ticks: list[tuple[int, str]] = []
        ta.style_plot(plot)
        plot.setMouseEnabled(x=True, y=False)
        plot.invertY(True)
        vb = plot.getViewBox()
        vb.setDefaultPadding(0)
        plot.getAxis("bottom").setLabel("unit")
        plot.getAxis("left").setWidth(30)
        plot.getAxis("left").setTickFont(ta.math_font(11))
        self.highlight = QGraphicsRectItem()
        pen = QPen(_HIGHLIGHT)
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        self.highlight.setPen(pen)
        self.highlight.setZValue(10)
        self.highlight.setVisible(False)
        plot.addItem(self.highlight, ignoreBounds=True)
        for _ in range(6):  # an LSTM's four gates, c and h
            self._new_image()

    def _new_image(self) -> pg.ImageItem:
        img = pg.ImageItem(axisOrder="row-major")
        img.setAutoDownsample(True)
        self.plot.addItem(img)
        self.images.append(img)
        return img

    def assign(self, key: str, traj: Trajectory) -> None:
        """Show layer `key` with these items (any kind and size)."""
        self.key = key
        self.kind = traj.kind
        self.units = int(traj.units)
        self.set_trajectory(traj)

    def set_trajectory(self, traj: Trajectory) -> None:
        """New data for this layer: keep the items, refresh quantities and levels."""
        qs = ta.quantities(traj)
        self.n_steps = int(np.asarray(traj.h).shape[1])
        self.backward = ta.is_backward(traj)
        self.masked = ta.masked_steps(traj)
        while len(self.images) < len(qs):
            self._new_image()
        for row, (q, img) in enumerate(zip(qs, self.images)):
            img.setTransform(QTransform().translate(-0.5, row - 0.5))
            img.setColorMap(pg.colormap.get(q.cmap))
            img.setLevels(q.levels)
            img.setVisible(True)
        for img in self.images[len(qs) :]:
            img.setVisible(False)
            img.clear()
        self.quantities = qs
        n = len(qs)
        ticks = [(r, q.label) for r, q in enumerate(qs)]
        if ticks != self._ticks:
            self.plot.getAxis("left").setTicks([ticks, []])
            self._ticks = ticks
        self.plot.setLimits(xMin=-0.5, xMax=self.units - 0.5, yMin=-0.5, yMax=n - 0.5)
        self.plot.setRange(xRange=(-0.5, self.units - 0.5), yRange=(-0.5, n - 0.5), padding=0)
        self.highlight.setRect(QRectF(-0.5, -0.5, 1.0, float(n)))
        # a short title (a long one would widen the plot past its scroll area): the details are in
        # the tooltip and the legend
        cell = self.cell_note()
        note = " \u00b7 \u2190 backwards" if self.backward else ""
        scale = f" \u00b7 c \u00b1{cell.split(' ')[0].lstrip(chr(0xB1))}" if cell else ""
        title = f"<b>{self.key}</b> &nbsp;{self.kind}({self.units}){note}{scale}"
        if title != self._title:  # a title change re-lays out the plot
            self.plot.setTitle(title, size="9pt", color="#222")
            self.plot.titleLabel.setMinimumWidth(0)  # never wider than the plot: it is clipped
            tips = [f"{self.key}: {self.kind} with {self.units} units"]
            if self.backward:
                tips.append("reads the input backwards (from the last timestep)")
            if cell:
                tips.append(f"cell state c scale {cell}")
            self.plot.titleLabel.setToolTip("\n".join(tips))
            self._title = title

    def release(self) -> None:
        """Out of use (no input): let go of the trajectory."""
        self.quantities = []
        self.key = ""
        for img in self.images:
            img.clear()

    def cell_note(self) -> str:
        """How the cell-state strip is scaled ('' when the layer has no cell state)."""
        for q in self.quantities:
            if q.qid == "cell":
                return q.note
        return ""

    def unit_values(self, sample: int, t: int, unit: int) -> list[tuple[ta.Quantity, float]]:
        """(quantity, value) of one unit right after input timestep t, as the strips hold them."""
        t = min(max(int(t), 0), self.n_steps - 1)
        return [(q, float(q.at(sample, t)[unit])) for q in self.quantities]

    def show_step(self, sample: int, t: int) -> None:
        """Show the state right after input timestep t (clamped to this layer's own length)."""
        for q, img in zip(self.quantities, self.images):
            row = np.ascontiguousarray(q.at(sample, t), dtype=np.float32)[None, :]
            img.setImage(np.nan_to_num(row, copy=False), autoLevels=False, levels=q.levels)

    def select(self, unit: int) -> None:
        if 0 <= unit < self.units:
            n = len(self.quantities)
            self.highlight.setRect(QRectF(unit - 0.5, -0.5, 1.0, float(n)))
            self.highlight.setVisible(True)
        else:
            self.highlight.setVisible(False)


class GateStripsView(QWidget):
    """Gate activations, cell and hidden state per unit at the current step, for every recurrent layer.

    Clicking a unit selects it in the Session; the selected unit is outlined in every strip of its layer.
    Signals: none (reads `Session.step_changed`, `input_changed`, `unit_changed`).

    The plot items are made once (a pool, `PREWARM_LAYERS` of them right after start-up) and reused
    by every input.
    """

    PREWARM_LAYERS = 2

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.sample = 0
        self._layers: dict[str, _LayerStrips] = {}  # the layers shown, in order
        # every strip set made; the first len(_layers) are in use
        self._pool: ItemPool[_LayerStrips] = ItemPool(lambda: _LayerStrips(pg.PlotItem()))
        self._laid_out: list[_LayerStrips] = []  # in the graphics layout, one per row
        self._symbols: list[str] | None = None
        self._trace: Any = None  # the trace the strips show (a long input's window changes it)
        self._x0 = 0  # input step of the first trajectory step (a long input's window start)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.ci.setSpacing(4)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setWidget(self.graphics)
        self.placeholder = QLabel("Enter an input to see the gates step by step.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #666;")
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setStyleSheet("color: #333; font-family: monospace;")
        # The selected unit's values at the current step, in numbers (updated on every step).
        self.unit_text = QLabel(" ")
        self.unit_text.setTextFormat(Qt.TextFormat.RichText)
        self.unit_text.setWordWrap(True)  # a second line rather than a cut one when narrow
        self.unit_text.setMinimumWidth(40)
        self.unit_text.setStyleSheet("color: #222;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.legend = ta.legend_widget()
        # shrinks with '…' (full text in its tooltip), but keeps room for "after input t=12"
        self.step_text = ElidedLabel(" ", minimum_width=90)
        self.step_text.setStyleSheet("font-weight: bold; color: #222;")
        # the legend sits right of "after input t=…" when both fit, else on a row of its own (resizeEvent)
        self.top_row = top = QHBoxLayout()
        top.setContentsMargins(4, 0, 0, 0)
        top.addWidget(self.step_text, 1)
        top.addWidget(self.legend)
        self.legend_row = QHBoxLayout()
        self.legend_row.setContentsMargins(4, 0, 0, 0)
        lay.addLayout(top)
        lay.addLayout(self.legend_row)
        lay.addWidget(self.unit_text)
        lay.addWidget(self.placeholder)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.readout)
        self._unit: tuple[str, int] = ("", -1)
        self.scroll.setVisible(False)

        # right after start-up, not while a file opens
        QTimer.singleShot(0, self, lambda: self._pool.grow(self.PREWARM_LAYERS))
        ta.observe_steps(self, self.graphics, session)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place_legend()

    def legend_beside(self) -> bool:
        """The colour legend shares the row of the step header (False: it has a row of its own)."""
        return self.top_row.indexOf(self.legend) >= 0

    def _place_legend(self) -> None:
        """Legend beside the header when the header keeps room for its text, else on the row below."""
        need = self.legend.sizeHint().width() + HEADER_ROOM
        if self.legend_beside() and need > self.width():
            self.top_row.removeWidget(self.legend)
            self.legend_row.addWidget(self.legend, 1)
        elif not self.legend_beside() and need <= self.width():
            self.legend_row.removeWidget(self.legend)
            self.top_row.addWidget(self.legend)

    # ------------------------------------------------------------------ data
    def preferred_height(self) -> int:
        """Height that shows every strip without scrolling (0 without layers)."""
        if not self._layers:
            return 0
        return self.graphics.minimumHeight() + 3 * self.step_text.sizeHint().height() + 16

    def layer_keys(self) -> list[str]:
        return list(self._layers)

    def strip_values(self, key: str) -> dict[str, np.ndarray]:
        """What the strips of layer `key` show now: {'gate/i': (u,), ..., 'cell': (u,), 'hidden': (u,)}."""
        strips = self._layers[key]
        return {q.qid: img.image[0] for q, img in zip(strips.quantities, strips.images)}

    def strip_levels(self, key: str) -> dict[str, tuple[float, float]]:
        strips = self._layers[key]
        return {q.qid: tuple(img.levels) for q, img in zip(strips.quantities, strips.images)}

    def title(self, key: str) -> str:
        return self._layers[key].plot.titleLabel.text

    def title_tip(self, key: str) -> str:
        """The details of layer `key` behind its short title (direction, cell-state scale)."""
        return self._layers[key].plot.titleLabel.toolTip()

    def highlighted_unit(self, key: str) -> int:
        """The outlined unit of layer `key`, -1 when none."""
        strips = self._layers[key]
        if not strips.highlight.isVisible():
            return -1
        return int(round(strips.highlight.rect().center().x()))

    # ------------------------------------------------------------------ slots
    def _on_input_changed(self, stepper: Stepper | None) -> None:
        trajs = ta.trajectories(stepper)
        self._trace = getattr(stepper, "trace", None)
        self._x0 = ta.window_offset(stepper)
        self._symbols = ta.input_symbols(self.session, self.sample)
        if not trajs:
            self._clear()
            self.placeholder.setText(
                "Enter an input to see the gates step by step."
                if stepper is None
                else "This model has no recurrent layer to step through."
            )
            return
        use = self._pool.take(len(trajs))
        for strips in self._pool.extra():
            strips.release()
        self._layers = {}
        for (k, t), strips in zip(trajs.items(), use):
            strips.assign(k, t)
            self._layers[k] = strips
        if use != self._laid_out:
            for strips in self._laid_out:
                self.graphics.ci.removeItem(strips.plot)
            for row, strips in enumerate(use):
                self.graphics.ci.addItem(strips.plot, row=row, col=0)
            self._laid_out = list(use)
        rows = sum(len(s.quantities) for s in self._layers.values())
        self.graphics.setMinimumHeight(rows * _ROW_PX + 70 * len(self._layers))
        self.placeholder.setVisible(False)
        self.scroll.setVisible(True)
        signed: list[str] = []
        for strips in self._layers.values():
            for q in strips.quantities:
                if q.levels == (-1.0, 1.0) and q.label not in signed:
                    signed.append(q.label)
        self.legend.set_signed_labels(signed)
        notes = [(k, s.cell_note()) for k, s in self._layers.items() if s.cell_note()]
        if len(notes) == 1:
            self.legend.set_cell_scale(notes[0][1].split(" over")[0])
        else:
            self.legend.set_cell_scale("\u00b1m per layer (see titles)" if notes else "")
        self._on_unit_changed(*self.session.unit)
        self._on_step_changed(self.session.step)

    def _clear(self) -> None:
        # the plots stay in the (hidden) layout for the next input
        for strips in self._pool.items:
            strips.release()
        self._layers = {}
        self.scroll.setVisible(False)
        self.placeholder.setVisible(True)
        self.readout.setText(" ")
        self.step_text.setText(" ")
        self.unit_text.setText(" ")
        self.legend.set_cell_scale("")

    def _follow_window(self) -> None:
        """A long input's window moved: the same layers, new trajectories (one setImage per strip)."""
        stepper = self.session.stepper
        trace = getattr(stepper, "trace", None)
        if trace is self._trace or not ta.is_long(stepper):
            return
        self._trace = trace
        self._x0 = ta.window_offset(stepper)
        for key, traj in ta.trajectories(stepper).items():
            if key in self._layers:
                self._layers[key].set_trajectory(traj)

    def _local(self, strips: _LayerStrips, t: int) -> int:
        """Index into a layer's (window) trajectory of input step t."""
        return min(max(int(t) - self._x0, 0), strips.n_steps - 1)

    def _on_step_changed(self, t: int) -> None:
        self.readout.setText(" ")  # the hovered value belonged to the previous step
        self._follow_window()
        # Per-step text lives in a QLabel: changing a pyqtgraph title re-lays out the whole scene.
        for strips in self._layers.values():
            strips.show_step(self.sample, self._local(strips, t))
        if self._layers:
            text = f"after input {ta.consumed_label(self._symbols, int(t))}"
            masked = [k for k, s in self._layers.items() if s.masked[self._local(s, t)]]
            if masked:
                text += "  \u00b7  masked step: " + ", ".join(masked) + " carried its state over"
            self.step_text.setText(text)
        self._show_unit_values(int(t))

    def _show_unit_values(self, t: int) -> None:
        layer, unit = self._unit
        strips = self._layers.get(layer)
        if strips is None or not 0 <= unit < strips.units:
            self.unit_text.setText(
                "<span style='color:#777'>click a unit in the strips to read its values</span>"
                if self._layers
                else " "
            )
            return
        parts = []
        for q, v in strips.unit_values(self.sample, t - self._x0, unit):
            style = f"color:{q.colour};font-weight:bold" if q.qid in ta.STATE_QIDS else f"color:{q.colour}"
            parts.append(
                f"<i style='font-family:DejaVu Serif'>{q.label}</i>&nbsp;"
                f"<span style='{style}'>{v:+.3f}</span>"
            )
        self.unit_text.setText(f"<b>{layer} unit {unit}</b>: &nbsp;" + " &nbsp; ".join(parts))

    def unit_values(self) -> dict[str, float]:
        """qid -> the number shown for the selected unit at the current step ({} when none)."""
        layer, unit = self._unit
        strips = self._layers.get(layer)
        if strips is None or not 0 <= unit < strips.units:
            return {}
        return {q.qid: v for q, v in strips.unit_values(self.sample, self.session.step - self._x0, unit)}

    def _on_unit_changed(self, layer: str, unit: int) -> None:
        self._unit = (layer, int(unit))
        for key, strips in self._layers.items():
            strips.select(unit if key == layer else -1)
        if self._layers:
            self._show_unit_values(self.session.step)

    # ------------------------------------------------------------------ mouse
    def _hit(self, scene_pos: QPointF) -> tuple[str, int, int] | None:
        """(layer key, row, unit) under a scene position, or None."""
        for key, strips in self._layers.items():
            vb = strips.plot.getViewBox()
            if not vb.sceneBoundingRect().contains(scene_pos):
                continue
            p = vb.mapSceneToView(scene_pos)
            unit, row = int(round(p.x())), int(round(p.y()))
            if 0 <= unit < strips.units and 0 <= row < len(strips.quantities):
                return key, row, unit
        return None

    def _on_click(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        hit = self._hit(ev.scenePos())
        if hit is not None:
            key, _row, unit = hit
            self.session.select_unit(key, unit)

    def _on_hover(self, scene_pos: QPointF) -> None:
        hit = self._hit(scene_pos)
        if hit is None:
            return
        key, row, unit = hit
        strips = self._layers[key]
        q = strips.quantities[row]
        value = float(strips.images[row].image[0, unit])
        self.readout.setText(f"{key} · {q.label} ({q.title}) · unit {unit} · {value:.6g}")
