"""Core: LSTM / GRU / SimpleRNN layers stepped in numpy, every gate recorded (no Qt, no h5py).

`run()` steps one recurrent layer over a whole sequence and returns a `Trajectory`: the hidden
state, cell state, post-activation gates and the input / recurrent parts of every pre-activation,
for every step, in processing order.  The maths is KERAS_FORMATS.md §8.3 (cells) and §8.4 (loop,
masks, go_backwards); gate column blocks come from `Weight.gates` / `gate_slices()`.

Numerics: float32 throughout, like Keras (the weights are used as stored, so a step reads the
recurrent kernel once, at float32 size).  Summation order differs from TF's, so results agree to
about 1e-7 per step, not bit for bit (KERAS_FORMATS.md §8.8).  BLAS threads: `threads`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.core import activations
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import GATES_BY_KIND, Array, GateSlice, Layer, Semantics, gate_slices
from inspector.core.threads import step_loop_threads

# x_t.W is computed for a block of time steps at once (one BLAS call instead of T small ones),
# limited to about this many values so long sequences with big batches stay bounded in memory.
_XW_BLOCK_VALUES = 1 << 22


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Everything one recurrent layer computed, step by step, in processing order.

    Attributes
    ----------
    name : trace key of the layer ('lstm_1', 'bidi/forward', 'outer/gru').
    kind : 'LSTM' | 'GRU' | 'SimpleRNN'.
    units : u.
    h : (B, T, u) float32, exactly what Keras returns with return_sequences=True: processing order
        (time-reversed for go_backwards), masked steps carry the previous output, or are 0 when
        zero_output_for_mask is in force (tf.keras / Keras 3 Bidirectional with return_sequences).
    c : (B, T, u) float32 LSTM cell state after each step (carried through masked steps), else None.
    gates : post-activation gate values, (B, T, u) float32 each, keyed by GateSlice.key
        (LSTM 'i','f','c','o'; GRU 'z','r','h'; SimpleRNN 'h' = the new hidden value).  Masked steps
        hold the values the cell computed before the mask discarded them.
    x_part : per gate, x_t.W (+ input bias), (B, T, u) float32.
    h_part : per gate, h_{t-1}.U, plus the recurrent bias for GRU reset_after=True (then the
        candidate is a(x_part['h'] + r * h_part['h'])).  For GRU reset_after=False the candidate's
        entry is (r * h_{t-1}).U, the product that is actually added (reset before the matmul).
        h_{t-1} is the carried state, which differs from h[:, s-1] only at zero-masked steps.
    mask : (B, T) bool, in processing order (all True without a mask).
    time_index : (T,) int, the input timestep consumed at processing step s (T-1-s for go_backwards).
    """

    name: str
    kind: str
    units: int
    h: Array
    c: Array | None
    gates: dict[str, Array]
    x_part: dict[str, Array]
    h_part: dict[str, Array]
    mask: Array
    time_index: Array

    @property
    def n_steps(self) -> int:
        return int(self.h.shape[1])

    @property
    def batch_size(self) -> int:
        return int(self.h.shape[0])

    def step_of_time(self, t: int) -> int:
        """The processing step that consumed input timestep t."""
        return int(np.flatnonzero(self.time_index == t)[0])


@dataclass(frozen=True, eq=False)
class RecurrentSpec:
    """A recurrent layer's weights (float32) and the config keys that change its forward pass."""

    kind: str
    units: int
    kernel: Array  # (d, n*u)
    recurrent_kernel: Array  # (u, n*u)
    bias: Array  # (n*u,) input bias (zeros if use_bias=False)
    recurrent_bias: Array | None  # (n*u,) GRU reset_after only
    gates: tuple[GateSlice, ...]
    activation: Any
    recurrent_activation: Any
    go_backwards: bool = False
    return_sequences: bool = False
    return_state: bool = False
    zero_output_for_mask: bool = False
    time_major: bool = False
    reset_after: bool = False
    stateful: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_states(self) -> int:
        return 2 if self.kind == "LSTM" else 1

    @property
    def input_dim(self) -> int:
        return int(self.kernel.shape[0])


