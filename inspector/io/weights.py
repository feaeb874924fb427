"""Per-layer weight layouts: which arrays a layer owns, and conversion to the Keras 2/3 layout.

Everything that knows about Keras-1 per-gate arrays, cuDNN blocks, Theano kernel flips and role
names lives here (docs/formats.md, "Weight layouts").  Input: the file's arrays for one leaf
layer (a layer that owns weights directly, i.e. not a wrapper or nested model) in file order.
Output: `Weight` objects named by role, float32, gate-sliced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.core.layers import INFERENCE_IDENTITY
from inspector.core.network import GATES_BY_KIND, RECURRENT_KINDS, GateSlice, Weight, gate_slices
from inspector.io._safe import RawArray, ReadError

N_GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}

CONV_KINDS = frozenset(
    {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv1DTranspose", "Conv3DTranspose"}
)

#: built-in layers that own no weights
WEIGHTLESS = frozenset(INFERENCE_IDENTITY) | frozenset(
    {
        "Activation",
        "Masking",
        "Flatten",
        "Reshape",
        "RepeatVector",
        "Permute",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "GlobalMaxPooling1D",
        "GlobalAveragePooling1D",
        "GlobalMaxPooling2D",
        "GlobalAveragePooling2D",
        "Concatenate",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Dot",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "ThresholdedReLU",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "Cropping1D",
        "Cropping2D",
        "UpSampling1D",
        "UpSampling2D",
        "Lambda",
        "TFOpLambda",
        "SlicingOpLambda",
        "UnitNormalization",
    }
)


@dataclass(frozen=True)
class Ctx:
    """What the conversion needs to know about the file.

    layout_version : the *weights group's* keras_version ('1' when absent: Keras-1 layout).
    backend : the file's backend attribute ('theano' triggers the conv kernel flip), or None.
    tf_keras : writer is tf.keras / Keras 3 (a frozen nested model freezes its sub-layers).
    """

    layout_version: str = "2"
    backend: str | None = None
    tf_keras: bool = True

    @property
    def keras1(self) -> bool:
        return self.layout_version.strip().startswith("1")


def _units_of(cfg: Mapping[str, Any]) -> int | None:
    u = cfg.get("units")
    return int(u) if isinstance(u, (int, float)) and not isinstance(u, bool) else None


def leaf_roles(
    kind: str, cfg: Mapping[str, Any], raw_cfg: Mapping[str, Any], ctx: Ctx
) -> list[tuple[str, bool]] | None:
    """The arrays a leaf layer stores, in file order, as (role, trainable).

    Counts are what the *file* holds: a Keras-1 LSTM with consume_less cpu/mem stores 12 arrays.
    Returns None when the class is unknown (the count cannot be predicted).
    """
    use_bias = bool(cfg.get("use_bias", True))
    if kind in WEIGHTLESS:
        roles: list[tuple[str, bool]] = []
    elif kind == "Dense":
        roles = [("kernel", True)] + ([("bias", True)] if use_bias else [])
    elif kind == "PReLU":
        roles = [("alpha", True)]
    elif kind == "Embedding":
        roles = [("embeddings", True)]
    elif kind in RECURRENT_KINDS:
        consume = raw_cfg.get("consume_less")
        if ctx.keras1 and consume is not None and consume != "gpu" and kind in ("LSTM", "GRU"):
            keys = [k for k, _, _ in GATES_BY_KIND[kind]]
            order = ["i", "c", "f", "o"] if kind == "LSTM" else keys
            roles = [(f"{m}_{g}", True) for g in order for m in ("W", "U", "b")]
        else:
            roles = [("kernel", True), ("recurrent_kernel", True)] + ([("bias", True)] if use_bias else [])
    elif kind in CONV_KINDS:
        roles = [("kernel", True)] + ([("bias", True)] if use_bias else [])
    elif kind == "BatchNormalization":
        if "mode" in raw_cfg or ctx.keras1:
            roles = [("gamma", True), ("beta", True), ("moving_mean", False), ("moving_variance", False)]
        else:
            roles = ([("gamma", True)] if cfg.get("scale", True) else []) + (
                [("beta", True)] if cfg.get("center", True) else []
            )
            roles += [("moving_mean", False), ("moving_variance", False)]
    elif kind == "LayerNormalization":
        rms = bool(cfg.get("rms_scaling", False))
        roles = ([("gamma", True)] if cfg.get("scale", True) or rms else []) + (
            [("beta", True)] if cfg.get("center", True) and not rms else []
        )
    else:
        return None
    if cfg.get("trainable", True) is False:
        roles = [(r, False) for r, _ in roles]
    return roles


def role_from_name(name: str, layer_name: str) -> str:
    """'lstm_1/lstm_1/lstm_cell/kernel:0' -> 'kernel'; Keras-1 'lstm_1_W_i' -> 'W_i'."""
    last = name.rsplit("/", 1)[-1].split(":", 1)[0]
    for prefix in (f"{layer_name}_", f"forward_{layer_name}_", f"backward_{layer_name}_"):
        if layer_name and last.startswith(prefix) and len(last) > len(prefix):
            return last[len(prefix) :]
    return last


def _w(name: str, value: np.ndarray, raws: Sequence[RawArray], gates: tuple[GateSlice, ...] = ()) -> Weight:
    stored = {r.stored_dtype for r in raws}
    return Weight(
        name=name,
        value=np.ascontiguousarray(value, dtype=np.float32),
        source=" + ".join(r.source for r in raws),
        gates=gates,
        stored_dtype=stored.pop() if len(stored) == 1 else "/".join(sorted(stored)),
    )


def _cudnn_kernel_block(k: np.ndarray) -> np.ndarray:
    # cuDNN reads each flat gate block as a row-major (units, input_dim) matrix
    # (docs/formats.md, "CuDNN conversion")
    d, u = k.shape
    return np.reshape(k.ravel(), (u, d)).T


def convert_recurrent(
    kind: str, raws: Sequence[RawArray], layer_name: str, units: int | None = None
) -> tuple[list[Weight], list[str], dict[str, Any]]:
    """Arrays of one LSTM/GRU/SimpleRNN -> Keras 2/3 weights.

    Handles Keras-1 12-array LSTM (i, c, f, o on disk) and 9-array GRU, cuDNN layouts (bias 8u / 6u).
    Returns (weights, problems, config updates implied by the layout, e.g. reset_after for CuDNNGRU).
    """
    n = N_GATES[kind]
    problems: list[str] = []
    updates: dict[str, Any] = {}
    vals = [r.value for r in raws]
    if kind in ("LSTM", "GRU") and len(raws) == 3 * n:  # Keras 1 per-gate arrays
        per = {}
        for r in raws:
            role = role_from_name(r.name, layer_name)
            per[role] = r
        order = [k for k, _, _ in GATES_BY_KIND[kind]]  # i f c o / z r h
        file_order = ["i", "c", "f", "o"] if kind == "LSTM" else order
        if all(f"{m}_{g}" in per for m in "WUb" for g in order):
            pick = {m: [per[f"{m}_{g}"] for g in order] for m in "WUb"}
        else:  # names unusual: trust the Keras-1 positional order W,U,b per gate
            by_gate = {g: raws[3 * k : 3 * k + 3] for k, g in enumerate(file_order)}
            pick = {m: [by_gate[g][j] for g in order] for j, m in enumerate("WUb")}
        kernel = np.concatenate([r.value for r in pick["W"]], axis=-1)
        rec = np.concatenate([r.value for r in pick["U"]], axis=-1)
        bias_k1 = np.concatenate([r.value for r in pick["b"]], axis=-1)
        u = rec.shape[0]
        g = gate_slices(kind, u)
        return (
            [
                _w("kernel", kernel, pick["W"], g),
                _w("recurrent_kernel", rec, pick["U"], g),
                _w("bias", bias_k1, pick["b"], g),
            ],
            problems,
            updates,
        )
    if len(raws) not in (2, 3) or any(v.ndim != 2 for v in vals[:2]):
        raise ReadError(
            f"{kind} layer '{layer_name}': expected kernel, recurrent_kernel[, bias], "
            f"got shapes {[tuple(v.shape) for v in vals]}"
        )
    kernel, rec = vals[0], vals[1]
    u = rec.shape[0]
    if units is not None and units != u:
        raise ReadError(
            f"{kind} layer '{layer_name}': config says {units} units but recurrent_kernel is {rec.shape}"
        )
    if rec.shape != (u, n * u) or kernel.shape[-1] != n * u:
        raise ReadError(
            f"{kind} layer '{layer_name}': shapes kernel {tuple(kernel.shape)}, recurrent_kernel "
            f"{tuple(rec.shape)} do not fit {n} gates of {u} units"
        )
    bias = vals[2] if len(vals) == 3 else None
    if bias is not None and kind in ("LSTM", "GRU") and bias.shape == (2 * n * u,):
        # cuDNN layout: per-gate reshape+transpose, fold/reshape the double bias
        # (docs/formats.md, "CuDNN conversion")
        kernel = np.concatenate([_cudnn_kernel_block(b) for b in np.hsplit(kernel, n)], axis=-1)
        rec = np.concatenate([b.T for b in np.hsplit(rec, n)], axis=-1)
        if kind == "LSTM":
            bias = bias[: n * u] + bias[n * u :]
            updates = {"recurrent_activation": "sigmoid", "activation": "tanh"}
        else:
            bias = bias.reshape(2, n * u)
            updates = {"reset_after": True, "recurrent_activation": "sigmoid", "activation": "tanh"}
        problems.append(f"{kind} layer '{layer_name}': weights converted from the cuDNN layout")
    if bias is not None:
        ok = bias.shape == (n * u,) or (kind == "GRU" and bias.shape == (2, n * u))
        if not ok:
            raise ReadError(
                f"{kind} layer '{layer_name}': bias shape {tuple(bias.shape)} does not fit {u} units"
            )
        if kind == "GRU":
            updates.setdefault("reset_after", bias.ndim == 2)
    g = gate_slices(kind, u)
    out = [_w("kernel", kernel, raws[:1], g), _w("recurrent_kernel", rec, raws[1:2], g)]
    if bias is not None:
        out.append(_w("bias", bias, raws[2:3], g))
    return out, problems, updates


def _flip_conv(k: np.ndarray) -> np.ndarray:
    # Theano computes true convolution: reverse every axis except the last two (convert_kernel)
    slices = tuple(slice(None, None, -1) for _ in range(k.ndim - 2)) + (slice(None), slice(None))
    return np.ascontiguousarray(k[slices])


def convert_leaf(
    kind: str,
    cfg: Mapping[str, Any],
    raw_cfg: Mapping[str, Any],
    layer_name: str,
    raws: Sequence[RawArray],
    ctx: Ctx,
) -> tuple[list[Weight], list[str], dict[str, Any]]:
    """Convert one leaf layer's file arrays into named Keras 2/3 weights.

    Returns (weights, problems, config updates).  Raises ReadError for impossible shapes.
    """
    problems: list[str] = []
    if not raws:
        return [], problems, {}
    if kind in RECURRENT_KINDS:
        return convert_recurrent(kind, raws, layer_name, _units_of(cfg))
    if kind in CONV_KINDS:
        k = raws[0].value
        if kind == "Conv1D" and k.ndim == 4:  # Keras 1: (k, 1, in, f) or legacy (f, in, k, 1)
            filters = cfg.get("filters")
            if k.shape[1] != 1 or (filters is not None and k.shape[3] != filters):
                k = np.transpose(k, (2, 3, 1, 0))
            k = k[:, 0, :, :]
        elif kind == "Conv2D" and ctx.keras1 and cfg.get("data_format") == "channels_first" and k.ndim == 4:
            k = np.transpose(k, (2, 3, 1, 0))
        if (ctx.backend or "").lower() == "theano":
            k = _flip_conv(k)
            problems.append(f"{kind} layer '{layer_name}': Theano kernel flipped to cross-correlation")
        out = [_w("kernel", k, raws[:1])] + [_w("bias", r.value, [r]) for r in raws[1:2]]
        _check_units(kind, layer_name, cfg.get("filters"), out[0].value.shape[-1], out)
        return out, problems, {}
    roles = leaf_roles(kind, cfg, raw_cfg, ctx)
    if roles is not None and len(roles) == len(raws):
        names = [r for r, _ in roles]
        if kind == "BatchNormalization" and ("mode" in raw_cfg or ctx.keras1):
            names = ["gamma", "beta", "moving_mean", "moving_variance"]  # running_std holds the variance
    else:
        if roles is not None:
            problems.append(
                f"{kind} layer '{layer_name}': expected {len(roles)} arrays, file has {len(raws)}"
            )
        names = [role_from_name(r.name, layer_name) for r in raws]
        names = ["kernel" if n == "W" else "bias" if n == "b" else n for n in names]
    out = [_w(n, r.value, [r]) for n, r in zip(names, raws)]
    if kind == "Dense" and out:
        _check_units(kind, layer_name, cfg.get("units"), out[0].value.shape[-1], out)
    if kind == "Embedding" and out:
        e = out[0].value
        want = (cfg.get("input_dim"), cfg.get("output_dim"))
        if e.ndim != 2 or any(w is not None and w != s for w, s in zip(want, e.shape)):
            raise ReadError(
                f"Embedding layer '{layer_name}': config says {want}, embeddings are {tuple(e.shape)}"
            )
    return out, problems, {}


def _check_units(kind: str, layer_name: str, want: Any, got: int, out: list[Weight]) -> None:
    if isinstance(want, int) and want != got:
        raise ReadError(f"{kind} layer '{layer_name}': config says {want} units but kernel is {out[0].shape}")
    if len(out) > 1 and out[1].value.shape != (got,):
        raise ReadError(
            f"{kind} layer '{layer_name}': bias {out[1].shape} does not fit kernel {out[0].shape}"
        )


# ----------------------------------------------------------------------------------------------
# weights-only files: guess the class from the arrays


def infer_kind(layer_name: str, raws: Sequence[RawArray], keras1: bool = True) -> tuple[str, dict[str, Any]]:
    """Best guess of a layer's class from its arrays alone (weights-only files).

    keras1 : the file may use Keras-1 names ('W', 'b'); otherwise only Keras 2/3 role names (or the
        bare indices of a Keras 3 file) are trusted, so a custom layer's 'attention_W' stays unknown.
    Returns (kind, config) where kind is '?' when it cannot be told.
    """
    roles = [role_from_name(r.name, layer_name) for r in raws]
    if roles and all(r.isdigit() for r in roles):  # Keras 3 vars/0, vars/1 ...: shapes only
        roles = (
            ["kernel", "recurrent_kernel", "bias"][: len(roles)]
            if len(roles) == 3
            else (["kernel", "bias"][: len(roles)] if len(roles) == 2 else ["?"] * len(roles))
        )
    kernel_names = ("kernel", "W") if keras1 else ("kernel",)
    shapes = [tuple(r.value.shape) for r in raws]
    lname = layer_name.lower()
    joined = " ".join(r.name.lower() for r in raws)
    if len(raws) == 12 and {"W_i", "U_f", "b_o"} <= set(roles):
        return "LSTM", {"units": int(raws[1].value.shape[0])}
    if len(raws) == 9 and {"W_z", "U_r", "b_h"} <= set(roles):
        return "GRU", {"units": int(raws[1].value.shape[0])}
    if len(raws) in (2, 3) and len(shapes[1]) == 2 and len(shapes[0]) == 2 and shapes[1][0] > 0:
        u = shapes[1][0]
        n, rem = divmod(shapes[1][1], u)
        rec_named = roles[1] in ("recurrent_kernel", "U")
        if rem == 0 and n in (1, 3, 4) and shapes[0][1] == shapes[1][1] and (rec_named or len(raws) == 3):
            kind = {4: "LSTM", 3: "GRU", 1: "SimpleRNN"}[n]
            if n == 1 and not (rec_named or "simple_rnn" in joined or "simplernn" in lname):
                kind = "?"
            if kind != "?":
                return kind, {"units": int(u)}
    if roles and roles[0] == "embeddings":
        return "Embedding", {"input_dim": int(shapes[0][0]), "output_dim": int(shapes[0][-1])}
    if set(roles) >= {"moving_mean", "moving_variance"} or set(roles) >= {"running_mean", "running_std"}:
        return "BatchNormalization", {}
    if roles and roles[0] in kernel_names and 1 <= len(raws) <= 2:
        k = shapes[0]
        bias_ok = len(raws) == 1 or shapes[1] == (k[-1],)
        if bias_ok and len(k) == 2:
            if lname.startswith(("time_distributed", "timedistributed")):
                return "TimeDistributed", {}
            return "Dense", {"units": int(k[-1]), "use_bias": len(raws) == 2}
        if bias_ok and len(k) == 3:
            return "Conv1D", {"filters": int(k[-1]), "use_bias": len(raws) == 2}
        if bias_ok and len(k) == 4 and "conv" in lname:
            return "Conv2D", {"filters": int(k[-1]), "use_bias": len(raws) == 2}
    return "?", {}
