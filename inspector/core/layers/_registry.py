"""Core layers: the registry of layer functions, `apply()` and the helpers every family uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, overload

import numpy as np

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


@overload
def _w(layer: Layer, role: str, position: int | None = ..., *, required: Literal[True] = ...) -> Array: ...
@overload
def _w(layer: Layer, role: str, position: int | None = ..., *, required: bool) -> Array | None: ...
def _w(layer: Layer, role: str, position: int | None = None, *, required: bool = True) -> Array | None:
    """The weight named `role` (else the one at `position`) as float32; None only when not `required`."""
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


def keras3_runtime(sem: Semantics) -> bool:
    """Whether the file is run with Keras 3 behaviour (Semantics only records it via hard_sigmoid)."""
    return sem.hard_sigmoid == "keras3"
