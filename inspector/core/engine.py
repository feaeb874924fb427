"""Core: run a `Network` in numpy and reproduce Keras' `model.predict` (no Qt, no h5py, no TensorFlow).

`predict()` returns what `model.predict` returns (as a list, float32); `trace()` also keeps the
step-by-step `Trajectory` of every recurrent layer it ran, keyed by its trace name:

* 'lstm_1' for a top-level layer, 'bidi/forward' and 'bidi/backward' for the two halves of a
  Bidirectional, 'outer/lstm_1' for a layer inside a nested model 'outer';
* a shared layer called more than once gets 'name@k' for its call k >= 1.

Masks are propagated by the engine itself (docs/formats.md, 'Masks'), version-dependent behaviour
comes from `Semantics` (docs/formats.md, 'hard_sigmoid' and 'Bidirectional').  Stateful layers
start from zero states on every call (states are not stored in any file format).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from inspector.core import layers as layer_ops
from inspector.core import recurrent
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.interventions import Intervention, check_all_applied, control_for
from inspector.core.network import RECURRENT_KINDS, Array, Layer, Network, Semantics, TensorRef
from inspector.core.recurrent import Trajectory

Mask = Array | None
NESTED_KINDS = frozenset({"Sequential", "Functional", "Model"})

_T = TypeVar("_T")
_V = TypeVar("_V")  # a value flowing through the graph: an Array, or prefix._PV


@dataclass(frozen=True, eq=False)
class Trace:
    """A forward pass with every recurrent layer's trajectory.

    Attributes
    ----------
    outputs : one float32 array per model output, exactly `model.predict` (as a list).
    layers : trace name -> Trajectory, in the order the layers ran.
    final_states : trace name -> the layer's state after its last step, [h, c] for LSTM, [h] for
        GRU / SimpleRNN, (B, u) float32 each (masked steps carry the state, as in Keras).  Pass it
        as `initial_states=` to run the next chunk of a long sequence; Bidirectional halves are
        listed too but cannot be fed back.
    """

    outputs: list[Array]
    layers: dict[str, Trajectory] = field(default_factory=dict)
    final_states: dict[str, list[Array]] = field(default_factory=dict)


@dataclass
class _Ctx:
    semantics: Semantics
    record: bool
    trajectories: dict[str, Trajectory] = field(default_factory=dict)
    # how one layer call is evaluated: `_call_layer` normally, `prefix._prefix_call` for prefix_outputs()
    call: Callable[..., tuple[list[Any], list[Any]]] | None = None
    interventions: tuple[Intervention, ...] = ()
    initial_states: Mapping[str, Sequence[Array]] = field(default_factory=dict)
    final_states: dict[str, list[Array]] = field(default_factory=dict)

    def run(self, *args: Any) -> tuple[list[Any], list[Any]]:
        return (self.call or _call_layer)(*args)


def predict(
    net: Network,
    inputs: Array | Sequence[Array],
    semantics: Semantics,
    *,
    interventions: Sequence[Intervention] = (),
    initial_states: Mapping[str, Sequence[Array]] | None = None,
) -> list[Array]:
    """Run the network like Keras' `model.predict`.

    Parameters
    ----------
    net : a runnable Network (Sequential or Functional).
    inputs : one array per model input (a bare array for single-input models), batch axis first:
        e.g. (B, T, d) float for an LSTM, (B, T) int ids for an Embedding.  Float inputs are cast to
        float32 as Keras does.  The time axis may differ from the length recorded in the file.
    semantics : the writer's inference behaviour (`ModelFile.semantics`).
    interventions : `Ablate` / `ClampGate` objects (`inspector.core.interventions`), applied to the
        recurrent layers they name (trace names, see the module doc).
    initial_states : trace name of a recurrent layer -> its starting states, [h, c] for LSTM, [h]
        otherwise, (B, u) each (e.g. `Trace.final_states` of the previous chunk).  Layers not
        named start from zeros (or from the states their call gets in the model graph).

    Returns
    -------
    list of float32 arrays, one per model output.

    Raises
    ------
    InputShapeError : an input or initial state does not fit the model.
    UnsupportedLayerError : the network contains a layer or activation the engine cannot run;
        initial states for a Bidirectional layer or for a layer that did not run.
    InterventionError : an intervention names no recurrent layer that ran, or a unit / gate the
        layer does not have.
    """
    return _forward(net, inputs, semantics, False, interventions, initial_states).outputs


def trace(
    net: Network,
    inputs: Array | Sequence[Array],
    semantics: Semantics,
    *,
    interventions: Sequence[Intervention] = (),
    initial_states: Mapping[str, Sequence[Array]] | None = None,
) -> Trace:
    """`predict()` plus the full step-by-step Trajectory and the final states of every recurrent layer.

    Parameters and errors as `predict()`.  Trajectories hold (B, T, u) float32 arrays per gate, so
    keep the batch small when tracing long sequences.
    """
    return _forward(net, inputs, semantics, True, interventions, initial_states)


def _forward(
    net: Network,
    inputs: Array | Sequence[Array],
    semantics: Semantics,
    record: bool,
    interventions: Sequence[Intervention],
    initial_states: Mapping[str, Sequence[Array]] | None,
) -> Trace:
    xs = prepare_inputs(net, inputs)
    ctx = _Ctx(
        semantics, record, interventions=tuple(interventions), initial_states=dict(initial_states or {})
    )
    # NaN/Inf weights or inputs are legal: Keras propagates them silently, and so do we.
    with np.errstate(all="ignore"):
        no_masks: list[Mask] = [None] * len(xs)
        outs, _ = _run_network(net, xs, no_masks, ctx, prefix="")
    check_all_applied(ctx.interventions, ctx.final_states)
    unused = sorted(set(ctx.initial_states) - set(ctx.final_states))
    if unused:
        ran = ", ".join(repr(k) for k in ctx.final_states) or "none"
        raise UnsupportedLayerError(f"initial_states for {unused[0]!r}: no such recurrent layer ran ({ran})")
    return Trace([np.asarray(o, dtype=np.float32) for o in outs], ctx.trajectories, ctx.final_states)


# ------------------------------------------------------------------------------------------ inputs


def n_inputs(net: Network) -> int:
    """Number of model inputs."""
    if net.kind == "Sequential":
        return 1
    return len(net.inputs)


def first_consumers(net: Network, i: int) -> list[Layer]:
    """The layers that read model input i directly."""
    if net.kind == "Sequential":
        for lay in net.layers:
            if lay.kind != "InputLayer":
                return [lay]
        return []
    name = net.inputs[i].layer
    return [lay for lay in net.layers for call in lay.calls if any(r.layer == name for r in call.inputs)]


def _reads_ids(layer: Layer) -> bool:
    if layer.kind == "Embedding":
        return True
    if layer.network is not None and layer.kind in NESTED_KINDS:
        sub = layer.network
        return n_inputs(sub) >= 1 and any(_reads_ids(c) for c in first_consumers(sub, 0))
    return False


def sequence_inputs(net: Network, arrays: Sequence[Array] | None = None) -> list[bool]:
    """For each model input: does axis 1 run over time?

    True for inputs of rank >= 3 (batch, time, ...) and for rank-2 id inputs read by an Embedding.
    Uses `net.input_shapes`, or the arrays' ranks when the shapes are unknown.
    """
    out = []
    for i in range(n_inputs(net)):
        if i < len(net.input_shapes):
            rank = len(net.input_shapes[i])
        elif arrays is not None and i < len(arrays):
            rank = np.ndim(arrays[i])
        else:
            rank = 0
        out.append(rank >= 3 or (rank == 2 and any(_reads_ids(c) for c in first_consumers(net, i))))
    return out


def _fmt_shape(shape: Sequence[int | None], seq: bool) -> str:
    """'(batch, time, 57)': the batch axis and a sequence input's time axis are free."""
    dims = ["batch"] + ["?" if d is None else str(d) for d in shape[1:]]
    if seq and len(dims) > 1:
        dims[1] = "time"
    return "(" + ", ".join(dims) + ")"


