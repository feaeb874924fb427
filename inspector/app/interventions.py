"""App: combine and undo interventions, run the counterfactual beside the original, measure the change. No Qt.

Three kinds of intervention: the core's `Ablate` (a unit's h, and c for an LSTM, forced to 0 after
every step from `from_step` on) and `ClampGate` (a gate's post-activation value forced), both applied
inside `inspector.core.engine`, and the app-level `EditInput` (one input step replaced before the
run).  `InterventionList` keeps the active ones with undo; `run_counterfactual()` runs the model with
and without them and returns both outputs over the steps, their difference and, per recurrent layer,
where the hidden states diverge (‖Δh‖ per step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from psygnal import Signal

from inspector.app.outputs import STEP_BUDGET
from inspector.core import engine, prefix
from inspector.core.engine import Trace
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import RECURRENT_KINDS, Array, Network, Semantics

__all__ = [
    "Counterfactual",
    "EditInput",
    "InterventionError",
    "InterventionList",
    "apply_edits",
    "describe",
    "parse_ablate",
    "recurrent_units",
    "run_counterfactual",
    "sequence_length",
]

MAX_RUNS = 256  # cuts run at most per output series when the model cannot give every step in one pass


class InterventionError(ValueError):
    """An intervention that does not fit the model (one line)."""


@dataclass(frozen=True)
class EditInput:
    """Input `input_index` at step `step` replaced by `value` (a feature vector (d,) or a token id),
    in sample `sample` (None: every sample)."""

    step: int
    value: Any
    input_index: int = 0
    sample: int | None = None


def recurrent_units(net: Network, prefix: str = "") -> dict[str, int]:
    """Every recurrent layer an intervention can name -> its units: 'lstm', 'bidi/forward', 'outer/gru'."""
    out: dict[str, int] = {}
    for lay in net.layers:
        key = prefix + lay.name
        if lay.kind in RECURRENT_KINDS:
            out[key] = int(lay.config.get("units") or lay.weight("recurrent_kernel").value.shape[0])
        elif lay.kind == "Bidirectional" and len(lay.children) == 2:
            for side, child in zip(("forward", "backward"), lay.children):
                out[f"{key}/{side}"] = int(child.config.get("units") or child.weights[1].value.shape[0])
        elif lay.network is not None:
            out |= recurrent_units(lay.network, key + "/")
    return out


def parse_ablate(net: Network, spec: str, from_step: int = 0) -> Any:
    """'LAYER:UNIT' (the CLI's --ablate) -> a core `Ablate`, checked against the model.

    Raises
    ------
    InterventionError : malformed, unknown layer or unit out of range.
    """
    from inspector.core.interventions import Ablate  # type: ignore[import-not-found,import-untyped,unused-ignore]

    layer, sep, unit_text = spec.rpartition(":")
    if not sep or not layer or not unit_text.strip().isdigit():
        raise InterventionError(f"--ablate {spec!r}: expected LAYER:UNIT, e.g. lstm:3")
    units = recurrent_units(net)
    if layer not in units:
        known = ", ".join(units) or "none"
        raise InterventionError(f"--ablate {spec!r}: no recurrent layer {layer!r} (the model has: {known})")
    unit = int(unit_text)
    if unit >= units[layer]:
        raise InterventionError(f"--ablate {spec!r}: layer {layer!r} has units 0..{units[layer] - 1}")
    if from_step < 0:
        raise InterventionError(f"--from {from_step}: must be a step >= 0")
    return Ablate(layer, unit, from_step)


def describe(iv: Any) -> str:
    """One line for a list entry: 'ablate lstm unit 3 from step 5'."""
    if isinstance(iv, EditInput):
        who = "" if iv.sample is None else f" of sample {iv.sample}"
        val = np.asarray(iv.value)
        one_hot = val.size > 1 and np.all((val == 0) | (val == 1)) and val.sum() == 1
        what = (
            str(val.item()) if val.size == 1 else f"one-hot {int(np.argmax(val))}" if one_hot else "a vector"
        )
        return f"edit input {iv.input_index} at step {iv.step}{who} -> {what}"
    kind = type(iv).__name__
    frm = f" from step {iv.from_step}" if getattr(iv, "from_step", 0) else ""
    if kind == "Ablate":
        return f"ablate {iv.layer} unit {iv.unit}{frm}"
    if kind == "ClampGate":
        return f"clamp {iv.layer} gate {iv.gate} of unit {iv.unit} to {iv.value:g}{frm}"
    return str(iv)


class InterventionList:
    """The active interventions, in the order added, with undo.

    Signals: changed(tuple) -- the new list, after every add / remove / clear / undo.
    """

    changed = Signal(tuple)

    def __init__(self) -> None:
        self._items: tuple[Any, ...] = ()
        self._history: list[tuple[Any, ...]] = []

    @property
    def items(self) -> tuple[Any, ...]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def _set(self, items: tuple[Any, ...]) -> None:
        if items == self._items:
            return
        self._history.append(self._items)
        self._items = items
        self.changed.emit(items)

    def add(self, iv: Any) -> None:
        self._set((*self._items, iv))

    def remove(self, index: int) -> None:
        if 0 <= index < len(self._items):
            self._set(self._items[:index] + self._items[index + 1 :])

    def clear(self) -> None:
        self._set(())

    @property
    def can_undo(self) -> bool:
        return bool(self._history)

    def undo(self) -> None:
        if self._history:
            self._items = self._history.pop()
            self.changed.emit(self._items)


def split(interventions: Sequence[Any]) -> tuple[tuple[Any, ...], tuple[EditInput, ...]]:
    """(core interventions for the engine, input edits applied by the app)."""
    edits = tuple(iv for iv in interventions if isinstance(iv, EditInput))
    return tuple(iv for iv in interventions if not isinstance(iv, EditInput)), edits


def apply_edits(inputs: Sequence[Array], edits: Sequence[EditInput]) -> list[Array]:
    """Copies of the inputs with every edit applied (later edits win).

    Raises
    ------
    InterventionError : an edit outside the input (step, sample or input index).
    """
    out = [np.array(a, copy=True) for a in inputs]
    for e in edits:
        if not 0 <= e.input_index < len(out):
            raise InterventionError(f"edit: the model has {len(out)} input(s), not {e.input_index + 1}")
        a = out[e.input_index]
        if a.ndim < 2 or not 0 <= e.step < a.shape[1]:
            raise InterventionError(f"edit: step {e.step} is outside the input's {a.shape[1]} steps")
        rows = slice(None) if e.sample is None else e.sample
        try:
            a[rows, e.step] = e.value
        except (ValueError, IndexError) as exc:
            raise InterventionError(f"edit at step {e.step}: {exc}") from None
    return out


@dataclass(frozen=True, eq=False)
class Counterfactual:
    """The model run with and without the interventions.

    Attributes
    ----------
    original, changed : the two traces (every recurrent layer's trajectory).
    outputs_original, outputs_changed : (B, S, K) float32, model output `output` after the input
        steps `steps` (the output with every sequence input cut after that step, or the sequence
        output itself).
    divergence : recurrent layer -> (B, T_layer) float32, ‖h_changed - h_original‖ at each of the
        layer's input steps (a model's sequence inputs can differ in length).
    steps : (S,) int64, the input steps the outputs are measured after: every step 0..T-1 (T the
        longest sequence input) when one pass gives them all, else evenly spaced steps (the last
        always included; at most `MAX_RUNS`, fewer on long inputs, about `STEP_BUDGET` steps run).
    """

    original: Trace
    changed: Trace
    outputs_original: Array
    outputs_changed: Array
    divergence: dict[str, Array]
    steps: Array

    @property
    def difference(self) -> Array:
        """(B, T, K) changed minus original outputs."""
        return self.outputs_changed - self.outputs_original


def _run(net: Network, xs: list[Array], sem: Semantics, core: tuple[Any, ...], record: bool) -> Any:
    fn = engine.trace if record else engine.predict
    return fn(net, xs, sem, interventions=core)


def _flat_steps(y: Array) -> Array:
    y = np.asarray(y, dtype=np.float32)
    return y.reshape(y.shape[0], -1)


def sequence_length(net: Network, xs: Sequence[Array]) -> int:
    """T: the longest sequence input's number of steps (1 when no input runs over time)."""
    seq = engine.sequence_inputs(net, xs)
    return max((int(np.shape(a)[1]) for a, s in zip(xs, seq) if s), default=1)


def outputs_over_steps(
    net: Network, xs: list[Array], sem: Semantics, core: tuple[Any, ...], output: int, full: Array
) -> tuple[Array, Array]:
    """(steps (S,) int64, outputs (B, S, K)): output `output` after input steps `steps` (`full` = its
    value for the whole input).  Every sequence input is cut after step t (a shorter one is whole once
    t passes its end), as `Stepper.outputs_at` does."""
    seq = engine.sequence_inputs(net, xs)
    T = sequence_length(net, xs)
    every = np.arange(T, dtype=np.int64)
    full = np.asarray(full, dtype=np.float32)
    if full.ndim == 3 and full.shape[1] == T:
        return every, full  # already one output per step
    if not core:
        try:
            pre = prefix.prefix_outputs(net, xs, sem, seq)
        except (InputShapeError, UnsupportedLayerError):
            pre = None  # e.g. sequence inputs of different lengths joined after their layers
        if pre is not None:
            return every, np.stack([_flat_steps(pre.at(int(t))[output]) for t in every], axis=1)
    # each cut re-runs the model up to step t: about STEP_BUDGET input steps of work in all
    runs = int(np.clip(STEP_BUDGET // max(T, 1), 24, MAX_RUNS))
    steps = np.unique(np.linspace(0, T - 1, num=min(T, runs)).round().astype(np.int64))
    outs = []
    for t in steps:
        cut = [a[:, : t + 1] if s else a for a, s in zip(xs, seq)]
        outs.append(_flat_steps(_run(net, cut, sem, core, False)[output]))
    return steps, np.stack(outs, axis=1)


def run_counterfactual(
    net: Network,
    inputs: Array | Sequence[Array],
    semantics: Semantics,
    interventions: Sequence[Any],
    *,
    output: int = 0,
) -> Counterfactual:
    """Run the model as it is and with `interventions`; compare outputs and hidden states per step.

    Parameters
    ----------
    net, semantics : the model.
    inputs : model inputs, batch first (one sequence input (B, T, ...) or ids (B, T)).
    interventions : any mix of core `Ablate` / `ClampGate` and `EditInput`.
    output : which model output to follow over the steps.

    Returns
    -------
    Counterfactual (outputs (B, S, K) float32 at input steps `steps`, divergence (B, T) float32 per
    recurrent layer).
    """
    xs = engine.prepare_inputs(net, inputs)
    core, edits = split(interventions)
    xs_cf = engine.prepare_inputs(net, apply_edits(xs, edits)) if edits else xs
    original = _run(net, xs, semantics, (), True)
    changed = _run(net, xs_cf, semantics, core, True)
    steps, outs_o = outputs_over_steps(net, xs, semantics, (), output, original.outputs[output])
    steps_c, outs_c = outputs_over_steps(net, xs_cf, semantics, core, output, changed.outputs[output])
    if not np.array_equal(steps, steps_c):  # one run had every step in one pass, the other not
        outs_o = outs_o[:, np.searchsorted(steps, steps_c)] if len(steps) > len(steps_c) else outs_o
        outs_c = outs_c[:, np.searchsorted(steps_c, steps)] if len(steps_c) > len(steps) else outs_c
        steps = steps if len(steps) <= len(steps_c) else steps_c
    divergence: dict[str, Array] = {}
    for key, traj in original.layers.items():
        other = changed.layers.get(key)
        if other is None or other.h.shape != traj.h.shape:
            continue
        d = np.linalg.norm(np.asarray(other.h, np.float64) - traj.h, axis=-1).astype(np.float32)
        by_time = np.empty_like(d)
        by_time[:, np.asarray(traj.time_index)] = d  # processing step -> input step
        divergence[key] = by_time
    return Counterfactual(original, changed, outs_o, outs_c, divergence, steps)
