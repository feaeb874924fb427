"""Core: Keras activation functions in numpy, version-aware (no Qt, no h5py).

`hard_sigmoid` is the one activation whose formula depends on the Keras version that wrote the
file (docs/formats.md, 'hard_sigmoid'): Keras 1/2 and tf.keras compute clip(0.2x + 0.5, 0, 1), Keras 3
computes clip(x/6 + 0.5, 0, 1).  `get()` picks the formula from `Semantics.hard_sigmoid`.

Every function is overflow-safe: the test suite turns numpy warnings into errors, and Keras itself
returns saturated values (0, 1, inf) rather than warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from inspector.core.errors import UnsupportedLayerError
from inspector.core.network import Array, Semantics

Activation = Callable[[Array], Array]


def linear(x: Array) -> Array:
    return x


def sigmoid(x: Array) -> Array:
    # 0.5 + 0.5*tanh(x/2) is the logistic function without exp() overflow for large |x|.
    t = np.tanh(0.5 * x)
    t *= 0.5
    t += 0.5
    return t


def tanh(x: Array) -> Array:
    return np.tanh(x)


def hard_sigmoid_keras2(x: Array) -> Array:
    """Keras 1/2, Theano, tf.keras: clip(0.2*x + 0.5, 0, 1)."""
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def hard_sigmoid_keras3(x: Array) -> Array:
    """Keras 3: clip(x/6 + 0.5, 0, 1)."""
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def relu(x: Array) -> Array:
    return np.maximum(x, 0.0)


def relu6(x: Array) -> Array:
    return np.clip(x, 0.0, 6.0)


def elu(x: Array, alpha: float = 1.0) -> Array:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def selu(x: Array) -> Array:
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def softplus(x: Array) -> Array:
    return np.logaddexp(0.0, x)


def softsign(x: Array) -> Array:
    return x / (1.0 + np.abs(x))


def softmax(x: Array, axis: int = -1) -> Array:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: Array, axis: int = -1) -> Array:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def exponential(x: Array) -> Array:
    with np.errstate(over="ignore"):
        return np.exp(x)


def swish(x: Array) -> Array:
    return x * sigmoid(x)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x: Array, approximate: bool = False) -> Array:
    """Keras' default `gelu` is the exact erf form (approximate=False)."""
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    x = np.asarray(x)
    return (0.5 * x * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(x.dtype)


def mish(x: Array) -> Array:
    return x * np.tanh(softplus(x))


def hard_silu(x: Array) -> Array:
    return x * hard_sigmoid_keras3(x)


def leaky_relu(x: Array, negative_slope: float = 0.2) -> Array:
    return np.where(x >= 0, x, negative_slope * x)


_FIXED: Mapping[str, Activation] = {
    "linear": linear,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "relu6": relu6,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "exponential": exponential,
    "swish": swish,
    "silu": swish,
    "gelu": gelu,
    "mish": mish,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "leaky_relu": leaky_relu,
}

SUPPORTED = frozenset(_FIXED) | {"hard_sigmoid"}


def activation_name(spec: Any) -> str:
    """The plain name of a serialized activation: 'tanh', None -> 'linear', Keras 3 dict forms too."""
    if spec is None or spec == "":
        return "linear"
    if isinstance(spec, str):
        return spec.rsplit(".", 1)[-1]
    if isinstance(spec, Mapping):
        # Keras 3 may serialize a built-in as {"class_name": "function", "config": "tanh", ...}.
        cfg = spec.get("config")
        if isinstance(cfg, str):
            return activation_name(cfg)
        if isinstance(cfg, Mapping) and isinstance(cfg.get("name"), str):
            return activation_name(cfg["name"])
        if isinstance(spec.get("class_name"), str):
            return activation_name(spec["class_name"])
    raise UnsupportedLayerError(f"cannot read activation {spec!r}")


def get(spec: Any, semantics: Semantics, *, where: str = "") -> Activation:
    """The numpy function for a serialized activation.

    Parameters
    ----------
    spec : the config value ('tanh', 'hard_sigmoid', None for linear, or a Keras 3 dict).
    semantics : decides the `hard_sigmoid` formula ('keras2' 0.2x+0.5, 'keras3' x/6+0.5).
    where : layer name, used in the error message.

    Returns
    -------
    a function Array -> Array (elementwise, or over the last axis for softmax).

    Raises
    ------
    UnsupportedLayerError : the activation is unknown (custom activations cannot be run).
    """
    name = activation_name(spec).lower()
    if name == "hard_sigmoid":
        return hard_sigmoid_keras3 if semantics.hard_sigmoid == "keras3" else hard_sigmoid_keras2
    try:
        return _FIXED[name]
    except KeyError:
        at = f" in layer {where!r}" if where else ""
        raise UnsupportedLayerError(f"unsupported activation {activation_name(spec)!r}{at}") from None