def prepare_inputs(net: Network, inputs: Array | Sequence[Array]) -> list[Array]:
    """Check inputs against `net.input_shapes` and cast them as Keras does.

    The batch axis is free, and so is the time axis of sequence inputs (Keras warns and runs);
    every other known dimension must match.  Float inputs become float32; inputs declared int
    keep integer ids (float ids are truncated, as Keras' cast does).

    Raises
    ------
    InputShapeError : wrong number of inputs, wrong rank or a wrong fixed dimension.
    """
    if isinstance(inputs, np.ndarray) or np.isscalar(inputs):
        arrays = [np.asarray(inputs)]
    else:
        arrays = [np.asarray(a) for a in inputs]
    expected = n_inputs(net)
    if len(arrays) != expected:
        raise InputShapeError(f"model {net.name!r} takes {expected} input(s), got {len(arrays)}")
    seq = sequence_inputs(net, arrays)
    out: list[Array] = []
    for i, a in enumerate(arrays):
        shape = net.input_shapes[i] if i < len(net.input_shapes) else None
        if shape is not None and len(shape) > 0:
            if a.ndim != len(shape):
                raise InputShapeError(
                    f"input {i} of model {net.name!r} must be {len(shape)}-D {_fmt_shape(shape, seq[i])}, "
                    f"got shape {a.shape}"
                )
            for k, (want, got) in enumerate(zip(shape, a.shape)):
                if k == 0 or want is None or (k == 1 and seq[i]):
                    continue
                if int(want) != got:
                    raise InputShapeError(
                        f"input {i} of model {net.name!r} must have shape {_fmt_shape(shape, seq[i])}, "
                        f"got {a.shape}"
                    )
        if a.ndim == 0:
            raise InputShapeError(f"input {i} of model {net.name!r} needs a batch axis, got a scalar")
        dtype = net.input_dtypes[i] if i < len(net.input_dtypes) else "float32"
        if str(dtype).startswith(("int", "uint")):
            a = a if a.dtype.kind in "iu" else a.astype(np.int64)
        elif a.dtype.kind not in "iu":
            a = a.astype(np.float32)
        out.append(a)
    return out


