"""Core: the model outputs for every cut of a sequence input, in one pass (no Qt, no h5py).

`prefix_outputs()` runs causal models (forward recurrent layers, layers applied timestep by
timestep, anything after a recurrent layer collapsed the time axis) once and returns the outputs
"as if the input ended after t" for every t; `Stepper.outputs_at` uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspector.core import recurrent
from inspector.core.engine import NESTED_KINDS, _call_layer, _Ctx, _run_network, prepare_inputs
from inspector.core.network import RECURRENT_KINDS, Array, Layer, Network, Semantics

# Layers whose output at timestep t depends only on the input at timestep t (when applied to a
# (batch, time, ...) tensor along its last axis): on a sequence they commute with cutting the input.
_TIMESTEP_LOCAL = frozenset(
    {
        "InputLayer", "Identity", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
        "AlphaDropout", "ActivityRegularization", "Dense", "Activation", "ReLU", "LeakyReLU", "ELU",
        "ThresholdedReLU", "Masking", "Embedding", "Rescaling", "Add", "Subtract", "Multiply", "Average",
        "Maximum", "Minimum",
    }
)  # fmt: skip
_LAST_AXIS = frozenset(
    {
        "BatchNormalization",
        "LayerNormalization",
        "Softmax",
        "Normalization",
        "UnitNormalization",
        "Concatenate",
    }
)


class _NotCausalError(Exception):
    """The network is not causal in a way prefix_outputs() can exploit."""


@dataclass(frozen=True, eq=False)
class _PV:
    """A value in prefix mode.  tag 'seq': (B, T, ...), the value for prefix t is arr[:, :t+1];
    'prefix': (T, B, ...), the value for prefix t is arr[t]; 'const': the same for every prefix."""

    tag: str
    arr: Array


class PrefixOutputs:
    """Model outputs for every cut of the input: `at(t)` = the outputs if the input ended after t."""

    def __init__(self, values: list[_PV]) -> None:
        self._values = values

    def at(self, t: int) -> list[Array]:
        out = []
        for v in self._values:
            if v.tag == "seq":
                out.append(np.ascontiguousarray(v.arr[:, : t + 1]))
            elif v.tag == "prefix":
                out.append(v.arr[t])
            else:
                out.append(v.arr)
        return out


def prefix_outputs(
    net: Network, inputs: Array | Sequence[Array], semantics: Semantics, seq_inputs: Sequence[bool]
) -> PrefixOutputs | None:
    """The model outputs for every prefix inputs[:, :t+1] of the sequence inputs, in one pass.

    Works for causal models: forward recurrent layers (no go_backwards, no Bidirectional), layers
    applied timestep by timestep, and anything applied after a recurrent layer has collapsed the
    time axis.  Returns None for other models (then cut the input and `predict()` per prefix).

    Parameters
    ----------
    seq_inputs : for each model input, whether it is cut (see `sequence_inputs()`).
    """
    xs = prepare_inputs(net, inputs)
    ctx = _Ctx(semantics, record=False, call=_prefix_call)
    vals = [_PV("seq" if s else "const", x) for x, s in zip(xs, seq_inputs)]
    try:
        with np.errstate(all="ignore"):
            no_masks: list[_PV | None] = [None] * len(vals)
            outs, _ = _run_network(net, vals, no_masks, ctx, prefix="")
    except _NotCausalError:
        return None
    return PrefixOutputs([_PV(o.tag, np.asarray(o.arr, dtype=np.float32)) for o in outs])


def _flat(v: _PV) -> Array:
    """A per-prefix value (T, B, ...) with the prefix axis folded into the batch: (T*B, ...)."""
    return v.arr.reshape(-1, *v.arr.shape[2:])


def _prefix_call(
    lay: Layer, xs: list[_PV], masks: list[_PV | None], ctx: _Ctx, key: str, initial_state: Sequence[_PV]
) -> tuple[list[_PV], list[_PV | None]]:
    plain = _Ctx(ctx.semantics, record=False)
    tags = {v.tag for v in [*xs, *initial_state]}
    if lay.kind in NESTED_KINDS and lay.network is not None and lay.runnable:
        return _run_network(lay.network, xs, masks, ctx, prefix=key + "/")
    if tags <= {"const"}:
        outs, ms = _call_layer(
            lay, [v.arr for v in xs], [_raw(m) for m in masks], plain, key, [v.arr for v in initial_state]
        )
        return [_PV("const", o) for o in outs], [None if m is None else _PV("const", m) for m in ms]
    if "seq" not in tags:
        # Everything is per prefix (or constant): fold the prefix axis into the batch.
        T = next(v.arr.shape[0] for v in [*xs, *initial_state] if v.tag == "prefix")
        arrs = [_flat(_broadcast(v, T)) for v in xs]
        ms_in = [None if m is None else _flat(_broadcast(m, T)) for m in masks]
        init = [_flat(_broadcast(v, T)) for v in initial_state]
        outs, ms = _call_layer(lay, arrs, ms_in, plain, key, init)
        return [_PV("prefix", o.reshape(T, -1, *o.shape[1:])) for o in outs], [
            None if m is None else _PV("prefix", m.reshape(T, -1, *m.shape[1:])) for m in ms
        ]
    if tags != {"seq"} or initial_state and any(v.tag != "const" for v in initial_state):
        raise _NotCausalError
    raw_x = [v.arr for v in xs]
    raw_m = [_raw(m) for m in masks]
    if min(np.ndim(a) for a in raw_x) < 3 and lay.kind not in ("Embedding", "InputLayer", "Identity"):
        raise _NotCausalError  # a (batch, time) tensor: its last axis is the time axis
    if lay.kind in RECURRENT_KINDS:
        spec = recurrent.spec_from_layer(lay, ctx.semantics)
        if spec.go_backwards or spec.time_major or spec.return_state:
            raise _NotCausalError
        seq_layer = lay
        if not spec.return_sequences:
            seq_layer = Layer(lay.name, lay.kind, {**lay.config, "return_sequences": True}, lay.weights)
        outs, ms = _call_layer(seq_layer, raw_x, raw_m, plain, key, [v.arr for v in initial_state])
        if spec.return_sequences:
            return [_PV("seq", outs[0])], [None if ms[0] is None else _PV("seq", ms[0])]
        # the last output of the input cut after t is the output emitted at step t
        full = outs[0]
        return [_PV("prefix", np.swapaxes(full, 0, 1))], [None]
    local = lay.kind in _TIMESTEP_LOCAL or lay.kind == "TimeDistributed"
    if lay.kind in _LAST_AXIS:
        axis = lay.config.get("axis", -1)
        nd = np.ndim(raw_x[0])
        local = isinstance(axis, int) and axis % nd == nd - 1
    if lay.kind == "Conv1D":
        cfg = lay.config
        local = str(cfg.get("padding")) == "causal" and tuple(np.atleast_1d(cfg.get("strides", 1))) == (1,)
    if not local or initial_state:
        raise _NotCausalError
    outs, ms = _call_layer(lay, raw_x, raw_m, plain, key, ())
    return [_PV("seq", o) for o in outs], [None if m is None else _PV("seq", m) for m in ms]


def _raw(m: _PV | None) -> Array | None:
    if m is None:
        return None
    if m.tag != "seq" and m.tag != "const":
        raise _NotCausalError
    return m.arr


def _broadcast(v: _PV, T: int) -> _PV:
    if v.tag == "prefix":
        return v
    if v.tag == "const":
        return _PV("prefix", np.broadcast_to(v.arr, (T, *v.arr.shape)))
    raise _NotCausalError
