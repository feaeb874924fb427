"""Core: interventions on recurrent units during a forward pass (no Qt, no h5py).

An intervention names a recurrent layer by its trace key (see `inspector.core.engine`: 'lstm_1',
'outer/lstm_1', 'lstm_1@1' for the second call of a shared layer).  For a Bidirectional layer
'bidi/forward' and 'bidi/backward' address one half and 'bidi' both.  Steps count in processing
order (for a go_backwards layer step 0 consumed the last input timestep).

* `Ablate(layer, unit, from_step)`: after each step s >= from_step, h[:, unit] and, for an LSTM,
  c[:, unit] are set to 0 (the layer's output at that step too), so the unit influences nothing
  downstream or later.
* `ClampGate(layer, gate, unit, value, from_step)`: at each step s >= from_step the post-activation
  value of gate `gate` ('i','f','c','o' / 'z','r','h' / 'h', the `GateSlice.key`s) of `unit` is
  `value` before the cell uses it.  The recorded gates show the clamped value.

The maths of the cells is in docs/formats.md, 'Recurrent cells'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inspector.core.errors import UnsupportedLayerError
from inspector.core.network import GateSlice


@dataclass(frozen=True)
class Ablate:
    """Silence one unit of a recurrent layer from step `from_step` on (see the module doc)."""

    layer: str
    unit: int
    from_step: int = 0


@dataclass(frozen=True)
class ClampGate:
    """Force one post-activation gate value of one unit from step `from_step` on."""

    layer: str
    gate: str
    unit: int
    value: float
    from_step: int = 0


Intervention = Ablate | ClampGate


class InterventionError(UnsupportedLayerError):
    """An intervention does not fit the model (unknown layer, unit or gate); one line."""


@dataclass(frozen=True)
class StepControl:
    """What the step loop of one layer applies (built by `control_for`).

    Attributes
    ----------
    ablate : (unit, from_step) pairs.
    clamps : (column, value, from_step) triples; column indexes the (B, n*u) gate vector in Keras
        gate order (gate k of unit j is column k*u + j).
    """

    ablate: tuple[tuple[int, int], ...] = ()
    clamps: tuple[tuple[int, float, int], ...] = ()


def addresses(intervention: Intervention, key: str) -> bool:
    """Does `intervention` apply to the recurrent layer run under trace key `key`?"""
    if intervention.layer == key:
        return True
    parent, _, half = key.rpartition("/")
    return half in ("forward", "backward") and intervention.layer == parent


def control_for(
    interventions: Sequence[Intervention], key: str, units: int, gates: Sequence[GateSlice]
) -> StepControl | None:
    """The `StepControl` of layer `key` (u = `units`, gate blocks `gates`), or None if none applies.

    Raises
    ------
    InterventionError : a unit outside 0..u-1, a gate the layer does not have, a negative step.
    """
    ablate: list[tuple[int, int]] = []
    clamps: list[tuple[int, float, int]] = []
    for iv in interventions:
        if not addresses(iv, key):
            continue
        if not 0 <= iv.unit < units:
            raise InterventionError(f"{iv}: layer {key!r} has units 0..{units - 1}")
        if iv.from_step < 0:
            raise InterventionError(f"{iv}: from_step must be >= 0")
        if isinstance(iv, Ablate):
            ablate.append((iv.unit, iv.from_step))
            continue
        found = [g for g in gates if g.key == iv.gate]
        if not found:
            keys = ", ".join(repr(g.key) for g in gates)
            raise InterventionError(f"{iv}: layer {key!r} has gates {keys}")
        clamps.append((found[0].start + iv.unit, float(iv.value), iv.from_step))
    if not ablate and not clamps:
        return None
    return StepControl(tuple(ablate), tuple(clamps))


def check_all_applied(interventions: Iterable[Intervention], keys: Iterable[str]) -> None:
    """Raise `InterventionError` for an intervention that addressed none of the layers `keys` that ran."""
    ran = list(keys)
    for iv in interventions:
        if not any(addresses(iv, k) for k in ran):
            known = ", ".join(repr(k) for k in ran) or "none"
            raise InterventionError(f"{iv}: no recurrent layer {iv.layer!r} ran (recurrent layers: {known})")
