"""Core layers: merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

import numpy as np

from inspector.core.errors import InputShapeError
from inspector.core.layers._registry import (
    Mask,
    _f32,
    _register,
    keras3_runtime,
)
from inspector.core.network import Array, Layer, Semantics

# --------------------------------------------------------------------------------------------- merges


def _and_masks(masks: list[Mask]) -> Mask:
    """Keras 1/2 and tf.keras merge masks: AND of the masks present (None when none is)."""
    out = None
    for m in masks:
        if m is not None:
            out = np.asarray(m, dtype=bool) if out is None else np.logical_and(out, m)
    return out


def _or_masks(masks: list[Mask]) -> Mask:
    """Keras 3 merge masks: OR of the masks, None as soon as one input has no mask."""
    present = [m for m in masks if m is not None]
    if not masks or len(present) < len(masks):
        return None
    out = np.asarray(present[0], dtype=bool)
    for m in present[1:]:
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
    factors = [x if m is None else np.where(m, x, 1.0) for x, m in zip(arrs, full)]
    y = functools.reduce(operator.mul, factors)
    out_mask = _or_masks(list(full))
    if out_mask is not None:
        y = np.where(out_mask, y, 0.0)
    return [_f32(y)], [_or_masks(masks)]


def _min_max(
    layer: Layer, xs: list[Array], masks: list[Mask], sem: Semantics, op: np.ufunc
) -> tuple[list[Array], list[Mask]]:
    """Maximum / Minimum (`op` is np.maximum or np.minimum)."""
    if not keras3_runtime(sem) or all(m is None for m in masks):
        return _elementwise(layer, xs, masks, sem, lambda a: op.reduce(np.broadcast_arrays(*a)))
    # Keras 3 `_apply_merge_op_and_or_mask`: a masked entry takes the running result's value.
    arrs = _check_inputs(layer, xs)
    full = _full_masks(arrs, masks)
    y: Array = arrs[0]
    y_mask: Mask = full[0]
    for x, m in zip(arrs[1:], full[1:]):
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
    full: list[Array] = [
        np.ones(np.shape(x), dtype=bool) if m is None else np.asarray(m, dtype=bool)[..., None]
        for x, m in zip(xs, masks)
    ]
    ndim = np.ndim(xs[0])
    if axis % ndim == ndim - 1:
        # Joining on the feature axis: the size-1 mask axes cannot be concatenated, reduce first.
        full = [
            np.asarray(
                f.any(axis=-1, keepdims=True) if keras3_runtime(sem) else f.all(axis=-1, keepdims=True)
            )
            for f in full
        ]
    else:
        full = [np.broadcast_to(f, np.shape(x)) for f, x in zip(full, xs)]
    joined = np.concatenate(full, axis=axis)
    return np.asarray(joined.any(axis=-1) if keras3_runtime(sem) else joined.all(axis=-1))


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
