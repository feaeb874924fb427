"""UI helpers shared by the stepping views: read a Stepper's trajectories, label inputs, colour scales.

Every array handed to a view comes from the Stepper (or its Trace) unchanged, so tests can compare
the views' data with the engine's.  The plot-styling helpers at the end keep the views consistent.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QWidget

from inspector.app.present import visible
from inspector.app.state import AppState
from inspector.core.network import GATES_BY_KIND
from inspector.core.recurrent import Trajectory
from inspector.core.stats import finite_range
from inspector.core.stepper import Stepper
from inspector.ui.widgets import ElidedLabel, WhenShown

PAD_LABEL = "\u2205"  # an all-zero one-hot row (left padding of a fixed window)

DIVERGING = "CET-D1"
SEQUENTIAL = "viridis"


# Colour-blind-friendly line colours (Okabe & Ito) for the unit traces, keyed by quantity id.
TRACE_COLOURS = {
    "gate/i": "#56B4E9",  # sky blue
    "gate/f": "#009E73",  # bluish green
    "gate/o": "#CC79A7",  # reddish purple
    "gate/c": "#E69F00",  # orange (candidate)
    "gate/z": "#56B4E9",
    "gate/r": "#009E73",
    "gate/h": "#E69F00",  # candidate
    "cell": "#0072B2",  # blue
    "hidden": "#D55E00",  # vermillion
}
CANDIDATE_QIDS = frozenset({"gate/c", "gate/h"})  # tanh candidates (LSTM c̃, GRU h̃): a signed scale
STATE_QIDS = frozenset({"cell", "hidden"})
# Robust state scale: this percentile of the per-unit peaks |x| (so one or two huge units do not
# wash out the rest; units beyond it are clipped and counted in the scale note).
STATE_PEAK_PERCENTILE = 75.0


@dataclass(frozen=True)
class Quantity:
    """One displayed per-unit quantity of a recurrent layer: a gate, the cell state or the hidden state."""

    qid: str  # 'gate/i', 'cell', 'hidden'
    label: str  # 'i', 'c̃', 'c', 'h'
    title: str  # 'input gate', 'cell state', ...
    values: np.ndarray  # (B, T, u) float32, straight from the Trajectory (processing order)
    order: np.ndarray  # (T,) processing step that consumed input timestep t
    cmap: str
    levels: tuple[float, float]
    note: str = ""  # how the colour scale was chosen ('fixed 0..1', '±2.21 = ... ; 2 of 8 units clipped')

    def at(self, sample: int, t: int) -> np.ndarray:
        """(u,) values right after input timestep t was consumed (what `Stepper.state(t)` holds)."""
        return self.values[sample, self.order[t]]

    def over_time(self, sample: int) -> np.ndarray:
        """(T, u) values in input-time order (column t = after consuming input timestep t)."""
        return self.values[sample][self.order]

    @property
    def colour(self) -> str:
        return TRACE_COLOURS.get(self.qid, "#444444")


def robust_state_levels(values: np.ndarray) -> tuple[tuple[float, float], int, int]:
    """Symmetric (-m, m) over the whole trajectory for a state (cell state c), plus (clipped, units).

    m is the 75th percentile of the per-unit peaks max|x| over batch and time (the largest peak
    for layers of fewer than 4 units), so a few runaway units (e.g. a drifting accumulator) do not
    fade every other unit; `clipped` counts the units whose peak exceeds m.  Two reductions over the
    values (NaN / Inf count as 0), then a percentile of only `units` numbers.
    """
    v = np.asarray(values, dtype=np.float32)
    if v.size == 0:
        peaks = np.zeros(1, dtype=np.float32)
    else:
        v = v.reshape(-1, v.shape[-1])
        hi, lo = v.max(axis=0), v.min(axis=0)
        if not (np.all(np.isfinite(hi)) and np.all(np.isfinite(lo))):
            v = np.where(np.isfinite(v), v, np.float32(0))
            hi, lo = v.max(axis=0), v.min(axis=0)
        peaks = np.maximum(hi, -lo)
    m = float(np.percentile(peaks, STATE_PEAK_PERCENTILE)) if peaks.size >= 4 else float(peaks.max())
    if not np.isfinite(m) or m <= 1e-6:
        m = float(peaks.max()) if peaks.size and peaks.max() > 1e-6 else 1.0
    clipped = int(np.sum(peaks > m * (1 + 1e-6)))
    return (-m, m), clipped, int(peaks.size)


def _scale(qid: str, values: np.ndarray) -> tuple[str, tuple[float, float], str]:
    """Colour map, levels and scale note of a quantity, fixed over the whole trajectory.

    Gates (sigmoid) use a fixed 0..1 sequential scale, the tanh candidate and the hidden state a
    fixed -1..+1 diverging scale (whenever the values fit), the cell state a robust symmetric scale
    from the whole trajectory (it is unbounded: a counting unit climbs well past 1).
    """
    lo, hi, _ = finite_range(values) if values.size else (0.0, 0.0, True)
    lo, hi = (lo, hi) if np.isfinite(lo) else (0.0, 0.0)
    if qid.startswith("gate/") and qid not in CANDIDATE_QIDS and lo >= 0.0 and hi <= 1.0:
        return SEQUENTIAL, (0.0, 1.0), "fixed 0..1"
    if qid != "cell" and lo >= -1.0 and hi <= 1.0:
        return DIVERGING, (-1.0, 1.0), "fixed \u22121..+1"
    levels, clipped, units = robust_state_levels(values)
    note = f"\u00b1{levels[1]:.3g} over the whole input"
    if clipped:
        note += f", {clipped} of {units} units beyond it"
    return DIVERGING, levels, note


def time_order(traj: Trajectory) -> np.ndarray:
    """(T,) processing step that consumed each input timestep (identity for forward layers)."""
    ti = np.asarray(traj.time_index, dtype=np.int64)
    order = np.arange(ti.size)
    if np.array_equal(np.sort(ti), order):
        order = np.empty_like(ti)
        order[ti] = np.arange(ti.size)
    return order


def is_backward(traj: Trajectory) -> bool:
    """True when the layer reads its input from the last timestep to the first (go_backwards)."""
    ti = np.asarray(traj.time_index)
    return ti.size > 1 and ti[0] > ti[-1]


def masked_steps(traj: Trajectory, sample: int = 0) -> np.ndarray:
    """(T,) bool in input-time order: True where the layer skipped the timestep (mask False)."""
    mask = getattr(traj, "mask", None)
    n = int(np.asarray(traj.h).shape[1])
    if mask is None:
        return np.zeros(n, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2 or m.shape[1] != n:
        return np.zeros(n, dtype=bool)
    return ~m[min(sample, m.shape[0] - 1)][time_order(traj)]


# quantities() per Trajectory: the gate strips and the timeline share one computation of the scales
_QUANTITIES: weakref.WeakKeyDictionary[Any, list[Quantity]] = weakref.WeakKeyDictionary()


def quantities(traj: Trajectory) -> list[Quantity]:
    """The gates (Keras order), then cell state (LSTM) and hidden state of one Trajectory.

    Computed once per trajectory object (the colour scales read the whole trajectory) and shared by
    every view; a fresh list each call.
    """
    try:
        cached = _QUANTITIES.get(traj)
    except TypeError:  # not weak-referenceable / hashable (a stand-in object): no cache
        return _quantities(traj)
    if cached is None:
        cached = _quantities(traj)
        _QUANTITIES[traj] = cached
    return list(cached)


def _quantities(traj: Trajectory) -> list[Quantity]:
    order = time_order(traj)
    out: list[Quantity] = []
    for key, label, title in GATES_BY_KIND.get(traj.kind, ()):
        if key not in traj.gates or traj.kind == "SimpleRNN":
            continue  # SimpleRNN's only "gate" is the new hidden value itself: shown as h below
        v = np.asarray(traj.gates[key])
        out.append(Quantity(f"gate/{key}", label, title, v, order, *_scale(f"gate/{key}", v)))
    if getattr(traj, "c", None) is not None:
        v = np.asarray(traj.c)
        out.append(Quantity("cell", "c", "cell state", v, order, *_scale("cell", v)))
    v = np.asarray(traj.h)
    out.append(Quantity("hidden", "h", "hidden state", v, order, *_scale("hidden", v)))
    return out


def trajectories(stepper: Stepper | None) -> dict[str, Any]:
    """Every recurrent layer's Trajectory of `stepper`, keyed like `Trace.layers` ('bidi/forward')."""
    if stepper is None:
        return {}
    trace = getattr(stepper, "trace", None)
    layers = getattr(trace, "layers", None)
    if isinstance(layers, Mapping):
        return dict(layers)
    return {}