# ------------------------------------------------------------------------------------------ networks


def _run_network(
    net: Network, xs: list[_V], masks: list[_V | None], ctx: _Ctx, prefix: str
) -> tuple[list[_V], list[_V | None]]:
    """Run a (nested) network on values of type _V: arrays here, `prefix._PV` for prefix_outputs()."""
    if net.kind == "Sequential":
        if len(xs) != 1:
            raise InputShapeError(f"Sequential model {net.name!r} takes one input, got {len(xs)}")
        vals, ms = xs, masks
        prev: Layer | None = None
        for lay in net.layers:
            if len(vals) != 1 and prev is not None:
                raise UnsupportedLayerError(
                    f"layer {prev.name!r} returns {len(vals)} tensors, which a Sequential model cannot chain"
                )
            vals, ms = ctx.run(lay, vals, ms, ctx, prefix + lay.name, ())
            prev = lay
        return vals, ms
    if net.kind in ("Functional", "Model"):
        return _run_functional(net, xs, masks, ctx, prefix)
    raise UnsupportedLayerError(f"model {net.name!r}: unknown network kind {net.kind!r}")


def _run_functional(
    net: Network, xs: list[_V], masks: list[_V | None], ctx: _Ctx, prefix: str
) -> tuple[list[_V], list[_V | None]]:
    by_name = {lay.name: lay for lay in net.layers}
    # (layer name, call index) -> (outputs, masks); model inputs are node 0 of their InputLayer.
    done: dict[tuple[str, int], tuple[list[_V], list[_V | None]]] = {}
    if len(xs) != len(net.inputs):
        raise InputShapeError(f"model {net.name!r} takes {len(net.inputs)} input(s), got {len(xs)}")
    for ref, x, m in zip(net.inputs, xs, masks):
        done[(ref.layer, ref.node)] = ([x], [m])

    def call_of(key: tuple[str, int]) -> tuple[Layer, list[TensorRef], list[TensorRef]]:
        name, node = key
        lay = by_name.get(name)
        if lay is None:
            raise UnsupportedLayerError(f"model {net.name!r} refers to a missing layer {name!r}")
        if lay.kind == "InputLayer":
            raise InputShapeError(f"model {net.name!r}: input layer {name!r} is not one of the model inputs")
        if not 0 <= node < len(lay.calls):
            raise UnsupportedLayerError(
                f"model {net.name!r} refers to call {node} of layer {name!r}, "
                f"which has {len(lay.calls)} call(s)"
            )
        call = lay.calls[node]
        return lay, list(call.inputs), list(call.initial_state)

    def evaluate(target: tuple[str, int]) -> None:
        # Iterative depth-first evaluation: deep models must not hit Python's recursion limit.
        stack = [target]
        visiting: set[tuple[str, int]] = set()
        while stack:
            key = stack[-1]
            if key in done:
                stack.pop()
                continue
            lay, ins, init = call_of(key)
            deps = [(r.layer, r.node) for r in ins + init if (r.layer, r.node) not in done]
            if deps:
                if key in visiting:
                    raise UnsupportedLayerError(f"model {net.name!r} has a cycle through layer {key[0]!r}")
                visiting.add(key)
                stack.extend(reversed(deps))  # first input first: trace order follows the graph
                continue
            in_vals = [_pick(done[(r.layer, r.node)][0], r) for r in ins]
            in_masks = [_pick(done[(r.layer, r.node)][1], r) for r in ins]
            states = [_pick(done[(r.layer, r.node)][0], r) for r in init]
            tkey = prefix + lay.name + (f"@{key[1]}" if key[1] else "")
            done[key] = ctx.run(lay, in_vals, in_masks, ctx, tkey, states)
            stack.pop()

    outs: list[_V] = []
    out_masks: list[_V | None] = []
    for ref in net.outputs:
        evaluate((ref.layer, ref.node))
        outs.append(_pick(done[(ref.layer, ref.node)][0], ref))
        out_masks.append(_pick(done[(ref.layer, ref.node)][1], ref))
    return outs, out_masks