def _find_weight(layer: Layer, role: str, position: int) -> Array | None:
    for w in layer.weights:
        if w.name == role:
            return w.value
    # Readers that could not name a weight keep the file's own name: fall back to Keras' fixed
    # order kernel, recurrent_kernel, bias (KERAS_FORMATS.md §2.4).
    known = {"kernel", "recurrent_kernel", "bias"}
    if not any(w.name in known for w in layer.weights) and position < len(layer.weights):
        return layer.weights[position].value
    return None


def spec_from_layer(layer: Layer, semantics: Semantics) -> RecurrentSpec:
    """Read a canonical LSTM/GRU/SimpleRNN `Layer` into a `RecurrentSpec`.

    Missing config keys fall back to the defaults of KERAS_FORMATS.md §8.2 (readers normally fill
    them); GRU `reset_after` is taken from the bias shape when the config does not say.

    Raises
    ------
    UnsupportedLayerError : not a recurrent kind, or the weights do not fit the layer.
    """
    kind = layer.kind
    if kind not in GATES_BY_KIND:
        raise UnsupportedLayerError(f"layer {layer.name!r} ({kind}) is not a recurrent layer")
    cfg = layer.config
    n = len(GATES_BY_KIND[kind])
    kernel = _find_weight(layer, "kernel", 0)
    rec = _find_weight(layer, "recurrent_kernel", 1)
    if kernel is None or rec is None:
        raise UnsupportedLayerError(f"layer {layer.name!r} ({kind}) has no kernel/recurrent_kernel weights")
    kernel = np.asarray(kernel, dtype=np.float32)
    rec = np.asarray(rec, dtype=np.float32)
    units = int(rec.shape[0])
    if cfg.get("units") is not None and int(cfg["units"]) != units:
        raise UnsupportedLayerError(
            f"layer {layer.name!r}: config units={cfg['units']} but recurrent_kernel is {rec.shape}"
        )
    if kernel.ndim != 2 or rec.shape != (units, n * units) or kernel.shape[1] != n * units:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} ({kind}): kernel {kernel.shape} / recurrent_kernel {rec.shape} "
            f"do not fit {n} gates of {units} units"
        )
    bias_value = _find_weight(layer, "bias", 2) if cfg.get("use_bias", True) else None
    bias = np.zeros(n * units, dtype=np.float32)
    recurrent_bias = None
    reset_after = bool(cfg["reset_after"]) if "reset_after" in cfg else None
    if bias_value is not None:
        b = np.asarray(bias_value, dtype=np.float32)
        if kind == "GRU" and b.shape == (2, n * units):
            if reset_after is False:
                raise UnsupportedLayerError(
                    f"layer {layer.name!r}: GRU bias {b.shape} needs reset_after=True"
                )
            reset_after = True
            bias, recurrent_bias = b[0], b[1]
        elif b.shape == (n * units,):
            if kind == "GRU" and reset_after:
                raise UnsupportedLayerError(
                    f"layer {layer.name!r}: GRU reset_after=True needs a (2, {n * units}) bias"
                )
            bias = b
        else:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} ({kind}): bias shape {b.shape} does not fit {units} units"
            )
    if kind == "GRU":
        if reset_after is None:
            reset_after = semantics.hard_sigmoid == "keras3" or semantics.bidirectional_zero_masked
        if reset_after and recurrent_bias is None:
            recurrent_bias = np.zeros(n * units, dtype=np.float32)
    default_rec_act = (
        "sigmoid"
        if semantics.hard_sigmoid == "keras3" or semantics.bidirectional_zero_masked
        else ("hard_sigmoid")
    )
    return RecurrentSpec(
        kind=kind,
        units=units,
        kernel=kernel,
        recurrent_kernel=rec,
        bias=bias,
        recurrent_bias=recurrent_bias,
        gates=gate_slices(kind, units),
        activation=cfg.get("activation", "tanh"),
        recurrent_activation=cfg.get("recurrent_activation", default_rec_act),
        go_backwards=bool(cfg.get("go_backwards", False)),
        return_sequences=bool(cfg.get("return_sequences", False)),
        return_state=bool(cfg.get("return_state", False)),
        zero_output_for_mask=bool(cfg.get("zero_output_for_mask", False)),
        time_major=bool(cfg.get("time_major", False)),
        reset_after=bool(reset_after) if kind == "GRU" else False,
        stateful=bool(cfg.get("stateful", False)),
    )


