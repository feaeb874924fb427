"""How layers are called in a model config: Keras 1/2 inbound-node lists and Keras 3 call nodes.

Pure helpers of `inspector.io.config`: they read the node structures of a Functional config
(connections ``[layer, node, tensor, kwargs]`` in Keras 1/2, ``__keras_tensor__`` histories in
Keras 3) and the input shape a Sequential declares on its first layer.  See docs/formats.md,
"Model configs".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inspector.core.network import RECURRENT_KINDS

if TYPE_CHECKING:
    from inspector.io.config import LayerSpec


def shape_of(v: Any) -> tuple[int | None, ...] | None:
    if isinstance(v, (list, tuple)) and all(x is None or isinstance(x, int) for x in v):
        return tuple(v)
    return None


def first_layer_input(
    entry: Mapping[str, Any], spec: LayerSpec
) -> tuple[tuple[int | None, ...] | None, str | None]:
    """Input shape / dtype declared on the first layer of a Sequential (no InputLayer entry)."""
    raw = spec.raw_config
    inner = raw.get("layer") if isinstance(raw.get("layer"), Mapping) else None
    for src in (raw, (inner or {}).get("config") or {}):
        shape = shape_of(src.get("batch_input_shape")) or shape_of(src.get("batch_shape"))
        if shape is not None:
            return shape, src.get("input_dtype") or (
                src.get("dtype") if isinstance(src.get("dtype"), str) else None
            )
    # Keras 1 input_dim / input_length
    dim, length = raw.get("input_dim"), raw.get("input_length")
    if spec.kind in RECURRENT_KINDS and dim is not None:
        return (None, length, dim), raw.get("input_dtype")
    if spec.kind == "Embedding" and "input_length" in raw:
        return (None, length), raw.get("input_dtype") or "int32"
    if spec.kind in ("Dense", "TimeDistributed") and dim is not None:
        return ((None, length, dim) if spec.kind == "TimeDistributed" else (None, dim)), raw.get(
            "input_dtype"
        )
    bc = entry.get("build_config")
    if isinstance(bc, Mapping):
        shape = shape_of(bc.get("input_shape"))
        if shape is not None:
            return shape, None
    return None, None


Ref = tuple[str, int, int]


def _is_conn(x: Any) -> bool:
    return (
        isinstance(x, list)
        and 3 <= len(x) <= 4
        and isinstance(x[0], str)
        and isinstance(x[1], int)
        and isinstance(x[2], int)
    )


def _conns(x: Any, depth: int = 0) -> list[list[Any]]:
    """Flatten a Keras 1/2 node structure into its connection entries."""
    if depth > 50:
        return []
    if _is_conn(x):
        return [x]
    if isinstance(x, list):
        return [c for e in x for c in _conns(e, depth + 1)]
    if isinstance(x, Mapping):
        return [c for e in x.values() for c in _conns(e, depth + 1)]
    return []


def _kts(x: Any, depth: int = 0) -> list[Ref]:
    """Flatten Keras 3 args into keras_history refs (in order)."""
    if depth > 50:
        return []
    if isinstance(x, Mapping):
        if x.get("class_name") == "__keras_tensor__":
            h = (x.get("config") or {}).get("keras_history")
            if isinstance(h, list) and len(h) == 3:
                return [(str(h[0]), int(h[1]), int(h[2]))]
            return []
        return [r for v in x.values() for r in _kts(v, depth + 1)]
    if isinstance(x, list):
        return [r for v in x for r in _kts(v, depth + 1)]
    return []


def _has_constant(x: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if isinstance(x, Mapping):
        if x.get("class_name") == "__keras_tensor__":
            return False
        return any(_has_constant(v, depth + 1) for v in x.values()) or not x
    if isinstance(x, list):
        return any(_has_constant(v, depth + 1) for v in x)
    return x is not None


@dataclass
class RawCall:
    inputs: list[Ref]
    initial_state: list[Ref]


def parse_nodes(spec: LayerSpec, nodes: Any) -> list[RawCall]:
    out: list[RawCall] = []
    if not isinstance(nodes, list):
        return out
    rnn_like = spec.kind in RECURRENT_KINDS or spec.kind == "Bidirectional"
    for node in nodes:
        if isinstance(node, Mapping):  # Keras 3
            args = node.get("args") or []
            kwargs = node.get("kwargs") or {}
            inputs: list[Ref] = _kts(args)
            init: list[Ref] = _kts(kwargs.get("initial_state")) if isinstance(kwargs, Mapping) else []
            if _has_constant(args[1:] if isinstance(args, list) else []) or (
                isinstance(args, list) and args and _has_constant(args[0]) and not _kts(args[0])
            ):
                if not spec.is_op:
                    spec.runnable = False
                    spec.problems.append(
                        f"layer '{spec.name}' is called with constant arguments: not supported"
                    )
            if isinstance(kwargs, Mapping):
                for k, v in kwargs.items():
                    if k not in ("mask", "initial_state", "training") and _kts(v):
                        spec.problems.append(f"layer '{spec.name}': tensor keyword argument {k!r} ignored")
            out.append(RawCall(inputs, init))
            continue
        conns = _conns(node)
        inputs = []
        init = []
        for c in conns:
            if c[0] == "_CONSTANT_VALUE":
                spec.runnable = False
                spec.problems.append(f"layer '{spec.name}' is called with a constant input: not supported")
                continue
            inputs.append((c[0], int(c[1]), int(c[2])))
            kw = c[3] if len(c) == 4 and isinstance(c[3], Mapping) else {}
            if "initial_state" in kw:
                init += [(k[0], int(k[1]), int(k[2])) for k in _conns(kw["initial_state"])]
        if rnn_like and len(inputs) > 1:  # Keras 2 extra connections = initial states
            inputs, init = inputs[:1], inputs[1:] + init
        out.append(RawCall(inputs, init))
    return out


def io_refs(x: Any) -> list[Ref]:
    return [(c[0], int(c[1]), int(c[2])) for c in _conns(x)]


def had_input_layer(spec: LayerSpec) -> bool:
    layers = spec.raw_config.get("layers")
    return bool(
        isinstance(layers, list)
        and layers
        and isinstance(layers[0], Mapping)
        and layers[0].get("class_name") == "InputLayer"
    )


def fix_offset(base: int, refs: list[int], n_calls: int) -> int:
    """Correct the expected offset so every reference lands on an existing call."""
    if not refs:
        return base
    off = base
    if max(refs) - off >= n_calls:
        off = max(refs) - n_calls + 1
    if min(refs) - off < 0:
        off = min(refs)
    return max(off, 0)