def window_offset(stepper: Any) -> int:
    """First input step of the trajectories `trajectories(stepper)` holds (a long input's window), else 0."""
    return int(getattr(stepper, "window_start", 0)) if is_long(stepper) else 0


def is_long(stepper: Any) -> bool:
    """The stepper holds a window of a long input (`inspector.app.long_stepper.LongStepper`)."""
    return bool(getattr(stepper, "long", False))


def model_inputs(session: AppState) -> list[np.ndarray] | None:
    """The arrays the current Stepper was built from (batch axis first), or None when unknown (a long
    input: its whole one-hot input is never built for the views, see `input_ids`)."""
    stepper = session.stepper
    if is_long(stepper):
        return None
    # Stepper keeps its prepared inputs as `_inputs` (no public name yet); the Session may keep them too.
    for owner, name in ((stepper, "inputs"), (stepper, "_inputs"), (session, "inputs")):
        x = getattr(owner, name, None)
        if x is None:
            continue
        if isinstance(x, np.ndarray):
            return [x]
        return [np.asarray(a) for a in x]
    return None


def input_symbols(session: AppState, sample: int = 0) -> list[str] | None:
    """Per input timestep of the first model input: the vocabulary symbol consumed (display form).

    One-hot inputs (B, T, V) with V == len(vocabulary) map each row to its arg-max token ('∅' for an
    all-zero padding row); id inputs (B, T) map ids to tokens.  None without a vocabulary or input.
    """
    tokens = getattr(session, "tokens", None)  # typed text / ids: their own tokens (words, unknown words)
    if tokens is not None and sample == 0:
        from inspector.app.text import display_token

        return [visible(display_token(t)) for t in tokens]
    vocab = session.vocabulary
    ids = input_ids(session, sample) if is_long(session.stepper) else None
    if vocab and ids is not None:
        return [visible(vocab[int(i)]) if 0 <= i < len(vocab) else str(int(i)) for i in ids]
    xs = model_inputs(session)
    if not vocab or not xs:
        return None
    x = xs[0]
    if x.ndim < 2 or sample >= x.shape[0]:
        return None
    row = x[sample]
    if row.ndim == 2 and row.shape[1] == len(vocab):
        ids = np.argmax(row, axis=1)
        empty = ~np.any(row != 0, axis=1)
        return [PAD_LABEL if e else visible(vocab[int(i)]) for i, e in zip(ids, empty)]
    if row.ndim == 1 and np.issubdtype(row.dtype, np.number):
        ids = row.astype(np.int64)
        return [visible(vocab[int(i)]) if 0 <= i < len(vocab) else str(int(i)) for i in ids]
    return None


