"""App: the fixed part of an exported model program (`export_numpy`): Keras layers in plain numpy.

This module's source text is copied verbatim into every exported ``model.py`` (after the settings
block is replaced), so it must stay standalone: numpy and the standard library only, no import of
`inspector`.  It is importable for tests.  Every function computes in float32, as Keras does.

Conventions, stated once for the reader of an exported program
----------------------------------------------------------------
* Shapes: x is (batch, time, features) for sequences, (batch, features) otherwise.
* A mask is a (batch, time) bool array (True = the step is real) or None.  A recurrent layer skips a
  masked step: its state is carried unchanged and its output repeats the previous output (or is 0
  when `zero_output_for_mask`).
* Gate order: Keras stores an LSTM's fused columns as [i, f, c, o] (input gate, forget gate,
  candidate, output gate) and a GRU's as [z, r, h] (update gate, reset gate, candidate).  weights.npz
  holds them already split, e.g. 'lstm/kernel/i', so no column offsets are needed here.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray
F32 = np.float32

# --- settings (the exporter replaces this block) ---
HARD_SIGMOID = "keras2"
# --- end settings ---


# ------------------------------------------------------------------------------------- activations


def sigmoid(x: Array) -> Array:
    """The logistic function 1 / (1 + exp(-x)), written so that it cannot overflow."""
    return F32(0.5) + F32(0.5) * np.tanh(F32(0.5) * x)


def hard_sigmoid(x: Array) -> Array:
    """Piecewise-linear sigmoid.  Its slope depends on the Keras version that wrote the model:
    Keras 1/2 and tf.keras: clip(0.2 * x + 0.5, 0, 1);  Keras 3: clip(x / 6 + 0.5, 0, 1)."""
    if HARD_SIGMOID == "keras3":
        return np.clip(x / F32(6.0) + F32(0.5), 0.0, 1.0).astype(F32)
    return np.clip(F32(0.2) * x + F32(0.5), 0.0, 1.0).astype(F32)


def softmax(x: Array) -> Array:
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def elu(x: Array) -> Array:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def gelu(x: Array) -> Array:
    """Keras' default gelu: the exact erf form."""
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1.0 + erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(F32)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "linear": lambda x: x,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, F32(0.0)),
    "relu6": lambda x: np.clip(x, 0.0, 6.0).astype(F32),
    "softmax": softmax,
    "elu": elu,
    "selu": lambda x: F32(1.0507009873554805) * np.where(x > 0, x, F32(1.6732632423543772) * elu(x)),
    "softplus": lambda x: np.logaddexp(F32(0.0), x),
    "softsign": lambda x: x / (F32(1.0) + np.abs(x)),
    "swish": lambda x: x * sigmoid(x),
    "silu": lambda x: x * sigmoid(x),
    "exponential": np.exp,
    "gelu": gelu,
}


def activation(name: str, x: Array) -> Array:
    """Apply the Keras activation called `name` to x (softmax over the last axis)."""
    return np.asarray(ACTIVATIONS[name](x), dtype=F32)


# ------------------------------------------------------------------------------------- plain layers


def params(weights: Any, prefix: str) -> dict[str, Array]:
    """The arrays of one layer: weights['lstm/kernel/i'] -> params(weights, 'lstm')['kernel/i']."""
    start = prefix + "/"
    return {key[len(start) :]: weights[key] for key in weights.files if key.startswith(start)}


def dense(x: Array, kernel: Array, bias: Array | None, act: str) -> Array:
    """act(x @ kernel + bias) on the last axis (also applied step by step to sequences)."""
    y = x @ kernel
    if bias is not None:
        y = y + bias
    return activation(act, y)


def embedding(ids: Array, table: Array) -> Array:
    """Row `id` of the table for every integer id (ids are truncated to integers first, like Keras)."""
    ids = np.asarray(ids).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        raise ValueError(f"token ids must lie in 0..{table.shape[0] - 1}")
    return table[ids]


def masking(x: Array, mask_value: float) -> tuple[Array, Array]:
    """Keras Masking: a step whose features all equal mask_value is masked (and set to 0)."""
    mask = np.any(x != F32(mask_value), axis=-1)
    return np.where(mask[..., None], x, F32(0.0)).astype(F32), mask