def _pick(vals: list[_T], ref: TensorRef) -> _T:
    """Output (or mask) `ref.index` of a layer call's result list."""
    if not 0 <= ref.index < len(vals):
        raise UnsupportedLayerError(
            f"tensor {ref.index} of layer {ref.layer!r} does not exist (the layer returns {len(vals)})"
        )
    return vals[ref.index]


# ------------------------------------------------------------------------------------------ layers


def _call_layer(
    lay: Layer, xs: list[Array], masks: list[Mask], ctx: _Ctx, key: str, initial_state: Sequence[Array]
) -> tuple[list[Array], list[Mask]]:
    """Run one layer call: returns (outputs, masks).  `key` is its trace name."""
    if not lay.runnable:
        why = "; ".join(lay.problems) if lay.problems else "not runnable"
        raise UnsupportedLayerError(f"layer {lay.name!r} ({lay.kind}) cannot be run: {why}")
    try:
        if lay.kind in RECURRENT_KINDS:
            return _recurrent_layer(lay, xs, masks, ctx, key, initial_state)
        if lay.kind == "Bidirectional":
            return _bidirectional(lay, xs, masks, ctx, key, initial_state)
        if lay.kind == "TimeDistributed":
            return _time_distributed(lay, xs, masks, ctx, key)
        if lay.kind in NESTED_KINDS or lay.network is not None:
            if lay.network is None:
                raise UnsupportedLayerError(f"nested model {lay.name!r} has no architecture")
            return _run_network(lay.network, xs, masks, ctx, prefix=key + "/")
        if initial_state:
            raise UnsupportedLayerError(f"layer {lay.name!r} ({lay.kind}) does not take initial states")
        return layer_ops.apply(lay, xs, masks, ctx.semantics)
    except (InputShapeError, UnsupportedLayerError):
        raise
    except ValueError as e:
        # numpy broadcasting / matmul errors: the input does not fit this layer.
        shapes = ", ".join(str(np.shape(x)) for x in xs)
        raise InputShapeError(f"layer {lay.name!r} ({lay.kind}) cannot take input {shapes}: {e}") from e


