"""App layer: what changed between two files of the same architecture (no Qt).

`first_difference(a, b)` names the first architectural difference (None when the two can be compared),
`weight_changes(a, b)` measures every weight and gate block (relative change ||B-A|| / ||A|| and the
largest |B-A|), and `run_both(a, b, inputs)` runs the same input through both and measures how far
outputs and hidden states drift apart step by step.  Files may come in any format (a Keras 2 .h5 and
its Keras 3 re-save compare equal): weights are matched by display path, or in order when the two
writers named the layers differently but every shape agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspector.core import engine
from inspector.core.network import Array, GateSlice, Layer, ModelFile, Weight

# config keys that change what a layer computes (compared when both files have an architecture)
_ARCH_KEYS = ("units", "activation", "recurrent_activation", "return_sequences", "go_backwards", "merge_mode")


@dataclass(frozen=True)
class WeightChange:
    """How one weight (or one gate block of it) changed from A to B.

    Attributes
    ----------
    path : weight display path in A ('lstm/kernel').
    gate : gate key ('i', 'f', ...) or None for an ungated weight.
    rel_change : ||B - A|| / ||A|| (Frobenius); inf when A is all zero and B is not; nan with NaN/Inf.
    max_abs_change : max |B - A|.
    norm_a, norm_b : ||A||, ||B||.
    """

    path: str
    gate: str | None
    rel_change: float
    max_abs_change: float
    norm_a: float
    norm_b: float

    def as_dict(self) -> dict[str, object]:
        """JSON form (`diff --json`); inf/nan become null (JSON has no such numbers)."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            "path": self.path,
            "gate": self.gate,
            "rel_change": num(self.rel_change),
            "max_abs_change": num(self.max_abs_change),
        }


class ArchitectureMismatchError(ValueError):
    """The two files differ in architecture; the message names the first difference."""


def _layers(mf: ModelFile) -> tuple[Layer, ...]:
    return mf.network.layers if mf.network is not None else mf.weight_layers


def _weights(mf: ModelFile) -> list[tuple[str, Weight]]:
    return [pw for lay in _layers(mf) for pw in lay.all_weights()]


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape) or "scalar"


def first_difference(a: ModelFile, b: ModelFile) -> str | None:
    """The first architectural difference between `a` and `b` as one line, or None when they match.

    Compares layer kinds and the config keys that change the computation (when both files have an
    architecture), then the weights' count and shapes in order.
    """
    if a.network is not None and b.network is not None:
        la = [lay for lay in a.network.layers if lay.kind != "InputLayer"]
        lb = [lay for lay in b.network.layers if lay.kind != "InputLayer"]
        for k, (x, y) in enumerate(zip(la, lb)):
            if x.kind != y.kind:
                return f"layer {k + 1}: A has {x.name!r} ({x.kind}), B has {y.name!r} ({y.kind})"
            for key in _ARCH_KEYS:
                if key in x.config and key in y.config and x.config[key] != y.config[key]:
                    return (
                        f"layer {k + 1} {x.name!r}: {key} is {x.config[key]!r} in A, {y.config[key]!r} in B"
                    )
        if len(la) != len(lb):
            return f"A has {len(la)} layers, B has {len(lb)}"
    wa, wb = _weights(a), _weights(b)
    for (pa, wx), (pb, wy) in zip(wa, wb):
        if wx.shape != wy.shape:
            return f"weight {pa} is {_fmt(wx.shape)} in A, {pb} is {_fmt(wy.shape)} in B"
    if len(wa) != len(wb):
        extra = (wa if len(wa) > len(wb) else wb)[min(len(wa), len(wb))][0]
        return f"A has {len(wa)} weights, B has {len(wb)} (first unmatched: {extra})"
    return None


def matched_weights(a: ModelFile, b: ModelFile) -> list[tuple[str, Weight, Weight]]:
    """(path in A, weight of A, weight of B) for every weight: by path, else in order.

    Raises
    ------
    ArchitectureMismatchError : the two differ (message: the first difference).
    """
    why = first_difference(a, b)
    if why is not None:
        raise ArchitectureMismatchError(f"different architectures: {why}")
    wa, wb = _weights(a), _weights(b)
    by_path = dict(wb)
    if all(p in by_path and by_path[p].shape == w.shape for p, w in wa):
        return [(p, w, by_path[p]) for p, w in wa]
    return [(p, x, y) for (p, x), (_, y) in zip(wa, wb)]


