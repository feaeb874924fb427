"""The reader's result format: core dataclasses as JSON, arrays as raw aligned bytes (data only).

A result is ``[array bytes ...][JSON header][8-byte header length][TAG]``.  The JSON describes the
objects of a ModelFile (only the dataclasses of `inspector.core.network` are accepted; tuples,
dicts, mapping proxies and frozensets are kept apart) with every array replaced by a reference
into the table of (offset, byte count) pairs; each array starts on a 64-byte boundary.  No code
travels: `load_result` builds nothing but those classes and numeric arrays, so a reader process
that a file managed to subvert cannot make the parent run anything.  See docs/formats.md,
"The reader's result".
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from inspector.core.network import (
    Call,
    GateSlice,
    Layer,
    ModelFile,
    Network,
    Semantics,
    TensorRef,
    Weight,
    data_address,
)

_ALIGN = 64  # every array starts on a 64-byte boundary of the mapping (SIMD loads, pyqtgraph)
TAG = b"INSPRES1"  # last 8 bytes of a result, after the 8-byte header length


class Placed(Protocol):
    """Arrays already written in the result file (the reader's `arena.Arena`)."""

    size: int

    def span(self, arr: np.ndarray) -> tuple[int, int] | None: ...


#: the dataclasses a ModelFile is made of: the only classes the parent will build from a result
_CLASSES = {c.__name__: c for c in (ModelFile, Network, Layer, Weight, GateSlice, TensorRef, Call, Semantics)}


def _encode(
    obj: Any,
    arrays: list[np.ndarray],
    memo: dict[int, int] | None = None,
    zeros: frozenset[int] = frozenset(),
) -> Any:
    """A JSON-able form of `obj` that keeps tuples, dicts and mapping proxies apart; arrays go to `arrays`.

    An array or dataclass met again (`ModelFile.weight_layers` and `network` share their Layer and
    Weight objects) becomes a reference to its first occurrence: it is transferred once and the
    parent gets the same sharing, hence the same memory, as an in-process load.  Arrays whose data
    starts at an address in `zeros` (placeholders of a preview) travel as dtype and shape only.
    """
    if memo is None:
        memo = {}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.ndarray) or type(obj).__name__ in _CLASSES:
        if id(obj) in memo:
            return {"__ref__": memo[id(obj)]}
        memo[id(obj)] = len(memo)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufc" or obj.dtype.hasobject:
            raise TypeError(f"array of dtype {obj.dtype} in a ModelFile")
        if obj.size and data_address(obj) in zeros:
            return {"__z__": 1, "dtype": obj.dtype.str, "shape": list(obj.shape)}
        arrays.append(np.ascontiguousarray(obj))
        return {"__nd__": len(arrays) - 1, "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays, memo, zeros)
    if type(obj).__name__ in _CLASSES and isinstance(obj, _CLASSES[type(obj).__name__]):
        return {
            "__dc__": type(obj).__name__,
            "f": {
                f.name: _encode(getattr(obj, f.name), arrays, memo, zeros) for f in dataclasses.fields(obj)
            },
        }
    if isinstance(obj, types.MappingProxyType):
        return {
            "__mp__": [
                [_encode(k, arrays, memo, zeros), _encode(v, arrays, memo, zeros)] for k, v in obj.items()
            ]
        }
    if isinstance(obj, dict):
        return {
            "__d__": [
                [_encode(k, arrays, memo, zeros), _encode(v, arrays, memo, zeros)] for k, v in obj.items()
            ]
        }
    if isinstance(obj, tuple):
        return {"__t__": [_encode(v, arrays, memo, zeros) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays, memo, zeros) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return {"__fs__": [_encode(v, arrays, memo, zeros) for v in obj]}
    raise TypeError(f"cannot transfer a {type(obj).__name__}")


def _decode(node: Any, array: Callable[[dict[str, Any]], np.ndarray], memo: list[Any] | None = None) -> Any:
    """Inverse of `_encode`; builds only the classes in `_CLASSES` (anything else is an error).

    Objects are numbered in the order they are first met, as `_encode` numbered them; a reference
    can only name an object already built (so there are no cycles).
    """
    if memo is None:
        memo = []
    if isinstance(node, list):
        return [_decode(v, array, memo) for v in node]
    if not isinstance(node, dict):
        return node
    if "__ref__" in node:
        k = node["__ref__"]
        if not isinstance(k, int) or not 0 <= k < len(memo) or memo[k] is None:
            raise ValueError("reference to an object not (yet) built")
        return memo[k]
    if "__nd__" in node:
        memo.append(array(node))
        return memo[-1]
    if "__z__" in node:
        memo.append(_zeros(node))
        return memo[-1]
    if "__dc__" in node:
        cls = _CLASSES[node["__dc__"]]  # KeyError for anything else: refused
        slot = len(memo)
        memo.append(None)  # numbered before its fields, as in _encode
        obj = cls(**{k: _decode(v, array, memo) for k, v in node["f"].items()})
        memo[slot] = obj
        return obj
    if "__mp__" in node:
        items = node["__mp__"]
        return types.MappingProxyType({_decode(k, array, memo): _decode(v, array, memo) for k, v in items})
    if "__d__" in node:
        return {_decode(k, array, memo): _decode(v, array, memo) for k, v in node["__d__"]}
    if "__t__" in node:
        return tuple(_decode(v, array, memo) for v in node["__t__"])
    if "__fs__" in node:
        return frozenset(_decode(v, array, memo) for v in node["__fs__"])
    raise ValueError(f"unknown node {sorted(node)[:3]}")


#: the most elements a placeholder may claim (it costs nothing, but code reading it may copy it)
_MAX_ZEROS = 1 << 32


def _zeros(node: dict[str, Any]) -> np.ndarray:
    """A read-only, zero-stride array of zeros standing for an array that was not read."""
    dtype = np.dtype(str(node["dtype"]))
    if dtype.kind not in "biufc" or dtype.hasobject:
        raise ValueError(f"refused dtype {dtype}")
    shape = tuple(int(d) for d in node["shape"])
    if min(shape, default=0) < 0 or int(np.prod(shape, dtype=np.float64)) > _MAX_ZEROS:
        raise ValueError("placeholder of an absurd shape")
    return np.broadcast_to(np.zeros((), dtype), shape)


def _pad(n: int) -> int:
    return -n % _ALIGN


def dump_result(
    result: dict[str, Any], write: Callable[[Any], object], zeros: Any = (), arena: Placed | None = None
) -> None:
    """Serialise a child's result through `write`: raw array bytes, JSON header, 8-byte header length, tag.

    Every array is placed on a multiple of 64 bytes; the table in the header gives absolute offsets.
    The arrays are written straight from their buffers (no copy of a possibly huge model).
    `zeros`: placeholder arrays (of a preview) that are sent as dtype and shape only and arrive as
    read-only zeros.  `arena`: arrays already in the result file stay where they are; `write` then
    continues the file after them (the caller positions it at `arena.size`).
    """
    arrays: list[np.ndarray] = []
    tree = _encode(result, arrays, zeros=frozenset(data_address(a) for a in zeros if a.size))
    table: list[list[int]] = []
    pos = arena.size if arena is not None else 0
    for arr in arrays:
        span = arena.span(arr) if arena is not None else None
        if span is not None:
            table.append(list(span))
            continue
        if _pad(pos):
            write(bytes(_pad(pos)))
            pos += _pad(pos)
        table.append([pos, arr.nbytes])
        if arr.nbytes:
            write(arr.data.cast("B"))
        pos += arr.nbytes
    header = json.dumps({"tree": tree, "arrays": table}).encode("utf-8")
    write(header + len(header).to_bytes(8, "little") + TAG)


def load_result(data: Any) -> Any:
    """Inverse of `dump_result` for the bytes (or mmap) of a result.

    Arrays are read-only views into `data` (which they keep alive).
    """
    buf = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
    if len(buf) < 16 or bytes(buf[-8:]) != TAG:
        raise ValueError("truncated result")
    n = int.from_bytes(buf[-16:-8], "little")
    end = len(buf) - 16 - n  # arrays lie before the header
    if n < 2 or end < 0:
        raise ValueError("truncated result")
    head = json.loads(bytes(buf[end : end + n]).decode("utf-8"))
    buf = buf.toreadonly()

    def array(node: dict[str, Any]) -> np.ndarray:
        off, nbytes = (int(v) for v in head["arrays"][int(node["__nd__"])])
        dtype = np.dtype(str(node["dtype"]))
        if dtype.kind not in "biufc" or dtype.hasobject:
            raise ValueError(f"refused dtype {dtype}")
        shape = tuple(int(d) for d in node["shape"])
        if off < 0 or nbytes < 0 or off + nbytes > end or min(shape, default=0) < 0:
            raise ValueError("array outside the result")
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != nbytes:
            raise ValueError("array size disagrees with its shape")
        return np.frombuffer(buf[off : off + nbytes], dtype=dtype).reshape(shape)

    return _decode(head["tree"], array)
