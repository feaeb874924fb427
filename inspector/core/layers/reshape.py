"""Core layers: shape operations (Flatten, Reshape, Permute, RepeatVector, cropping, padding, upsampling)."""

from __future__ import annotations

from typing import Any

import numpy as np

from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.layers._registry import (
    Mask,
    _as_tuple,
    _channels_last,
    _one,
    _register,
)
from inspector.core.network import Array, Layer, Semantics

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
