"""UI helpers shared by the stepping views: read a Stepper's trajectories, label inputs, colour scales.

Every array handed to a view comes from the Stepper (or its Trace) unchanged, so tests can compare
the views' data with the engine's.  The plot-styling helpers at the end keep the views consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from inspector.core.network import GATES_BY_KIND

# Glyphs for characters that would otherwise be invisible in axis labels and text.
_VISIBLE = {" ": "\u2423", "\n": "\u23ce", "\t": "\u21e5", "\r": "\u240d", "": "\u2205"}
PAD_LABEL = "\u2205"  # an all-zero one-hot row (left padding of a fixed window)

DIVERGING = "CET-D1"
SEQUENTIAL = "viridis"


def visible(token: str) -> str:
    """A printable form of a vocabulary token for axis labels ('␣' for space, '⏎' for newline)."""
    if token in _VISIBLE:
        return _VISIBLE[token]
    return "".join(_VISIBLE.get(ch, ch) if not ch.isprintable() or ch == " " else ch for ch in token)


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """(-m, m) for a diverging colour scale: core.stats when available, else a NaN-safe 99.5 % clip of |x|."""
    try:
        from inspector.core.stats import symmetric_levels as core_levels
    except ImportError:  # the core helper has not landed stats yet
        core_levels = None
    if core_levels is not None:
        levels = core_levels(values)
        if np.ndim(levels) == 0:  # a bare magnitude m -> (-m, m)
            return -float(levels), float(levels)
        lo, hi = levels
        return float(lo), float(hi)
    a = np.abs(np.asarray(values, dtype=np.float32))
    a = a[np.isfinite(a)]
    m = float(np.percentile(a, 99.5)) if a.size else 1.0
    if not np.isfinite(m) or m <= 0:
        m = float(a.max()) if a.size and a.max() > 0 else 1.0
    return -m, m


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

    def at(self, sample: int, t: int) -> np.ndarray:
        """(u,) values right after input timestep t was consumed (what `Stepper.state(t)` holds)."""
        return self.values[sample, self.order[t]]

    def over_time(self, sample: int) -> np.ndarray:
        """(T, u) values in input-time order (column t = after consuming input timestep t)."""
        return self.values[sample][self.order]


def _scale(values: np.ndarray) -> tuple[str, tuple[float, float]]:
    """Colour map and levels for a quantity, fixed over the whole trajectory (no per-step rescaling)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return DIVERGING, (-1.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0.0 and hi <= 1.0:
        return SEQUENTIAL, (0.0, 1.0)  # sigmoid-like gates: 0 = closed, 1 = open
    if lo >= -1.0 and hi <= 1.0:
        return DIVERGING, (-1.0, 1.0)  # tanh-bounded: candidate, hidden state
    return DIVERGING, symmetric_levels(values)


def time_order(traj: Any) -> np.ndarray:
    """(T,) processing step that consumed each input timestep (identity for forward layers)."""
    ti = np.asarray(traj.time_index, dtype=np.int64)
    order = np.arange(ti.size)
    if np.array_equal(np.sort(ti), order):
        order = np.empty_like(ti)
        order[ti] = np.arange(ti.size)
    return order


def is_backward(traj: Any) -> bool:
    """True when the layer reads its input from the last timestep to the first (go_backwards)."""
    ti = np.asarray(traj.time_index)
    return ti.size > 1 and ti[0] > ti[-1]


def quantities(traj: Any) -> list[Quantity]:
    """The gates (Keras order), then cell state (LSTM) and hidden state of one Trajectory."""
    order = time_order(traj)
    out: list[Quantity] = []
    for key, label, title in GATES_BY_KIND.get(traj.kind, ()):
        if key not in traj.gates or traj.kind == "SimpleRNN":
            continue  # SimpleRNN's only "gate" is the new hidden value itself: shown as h below
        v = np.asarray(traj.gates[key])
        out.append(Quantity(f"gate/{key}", label, title, v, order, *_scale(v)))
    if getattr(traj, "c", None) is not None:
        v = np.asarray(traj.c)
        out.append(Quantity("cell", "c", "cell state", v, order, *_scale(v)))
    v = np.asarray(traj.h)
    out.append(Quantity("hidden", "h", "hidden state", v, order, *_scale(v)))
    return out


def trajectories(stepper: Any) -> dict[str, Any]:
    """Every recurrent layer's Trajectory of `stepper`, keyed like `Trace.layers` ('bidi/forward')."""
    if stepper is None:
        return {}
    trace = getattr(stepper, "trace", None)
    layers = getattr(trace, "layers", None)
    if isinstance(layers, Mapping):
        return dict(layers)
    return {}


def model_inputs(session: Any) -> list[np.ndarray] | None:
    """The arrays the current Stepper was built from (batch axis first), or None when unknown."""
    stepper = session.stepper
    # Stepper keeps its prepared inputs as `_inputs` (no public name yet); the Session may keep them too.
    for owner, name in ((stepper, "inputs"), (stepper, "_inputs"), (session, "inputs")):
        x = getattr(owner, name, None)
        if x is None:
            continue
        if isinstance(x, np.ndarray):
            return [x]
        return [np.asarray(a) for a in x]
    return None


def input_symbols(session: Any, sample: int = 0) -> list[str] | None:
    """Per input timestep of the first model input: the vocabulary symbol consumed (display form).

    One-hot inputs (B, T, V) with V == len(vocabulary) map each row to its arg-max token ('∅' for an
    all-zero padding row); id inputs (B, T) map ids to tokens.  None without a vocabulary or input.
    """
    vocab = session.vocabulary
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


def input_ids(session: Any, sample: int = 0) -> np.ndarray | None:
    """(T,) vocabulary index consumed at each input timestep (-1 for padding rows), or None."""
    vocab = session.vocabulary
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


def input_length(session: Any) -> int | None:
    """T of the first model input, or None."""
    xs = model_inputs(session)
    if not xs or xs[0].ndim < 2:
        return None
    return int(xs[0].shape[1])


def consumed_label(symbols: list[str] | None, t: int) -> str:
    """Label of input timestep t with its symbol when there is one: t=12 ‘e’."""
    if symbols is not None and 0 <= t < len(symbols):
        return f"t={t} \u2018{symbols[t]}\u2019"
    return f"t={t}"


def sample_count(session: Any) -> int:
    """Batch size of the current Stepper's input (1 when unknown)."""
    xs = model_inputs(session)
    if xs:
        return int(xs[0].shape[0])
    for traj in trajectories(session.stepper).values():
        return int(np.asarray(traj.h).shape[0])
    return 1


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


def gradient_pixmap(cmap: str, width: int = 60, height: int = 10) -> QPixmap:
    """A horizontal swatch of a colour map (for legends)."""
    lut = pg.colormap.get(cmap).getLookupTable(nPts=width, alpha=False)
    rgb = np.ascontiguousarray(np.repeat(lut[None, :, :3], height, axis=0).astype(np.uint8))
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


def legend_widget() -> QWidget:
    """One line explaining the two colour scales used by the stepping views."""
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(4, 0, 4, 0)
    lay.setSpacing(6)

    def swatch(cmap: str) -> QLabel:
        lab = QLabel()
        lab.setPixmap(gradient_pixmap(cmap))
        return lab

    def text(t: str) -> QLabel:
        lab = QLabel(t)
        lab.setStyleSheet("color: #444;")
        return lab

    lay.addWidget(text("gates 0"))
    lay.addWidget(swatch(SEQUENTIAL))
    lay.addWidget(text("1"))
    lay.addSpacing(10)
    lay.addWidget(text("states \u22121"))
    lay.addWidget(swatch(DIVERGING))
    lay.addWidget(text("+1"))
    w.setToolTip(
        "Gates (sigmoid) use 0..1: dark = closed, yellow = open.  Candidate and hidden state use -1..+1; "
        "the cell state c uses \u00b1 its largest magnitude over the whole sequence.  "
        "Scales stay fixed while stepping."
    )
    return w