def _single(lay: Layer, xs: list[Array], masks: list[Mask]) -> tuple[Array, Mask]:
    if len(xs) != 1:
        raise InputShapeError(f"layer {lay.name!r} ({lay.kind}) takes one input, got {len(xs)}")
    return np.asarray(xs[0]), (masks[0] if masks else None)


def _seq_mask(mask: Mask, x: Array, lay: Layer) -> Mask:
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    if m.shape != x.shape[:2]:
        raise InputShapeError(f"layer {lay.name!r}: mask of shape {m.shape} does not fit input {x.shape}")
    return m


def _step_mask(mask: Mask, x: Array, lay: Layer, ctx: _Ctx, initial_state: Sequence[Array]) -> Mask:
    """The mask the recurrent loop applies.

    Keras 3 fills a layer's `mask` argument only when the call has a single tensor argument, so an
    RNN or Bidirectional called with `initial_state=` tensors runs unmasked (its output still
    carries the mask downstream).  Keras 1/2 and tf.keras pass the mask in both cases.
    """
    if initial_state and layer_ops.keras3_runtime(ctx.semantics):
        return None
    return _seq_mask(mask, x, lay) if np.ndim(x) == 3 else mask


def _recurrent_layer(
    lay: Layer, xs: list[Array], masks: list[Mask], ctx: _Ctx, key: str, initial_state: Sequence[Array]
) -> tuple[list[Array], list[Mask]]:
    spec = recurrent.spec_from_layer(lay, ctx.semantics)
    x, mask = _single(lay, xs, masks)
    in_mask = mask
    if spec.time_major:
        if x.ndim != 3:
            raise InputShapeError(f"layer {lay.name!r} expects 3-D time-major input, got {x.shape}")
        x = np.swapaxes(x, 0, 1)
        mask = None if mask is None else np.swapaxes(np.asarray(mask), 0, 1)
    run = recurrent.run(
        spec,
        x,
        _step_mask(mask, x, lay, ctx, initial_state),
        ctx.semantics,
        name=key,
        initial_state=list(ctx.initial_states.get(key, initial_state)) or None,
        record=ctx.record,
        where=lay.name,
        control=control_for(ctx.interventions, key, spec.units, spec.gates),
    )
    ctx.final_states[key] = run.states
    if ctx.record:
        ctx.trajectories[key] = run.trajectory
    outs = recurrent.layer_outputs(spec, run)
    if spec.time_major and spec.return_sequences:
        outs[0] = np.swapaxes(outs[0], 0, 1)
    out_masks: list[Mask] = [in_mask if spec.return_sequences else None] + [None] * (len(outs) - 1)
    return outs, out_masks