def last_axis(x: Array, axis: int) -> None:
    """The normalisations and Concatenate are written for the last (feature) axis only."""
    if axis % x.ndim != x.ndim - 1:
        raise ValueError(f"axis {axis} of a {x.ndim}-D tensor is not its last axis")


def batch_norm(x: Array, p: dict[str, Array], epsilon: float, axis: int = -1) -> Array:
    """Inference-time BatchNormalization over the last axis, with the stored moving statistics."""
    last_axis(x, axis)
    y = (x - p["moving_mean"]) / np.sqrt(p["moving_variance"] + F32(epsilon))
    if "gamma" in p:
        y = y * p["gamma"]
    if "beta" in p:
        y = y + p["beta"]
    return y.astype(F32)


def layer_norm(x: Array, p: dict[str, Array], epsilon: float, axis: int = -1) -> Array:
    """LayerNormalization over the last axis (population variance)."""
    last_axis(x, axis)
    mean = x.mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + F32(epsilon))
    if "gamma" in p:
        y = y * p["gamma"]
    if "beta" in p:
        y = y + p["beta"]
    return y.astype(F32)


def merge(kind: str, xs: list[Array], axis: int = -1) -> Array:
    """Keras merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate (last axis)."""
    if kind == "Concatenate":
        last_axis(xs[0], axis)
        return np.concatenate(xs, axis=-1)
    out = xs[0]
    for x in xs[1:]:
        if kind in ("Add", "Average"):
            out = out + x
        elif kind == "Subtract":
            out = out - x
        elif kind == "Multiply":
            out = out * x
        elif kind == "Maximum":
            out = np.maximum(out, x)
        elif kind == "Minimum":
            out = np.minimum(out, x)
    return (out / F32(len(xs)) if kind == "Average" else out).astype(F32)


def merge_masks(masks: list[Array | None], keras3: bool) -> Array | None:
    """The mask after a merge: Keras 1/2 and tf.keras AND the masks present; Keras 3 ORs them and
    drops the mask as soon as one input has none."""
    present = [m for m in masks if m is not None]
    if not present or (keras3 and len(present) < len(masks)):
        return None
    out = present[0]
    for m in present[1:]:
        out = (out | m) if keras3 else (out & m)
    return out


# ------------------------------------------------------------------------------------- recurrent


def lstm_cell(p: dict[str, Array], x: Array, h: Array, c: Array, act: str, rec: str) -> tuple[Array, Array]:
    """One LSTM step: gates i, f, o use `rec` (recurrent_activation), the candidate and the output `act`.

    i = rec(x Wi + h Ui + bi), f = rec(x Wf + h Uf + bf), c~ = act(x Wc + h Uc + bc),
    o = rec(x Wo + h Uo + bo);  c' = f * c + i * c~;  h' = o * act(c').
    """
    z = {g: x @ p[f"kernel/{g}"] + p[f"bias/{g}"] + h @ p[f"recurrent_kernel/{g}"] for g in "ifco"}
    i, f, o = activation(rec, z["i"]), activation(rec, z["f"]), activation(rec, z["o"])
    c_new = f * c + i * activation(act, z["c"])
    return o * activation(act, c_new), c_new


def gru_cell(p: dict[str, Array], x: Array, h: Array, act: str, rec: str, reset_after: bool) -> Array:
    """One GRU step: z (update) and r (reset) use `rec`, the candidate h~ uses `act`; h' = z*h + (1-z)*h~.

    reset_after=True (Keras 2.3+ default): h~ = act(x Wh + bh + r * (h Uh + recurrent bias h)),
    and z, r also add a recurrent bias.  reset_after=False: h~ = act(x Wh + bh + (r * h) Uh).
    """

    def hu(g: str) -> Array:
        return h @ p[f"recurrent_kernel/{g}"] + (p[f"recurrent_bias/{g}"] if reset_after else F32(0.0))

    xw = {g: x @ p[f"kernel/{g}"] + p[f"bias/{g}"] for g in "zrh"}
    z = activation(rec, xw["z"] + hu("z"))
    r = activation(rec, xw["r"] + hu("r"))
    if reset_after:
        cand = activation(act, xw["h"] + r * hu("h"))
    else:
        cand = activation(act, xw["h"] + (r * h) @ p["recurrent_kernel/h"])
    return z * h + (F32(1.0) - z) * cand