def input_ids(session: AppState, sample: int = 0) -> np.ndarray | None:
    """(T,) vocabulary index consumed at each input timestep (-1 for padding rows), or None."""
    vocab = session.vocabulary
    ids = getattr(getattr(session.stepper, "source", None), "ids", None)
    if is_long(session.stepper) and vocab and ids is not None and sample == 0:
        return np.asarray(ids, dtype=np.int64)
    xs = model_inputs(session)
    if not vocab or not xs or xs[0].ndim < 2 or sample >= xs[0].shape[0]:
        return None
    row = xs[0][sample]
    if row.ndim == 2 and row.shape[1] == len(vocab):
        ids = np.argmax(row, axis=1).astype(np.int64)
        ids[~np.any(row != 0, axis=1)] = -1
        return ids
    if row.ndim == 1 and np.issubdtype(row.dtype, np.number):
        return row.astype(np.int64)
    return None


def input_length(session: AppState) -> int | None:
    """T of the first model input, or None."""
    if is_long(session.stepper):
        return session.n_steps
    xs = model_inputs(session)
    if not xs or xs[0].ndim < 2:
        return None
    return int(xs[0].shape[1])


def consumed_label(symbols: list[str] | None, t: int) -> str:
    """Label of input timestep t with its symbol when there is one: t=12 ‘e’."""
    if symbols is not None and 0 <= t < len(symbols):
        return f"t={t} \u2018{symbols[t]}\u2019"
    return f"t={t}"


