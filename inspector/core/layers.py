"""Core: the non-recurrent Keras layers in numpy: Dense, Embedding, Masking, Conv, pooling, merges ...

Every layer function has the signature ``f(layer, xs, masks, semantics) -> (outputs, out_masks)``:
lists of arrays (one per input / output tensor) and the matching Keras masks (bool, the input's shape
without its last axis, or None).  Mask rules follow KERAS_FORMATS.md §8.6: layers that support
masking pass the mask through, the others drop it.  Maths: §8.7.  Wrappers (TimeDistributed,
Bidirectional), recurrent layers and nested models are run by `inspector.core.engine`.

Layers compute in float32, as Keras does (weights are used as stored, never copied to float64).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inspector.core import activations
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import Array, Layer, Semantics

Mask = Array | None
LayerFn = Callable[[Layer, list[Array], list[Mask], Semantics], tuple[list[Array], list[Mask]]]

_REGISTRY: dict[str, LayerFn] = {}


def _register(*kinds: str) -> Callable[[LayerFn], LayerFn]:
    def deco(fn: LayerFn) -> LayerFn:
        for k in kinds:
            _REGISTRY[k] = fn
        return fn

    return deco


def supported_kinds() -> frozenset[str]:
    return frozenset(_REGISTRY)


def apply(
    layer: Layer, xs: list[Array], masks: list[Mask], semantics: Semantics
) -> tuple[list[Array], list[Mask]]:
    """Run one non-recurrent, non-wrapper layer.

    Parameters
    ----------
    layer : a canonical Layer of a kind in `supported_kinds()`.
    xs : its input tensors (one, or several for merge layers), batch axis first.
    masks : the Keras mask of each input (bool array or None).
    semantics : version-dependent behaviour (hard_sigmoid).

    Returns
    -------
    (outputs, masks) : float32 arrays (Embedding / shape ops keep the numeric values as given).

    Raises
    ------
    UnsupportedLayerError : unknown kind or unsupported config.
    InputShapeError : the input does not fit the layer.
    """
    fn = _REGISTRY.get(layer.kind)
    if fn is None:
        raise UnsupportedLayerError(f"layer {layer.name!r}: {layer.kind} is not supported by the engine")
    return fn(layer, xs, masks, semantics)


# --------------------------------------------------------------------------------------------- helpers


def _w(layer: Layer, role: str, position: int | None = None, *, required: bool = True) -> Array | None:
    for w in layer.weights:
        if w.name == role:
            return np.asarray(w.value, dtype=np.float32)
    if position is not None and position < len(layer.weights):
        return np.asarray(layer.weights[position].value, dtype=np.float32)
    if required:
        raise UnsupportedLayerError(f"layer {layer.name!r} ({layer.kind}) has no {role!r} weight")
    return None


def _f32(x: Array) -> Array:
    return np.asarray(x, dtype=np.float32)


def _one(layer: Layer, xs: list[Array]) -> Array:
    if len(xs) != 1:
        raise InputShapeError(f"layer {layer.name!r} ({layer.kind}) takes one input, got {len(xs)}")
    return np.asarray(xs[0])


def _as_tuple(v: Any, n: int) -> tuple[int, ...]:
    if isinstance(v, int | float):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    return t * n if len(t) == 1 and n > 1 else t


def _channels_last(layer: Layer) -> bool:
    fmt = layer.config.get("data_format") or "channels_last"
    return fmt == "channels_last"


def _norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    axes = [axis] if isinstance(axis, int) else list(axis)
    return tuple(sorted(a % ndim for a in axes))


# --------------------------------------------------------------------------------------------- core


#: layers that do nothing at inference time (and own no weights)
INFERENCE_IDENTITY = (
    "InputLayer",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
)


@_register(*INFERENCE_IDENTITY)
def identity(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """Layers that do nothing at inference time; the mask passes through."""
    return [_one(layer, xs)], [masks[0] if masks else None]


@_register("Dense")
def dense(layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics) -> tuple[list[Array], list[Mask]]:
    """a(x @ kernel + bias) on the last axis (any rank)."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    kernel = _w(layer, "kernel", 0)
    if x.shape[-1] != kernel.shape[0]:
        raise InputShapeError(
            f"layer {layer.name!r} (Dense) expects {kernel.shape[0]} input features, got {x.shape[-1]}"
        )
    y = x @ kernel
    if layer.config.get("use_bias", True):
        bias = _w(layer, "bias", 1, required=False)
        if bias is not None:
            y = y + bias
    y = activations.get(layer.config.get("activation"), sem, where=layer.name)(y)
    return [_f32(y)], [masks[0] if masks else None]


