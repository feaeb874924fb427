"""Read an untrusted file in a child process: libhdf5 can crash or spin forever on a corrupted file.

Mutation fuzzing (tests/hostile) found HDF5 files, a few flipped bytes away from valid ones, on
which libhdf5 1.14 (the one h5py ships) either **segfaults** (a corrupted vlen-string datatype
makes an attribute read call H5T__vlen_disk_write) or **loops forever while holding the GIL**
(a global-heap object of size 0: H5HG__cache_heap_deserialize never advances).  No Python code can
catch either: in-process, the first kills the app and the second freezes every thread, GUI included.

`load_isolated` therefore runs `inspector.io.load` in a fresh interpreter (``python -m
inspector.io.sandbox``) under a wall-clock timeout and an address-space limit, and turns a crash,
a hang or a memory blow-up into an ordinary ModelFileError.  The ModelFile comes back as data, not
code: a JSON description of the core dataclasses (only the classes of inspector.core.network are
accepted) followed by the raw bytes of the numeric arrays.  Nothing is unpickled, so even a child
that the file managed to subvert cannot make the parent run code.

Cost: one interpreter start (~0.3 s).  `INSPECTOR_SANDBOX=0` loads in-process instead (debugging).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.network import Call, GateSlice, Layer, ModelFile, Network, Semantics, TensorRef, Weight
from inspector.io.errors import ModelFileError

#: wall-clock limit for reading one file (the slowest real file in the corpus reads in < 1 s)
TIMEOUT_S = 30.0
#: address-space limit of the child, MiB: a floor plus a multiple of the file size, capped.  A
#: corrupted global-heap or chunk size makes libhdf5 allocate (and touch) gigabytes for a 24 KB
#: file before failing; under this limit the allocation fails at once and the file is refused.
MEM_FLOOR_MB = 1024
MEM_PER_FILE_MB = 8  # float32 copies of float16/bf16 data, h5py read buffers, archive members in RAM
MEM_MB = 8192
_MAGIC = b"\n--inspector-sandbox-result--\n"


#: the dataclasses a ModelFile is made of: the only classes the parent will build from a result
_CLASSES = {c.__name__: c for c in (ModelFile, Network, Layer, Weight, GateSlice, TensorRef, Call, Semantics)}


def _encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """A JSON-able form of `obj` that keeps tuples, dicts and mapping proxies apart; arrays go to `arrays`."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufc" or obj.dtype.hasobject:
            raise TypeError(f"array of dtype {obj.dtype} in a ModelFile")
        arrays.append(np.ascontiguousarray(obj))
        return {"__nd__": len(arrays) - 1, "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays)
    if type(obj).__name__ in _CLASSES and isinstance(obj, _CLASSES[type(obj).__name__]):
        return {"__dc__": type(obj).__name__,
                "f": {f.name: _encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj)}}
    if isinstance(obj, types.MappingProxyType):
        return {"__mp__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, dict):
        return {"__d__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__t__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return {"__fs__": [_encode(v, arrays) for v in obj]}
    raise TypeError(f"cannot transfer a {type(obj).__name__}")


def _decode(node: Any, array: Callable[[dict], np.ndarray]) -> Any:
    """Inverse of `_encode`; builds only the classes in `_CLASSES` (anything else is an error)."""
    if isinstance(node, list):
        return [_decode(v, array) for v in node]
    if not isinstance(node, dict):
        return node
    if "__nd__" in node:
        return array(node)
    if "__dc__" in node:
        cls = _CLASSES[node["__dc__"]]  # KeyError for anything else: refused
        return cls(**{k: _decode(v, array) for k, v in node["f"].items()})
    if "__mp__" in node:
        return types.MappingProxyType({_decode(k, array): _decode(v, array) for k, v in node["__mp__"]})
    if "__d__" in node:
        return {_decode(k, array): _decode(v, array) for k, v in node["__d__"]}
    if "__t__" in node:
        return tuple(_decode(v, array) for v in node["__t__"])
    if "__fs__" in node:
        return frozenset(_decode(v, array) for v in node["__fs__"])
    raise ValueError(f"unknown node {sorted(node)[:3]}")


def dump_result(result: dict, write: Callable[[Any], object]) -> None:
    """Serialise a child's result through `write`: 8-byte header length, JSON header, raw array bytes.

    The arrays are written straight from their buffers (no copy of a possibly huge model).
    """
    arrays: list[np.ndarray] = []
    tree = _encode(result, arrays)
    table, offset = [], 0
    for arr in arrays:
        table.append([offset, arr.nbytes])
        offset += arr.nbytes
    header = json.dumps({"tree": tree, "arrays": table}).encode("utf-8")
    write(len(header).to_bytes(8, "little") + header)
    for arr in arrays:
        if arr.nbytes:
            write(memoryview(arr).cast("B"))


def load_result(data: bytes, start: int = 0) -> Any:
    """Inverse of `dump_result` for the bytes from `start` on; arrays are read-only views into `data`."""
    n = int.from_bytes(data[start : start + 8], "little")
    head = json.loads(data[start + 8 : start + 8 + n].decode("utf-8"))
    buf, base = memoryview(data), start + 8 + n

    def array(node: dict) -> np.ndarray:
        off, nbytes = (int(v) for v in head["arrays"][int(node["__nd__"])])
        dtype = np.dtype(str(node["dtype"]))
        if dtype.kind not in "biufc" or dtype.hasobject:
            raise ValueError(f"refused dtype {dtype}")
        if off < 0 or nbytes < 0 or base + off + nbytes > len(data):
            raise ValueError("array outside the result")
        return np.frombuffer(buf[base + off : base + off + nbytes], dtype=dtype).reshape(node["shape"])

    return _decode(head["tree"], array)


def load_isolated(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    timeout: float = TIMEOUT_S,
    mem_mb: int | None = None,
) -> ModelFile:
    """`inspector.io.load` in a child process; a crash, hang or memory blow-up is a ModelFileError.

    Parameters
    ----------
    path, config : as for `inspector.io.load`.
    timeout : seconds before the child is killed.
    mem_mb : address-space limit of the child (POSIX only); default MEM_FLOOR_MB + MEM_PER_FILE_MB
        x the size of the file (and config), at most MEM_MB.

    Returns
    -------
    The ModelFile `inspector.io.load` returned in the child.

    Raises
    ------
    ModelFileError : whatever `load` raised, or a one-line reason for a crash / hang / blow-up.
    """
    p = os.fspath(path)
    if os.environ.get("INSPECTOR_SANDBOX", "1") == "0":
        from inspector.io import load

        return load(p, config=config)
    if mem_mb is None:
        mem_mb = min(MEM_MB, MEM_FLOOR_MB + MEM_PER_FILE_MB * _size_mb(p) + _size_mb(config))
    cmd = [sys.executable, "-m", "inspector.io.sandbox", "--mem-mb", str(int(mem_mb)), p]
    if config is not None:
        cmd += ["--config", os.fspath(config)]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds the `inspector` package
    env["PYTHONPATH"] = os.pathsep.join(x for x in (root, env.get("PYTHONPATH", "")) if x)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        cp = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ModelFileError(
            p, f"reading did not finish within {timeout:g} s (corrupted file?): stopped"
        ) from None
    except OSError:  # cannot start a process at all: read in-process rather than not at all
        from inspector.io import load

        return load(p, config=config)
    out = cp.stdout
    if _MAGIC not in out:
        if cp.returncode is not None and cp.returncode < 0:
            how = f"crashed (signal {-cp.returncode})"
        elif b"MemoryError" in cp.stderr:
            how = "ran out of memory"
        else:
            how = f"failed (exit {cp.returncode})"
        raise ModelFileError(p, f"the HDF5/zip reader {how} on this file: corrupted or hostile file")
    try:
        res = load_result(out, out.index(_MAGIC) + len(_MAGIC))
        status, a, b = res["status"], res.get("value"), res.get("reason")
    except Exception as exc:  # noqa: BLE001 - a malformed result is a failed read, never a crash
        raise ModelFileError(p, f"unreadable result from the reader process ({type(exc).__name__})") from None
    if status == "ok" and isinstance(a, ModelFile):
        return a
    if status == "error":
        raise ModelFileError(a, str(b))
    raise ModelFileError(p, "unexpected result from the reader process")


def _size_mb(path: str | os.PathLike[str] | None) -> int:
    """Size of a file (or the files of a folder, one level) in MiB, rounded up; 0 if unknown."""
    if path is None:
        return 0
    try:
        if os.path.isdir(path):
            total = sum(e.stat().st_size for e in os.scandir(path) if e.is_file(follow_symlinks=False))
        else:
            total = os.stat(path).st_size
    except OSError:
        return 0
    return -(-total // (1024 * 1024))


def _child(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m inspector.io.sandbox")
    ap.add_argument("--mem-mb", type=int, default=MEM_MB)
    ap.add_argument("--config")
    ap.add_argument("path")
    args = ap.parse_args(argv)
    try:
        import resource

        lim = args.mem_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    except (ImportError, ValueError, OSError):
        pass
    # by its real module name: run as `-m`, this file is __main__, which the parent would not accept
    from inspector.io import load

    try:
        result: dict = {"status": "ok", "value": load(args.path, config=args.config)}
    except ModelFileError as exc:
        result = {"status": "error", "value": exc.path, "reason": exc.reason}
    sys.stdout.flush()
    sys.stdout.buffer.write(_MAGIC)
    dump_result(result, sys.stdout.buffer.write)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