def sample_count(session: AppState) -> int:
    """Batch size of the current Stepper's input (1 when unknown)."""
    if is_long(session.stepper):
        return 1
    xs = model_inputs(session)
    if xs:
        return int(xs[0].shape[0])
    for traj in trajectories(session.stepper).values():
        return int(np.asarray(traj.h).shape[0])
    return 1


class WhileHidden(WhenShown):
    """Keeps a hidden view from redrawing what nobody sees: while `view` is hidden (another tab in front,
    the window not shown yet) the state's input, unit and step changes only wait (`WhenShown`), and when
    it is shown it catches up once, from the state as it is then.

    `on_input(stepper)`, `on_step(t)` and `on_unit(layer, unit)` are the view's handlers (any may be
    None).  A new vocabulary counts as a new input.  A hidden view lets go of the previous run at once
    (`on_input(None)`, which only clears): its memory is not held until the view is shown again.
    """

    def __init__(
        self,
        view: QWidget,
        session: AppState,
        on_input: Callable[[Any], None] | None,
        on_step: Callable[[int], None] | None,
        on_unit: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(view, ("input", "unit", "step"), self._catch_up)
        self._session = session
        self._handlers = {"input": on_input, "unit": on_unit, "step": on_step}
        if on_input is not None:
            session.input_changed.connect(self._input)
            session.vocabulary_changed.connect(self._input)
        if on_unit is not None:
            session.unit_changed.connect(self._unit)
        if on_step is not None:
            session.step_changed.connect(self._step)

    def behind(self) -> bool:
        """True (and caught up when shown) when the view is hidden: its caller skips work nobody sees."""
        if self._view.isVisible():
            return False
        self.pending.add("input")
        return True

    def _input(self, *_args: Any) -> None:
        on_input = self._handlers["input"]
        if on_input is not None and not self._view.isVisible() and "input" not in self.pending:
            on_input(None)  # let go of the previous run now
        self.request("input")

    def _unit(self, *_args: Any) -> None:
        self.request("unit")

    def _step(self, *_args: Any) -> None:
        self.request("step")

    def _catch_up(self, what: str) -> None:
        fn, s = self._handlers[what], self._session
        if fn is None:
            return
        if what == "input":
            fn(s.stepper)
        elif what == "unit":
            fn(*s.unit)
        else:
            fn(s.step)


def observe_steps(view: Any, graphics: pg.GraphicsLayoutWidget, session: AppState) -> None:
    """Wire a stepping view to the state (input, step, unit, vocabulary; caught up when shown, see
    `WhileHidden`) and its plots' mouse, then show the current input.  The view has `_on_input_changed`,
    `_on_step_changed`, `_on_unit_changed`, `_on_click` and `_on_hover`."""
    graphics.scene().sigMouseClicked.connect(view._on_click)
    graphics.scene().sigMouseMoved.connect(view._on_hover)
    view._follow = WhileHidden(
        view, session, view._on_input_changed, view._on_step_changed, view._on_unit_changed
    )
    view._on_input_changed(session.stepper)


# ---------------------------------------------------------------------------------------------- styling
def math_font(point_size: int = 10) -> QFont:
    """Serif italic for gate symbols: DejaVu Sans misplaces the combining tilde of 'c̃'."""
    font = QFont("DejaVu Serif")
    font.setStyleHint(QFont.StyleHint.Serif)
    font.setItalic(True)
    font.setPointSize(point_size)
    return font


def style_plot(plot: pg.PlotItem) -> None:
    """Dark axes on the white background, no context menu or auto-range button.

    Ticks point outwards: an axis whose ticks reach into the plot overlaps it, so every image update
    would repaint the whole axis (its text is the most expensive part of a step).
    """
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for name in ("left", "bottom", "top", "right"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("#888"))
        axis.setTextPen(pg.mkPen("#333"))
        axis.setStyle(tickLength=4)


def still_curve(curve: pg.PlotDataItem) -> pg.PlotDataItem:
    """A curve over the whole input, which stays still while the step cursor moves over it: Qt keeps it
    as a pixmap (re-drawn only when its data or the view changes), so a step repaints a copy of that
    pixmap instead of stroking a 1,000-point path (about 40 % of a step on the classic sample)."""
    curve.curve.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return curve


def gradient_pixmap(cmap: str, width: int = 60, height: int = 10) -> QPixmap:
    """A horizontal swatch of a colour map (for legends)."""
    lut = pg.colormap.get(cmap).getLookupTable(nPts=width, alpha=False)
    rgb = np.ascontiguousarray(np.repeat(lut[None, :, :3], height, axis=0).astype(np.uint8))
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class ScaleLegend(QWidget):
    """One line explaining the colour scales of the stepping views; `set_cell_scale` names the c scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(5)

        def swatch(cmap: str) -> QLabel:
            lab = QLabel()
            lab.setPixmap(gradient_pixmap(cmap, width=24))
            return lab

        def text(t: str) -> QLabel:
            lab = QLabel(t)
            lab.setStyleSheet("color: #444;")
            return lab

        lay.addWidget(text("gates 0"))
        lay.addWidget(swatch(SEQUENTIAL))
        lay.addWidget(text("1"))
        lay.addSpacing(4)
        self.signed_label = text("")
        self.signed_label.setTextFormat(Qt.TextFormat.RichText)
        self.set_signed_labels(["c\u0303", "h"])
        lay.addWidget(self.signed_label)
        lay.addWidget(swatch(DIVERGING))
        self.plus_label = text("+1")
        lay.addWidget(self.plus_label)
        self.cell_label = ElidedLabel("", minimum_width=30)  # '…' with the whole note in its tooltip
        self.cell_label.setStyleSheet("color: #444; font-weight: bold;")
        lay.addSpacing(4)
        lay.addWidget(self.cell_label, 1)
        self.setToolTip(
            "Gates (sigmoid) use 0..1: dark = closed, yellow = open.  The candidate c\u0303 and the hidden "
            "state h use \u22121..+1.  The cell state c is unbounded: it uses \u00b1m fixed over the whole "
            f"input, m = the {STATE_PEAK_PERCENTILE:.0f}th percentile of the units' largest |c| "
            "(units beyond it show at full colour).  Scales stay fixed while stepping."
        )

    def set_signed_labels(self, labels: list[str]) -> None:
        """Name the quantities on the fixed -1..+1 scale (e.g. c̃, h for an LSTM; h̃, h for a GRU)."""
        names = ", ".join(f"<i style='font-family:DejaVu Serif'>{lab}</i>" for lab in labels)
        self.signed_label.setText(f"{names} \u22121" if names else "\u22121")

    def set_cell_scale(self, note: str) -> None:
        """'c ±2.21 (...)' next to the diverging swatch ('' hides it)."""
        self.cell_label.setText(f"c {note}" if note else "")
        self.cell_label.setToolTip(self.toolTip())
        self.cell_label.setVisible(bool(note))


def legend_widget() -> ScaleLegend:
    """The colour-scale legend shared by the stepping views."""
    return ScaleLegend()


class RunOverview:
    """The whole of a long run under the units x time view: the mean h of every unit over each key-frame
    chunk (a units x chunks image, x in input steps), the window shown above it and the current step.

    Only in the layout while the stepper is long (`attach` / `detach`); `step_at` maps a click to a step.
    """

    HEIGHT = 70

    def __init__(self) -> None:
        self.plot = pg.PlotItem()
        style_plot(self.plot)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.invertY(True)
        self.plot.getViewBox().setDefaultPadding(0)
        self.plot.getAxis("left").setWidth(48)
        self.plot.setLabel("left", "run")
        self.plot.setMaximumHeight(self.HEIGHT)
        self.plot.setMinimumHeight(self.HEIGHT)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(DIVERGING))
        self.plot.addItem(self.image)
        self.window = pg.LinearRegionItem(
            values=(0, 1), movable=False, brush=pg.mkBrush(255, 64, 160, 70), pen=pg.mkPen("#ff40a0")
        )
        self.window.setZValue(5)
        self.plot.addItem(self.window, ignoreBounds=True)
        self.line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#141414", width=1.5))
        self.line.setZValue(6)
        self.plot.addItem(self.line, ignoreBounds=True)
        self.stepper: Any = None
        self.graphics: pg.GraphicsLayoutWidget | None = None

    def set_stepper(self, stepper: Any) -> None:
        self.stepper = stepper if is_long(stepper) else None
        if self.stepper is None:
            self.image.clear()

    def set_layer(self, key: str) -> None:
        """Draw layer `key`'s chunk means (scale ±1: h is a tanh output)."""
        if self.stepper is None:
            return
        ov = self.stepper.overview.get(key)
        if ov is None:
            self.image.clear()
            return
        every = float(self.stepper.keyframes.every)
        n = int(self.stepper.n_steps)
        # chunk means of h sit near 0: a symmetric scale from the 98th percentile of |mean| shows them
        m = float(np.percentile(np.abs(np.nan_to_num(ov)), 98)) if ov.size else 1.0
        m = m if m > 1e-6 else 1.0
        data = np.ascontiguousarray(np.nan_to_num(ov.T), dtype=np.float32)
        self.image.setImage(data, autoLevels=False, levels=(-m, m))
        self.image.setTransform(QTransform().scale(every, 1.0).translate(0, -0.5))
        units = ov.shape[1]
        self.plot.setLimits(xMin=0, xMax=n, yMin=-0.5, yMax=units - 0.5)
        self.plot.setRange(xRange=(0, n), yRange=(-0.5, units - 0.5), padding=0)
        self.plot.getAxis("left").setToolTip(
            f"the whole run: mean h of each of the {units} units over every {int(every):,} steps "
            f"(colour scale \u00b1{m:.2g}); pink = the window drawn above (click a place to go there)"
        )

    def attach(self, graphics: pg.GraphicsLayoutWidget, row: int) -> None:
        """Add under the other plots when the stepper is long (the caller cleared the layout)."""
        self.graphics = None
        if self.stepper is not None:
            graphics.addItem(self.plot, row=row, col=0)
            graphics.ci.layout.setRowStretchFactor(row, 0)
            self.graphics = graphics

    def detach(self) -> None:
        self.graphics = None

    def needs_layout(self) -> bool:
        """Shown for a short input or missing for a long one: the plots must be laid out again."""
        return (self.stepper is not None) != (self.graphics is not None)

    def show_step(self, t: int) -> None:
        if self.stepper is None:
            return
        self.line.setValue(t)
        lo, hi = self.stepper.window_start, self.stepper.window_stop
        least = self.stepper.n_steps / 150  # a window of 512 in a million steps is still seen
        if hi - lo < least:
            mid = (lo + hi) / 2
            lo, hi = mid - least / 2, mid + least / 2
        self.window.setRegion((lo, hi))

    def step_at(self, scene_pos: Any) -> int | None:
        """The input step under a scene position on the overview, or None."""
        if self.stepper is None or self.graphics is None or self.plot.scene() is None:
            return None
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        return int(np.clip(round(vb.mapSceneToView(scene_pos).x()), 0, self.stepper.n_steps - 1))