@_register("Activation")
def activation(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    y = activations.get(layer.config.get("activation"), sem, where=layer.name)(x)
    return [_f32(y)], [masks[0] if masks else None]


@_register("ReLU")
def relu_layer(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    slope = float(cfg.get("negative_slope") or 0.0)
    thr = float(cfg.get("threshold") or 0.0)
    y = np.where(x >= thr, x, slope * (x - thr))
    if cfg.get("max_value") is not None:
        y = np.minimum(y, float(cfg["max_value"]))
    return [_f32(y)], [masks[0] if masks else None]


@_register("LeakyReLU")
def leaky_relu_layer(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
    return [_f32(np.where(x >= 0, x, float(slope) * x))], [masks[0] if masks else None]


@_register("ELU")
def elu_layer(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    return [_f32(activations.elu(x, float(layer.config.get("alpha", 1.0))))], [masks[0] if masks else None]


@_register("ThresholdedReLU")
def thresholded_relu(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    theta = float(layer.config.get("theta", 1.0))
    return [_f32(np.where(x > theta, x, 0.0))], [masks[0] if masks else None]


@_register("PReLU")
def prelu(layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    alpha = _w(layer, "alpha", 0)
    return [_f32(np.where(x >= 0, x, alpha * x))], [masks[0] if masks else None]


@_register("Softmax")
def softmax_layer(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    axis = layer.config.get("axis", -1)
    axes = _norm_axes(axis, x.ndim)
    e = np.exp(x - np.max(x, axis=axes, keepdims=True))
    return [_f32(e / np.sum(e, axis=axes, keepdims=True))], [masks[0] if masks else None]


@_register("Embedding")
def embedding(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """embeddings[ids]; mask_zero=True gives the mask ids != 0."""
    raw = _one(layer, xs)
    table = None
    for w in layer.weights:
        if w.name == "embeddings":
            table = w.value
    if table is None:
        if not layer.weights:
            raise UnsupportedLayerError(f"layer {layer.name!r} (Embedding) has no embeddings weight")
        table = layer.weights[0].value
    # Keras casts the ids to int32 (truncation toward zero) before the lookup.
    ids = raw.astype(np.int64) if raw.dtype.kind != "i" else raw
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        bad = int(ids.max()) if ids.max() >= table.shape[0] else int(ids.min())
        raise InputShapeError(
            f"layer {layer.name!r} (Embedding): token id {bad} is outside 0..{table.shape[0] - 1}"
        )
    out = np.asarray(table, dtype=np.float32)[ids]
    mask = np.not_equal(raw, 0) if layer.config.get("mask_zero", False) else None
    return [out], [mask]


@_register("Masking")
def masking(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """mask = any(x != mask_value, -1); out = x where the mask holds, else 0."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    mv = float(layer.config.get("mask_value", 0.0))
    m = np.any(x != mv, axis=-1)
    return [np.where(m[..., None], x, np.float32(0.0)).astype(np.float32)], [m]


@_register("BatchNormalization")
def batch_norm(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """Inference: (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta on the `axis` channels."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    if int(cfg.get("mode", 0) or 0) == 2:
        raise UnsupportedLayerError(
            f"layer {layer.name!r}: Keras 1 BatchNormalization mode=2 (batch statistics)"
        )
    axes = _norm_axes(cfg.get("axis", -1), x.ndim)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    eps = float(cfg.get("epsilon", 1e-3))
    mean = _w(layer, "moving_mean").reshape(shape)
    var = _w(layer, "moving_variance").reshape(shape)
    y = (x - mean) / np.sqrt(var + eps)
    gamma = _w(layer, "gamma", required=False) if cfg.get("scale", True) else None
    beta = _w(layer, "beta", required=False) if cfg.get("center", True) else None
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return [_f32(y)], [masks[0] if masks else None]


@_register("LayerNormalization")
def layer_norm(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """(x - mean) / sqrt(var + eps) * gamma + beta over `axis` (population variance).

    Keras 3 rms_scaling=True: x / sqrt(var + eps) * gamma (variance, not mean of squares).
    """
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    axes = _norm_axes(cfg.get("axis", -1), x.ndim)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    eps = float(cfg.get("epsilon", 1e-3))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    gamma = _w(layer, "gamma", required=False) if cfg.get("scale", True) else None
    beta = _w(layer, "beta", required=False) if cfg.get("center", True) else None
    if cfg.get("rms_scaling", False):
        y = x / np.sqrt(var + eps)
        if gamma is not None:
            y = y * gamma.reshape(shape)
    else:
        y = (x - mean) / np.sqrt(var + eps)
        if gamma is not None:
            y = y * gamma.reshape(shape)
        if beta is not None:
            y = y + beta.reshape(shape)
    return [_f32(y)], [masks[0] if masks else None]


# --------------------------------------------------------------------------------------------- conv


def _same_pads(length: int, k: int, stride: int, dil: int) -> tuple[int, int]:
    eff = (k - 1) * dil + 1
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + eff - length, 0)
    return total // 2, total - total // 2


def _pad_spatial(x: Array, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Array:
    return np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=value)


def _windows(x: Array, kernel: Sequence[int], strides: Sequence[int], dil: Sequence[int]) -> Array:
    """(B, *spatial, C) -> (B, *out_spatial, *kernel, C) windows (views)."""
    nd = len(kernel)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    win = np.lib.stride_tricks.sliding_window_view(x, eff, axis=tuple(range(1, 1 + nd)))
    # sliding_window_view appends the window axes after C: (B, *out, C, *eff)
    sl = (
        [slice(None)]
        + [slice(None, None, s) for s in strides]
        + [slice(None)]
        + [slice(None, None, d) for d in dil]
    )
    win = win[tuple(sl)]
    return np.moveaxis(win, 1 + nd, -1)


def _spatial_pads(
    layer: Layer, shape: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dil: Sequence[int]
) -> list[tuple[int, int]]:
    padding = str(layer.config.get("padding", "valid")).lower()
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if padding == "same":
        return [_same_pads(n, k, s, d) for n, k, s, d in zip(shape, kernel, strides, dil)]
    if padding == "causal" and len(kernel) == 1:
        return [((kernel[0] - 1) * dil[0], 0)]
    raise UnsupportedLayerError(f"layer {layer.name!r}: padding {padding!r} is not supported")


def _conv(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, nd: int
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    if x.ndim != nd + 2:
        raise InputShapeError(f"layer {layer.name!r} ({layer.kind}) expects {nd + 2}-D input, got {x.shape}")
    channels_last = _channels_last(layer)
    if not channels_last:
        x = np.moveaxis(x, 1, -1)
    kernel = _w(layer, "kernel", 0)  # (*k, C/groups, F)
    ksize = tuple(kernel.shape[:nd])
    strides = _as_tuple(cfg.get("strides", 1), nd)
    dil = _as_tuple(cfg.get("dilation_rate", 1), nd)
    groups = int(cfg.get("groups", 1) or 1)
    cin = x.shape[-1]
    if kernel.shape[nd] * groups != cin:
        raise InputShapeError(
            f"layer {layer.name!r} ({layer.kind}) expects {kernel.shape[nd] * groups} channels, got {cin}"
        )
    x = _pad_spatial(x, _spatial_pads(layer, x.shape[1:-1], ksize, strides, dil))
    win = _windows(x, ksize, strides, dil)  # (B, *out, *k, C)
    F = kernel.shape[-1]
    if groups == 1:
        y = np.tensordot(win, kernel, axes=(list(range(-nd - 1, 0)), list(range(nd + 1))))
    else:
        cg, fg = cin // groups, F // groups
        parts = []
        for g in range(groups):
            wg = win[..., g * cg : (g + 1) * cg]
            kg = kernel[..., g * fg : (g + 1) * fg]
            parts.append(np.tensordot(wg, kg, axes=(list(range(-nd - 1, 0)), list(range(nd + 1)))))
        y = np.concatenate(parts, axis=-1)
    if cfg.get("use_bias", True):
        bias = _w(layer, "bias", 1, required=False)
        if bias is not None:
            y = y + bias
    y = activations.get(cfg.get("activation"), sem, where=layer.name)(y)
    if not channels_last:
        y = np.moveaxis(y, -1, 1)
    return [_f32(y)], [None]


@_register("Conv1D")
def conv1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """Cross-correlation, channels_last; padding valid / same (TF split) / causal.  Drops the mask."""
    return _conv(layer, xs, masks, sem, 1)


@_register("Conv2D")
def conv2d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _conv(layer, xs, masks, sem, 2)


@_register("Conv3D")
def conv3d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _conv(layer, xs, masks, sem, 3)


def _pool(layer: Layer, xs: list[Array], nd: int, op: str) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    if x.ndim != nd + 2:
        raise InputShapeError(f"layer {layer.name!r} ({layer.kind}) expects {nd + 2}-D input, got {x.shape}")
    channels_last = _channels_last(layer)
    if not channels_last:
        x = np.moveaxis(x, 1, -1)
    pool = _as_tuple(cfg.get("pool_size", 2), nd)
    strides = _as_tuple(cfg.get("strides") or pool, nd)
    ones = (1,) * nd
    pads = _spatial_pads(layer, x.shape[1:-1], pool, strides, ones)
    # Padded cells never win a max and are not counted in an average (TF semantics).
    xp = _pad_spatial(x, pads, -np.inf if op == "max" else 0.0)
    win = _windows(xp, pool, strides, ones)
    axes = tuple(range(-nd - 1, -1))
    if op == "max":
        y = win.max(axis=axes)
    else:
        valid = _pad_spatial(np.ones((1, *x.shape[1:-1], 1)), pads, 0.0)
        counts = _windows(valid, pool, strides, ones).sum(axis=axes)
        y = win.sum(axis=axes) / counts
    if not channels_last:
        y = np.moveaxis(y, -1, 1)
    return [_f32(y)], [None]


@_register("MaxPooling1D")
def max_pool1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _pool(layer, xs, 1, "max")


@_register("AveragePooling1D")
def avg_pool1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _pool(layer, xs, 1, "avg")


@_register("MaxPooling2D")
def max_pool2d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _pool(layer, xs, 2, "max")


@_register("AveragePooling2D")
def avg_pool2d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _pool(layer, xs, 2, "avg")


@_register("MaxPooling3D")
def max_pool3d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _pool(layer, xs, 3, "max")


@_register("AveragePooling3D")
def avg_pool3d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _pool(layer, xs, 3, "avg")


def _global_pool(
    layer: Layer, xs: list[Array], masks: list[Mask], op: str, nd: int
) -> tuple[list[Array], list[Mask]]:
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    if x.ndim != nd + 2:
        raise InputShapeError(f"layer {layer.name!r} ({layer.kind}) expects {nd + 2}-D input, got {x.shape}")
    axes = tuple(range(1, 1 + nd)) if _channels_last(layer) else tuple(range(2, 2 + nd))
    keep = bool(layer.config.get("keepdims", False))
    mask = masks[0] if masks else None
    if op == "avg" and mask is not None and nd == 1:
        # tf.keras / Keras 3 GlobalAveragePooling1D average over the unmasked steps only.
        m = np.asarray(mask, dtype=np.float32)
        m = m[:, :, None] if _channels_last(layer) else m[:, None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.sum(x * m, axis=axes, keepdims=keep) / np.sum(m, axis=axes, keepdims=keep)
    elif op == "avg":
        y = x.mean(axis=axes, keepdims=keep)
    else:
        y = x.max(axis=axes, keepdims=keep)
    return [_f32(y)], [None]


@_register("GlobalAveragePooling1D")
def global_avg1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _global_pool(layer, xs, masks, "avg", 1)


@_register("GlobalMaxPooling1D")
def global_max1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _global_pool(layer, xs, masks, "max", 1)


@_register("GlobalAveragePooling2D")
def global_avg2d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _global_pool(layer, xs, masks, "avg", 2)


@_register("GlobalMaxPooling2D")
def global_max2d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _global_pool(layer, xs, masks, "max", 2)


@_register("GlobalAveragePooling3D")
def global_avg3d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _global_pool(layer, xs, masks, "avg", 3)


@_register("GlobalMaxPooling3D")
def global_max3d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _global_pool(layer, xs, masks, "max", 3)


@_register("Rescaling")
def rescaling(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """x * scale + offset (scalars or per-channel lists)."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    scale = np.asarray(layer.config.get("scale", 1.0), dtype=np.float32)
    offset = np.asarray(layer.config.get("offset", 0.0), dtype=np.float32)
    return [_f32(x * scale + offset)], [masks[0] if masks else None]


@_register("Normalization")
def normalization(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """(x - mean) / max(sqrt(variance), 1e-7); invert=True maps back."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    cfg = layer.config
    # adapted statistics are weights; statistics given to the constructor stay in the config
    mean = _w(layer, "mean", required=False)
    var = _w(layer, "variance", required=False)
    mean = cfg.get("mean") if mean is None else mean
    var = cfg.get("variance") if var is None else var
    if mean is None or var is None:
        raise UnsupportedLayerError(f"layer {layer.name!r} (Normalization) has no mean/variance")
    axis = cfg.get("axis", -1)
    axes = _norm_axes(() if axis is None else axis, x.ndim)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    mean = np.asarray(mean, dtype=np.float32).reshape(shape)
    std = np.maximum(np.sqrt(np.asarray(var, dtype=np.float32).reshape(shape)), np.float32(1e-7))
    y = mean + x * std if cfg.get("invert", False) else (x - mean) / std
    return [_f32(y)], [masks[0] if masks else None]


@_register("UnitNormalization")
def unit_normalization(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """x / ||x||_2 over `axis` (tf.keras: rsqrt(max(sum x^2, 1e-12)); Keras 3: norm floored at 1e-12)."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    axes = _norm_axes(layer.config.get("axis", -1), x.ndim)
    sq = np.sum(np.square(x), axis=axes, keepdims=True)
    if keras3_runtime(sem):
        norm = np.maximum(np.sqrt(sq), np.float32(1e-12))
    else:
        norm = np.sqrt(np.maximum(sq, np.float32(1e-12)))
    return [_f32(x / norm)], [masks[0] if masks else None]


# --------------------------------------------------------------------------------------------- shape ops


@_register("Flatten")
def flatten(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    if not _channels_last(layer) and x.ndim >= 3:
        x = np.moveaxis(x, 1, -1)
    return [x.reshape(x.shape[0], -1)], [None]


@_register("Reshape")
def reshape(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    target = tuple(int(d) if d is not None else -1 for d in layer.config.get("target_shape", ()))
    try:
        return [x.reshape((x.shape[0], *target))], [None]
    except ValueError:
        raise InputShapeError(
            f"layer {layer.name!r} (Reshape) cannot reshape {x.shape[1:]} to {target}"
        ) from None


@_register("Permute")
def permute(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    dims = tuple(int(d) for d in layer.config.get("dims", ()))
    return [np.transpose(x, (0, *dims))], [None]


@_register("RepeatVector")
def repeat_vector(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    n = int(layer.config["n"])
    return [np.repeat(x[:, None, :], n, axis=1)], [None]


@_register("Cropping1D")
def cropping1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    a, b = _as_tuple(layer.config.get("cropping", (1, 1)), 2)
    return [x[:, a : x.shape[1] - b]], [None]


@_register("ZeroPadding1D")
def zero_padding1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    a, b = _as_tuple(layer.config.get("padding", (1, 1)), 2)
    return [np.pad(x, [(0, 0), (a, b), (0, 0)])], [None]


@_register("UpSampling1D")
def upsampling1d(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    x = _one(layer, xs)
    return [np.repeat(x, int(layer.config.get("size", 2)), axis=1)], [None]


def _pairs(v: Any, nd: int) -> list[tuple[int, int]]:
    """Keras padding/cropping spec -> one (before, after) pair per spatial axis."""
    if isinstance(v, int | float):
        return [(int(v), int(v))] * nd
    v = list(v)
    if all(isinstance(a, int | float) for a in v):
        return [(int(a), int(a)) for a in v] if len(v) == nd else [(int(v[0]), int(v[1]))] * nd
    return [(int(a), int(b)) for a, b in v]


def _to_last(layer: Layer, x: Array) -> Array:
    return x if _channels_last(layer) else np.moveaxis(x, 1, -1)


def _from_last(layer: Layer, y: Array) -> Array:
    return y if _channels_last(layer) else np.moveaxis(y, -1, 1)


@_register("ZeroPadding2D", "ZeroPadding3D")
def zero_padding_nd(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    nd = 2 if layer.kind == "ZeroPadding2D" else 3
    x = _to_last(layer, _one(layer, xs))
    y = np.pad(x, [(0, 0), *_pairs(layer.config.get("padding", 1), nd), (0, 0)])
    return [_from_last(layer, y)], [None]


@_register("Cropping2D", "Cropping3D")
def cropping_nd(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    nd = 2 if layer.kind == "Cropping2D" else 3
    x = _to_last(layer, _one(layer, xs))
    crops = _pairs(layer.config.get("cropping", 0), nd)
    sl = tuple(slice(a, x.shape[1 + i] - b) for i, (a, b) in enumerate(crops))
    return [_from_last(layer, x[(slice(None), *sl)])], [None]


@_register("UpSampling2D", "UpSampling3D")
def upsampling_nd(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    nd = 2 if layer.kind == "UpSampling2D" else 3
    if str(layer.config.get("interpolation", "nearest")) != "nearest":
        raise UnsupportedLayerError(f"layer {layer.name!r}: interpolation {layer.config['interpolation']!r}")
    x = _to_last(layer, _one(layer, xs))
    for i, f in enumerate(_as_tuple(layer.config.get("size", 2), nd)):
        x = np.repeat(x, f, axis=1 + i)
    return [_from_last(layer, x)], [None]


# --------------------------------------------------------------------------------------------- merges


def keras3_runtime(sem: Semantics) -> bool:
    """Whether the file is run with Keras 3 behaviour (Semantics only records it via hard_sigmoid)."""
    return sem.hard_sigmoid == "keras3"


def _and_masks(masks: list[Mask]) -> Mask:
    """Keras 1/2 and tf.keras merge masks: AND of the masks present (None when none is)."""
    out = None
    for m in masks:
        if m is not None:
            out = np.asarray(m, dtype=bool) if out is None else np.logical_and(out, m)
    return out


def _or_masks(masks: list[Mask]) -> Mask:
    """Keras 3 merge masks: OR of the masks, None as soon as one input has no mask."""
    if not masks or any(m is None for m in masks):
        return None
    out = np.asarray(masks[0], dtype=bool)
    for m in masks[1:]:
        out = np.logical_or(out, m)
    return out


def _full_masks(xs: list[Array], masks: list[Mask]) -> list[Mask]:
    """Masks broadcast to their input's full shape (None stays None)."""
    return [
        None if m is None else np.broadcast_to(np.asarray(m, dtype=bool)[..., None], np.shape(x))
        for x, m in zip(xs, masks)
    ]


def _check_inputs(layer: Layer, xs: list[Array], least: int = 2) -> list[Array]:
    if len(xs) < least:
        raise InputShapeError(
            f"layer {layer.name!r} ({layer.kind}) needs at least {least} inputs, got {len(xs)}"
        )
    return [np.asarray(x, dtype=np.float32) for x in xs]


def _elementwise(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, op: Callable[[list[Array]], Array]
) -> tuple[list[Array], list[Mask]]:
    arrs = _check_inputs(layer, xs, 1 if layer.kind == "Add" else 2)
    try:
        y = op(arrs)
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrs)
        raise InputShapeError(f"layer {layer.name!r} ({layer.kind}) cannot combine shapes {shapes}") from None
    mask = _or_masks(masks) if keras3_runtime(sem) else _and_masks(masks)
    return [_f32(y)], [mask]


@_register("Add")
def add(layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics) -> tuple[list[Array], list[Mask]]:
    return _elementwise(layer, xs, masks, sem, lambda a: sum(a[1:], a[0]))


@_register("Subtract")
def subtract(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _elementwise(layer, xs, masks, sem, lambda a: a[0] - a[1])


@_register("Average")
def average(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _elementwise(layer, xs, masks, sem, lambda a: sum(a[1:], a[0]) / len(a))


@_register("Multiply")
def multiply(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    """Product.  Keras 3 treats masked entries as 1 and zeroes the output outside the OR of the masks."""
    if not keras3_runtime(sem) or all(m is None for m in masks):
        return _elementwise(layer, xs, masks, sem, lambda a: np.prod(np.broadcast_arrays(*a), axis=0))
    arrs = _check_inputs(layer, xs)
    full = _full_masks(arrs, masks)
    y = None
    for x, m in zip(arrs, full):
        v = x if m is None else np.where(m, x, 1.0)
        y = v if y is None else y * v
    out_mask = _or_masks(list(full))
    if out_mask is not None:
        y = np.where(out_mask, y, 0.0)
    return [_f32(y)], [_or_masks(masks)]


def _min_max(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, op: Callable[[Array, Array], Array]
) -> tuple[list[Array], list[Mask]]:
    if not keras3_runtime(sem) or all(m is None for m in masks):
        return _elementwise(layer, xs, masks, sem, lambda a: op.reduce(np.broadcast_arrays(*a)))
    # Keras 3 `_apply_merge_op_and_or_mask`: a masked entry takes the running result's value.
    arrs = _check_inputs(layer, xs)
    y: Array | None = None
    y_mask: Mask = None
    for x, m in zip(arrs, _full_masks(arrs, masks)):
        if y is None:
            y, y_mask = x, m
            continue
        if m is not None:
            x = np.where(m, x, y)
        if y_mask is not None:
            y = np.where(y_mask, y, x)
        y_mask = np.logical_or(y_mask, m) if (m is not None and y_mask is not None) else None
        y = op(y, x)
    return [_f32(y)], [_or_masks(masks)]


@_register("Maximum")
def maximum(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _min_max(layer, xs, masks, sem, np.maximum)


@_register("Minimum")
def minimum(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    return _min_max(layer, xs, masks, sem, np.minimum)


def _concat_mask(xs: list[Array], masks: list[Mask], axis: int, sem: Semantics) -> Mask:
    """Concatenate.compute_mask: masks (all-True for unmasked inputs) joined on `axis`, then reduced
    over the last axis with all() (Keras 1/2, tf.keras) or any() (Keras 3)."""
    if not masks or all(m is None for m in masks):
        return None
    full = [
        np.ones(np.shape(x), dtype=bool) if m is None else np.asarray(m, dtype=bool)[..., None]
        for x, m in zip(xs, masks)
    ]
    ndim = np.ndim(xs[0])
    if axis % ndim == ndim - 1:
        # Joining on the feature axis: the size-1 mask axes cannot be concatenated, reduce first.
        full = [
            f.all(axis=-1, keepdims=True) if not keras3_runtime(sem) else f.any(axis=-1, keepdims=True)
            for f in full
        ]
    else:
        full = [np.broadcast_to(f, np.shape(x)) for f, x in zip(full, xs)]
    joined = np.concatenate(full, axis=axis)
    return joined.any(axis=-1) if keras3_runtime(sem) else joined.all(axis=-1)


@_register("Concatenate")
def concatenate(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
) -> tuple[list[Array], list[Mask]]:
    axis = int(layer.config.get("axis", -1))
    try:
        y = np.concatenate([np.asarray(x, dtype=np.float32) for x in xs], axis=axis)
    except ValueError:
        shapes = ", ".join(str(np.shape(x)) for x in xs)
        raise InputShapeError(
            f"layer {layer.name!r} (Concatenate) cannot join shapes {shapes} on axis {axis}"
        ) from None
    return [y], [_concat_mask(xs, masks, axis, sem)]


@_register("Dot")
def dot(layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics) -> tuple[list[Array], list[Mask]]:
    if len(xs) != 2:
        raise InputShapeError(f"layer {layer.name!r} (Dot) needs 2 inputs, got {len(xs)}")
    a, b = (np.asarray(x, dtype=np.float32) for x in xs)
    axes = layer.config.get("axes", -1)
    ax = [axes, axes] if isinstance(axes, int) else list(axes)
    ax = [ax[0] % a.ndim, ax[1] % b.ndim]
    if layer.config.get("normalize", False):
        a = a / np.maximum(np.linalg.norm(a, axis=ax[0], keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=ax[1], keepdims=True), 1e-12)
    # batched tensordot over the chosen axes (Keras batch_dot)
    a2 = np.moveaxis(a, ax[0], -1)
    b2 = np.moveaxis(b, ax[1], 1)
    y = np.einsum(
        "bmk,bkn->bmn", a2.reshape(a2.shape[0], -1, a2.shape[-1]), b2.reshape(b2.shape[0], b2.shape[1], -1)
    )
    out_shape = (
        a.shape[0],
        *[d for i, d in enumerate(a.shape) if i not in (0, ax[0])],
        *[d for i, d in enumerate(b.shape) if i not in (0, ax[1])],
    )
    y = y.reshape(out_shape)
    if y.ndim == 1:
        y = y[:, None]
    return [_f32(y)], [None]
