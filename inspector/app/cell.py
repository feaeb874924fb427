"""App layer: one recurrent cell at one step, explained term by term (no Qt).

`explain()` takes a layer's recorded `Trajectory` (inspector.core.recurrent) and splits every gate's
pre-activation of one unit into its input part W·x, recurrent part U·h₋₁ and bias b, names the
activation applied (with the writer version's `hard_sigmoid` formula where it is used), and spells
out the state update: LSTM c = f·c₋₁ + i·c̃ and h = o·tanh(c), GRU h = z·h₋₁ + (1−z)·h̃, SimpleRNN
h = act(W·x + U·h₋₁ + b).  Nothing is recomputed through the network: the numbers are the recorded
ones (x_part, h_part, gates, c, h) plus the bias read from the layer's weights, so what the cell
diagram shows is exactly what the replay computed.  See docs/formats.md for the gate order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from inspector.core import activations
from inspector.core.network import GATES_BY_KIND, Array, Layer, Network, Semantics
from inspector.core.recurrent import RecurrentSpec, Trajectory, spec_from_layer

# One sentence per gate: what it does (tooltips, the diagram's legend, the text form).
GATE_EXPLANATIONS: Mapping[tuple[str, str], str] = {
    ("LSTM", "i"): "The input gate decides how much of the candidate c\u0303 is written into the cell state.",
    ("LSTM", "f"): "The forget gate decides how much of the previous cell state c\u208b\u2081 is kept "
    "(1 keeps it all, 0 erases it).",
    ("LSTM", "c"): "The candidate c\u0303 is the new content proposed for the cell state, "
    "computed from the input and the previous output.",
    ("LSTM", "o"): "The output gate decides how much of tanh(c) becomes the output h.",
    ("GRU", "z"): "The update gate decides how much of the previous state h\u208b\u2081 is kept; "
    "the rest (1 \u2212 z) is replaced by the candidate h\u0303.",
    ("GRU", "r"): "The reset gate decides how much of the previous state h\u208b\u2081 the candidate "
    "h\u0303 may use.",
    ("GRU", "h"): "The candidate h\u0303 is the new state proposed from the input and the reset-scaled "
    "previous state.",
    ("SimpleRNN", "h"): "The new output h is the activation of the input and the previous output, "
    "with no gates.",
}

# What the state nodes of the figure mean (tooltips).
STATE_EXPLANATIONS: Mapping[str, str] = {
    "x": "x is the input this layer reads at this step.",
    "h_prev": "h\u208b\u2081 is the layer's output from the previous step (zero before the first step).",
    "c_prev": "c\u208b\u2081 is the cell state (the LSTM's memory) after the previous step.",
    "c": "c is the new cell state: the kept part of the old memory plus the written part of the candidate.",
    "tanh_c": "tanh(c) squashes the cell state into \u22121..1 before the output gate scales it.",
    "h": "h is the layer's output at this step, and the state it passes to the next step.",
}


@dataclass(frozen=True)
class ActivationInfo:
    """An activation as shown to the user.

    name : the config name ('sigmoid', 'hard_sigmoid', 'tanh').
    symbol : short label for the figure ('\u03c3', 'hard \u03c3', 'tanh').
    formula : the formula, for hard_sigmoid the writer version's one.
    caption : a short name for a figure ('sigmoid', 'hard_sigmoid of Keras 2').
    """

    name: str
    symbol: str
    formula: str
    caption: str = ""


def activation_info(spec: object, semantics: Semantics) -> ActivationInfo:
    """Name, figure symbol and formula of a serialized activation under `semantics`."""
    name = activations.activation_name(spec).lower()
    if name == "hard_sigmoid":
        if semantics.hard_sigmoid == "keras3":
            formula, caption = "clip(x/6 + 0.5, 0, 1), the hard_sigmoid of Keras 3", "hard_sigmoid of Keras 3"
        else:
            formula = "clip(0.2\u00b7x + 0.5, 0, 1), the hard_sigmoid of Keras 1/2 and tf.keras"
            caption = "hard_sigmoid of Keras 2"
        return ActivationInfo(name, "hard \u03c3", formula, caption)
    known = {
        "sigmoid": ("\u03c3", "\u03c3(x) = 1 / (1 + e^\u2212x)"),
        "tanh": ("tanh", "tanh(x)"),
        "linear": ("id", "x (no activation)"),
        "relu": ("relu", "max(x, 0)"),
    }
    symbol, formula = known.get(name, (name, f"{name}(x)"))
    return ActivationInfo(name, symbol, formula, name)


@dataclass(frozen=True)
class GateTerms:
    """One gate of one unit at one step, split into the terms of its pre-activation.

    key, label, title : as `GateSlice` ('f', 'f', 'forget gate').
    explanation : one sentence, what the gate does.
    wx : W·x, the input kernel's part (bias excluded).
    uh : U·h₋₁, the recurrent kernel's part.  For the GRU candidate with reset_after=False it is
        U·(r ⊙ h₋₁); with reset_after=True it is U·h₋₁ before the reset scales it.
    bias : b, the input bias of this gate and unit.
    recurrent_bias : b_r (GRU reset_after=True only, else 0.0).
    reset : r, for the GRU reset_after=True candidate only (it scales U·h₋₁ + b_r), else None.
    terms : (label, value) summands whose sum is `pre`, in display order.
    formula : how the terms combine, e.g. 'W·x + U·h₋₁ + b'.
    pre : the pre-activation (sum of `terms`).
    activation : the activation applied to `pre`.
    value : the gate's recorded post-activation value, activation(pre).
    """

    key: str
    label: str
    title: str
    explanation: str
    wx: float
    uh: float
    bias: float
    recurrent_bias: float
    reset: float | None
    terms: tuple[tuple[str, float], ...]
    formula: str
    pre: float
    activation: ActivationInfo
    value: float


@dataclass(frozen=True)
class CellExplanation:
    """Everything the cell diagram shows for one layer, unit and step (plain floats).

    layer, kind : trace key ('lstm_1', 'bidi/forward') and 'LSTM' | 'GRU' | 'SimpleRNN'.
    unit, units, sample : the unit shown, the layer's width, the batch row.
    time, step : input timestep t and the processing step s that consumed it (differ for go_backwards).
    masked : the step was masked: the gates were computed but the state was carried unchanged.
    gates : per gate, in Keras storage order (LSTM i, f, c, o; GRU z, r, h; SimpleRNN h).
    activation, recurrent_activation : the layer's two activations (SimpleRNN: only `activation`).
    h_prev, h : carried output before and after the step.
    c_prev, c, forget_term (f·c₋₁), input_term (i·c̃), tanh_c (activation(c)) : LSTM only, else None.
    keep_term (z·h₋₁), new_term ((1−z)·h̃) : GRU only, else None.
    reset_after : GRU only (None otherwise).
    input_label : what the step consumed ('e', 'word'), set by the caller; '' when unknown.
    notes : one-line remarks (masked step, initial state assumed zero, hard_sigmoid version).
    """

    layer: str
    kind: str
    unit: int
    units: int
    sample: int
    time: int
    step: int
    masked: bool
    gates: tuple[GateTerms, ...]
    activation: ActivationInfo
    recurrent_activation: ActivationInfo
    h_prev: float
    h: float
    c_prev: float | None = None
    c: float | None = None
    forget_term: float | None = None
    input_term: float | None = None
    tanh_c: float | None = None
    keep_term: float | None = None
    new_term: float | None = None
    reset_after: bool | None = None
    input_label: str = ""
    notes: tuple[str, ...] = ()

    def gate(self, key: str) -> GateTerms:
        """The gate with storage key `key` ('i', 'f', 'c', 'o', 'z', 'r', 'h')."""
        for g in self.gates:
            if g.key == key:
                return g
        raise KeyError(f"{self.kind} has no gate {key!r}")


def recurrent_layer(network: Network, key: str) -> Layer:
    """The LSTM / GRU / SimpleRNN `Layer` behind a trace key ('lstm', 'bidi/backward', 'outer/gru').

    Raises
    ------
    KeyError : no recurrent layer has that key.
    """
    parts = key.split("/")
    cur = network.layer(parts[0])
    for part in parts[1:]:
        if cur.kind == "Bidirectional" and len(cur.children) == 2 and part in ("forward", "backward"):
            cur = cur.children[0 if part == "forward" else 1]
        elif cur.network is not None:
            cur = cur.network.layer(part)
        else:
            raise KeyError(f"no recurrent layer {key!r}")
    while cur.kind in ("TimeDistributed", "Bidirectional") and cur.children:
        cur = cur.children[0]
    if cur.kind not in GATES_BY_KIND:
        raise KeyError(f"{key!r} is a {cur.kind}, not a recurrent layer")
    return cur


def _previous_h(traj: Trajectory, sample: int, unit: int, s: int, h0: float) -> float:
    """The carried output before processing step s: the last unmasked step's h (masked steps keep
    the state; with zero_output_for_mask their recorded output is 0, not the carried state)."""
    earlier = np.flatnonzero(traj.mask[sample, :s])
    return float(traj.h[sample, earlier[-1], unit]) if earlier.size else h0


def _gate_terms(
    spec: RecurrentSpec, traj: Trajectory, semantics: Semantics, sample: int, s: int, unit: int
) -> tuple[GateTerms, ...]:
    act = activation_info(spec.activation, semantics)
    rec_act = activation_info(spec.recurrent_activation, semantics)
    out: list[GateTerms] = []
    for g in spec.gates:
        col = g.start + unit
        x_part = float(traj.x_part[g.key][sample, s, unit])
        h_part = float(traj.h_part[g.key][sample, s, unit])
        b = float(spec.bias[col])
        wx = x_part - b  # x_part includes the input bias
        candidate = g.key == "c" or spec.kind == "SimpleRNN" or (spec.kind == "GRU" and g.key == "h")
        a = act if candidate else rec_act
        h1 = "h\u208b\u2081"
        reset: float | None = None
        terms: tuple[tuple[str, float], ...]
        b_r = 0.0
        if spec.kind == "GRU" and spec.reset_after and spec.recurrent_bias is not None:
            b_r = float(spec.recurrent_bias[col])
        uh = h_part - b_r  # h_part includes the recurrent bias (GRU reset_after)
        if spec.kind == "GRU" and g.key == "h" and spec.reset_after:
            reset = float(traj.gates["r"][sample, s, unit])
            scaled = reset * h_part
            terms = (("W\u00b7x", wx), ("b", b), (f"r\u2299(U\u00b7{h1}+b\u1d63)", scaled))
            formula = f"W\u00b7x + b + r \u2299 (U\u00b7{h1} + b\u1d63)"
            pre = x_part + scaled
        elif spec.kind == "GRU" and g.key == "h":
            terms = (("W\u00b7x", wx), (f"U\u00b7(r\u2299{h1})", uh), ("b", b))
            formula = f"W\u00b7x + U\u00b7(r \u2299 {h1}) + b"
            pre = x_part + h_part
        elif b_r:
            terms = (("W\u00b7x", wx), (f"U\u00b7{h1}", uh), ("b", b), ("b\u1d63", b_r))
            formula = f"W\u00b7x + U\u00b7{h1} + b + b\u1d63"
            pre = x_part + h_part
        else:
            terms = (("W\u00b7x", wx), (f"U\u00b7{h1}", uh), ("b", b))
            formula = f"W\u00b7x + U\u00b7{h1} + b"
            pre = x_part + h_part
        out.append(
            GateTerms(
                key=g.key,
                label=g.label,
                title=g.title,
                explanation=GATE_EXPLANATIONS[(spec.kind, g.key)],
                wx=wx,
                uh=uh,
                bias=b,
                recurrent_bias=b_r,
                reset=reset,
                terms=terms,
                formula=formula,
                pre=pre,
                activation=a,
                value=float(traj.gates[g.key][sample, s, unit]),
            )
        )
    return tuple(out)


def explain(
    network: Network,
    semantics: Semantics,
    traj: Trajectory,
    unit: int,
    t: int,
    *,
    sample: int = 0,
    initial_state: Sequence[Array] | None = None,
    input_label: str = "",
) -> CellExplanation:
    """Explain unit `unit` of the layer recorded in `traj` at input timestep `t`.

    Parameters
    ----------
    network, semantics : the model the trajectory came from (for the layer's bias and activations).
    traj : a recorded Trajectory (engine.trace), h (B, T, u) float32 etc.
    unit : 0 <= unit < traj.units.   t : input timestep, 0 <= t < traj.n_steps.
    sample : batch row.
    initial_state : [h0] or [h0, c0], (B, u) each, when the run started from a given state
        (the previous values at the first step); zeros when None.
    input_label : what the step consumed, for display.

    Returns
    -------
    CellExplanation (plain Python floats).

    Raises
    ------
    KeyError : the trajectory does not belong to a recurrent layer of `network`.
    IndexError : unit, t or sample out of range.
    ValueError : the trajectory holds no gates (it was run with record=False).
    """
    _check_position(traj, unit, t, sample)
    spec = spec_from_layer(recurrent_layer(network, traj.name), semantics)
    s = traj.step_of_time(t)
    init = [np.asarray(a, dtype=np.float32)[sample, unit] for a in (initial_state or ())]
    h0 = float(init[0]) if init else 0.0
    gates = _gate_terms(spec, traj, semantics, sample, s, unit)
    h_prev = _previous_h(traj, sample, unit, s, h0)
    masked = not bool(traj.mask[sample, s])
    # the carried state after the step (a zero-masked step records 0 as its output)
    h = h_prev if masked else float(traj.h[sample, s, unit])
    act = activation_info(spec.activation, semantics)
    rec_act = activation_info(spec.recurrent_activation, semantics)
    notes = _notes(spec, act, rec_act, masked=masked, first=s == 0 and not init, t=t, s=s)
    base = CellExplanation(
        layer=traj.name,
        kind=traj.kind,
        unit=int(unit),
        units=traj.units,
        sample=int(sample),
        time=int(t),
        step=int(s),
        masked=masked,
        gates=gates,
        activation=act,
        recurrent_activation=rec_act,
        h_prev=h_prev,
        h=h,
        input_label=input_label,
        notes=notes,
    )
    by_key = {g.key: g.value for g in gates}
    if traj.kind == "LSTM" and traj.c is not None:
        c0 = float(init[1]) if len(init) > 1 else 0.0
        c_prev = float(traj.c[sample, s - 1, unit]) if s > 0 else c0  # c is carried through masks
        c = float(traj.c[sample, s, unit])
        tanh_c = float(activations.get(spec.activation, semantics)(np.array([c], np.float32))[0])
        return dataclasses.replace(
            base,
            c_prev=c_prev,
            c=c,
            forget_term=by_key["f"] * c_prev,
            input_term=by_key["i"] * by_key["c"],
            tanh_c=tanh_c,
        )
    if traj.kind == "GRU":
        z = by_key["z"]
        return dataclasses.replace(
            base,
            keep_term=z * h_prev,
            new_term=(1.0 - z) * by_key["h"],
            reset_after=spec.reset_after,
        )
    return base


def _check_position(traj: Trajectory, unit: int, t: int, sample: int) -> None:
    """ValueError without recorded gates; IndexError for a unit, timestep or sample out of range."""
    if not traj.gates:
        raise ValueError(f"layer {traj.name!r}: the trace holds no gate values")
    if not 0 <= unit < traj.units:
        raise IndexError(f"unit {unit} is outside 0..{traj.units - 1}")
    if not 0 <= sample < traj.batch_size:
        raise IndexError(f"sample {sample} is outside 0..{traj.batch_size - 1}")
    if not 0 <= t < traj.n_steps:
        raise IndexError(f"timestep {t} is outside 0..{traj.n_steps - 1}")


def _notes(
    spec: RecurrentSpec,
    act: ActivationInfo,
    rec_act: ActivationInfo,
    *,
    masked: bool,
    first: bool,
    t: int,
    s: int,
) -> tuple[str, ...]:
    """One-line remarks on a step: masked, zero initial state, reversed reading, hard_sigmoid version."""
    notes: list[str] = []
    if masked:
        notes.append("This step is masked: the gates were computed, but the state is carried unchanged.")
    if first:
        notes.append("First step: the previous state is zero.")
    if spec.go_backwards:
        notes.append(f"This layer reads the sequence backwards: input step {t} is its step {s}.")
    if "hard_sigmoid" in (act.name, rec_act.name):
        notes.append(
            f"hard_sigmoid here is {rec_act.formula if rec_act.name == 'hard_sigmoid' else act.formula}."
        )
    return tuple(notes)


def _num(v: float) -> str:
    return f"{v:+.3f}".replace("-", "\u2212")


def describe(e: CellExplanation) -> list[str]:
    """The explanation as plain text lines (for a caption, the clipboard or the command line)."""
    lines = [
        f"{e.layer} ({e.kind}), unit {e.unit}, step {e.time}"
        + (f" ({e.input_label})" if e.input_label else "")
    ]
    for g in e.gates:
        summed = " + ".join(f"{lab} {_num(v)}" for lab, v in g.terms)
        lines.append(
            f"{g.label} ({g.title}) = {g.activation.symbol}({summed} = {_num(g.pre)}) = {g.value:.3f}"
        )
    if e.kind == "LSTM" and e.c is not None:
        i, f, cc, o = (e.gate(k).value for k in "ifco")
        lines.append(
            f"c = f\u00b7c\u208b\u2081 + i\u00b7c\u0303 = {f:.3f}\u00b7{_num(e.c_prev or 0.0)} + "
            f"{i:.3f}\u00b7{_num(cc)} = {_num(e.forget_term or 0.0)} {_num(e.input_term or 0.0)} "
            f"= {_num(e.c)}"
        )
        lines.append(f"h = o\u00b7tanh(c) = {o:.3f}\u00b7{_num(e.tanh_c or 0.0)} = {_num(e.h)}")
    elif e.kind == "GRU":
        z, hh = e.gate("z").value, e.gate("h").value
        lines.append(
            f"h = z\u00b7h\u208b\u2081 + (1\u2212z)\u00b7h\u0303 = {z:.3f}\u00b7{_num(e.h_prev)} + "
            f"{1 - z:.3f}\u00b7{_num(hh)} = {_num(e.h)}"
        )
    else:
        lines.append(f"h = {_num(e.h)}")
    lines.extend(e.notes)
    return lines