@dataclass(frozen=True, eq=False)
class RecurrentRun:
    """Result of `run()`: the trajectory, the layer's last output and its final states.

    last_output : (B, u) float32, the output at the last processed step (what return_sequences=False
        returns).  states : final carried states, [h] or [h, c] for LSTM, (B, u) float32 each.
    """

    trajectory: Trajectory
    last_output: Array
    states: list[Array]


# ------------------------------------------------------------------ LSTM fast path (sigmoid / tanh, no mask)
# The generic loop below costs ~15 numpy calls and several temporaries per step, which is most of
# the time for small layers (LSTM(128): ~9 us of 13 us per step).  This path does the same math in
# ~10 calls into fixed buffers: columns are reordered to [i, f, o, g] and the i, f, o columns halved,
# so ONE tanh over z gives tanh(z/2) for the gates (sigmoid = 0.5 + 0.5 tanh(z/2), exactly as
# `activations.sigmoid`) and tanh(z) for g.  Halving is exact in float32.  (bench/NOTES.md)


def _weak_cached(table: dict[int, tuple[tuple[Any, ...], Any]], arrays: tuple[Array, ...], make: Any) -> Any:
    """`make()`, kept in `table` while every array of `arrays` lives (they are its inputs).

    Keyed by the first array's id and checked against weak references to all of them, so an id
    reused by a new array after the old one died cannot return a stale value.
    """
    hit = table.get(id(arrays[0]))
    if hit is not None and all(ref() is a for ref, a in zip(hit[0], arrays)):
        return hit[1]
    value = make()
    for key, (refs, _) in list(table.items()):  # list(): one atomic copy (worker threads)
        if refs[0]() is None:
            table.pop(key, None)
    try:
        table[id(arrays[0])] = (tuple(weakref.ref(a) for a in arrays), value)
    except TypeError:  # an array type without weak references: just do not cache
        pass
    return value


_FAST_LSTM_WEIGHTS: dict[int, tuple[tuple[Any, ...], Any]] = {}


def _fast_lstm_weights(kernel: Array, rec: Array, bias: Array, u: int) -> tuple[Array, Array, Array]:
    """kernel, recurrent kernel and bias in [i, f, o, g] column order with i, f, o halved (cached)."""

    def reorder(a: Array) -> Array:
        """[i, f, c, o] -> [i, f, o, c] column blocks, i/f/o halved: block copies (a fancy-indexed
        copy of a 1024 x 4096 kernel took ~55 ms, holding the GIL the GUI thread needs)."""
        a = np.asarray(a, dtype=np.float32)
        out = np.empty(a.shape, np.float32)
        np.multiply(a[..., : 2 * u], np.float32(0.5), out=out[..., : 2 * u])
        np.multiply(a[..., 3 * u :], np.float32(0.5), out=out[..., 2 * u : 3 * u])
        out[..., 3 * u :] = a[..., 2 * u : 3 * u]
        return out

    return _weak_cached(
        _FAST_LSTM_WEIGHTS, (rec, kernel, bias), lambda: (reorder(kernel), reorder(rec), reorder(bias))
    )


def _time_major_xw(x: Array, idx: Array, W: Array, b: Array) -> Array:
    """x[:, idx] . W + b as (len(idx), B, n*u) float32, in one matrix product."""
    xt = np.ascontiguousarray(np.asarray(x[:, idx, :], dtype=np.float32).transpose(1, 0, 2))
    xw = np.matmul(xt.reshape(-1, xt.shape[2]), W).reshape(xt.shape[0], xt.shape[1], -1)
    xw += b
    return xw