def rnn(
    x: Array,
    mask: Array | None,
    p: dict[str, Array],
    kind: str,
    units: int,
    act: str = "tanh",
    rec: str = "sigmoid",
    go_backwards: bool = False,
    return_sequences: bool = False,
    return_state: bool = False,
    zero_output_for_mask: bool = False,
    reset_after: bool = False,
) -> Any:
    """Run an LSTM, GRU or SimpleRNN layer over x (batch, time, features), starting from zero states.

    go_backwards reads the steps last to first, and the returned sequence stays in that processing
    order (as Keras returns it).  Returns the output ((batch, time, units) with return_sequences,
    else the last output (batch, units)), followed by the final states [h] or [h, c] when
    return_state.
    """
    batch, steps, _ = x.shape
    h = np.zeros((batch, units), F32)
    c = np.zeros((batch, units), F32)
    prev = np.zeros((batch, units), F32)
    outputs = []
    for t in range(steps - 1, -1, -1) if go_backwards else range(steps):
        if kind == "LSTM":
            h_new, c_new = lstm_cell(p, x[:, t], h, c, act, rec)
        elif kind == "GRU":
            h_new, c_new = gru_cell(p, x[:, t], h, act, rec, reset_after), c
        else:  # SimpleRNN: h' = act(x W + b + h U)
            h_new = activation(act, x[:, t] @ p["kernel/h"] + p["bias/h"] + h @ p["recurrent_kernel/h"])
            c_new = c
        if mask is None:
            out, h, c = h_new, h_new, c_new
        else:
            m = mask[:, t, None]
            out = np.where(m, h_new, F32(0.0) if zero_output_for_mask else prev)
            h, c = np.where(m, h_new, h), np.where(m, c_new, c)
        outputs.append(out.astype(F32))
        prev = outputs[-1]
    y = np.stack(outputs, axis=1) if return_sequences else outputs[-1]
    if not return_state:
        return y
    return [y, h, c] if kind == "LSTM" else [y, h]


def bidirectional(
    x: Array,
    mask: Array | None,
    merge_mode: str | None,
    forward: dict[str, Any],
    backward: dict[str, Any],
) -> list[Array]:
    """Keras Bidirectional: the forward layer, plus the backward one run last to first (its sequence
    is flipped back into time order), merged by merge_mode ('concat', 'sum', 'ave', 'mul' or None
    for both outputs).  Returns [merged] or [a, b], followed by the states when return_state."""
    fwd = rnn(x, mask, **forward)
    bwd = rnn(x, mask, **backward)
    fwd, bwd = (fwd, bwd) if forward.get("return_state") else ([fwd], [bwd])
    a, b = fwd[0], bwd[0]
    if forward.get("return_sequences"):
        b = b[:, ::-1]
    if merge_mode == "concat":
        merged = [np.concatenate([a, b], axis=-1)]
    elif merge_mode == "sum":
        merged = [a + b]
    elif merge_mode == "ave":
        merged = [(a + b) / F32(2.0)]
    elif merge_mode == "mul":
        merged = [a * b]
    else:
        merged = [a, b]
    return [np.asarray(m, dtype=F32) for m in merged] + fwd[1:] + bwd[1:]


# ------------------------------------------------------------------------------------- command line


def load_weights() -> Any:
    """weights.npz from the folder this program lives in (never unpickled)."""
    return np.load(Path(__file__).resolve().with_name("weights.npz"), allow_pickle=False)


def forward(weights: Any, inputs: list[Array]) -> list[Array]:
    """Replaced by the exporter with this model's layers."""
    raise NotImplementedError


def main(argv: list[str]) -> int:
    """python model.py X.npy [X2.npy ...] Y.npy: the model's output(s) for the input array(s)."""
    if len(argv) < 3:
        print(f"usage: python {Path(argv[0]).name} X.npy [more inputs ...] Y.npy", file=sys.stderr)
        return 2
    inputs = [np.load(path, allow_pickle=False) for path in argv[1:-1]]
    with np.errstate(all="ignore"), load_weights() as weights:
        outputs = forward(weights, inputs)
    out = Path(argv[-1])
    if len(outputs) == 1:
        np.save(out, outputs[0])
    else:  # several model outputs: Y_0.npy, Y_1.npy, ...
        for k, y in enumerate(outputs):
            np.save(out.with_name(f"{out.stem}_{k}.npy"), y)
    return 0
