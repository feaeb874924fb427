"""Core: LSTM / GRU / SimpleRNN layers stepped in numpy, every gate recorded (no Qt, no h5py).

`run()` steps one recurrent layer over a whole sequence and returns a `Trajectory`: the hidden
state, cell state, post-activation gates and the input / recurrent parts of every pre-activation,
for every step, in processing order.  The maths is docs/formats.md, 'Recurrent cells' (one step of
each cell: `inspector.core.cells`) and 'Recurrent loop' (masks, go_backwards); gate column blocks
come from `Weight.gates` / `gate_slices()`.

Numerics: float32 throughout, like Keras (the weights are used as stored, so a step reads the
recurrent kernel once, at float32 size).  Summation order differs from TF's, so results agree to
about 1e-7 per step, not bit for bit (docs/formats.md, 'Numerics').  BLAS threads: `threads`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.core import activations, cells
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.interventions import StepControl
from inspector.core.network import GATES_BY_KIND, Array, GateSlice, Layer, Semantics, gate_slices
from inspector.core.threads import step_loop_threads

# predict computes x_t.W for blocks of about this many values (B * steps * n*u), so long sequences
# with big batches stay bounded in memory.
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
    # order kernel, recurrent_kernel, bias (docs/formats.md, 'Gate orders').
    known = {"kernel", "recurrent_kernel", "bias"}
    if not any(w.name in known for w in layer.weights) and position < len(layer.weights):
        return layer.weights[position].value
    return None


def spec_from_layer(layer: Layer, semantics: Semantics) -> RecurrentSpec:
    """Read a canonical LSTM/GRU/SimpleRNN `Layer` into a `RecurrentSpec`.

    Missing config keys fall back to the defaults of docs/formats.md, 'Configs across versions'
    (readers normally fill them); GRU `reset_after` is taken from the bias shape when the config does not say.

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


def _checked(spec: RecurrentSpec, x: Array, mask: Array | None, where: str) -> tuple[Array, Array | None]:
    x = np.asarray(x)
    if x.ndim != 3:
        raise InputShapeError(
            f"layer {where!r} ({spec.kind}) expects 3-D input (batch, time, features), got {x.shape}"
        )
    if x.shape[2] != spec.input_dim:
        raise InputShapeError(
            f"layer {where!r} ({spec.kind}) expects {spec.input_dim} input features, got {x.shape[2]}"
        )
    if x.shape[1] == 0:
        raise InputShapeError(f"layer {where!r} ({spec.kind}) got an empty sequence")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape[:2]:
            raise InputShapeError(f"layer {where!r}: mask shape {mask.shape} does not match input {x.shape}")
    return x, mask


def _initial(spec: RecurrentSpec, initial_state: Sequence[Array] | None, B: int, where: str) -> list[Array]:
    """[h0] or [h0, c0], (B, u) float32 each: zeros, or copies of the given states."""
    u = spec.units
    if initial_state is None or len(initial_state) == 0:
        return [np.zeros((B, u), np.float32) for _ in range(spec.n_states)]
    if len(initial_state) != spec.n_states:
        raise InputShapeError(
            f"layer {where!r} ({spec.kind}) takes {spec.n_states} initial state(s), got {len(initial_state)}"
        )
    out = []
    for st in initial_state:
        a = np.asarray(st, dtype=np.float32)
        if a.shape not in ((B, u), (u,), (1, u)):
            raise InputShapeError(
                f"layer {where!r} ({spec.kind}): initial state {a.shape}, expected {(B, u)}"
            )
        out.append(np.broadcast_to(a, (B, u)).copy())
    return out


def make_cell(
    spec: RecurrentSpec, batch: int, semantics: Semantics, where: str, control: StepControl | None
) -> cells.Cell:
    """The cell of `spec` for a batch of `batch` sequences, with the clamps of `control`."""
    act = activations.get(spec.activation, semantics, where=where)
    rec_act = activations.get(spec.recurrent_activation, semantics, where=where)
    clamps = control.clamps if control is not None else ()
    if spec.kind == "LSTM":
        return cells.LSTMCell(spec.recurrent_kernel, batch, act, rec_act, clamps)
    if spec.kind == "GRU":
        rb = spec.recurrent_bias if spec.reset_after else None
        return cells.GRUCell(spec.recurrent_kernel, batch, act, rec_act, clamps, recurrent_bias=rb)
    return cells.SimpleRNNCell(spec.recurrent_kernel, batch, act, rec_act, clamps)


