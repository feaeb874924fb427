"""Core layers: convolutions and pooling (1-3 D, local and global)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inspector.core import activations
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.layers._registry import (
    LayerFn,
    Mask,
    _as_tuple,
    _channels_last,
    _f32,
    _one,
    _register,
    _w,
)
from inspector.core.network import Array, Layer, Semantics

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


def _spatial_input(layer: Layer, xs: list[Array], nd: int) -> Array:
    """The one input of a conv / pooling layer as float32, (B, *nd spatial axes, C) or channels first."""
    x = np.asarray(_one(layer, xs), dtype=np.float32)
    if x.ndim != nd + 2:
        raise InputShapeError(f"layer {layer.name!r} ({layer.kind}) expects {nd + 2}-D input, got {x.shape}")
    return x


def _conv(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, nd: int
) -> tuple[list[Array], list[Mask]]:
    """Conv1D/2D/3D: cross-correlation over `nd` spatial axes; padding valid / same (TF split) /
    causal, strides, dilation, groups; then bias and activation.  Drops the mask."""
    x = _spatial_input(layer, xs, nd)
    cfg = layer.config
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


def _pool(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, nd: int, op: str
) -> tuple[list[Array], list[Mask]]:
    """Max or mean over each pooling window; drops the mask."""
    x = _spatial_input(layer, xs, nd)
    cfg = layer.config
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


def _global_pool(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, nd: int, op: str
) -> tuple[list[Array], list[Mask]]:
    """Max or mean over the spatial axes (GlobalAveragePooling1D: over the unmasked steps)."""
    x = _spatial_input(layer, xs, nd)
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


def _bound(fn: Callable[..., tuple[list[Array], list[Mask]]], *params: Any) -> LayerFn:
    """`fn(layer, xs, masks, sem, *params)` as a layer function (one per rank and operation)."""

    def layer_fn(
        layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics
    ) -> tuple[list[Array], list[Mask]]:
        return fn(layer, xs, masks, sem, *params)

    return layer_fn


for _nd in (1, 2, 3):
    _register(f"Conv{_nd}D")(_bound(_conv, _nd))
    for _op, _name in (("max", "Max"), ("avg", "Average")):
        _register(f"{_name}Pooling{_nd}D")(_bound(_pool, _nd, _op))
        _register(f"Global{_name}Pooling{_nd}D")(_bound(_global_pool, _nd, _op))