def _bidirectional(
    lay: Layer, xs: list[Array], masks: list[Mask], ctx: _Ctx, key: str, initial_state: Sequence[Array]
) -> tuple[list[Array], list[Mask]]:
    """Forward + time-reversed backward half, merged (docs/formats.md, 'Bidirectional')."""
    if len(lay.children) != 2:
        raise UnsupportedLayerError(f"Bidirectional {lay.name!r} needs a forward and a backward layer")
    fwd_layer, bwd_layer = lay.children
    for child in lay.children:
        if child.kind not in RECURRENT_KINDS:
            raise UnsupportedLayerError(f"Bidirectional {lay.name!r} wraps an unsupported {child.kind}")
        if not child.runnable:
            raise UnsupportedLayerError(f"Bidirectional {lay.name!r}: {child.kind} half cannot be run")
    fwd = recurrent.spec_from_layer(fwd_layer, ctx.semantics)
    bwd = recurrent.spec_from_layer(bwd_layer, ctx.semantics)
    # Keras requires the halves to differ in go_backwards; a reader that copied the forward config
    # unchanged for the backward half is corrected here.
    bwd_go = not fwd.go_backwards
    zero = fwd.return_sequences if ctx.semantics.bidirectional_zero_masked else None
    fwd = dataclasses.replace(fwd, zero_output_for_mask=fwd.zero_output_for_mask if zero is None else zero)
    bwd = dataclasses.replace(
        bwd,
        go_backwards=bwd_go,
        zero_output_for_mask=bwd.zero_output_for_mask if zero is None else zero,
        return_sequences=fwd.return_sequences,
        return_state=fwd.return_state,
    )
    x, mask = _single(lay, xs, masks)
    if fwd.time_major:
        x = np.swapaxes(x, 0, 1)
        mask = None if mask is None else np.swapaxes(np.asarray(mask), 0, 1)
    step_mask = _step_mask(mask, x, lay, ctx, initial_state)
    for name in (key, f"{key}/forward", f"{key}/backward"):
        if name in ctx.initial_states:
            raise UnsupportedLayerError(
                f"initial_states for Bidirectional {name!r}: not supported (its backward half runs backwards)"
            )
    half = len(initial_state) // 2
    if initial_state and (len(initial_state) % 2 or half != fwd.n_states):
        raise InputShapeError(
            f"Bidirectional {lay.name!r} takes {2 * fwd.n_states} initial states, got {len(initial_state)}"
        )
    runs = []
    for side, spec, init in (("forward", fwd, initial_state[:half]), ("backward", bwd, initial_state[half:])):
        r = recurrent.run(
            spec,
            x,
            step_mask,
            ctx.semantics,
            name=f"{key}/{side}",
            initial_state=list(init) or None,
            record=ctx.record,
            where=lay.name,
            control=control_for(ctx.interventions, f"{key}/{side}", spec.units, spec.gates),
        )
        ctx.final_states[f"{key}/{side}"] = r.states
        if ctx.record:
            ctx.trajectories[f"{key}/{side}"] = r.trajectory
        runs.append(r)
    y = recurrent.layer_outputs(fwd, runs[0])
    y_rev = recurrent.layer_outputs(bwd, runs[1])
    a, b = y[0], y_rev[0]
    if fwd.return_sequences:
        b = b[:, ::-1]
        if fwd.time_major:
            a, b = np.swapaxes(a, 0, 1), np.swapaxes(b, 0, 1)
    merge_mode = lay.config.get("merge_mode", "concat")
    out_mask = masks[0] if (masks and fwd.return_sequences) else None
    if merge_mode is None or merge_mode == "None":
        merged = [a, b]
        merged_masks: list[Mask] = [out_mask, out_mask]
    else:
        if merge_mode == "concat":
            m = np.concatenate([a, b], axis=-1)
        elif merge_mode == "sum":
            m = a + b
        elif merge_mode == "ave":
            m = (a + b) / 2
        elif merge_mode == "mul":
            m = a * b
        else:
            raise UnsupportedLayerError(f"Bidirectional {lay.name!r}: unknown merge_mode {merge_mode!r}")
        merged = [np.asarray(m, dtype=np.float32)]
        merged_masks = [out_mask]
    states = y[1:] + y_rev[1:]
    return merged + states, merged_masks + [None] * len(states)


def _time_distributed(
    lay: Layer, xs: list[Array], masks: list[Mask], ctx: _Ctx, key: str
) -> tuple[list[Array], list[Mask]]:
    """Apply the inner layer to x.reshape(B*T, ...) and reshape back; the input mask passes through."""
    if len(lay.children) != 1:
        raise UnsupportedLayerError(f"TimeDistributed {lay.name!r} needs exactly one inner layer")
    inner = lay.children[0]
    x, mask = _single(lay, xs, masks)
    if x.ndim < 3:
        raise InputShapeError(
            f"layer {lay.name!r} (TimeDistributed) expects input (batch, time, ...), got {x.shape}"
        )
    B, T = x.shape[:2]
    flat = x.reshape(B * T, *x.shape[2:])
    # The inner layer sees no mask (as in Keras for Dense-like layers); recurrent inner layers are
    # run but not traced: their trajectories would have B*T rows.
    sub = _Ctx(ctx.semantics, record=False)
    outs, inner_masks = _call_layer(inner, [flat], [None], sub, f"{key}/{inner.name}", ())
    if len(outs) != 1:
        raise UnsupportedLayerError(f"TimeDistributed {lay.name!r}: inner layer returns {len(outs)} tensors")
    y = outs[0].reshape(B, T, *outs[0].shape[1:])
    return [y], [mask]