@dataclass
class _Loop:
    """The buffers of one run: outputs (B, T, u) and, when recording, the per-step gate blocks."""

    spec: RecurrentSpec
    cell: cells.Cell
    h_seq: Array  # (B, T, u) outputs, processing order
    record: bool
    post: Array | None = None  # (B, T, n*u) gates
    h_parts: Array | None = None  # (B, T, n*u) hu
    c_seq: Array | None = None  # (B, T, u) LSTM cell state

    def steps(
        self, xw: Array, start: int, stop: int, mask: Array | None, states: list[Array], ablate: Sequence[Any]
    ) -> list[Array]:
        """Steps start..stop-1 (xw[:, 0] is step `start`), from `states`; returns the states after."""
        cell, h_seq, zero_masked = self.cell, self.h_seq, self.spec.zero_output_for_mask
        h, c = states[0], (states[1] if len(states) > 1 else None)
        spare = (np.empty_like(h), np.empty_like(h))  # h', c' of a masked run
        xw_rows = list(np.moveaxis(xw, 1, 0))  # per-step (B, n*u) views, made once
        h_rows = list(np.moveaxis(h_seq[:, start:stop], 1, 0))
        if self.c_seq is not None:
            c_rows = list(np.moveaxis(self.c_seq[:, start:stop], 1, 0))
        else:  # c' not kept: two buffers used in turn
            c_rows = [np.empty_like(h), np.empty_like(h)] * ((stop - start + 1) // 2)
        for k, s in enumerate(range(start, stop)):
            if mask is None:
                cell.step(s, xw_rows[k], h, c, h_rows[k], c_rows[k])
                h, c = h_rows[k], (None if c is None else c_rows[k])
            else:
                cell.step(s, xw_rows[k], h, c, spare[0], spare[1])
                m = mask[:, s, None]
                prev = np.float32(0) if s == 0 or zero_masked else h_seq[:, s - 1]
                h_seq[:, s] = np.where(m, spare[0], prev)
                h = np.where(m, spare[0], h)
                if c is not None:
                    c = np.where(m, spare[1], c)
                    if self.c_seq is not None:
                        self.c_seq[:, s] = c
            for unit, first in ablate:
                if s >= first:
                    h[:, unit] = 0.0
                    h_seq[:, s, unit] = 0.0
                    if c is not None:
                        c[:, unit] = 0.0
            if self.post is not None and self.h_parts is not None:
                self.post[:, s] = cell.g
                self.h_parts[:, s] = cell.hu
        return [np.array(h)] if c is None else [np.array(h), np.array(c)]


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
    control: StepControl | None = None,
) -> RecurrentRun:
    """Step a recurrent layer over a batch of sequences (docs/formats.md, 'Recurrent loop').

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
    control : ablations and gate clamps to apply (`interventions.control_for`), or None.

    Returns
    -------
    RecurrentRun with the Trajectory (h (B, T, u) float32 etc.), the last output and final states.

    Raises
    ------
    InputShapeError : x, mask or an initial state does not fit the layer.
    UnsupportedLayerError : an activation the engine cannot run.
    """
    where = where or name
    x, mask = _checked(spec, x, mask, where)
    B, T, _ = x.shape
    u, nu, f32 = spec.units, spec.kernel.shape[1], np.float32
    time_index = np.arange(T)[::-1].copy() if spec.go_backwards else np.arange(T)
    step_mask = None if mask is None else mask[:, time_index]
    states = _initial(spec, initial_state, B, where)
    loop = _Loop(spec, make_cell(spec, B, semantics, where, control), np.empty((B, T, u), f32), record)
    if record:
        loop.post, loop.h_parts = np.empty((B, T, nu), f32), np.empty((B, T, nu), f32)
        loop.c_seq = np.empty((B, T, u), f32) if spec.kind == "LSTM" else None
    # x.W for a block of steps at once (one BLAS call instead of one per step); all of it when recording
    block = T if record else max(1, _XW_BLOCK_VALUES // max(1, B * nu))
    ablate = control.ablate if control is not None else ()
    for start in range(0, T, block):
        stop = min(T, start + block)
        xw = np.matmul(np.asarray(x[:, time_index[start:stop]], dtype=f32), spec.kernel)
        xw += spec.bias  # (B, block, n*u), processing order
        with step_loop_threads(B, B * u * nu):
            states = loop.steps(xw, start, stop, step_mask, states, ablate)
    gates: dict[str, Array] = {}
    x_part: dict[str, Array] = {}
    h_part: dict[str, Array] = {}
    if loop.post is not None and loop.h_parts is not None:
        for g in spec.gates:  # views of the blocks: nothing is copied
            gates[g.key], x_part[g.key], h_part[g.key] = g.take(loop.post), g.take(xw), g.take(loop.h_parts)
    traj = Trajectory(
        name=name,
        kind=spec.kind,
        units=u,
        h=loop.h_seq,
        c=loop.c_seq,
        gates=gates,
        x_part=x_part,
        h_part=h_part,
        mask=np.ones((B, T), dtype=bool) if step_mask is None else step_mask,
        time_index=time_index,
    )
    return RecurrentRun(traj, loop.h_seq[:, -1], states)


def layer_outputs(spec: RecurrentSpec, result: RecurrentRun) -> list[Array]:
    """What the Keras layer returns: [output] or [output, *states] with return_state.

    output is (B, T, u) with return_sequences (processing order, as Keras) else (B, u); float32.
    """
    out = result.trajectory.h if spec.return_sequences else result.last_output
    if spec.return_state:
        return [out, *result.states]
    return [out]