def _change(path: str, gate: str | None, x: Array, y: Array) -> WeightChange:
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    d = y64 - x64
    na, nb, nd = (float(np.linalg.norm(v)) for v in (x64, y64, d))
    if not np.isfinite(nd):
        rel = mx = float("nan")
    else:
        rel = nd / na if na > 0 else (0.0 if nd == 0 else float("inf"))
        mx = float(np.abs(d).max()) if d.size else 0.0
    return WeightChange(path, gate, rel, mx, na, nb)


def weight_changes(a: ModelFile, b: ModelFile) -> list[WeightChange]:
    """Per weight (ungated) or per gate block (gated weights), largest relative change first.

    NaN changes (a NaN or Inf in either file) sort first: they are the ones to look at.
    """
    out: list[WeightChange] = []
    for path, x, y in matched_weights(a, b):
        gates: tuple[GateSlice, ...] = x.gates
        if gates:
            out += [_change(path, g.key, g.take(x.value), g.take(y.value)) for g in gates]
        else:
            out.append(_change(path, None, x.value, y.value))
    return sorted(out, key=lambda c: -np.inf if np.isnan(c.rel_change) else -c.rel_change)


@dataclass(frozen=True, eq=False)
class RunDiff:
    """The same input through A and B.

    Attributes
    ----------
    outputs_a, outputs_b : one float32 array per model output, as `engine.predict` returns.
    output_step_diff : per output, max |B - A| per time step, (T,) float32 (one value for outputs
        without a time axis).
    divergence : trace key -> ||h_B - h_A|| over units per processing step, mean over the batch, (T,).
    top_units : trace key -> (unit, max |h_B - h_A|) for the most diverging units, largest first.
    """

    outputs_a: list[Array]
    outputs_b: list[Array]
    output_step_diff: list[Array]
    divergence: dict[str, Array]
    top_units: dict[str, list[tuple[int, float]]]

    @property
    def max_abs(self) -> float:
        """Largest |B - A| over every output value."""
        vals = [float(np.max(d)) for d in self.output_step_diff if d.size]
        return max(vals) if vals else 0.0


def run_both(a: ModelFile, b: ModelFile, inputs: Array | Sequence[Array], n_top: int = 10) -> RunDiff:
    """Run `inputs` (batch axis first) through both files and measure the divergence.

    Raises
    ------
    ArchitectureMismatchError, ValueError (no architecture), InputShapeError / UnsupportedLayerError.
    """
    why = first_difference(a, b)
    if why is not None:
        raise ArchitectureMismatchError(f"different architectures: {why}")
    if a.network is None or b.network is None:
        raise ValueError(
            "running needs the architecture of both files (pass --config for weights-only files)"
        )
    with np.errstate(all="ignore"):
        ta = engine.trace(a.network, inputs, a.semantics)
        tb = engine.trace(b.network, inputs, b.semantics)
        steps = []
        for ya, yb in zip(ta.outputs, tb.outputs):
            d = np.abs(yb.astype(np.float64) - ya.astype(np.float64))
            steps.append((d.reshape(d.shape[0], d.shape[1], -1).max(axis=(0, 2)) if d.ndim >= 3
                          else d.max(keepdims=True)).astype(np.float32))  # fmt: skip
        div: dict[str, Array] = {}
        top: dict[str, list[tuple[int, float]]] = {}
        # trace keys follow layer names: in-order pairing covers re-saves that renamed layers
        for (key, ha), hb in zip(ta.layers.items(), tb.layers.values()):
            d = hb.h.astype(np.float64) - ha.h.astype(np.float64)
            div[key] = np.linalg.norm(d, axis=2).mean(axis=0).astype(np.float32)
            per_unit = np.abs(d).max(axis=(0, 1))
            order = np.argsort(-np.nan_to_num(per_unit, nan=np.inf), kind="stable")[:n_top]
            top[key] = [(int(j), float(per_unit[j])) for j in order]
    return RunDiff(ta.outputs, tb.outputs, steps, div, top)
