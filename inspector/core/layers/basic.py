"""Core layers: Dense, activations, Embedding, Masking, normalisation and rescaling layers."""

from __future__ import annotations

import numpy as np

from inspector.core import activations
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.layers._registry import (
    Mask,
    _f32,
    _norm_axes,
    _one,
    _register,
    _w,
    keras3_runtime,
)
from inspector.core.network import Array, Layer, Semantics

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