def _run_lstm_fast(
    spec: RecurrentSpec, x: Array, time_index: Array, h: Array, c: Array, *, name: str, record: bool
) -> RecurrentRun:
    """`run()` for an unmasked LSTM with sigmoid / tanh: same inputs, same results."""
    f32 = np.float32
    B, T, _ = x.shape
    u = spec.units
    W, U, b = _fast_lstm_weights(spec.kernel, spec.recurrent_kernel, spec.bias, u)
    block = T if record else max(1, _XW_BLOCK_VALUES // max(1, B * 4 * u))
    hs = np.empty((T, B, u), f32)  # time-major inside: each step writes contiguous rows
    z = np.empty((B, 4 * u), f32)
    tmp = np.empty((B, u), f32)
    h = np.asarray(h, dtype=f32)
    c = np.array(c, dtype=f32)
    matmul, dot, add, mul, tanh = np.matmul, np.dot, np.add, np.multiply, np.tanh
    if record:
        post = np.empty((T, B, 4 * u), f32)  # post-activation [i, f, o, g]
        hus = np.empty((T, B, 4 * u), f32)  # h.U, i/f/o columns halved
        cs = np.empty((T, B, u), f32)
    with step_loop_threads(B):

        def operand() -> Array:
            return U

        if not record:
            # per-step Python overhead is most of the time here: positional `out`, float32 scalars,
            # views made once per block (each saves a fraction of a microsecond per call)
            sig, zi, zf, zo, zg = z[:, : 3 * u], z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
            half = f32(0.5)
            hrows = list(hs)
            for start in range(0, T, block):
                xw = _time_major_xw(x, time_index[start : start + block], W, b)
                xrows = list(xw)
                for s0, s1 in [(start, min(T, start + block))]:
                    R = operand()
                    for s in range(s0, s1):
                        dot(h, R, z)
                        add(z, xrows[s - start], z)
                        tanh(z, z)
                        mul(sig, half, sig)
                        add(sig, half, sig)
                        mul(c, zf, c)
                        mul(zi, zg, tmp)
                        add(c, tmp, c)
                        tanh(c, tmp)
                        h = hrows[s]
                        mul(zo, tmp, h)
        else:
            xw = _time_major_xw(x, time_index, W, b)
            for s0, s1 in [(0, T)]:
                R = operand()
                for s in range(s0, s1):
                    hu = hus[s]
                    matmul(h, R, out=hu)
                    zt = post[s]
                    add(hu, xw[s], out=zt)
                    tanh(zt, out=zt)
                    sig = zt[:, : 3 * u]
                    sig *= 0.5
                    sig += 0.5
                    c_new = cs[s]
                    mul(zt[:, u : 2 * u], c, out=c_new)  # f * c
                    mul(zt[:, :u], zt[:, 3 * u :], out=tmp)  # i * g
                    c_new += tmp
                    c = c_new
                    tanh(c, out=tmp)
                    h = hs[s]
                    mul(zt[:, 2 * u : 3 * u], tmp, out=h)  # o * tanh(c)

    def batch_major(a: Array, undo: float = 1.0) -> Array:
        out = np.ascontiguousarray(a.transpose(1, 0, 2))
        if undo != 1.0:
            out *= f32(undo)  # exact: undoes the halving
        return out

    gates: dict[str, Array] = {}
    x_part: dict[str, Array] = {}
    h_part: dict[str, Array] = {}
    if record:
        for key, cols, undo in (
            ("i", slice(0, u), 2.0),
            ("f", slice(u, 2 * u), 2.0),
            ("c", slice(3 * u, 4 * u), 1.0),
            ("o", slice(2 * u, 3 * u), 2.0),
        ):
            gates[key] = batch_major(post[:, :, cols])
            x_part[key] = batch_major(xw[:, :, cols], undo)
            h_part[key] = batch_major(hus[:, :, cols], undo)
    h_seq = batch_major(hs)
    traj = Trajectory(
        name=name,
        kind=spec.kind,
        units=u,
        h=h_seq,
        c=batch_major(cs) if record else None,
        gates=gates,
        x_part=x_part,
        h_part=h_part,
        mask=np.ones((B, T), dtype=bool),
        time_index=time_index,
    )
    return RecurrentRun(traj, h_seq[:, -1], [np.array(h, dtype=f32), np.array(c, dtype=f32)])


def run(
    spec: RecurrentSpec,
    x: Array,
    mask: Array | None,
    semantics: Semantics,
    *,
    name: str = "",
    initial_state: Sequence[Array] | None = None,
    record: bool = True,
    where: str = "",
) -> RecurrentRun:
    """Step a recurrent layer over a batch of sequences.

    Parameters
    ----------
    spec : the layer (see `spec_from_layer`); its go_backwards and zero_output_for_mask apply.
    x : (B, T, d) batch-major input, any float dtype (time_major is handled by the caller).
    mask : (B, T) bool or None, in input (not processing) order.
    semantics : decides hard_sigmoid.
    name : the trajectory's trace key.
    initial_state : [h0] or [h0, c0] for LSTM, (B, u) each; zeros when None.
    record : when False, gates / x_part / h_part / c are not kept (predict only needs h).
    where : layer name for error messages.

    Returns
    -------
    RecurrentRun with the Trajectory (h (B, T, u) float32 etc.), the last output and final states.
    """
    where = where or name
    x = np.asarray(x)
    if x.ndim != 3:
        raise InputShapeError(
            f"layer {where!r} ({spec.kind}) expects 3-D input (batch, time, features), got {x.shape}"
        )
    B, T, d = x.shape
    if d != spec.input_dim:
        raise InputShapeError(
            f"layer {where!r} ({spec.kind}) expects {spec.input_dim} input features, got {d}"
        )
    if T == 0:
        raise InputShapeError(f"layer {where!r} ({spec.kind}) got an empty sequence")
    u = spec.units
    act = activations.get(spec.activation, semantics, where=where)
    rec_act = activations.get(spec.recurrent_activation, semantics, where=where)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (B, T):
            raise InputShapeError(f"layer {where!r}: mask shape {mask.shape} does not match input {x.shape}")
    time_index = np.arange(T)[::-1].copy() if spec.go_backwards else np.arange(T)
    f32 = np.float32

    h = np.zeros((B, u), f32)
    c = np.zeros((B, u), f32) if spec.kind == "LSTM" else None
    if initial_state is not None and len(initial_state) > 0:
        if len(initial_state) != spec.n_states:
            raise InputShapeError(
                f"layer {where!r} ({spec.kind}) takes {spec.n_states} initial state(s), "
                f"got {len(initial_state)}"
            )
        states = [np.broadcast_to(np.asarray(s, dtype=f32), (B, u)).copy() for s in initial_state]
        h = states[0]
        if spec.kind == "LSTM":
            c = states[1]
    if spec.kind == "LSTM" and mask is None and act is activations.tanh and rec_act is activations.sigmoid:
        return _run_lstm_fast(spec, x, time_index, h, c, name=name, record=record)
    out_prev = np.zeros((B, u), f32)
    zero = np.zeros((B, u), f32)

    W, U, b = spec.kernel, spec.recurrent_kernel, spec.bias
    nu = W.shape[1]
    h_seq = np.empty((B, T, u), f32)
    # Recording keeps whole (B, T, n*u) blocks (gate k = columns k*u:(k+1)*u) and splits them once
    # at the end: a few array writes per step instead of one per gate and quantity.
    if record:
        post = np.empty((B, T, nu), f32)
        h_parts = np.empty((B, T, nu), f32)
        c_seq = np.empty((B, T, u), f32) if c is not None else None
    block = max(1, _XW_BLOCK_VALUES // max(1, B * nu)) if not record else T
    if spec.kind == "GRU" and not spec.reset_after:
        U_zr = np.ascontiguousarray(U[:, : 2 * u])
        U_h = np.ascontiguousarray(U[:, 2 * u :])

    with step_loop_threads(B):
        for block_start in range(0, T, block):
            idx = time_index[block_start : block_start + block]
            xw_block = np.asarray(x[:, idx, :], dtype=f32) @ W
            xw_block += b  # (B, blk, n*u), processing order
            for s0, s1 in [(block_start, min(T, block_start + block))]:
                for s in range(s0, s1):
                    xw = xw_block[:, s - block_start, :]

                    if spec.kind == "LSTM":
                        hu = h @ U
                        z = xw + hu
                        gates = rec_act(z)  # i, f, o use their columns; column block 2 is overwritten with g
                        g = act(z[:, 2 * u : 3 * u])
                        gates[:, 2 * u : 3 * u] = g
                        c_new = gates[:, u : 2 * u] * c
                        c_new += gates[:, 0:u] * g
                        h_new = gates[:, 3 * u :] * act(c_new)
                    elif spec.kind == "GRU":
                        if spec.reset_after:
                            hu = h @ U
                            hu += spec.recurrent_bias
                            zr = rec_act(xw[:, : 2 * u] + hu[:, : 2 * u])
                            hh = act(xw[:, 2 * u :] + zr[:, u:] * hu[:, 2 * u :])
                        else:
                            hu_zr = h @ U_zr
                            zr = rec_act(xw[:, : 2 * u] + hu_zr)
                            hu_h = (zr[:, u:] * h) @ U_h
                            hh = act(xw[:, 2 * u :] + hu_h)
                            hu = np.concatenate([hu_zr, hu_h], axis=1) if record else hu_zr
                        zg = zr[:, :u]
                        h_new = zg * h + (1.0 - zg) * hh
                        if record:
                            gates = np.concatenate([zr, hh], axis=1)
                    else:  # SimpleRNN
                        hu = h @ U
                        h_new = act(xw + hu)
                        gates = h_new

                    if mask is None:
                        h = h_new
                        if c is not None:
                            c = c_new
                        out = h_new
                    else:
                        m = mask[:, time_index[s], None]
                        out = np.where(m, h_new, zero if spec.zero_output_for_mask else out_prev)
                        h = np.where(m, h_new, h)
                        if c is not None:
                            c = np.where(m, c_new, c)
                    out_prev = out
                    h_seq[:, s] = out
                    if record:
                        post[:, s] = gates
                        h_parts[:, s] = hu
                        if c_seq is not None:
                            c_seq[:, s] = c

    gate_dict: dict[str, Array] = {}
    x_dict: dict[str, Array] = {}
    h_dict: dict[str, Array] = {}
    if record:
        for k, g_slice in enumerate(spec.gates):
            cols = slice(k * u, (k + 1) * u)
            gate_dict[g_slice.key] = np.ascontiguousarray(post[:, :, cols])
            x_dict[g_slice.key] = np.ascontiguousarray(xw_block[:, :, cols])
            h_dict[g_slice.key] = np.ascontiguousarray(h_parts[:, :, cols])
    traj = Trajectory(
        name=name,
        kind=spec.kind,
        units=u,
        h=h_seq,
        c=c_seq if record else None,
        gates=gate_dict,
        x_part=x_dict,
        h_part=h_dict,
        mask=np.ones((B, T), dtype=bool) if mask is None else mask[:, time_index],
        time_index=time_index,
    )
    states = [np.asarray(h, dtype=f32)]
    if c is not None:
        states.append(np.asarray(c, dtype=f32))
    return RecurrentRun(traj, h_seq[:, -1], states)


def layer_outputs(spec: RecurrentSpec, result: RecurrentRun) -> list[Array]:
    """What the Keras layer returns: [output] or [output, *states] with return_state.

    output is (B, T, u) with return_sequences (processing order, as Keras) else (B, u); float32.
    """
    out = result.trajectory.h if spec.return_sequences else result.last_output
    if spec.return_state:
        return [out, *result.states]
    return [out]
