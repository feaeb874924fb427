"""Read an untrusted file in a child process: libhdf5 can crash or spin forever on a corrupted file.

Mutation fuzzing (tests/hostile) found HDF5 files, a few flipped bytes away from valid ones, on
which libhdf5 1.14 (the one h5py ships) either **segfaults** (a corrupted vlen-string datatype
makes an attribute read call H5T__vlen_disk_write) or **loops forever while holding the GIL**
(a global-heap object of size 0: H5HG__cache_heap_deserialize never advances).  No Python code can
catch either: in-process, the first kills the app and the second freezes every thread, GUI included.

`load_isolated` therefore runs `inspector.io.load` in a child interpreter (``python -m
inspector.io.sandbox --serve``) under a wall-clock timeout, an address-space limit and a file-size
limit, and turns a crash, a hang or a memory blow-up into an ordinary ModelFileError.

Transfer, data only and zero-copy: the parent hands the child a memory file (Linux memfd; an
unlinked temporary file elsewhere).  The child writes into it a JSON description of the core
dataclasses (only the classes of inspector.core.network are accepted; arrays are placeholders
with dtype and shape) followed by the raw bytes of every array, each 64-byte aligned.  Once the
child has exited, the parent seals the memfd (nobody can change or shrink it any more) and maps it
read-only: every `Weight.value` is a read-only, C-contiguous view of that mapping, so the weights
are neither copied through a pipe nor held twice (the pages are counted once, when first touched).
No code travels, only data: even a child that the file managed to subvert cannot make
the parent run anything.

Start-up: an interpreter with numpy and h5py imported costs ~0.3 s.  `prestart()` (the GUI calls it
when its session is created) starts a child that imports everything and then waits for one request;
`load_isolated` uses it and, after each use (or crash / timeout), starts the next one in the
background.  Without `prestart` (the CLI) each call starts its own child.

`INSPECTOR_SANDBOX=0` loads in-process instead (debugging).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from inspector.io.errors import ModelFileError

#: wall-clock limit for reading one file (the slowest real file in the corpus reads in < 1 s)
TIMEOUT_S = 30.0
#: address-space limit of the child, MiB: a floor plus a multiple of the file size, capped.  A
#: corrupted global-heap or chunk size makes libhdf5 allocate (and touch) gigabytes for a 24 KB
#: file before failing; under this limit the allocation fails at once and the file is refused.
MEM_FLOOR_MB = 1024
MEM_PER_FILE_MB = 8  # float32 copies of float16/bf16 data, h5py read buffers, archive members in RAM
MEM_MB = 8192
_MAGIC = b"--inspector-sandbox-done--"
_PREVIEW = b"--inspector-sandbox-preview--\n"
#: most stderr bytes kept from a child (a subverted one could write without end)
_MAX_ERR = 1 << 20
_ALIGN = 64  # every array starts on a 64-byte boundary of the mapping (SIMD loads, pyqtgraph)
#: seconds between the end of a load and the start of the next pre-warmed child: its imports then
#: do not compete with the first paint of the file just read
RESPAWN_DELAY_S = 1.0


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


def _decode(node: Any, array: Callable[[dict], np.ndarray], memo: list[Any] | None = None) -> Any:
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


def _zeros(node: dict) -> np.ndarray:
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


_TAG = b"INSPRES1"  # last 8 bytes of a result, after the 8-byte header length


class Arena:
    """Weight arrays allocated straight in the result memory file (child side).

    The reader's `read_dataset` allocates every big array here (`_safe.allocating`), so libhdf5
    reads into the very pages the parent will map: the weights are never copied from the reader's
    memory into the result.  Arrays start on page boundaries at the front of the file;
    `dump_result` writes the rest after them.
    """

    MIN_BYTES = 1 << 20  # smaller arrays are allocated normally and written by dump_result

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self.spans: dict[int, tuple[int, int]] = {}  # data address -> (file offset, bytes)
        self._maps: list[mmap.mmap] = []

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dt = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if nbytes < self.MIN_BYTES or os.name != "posix":
            return np.empty(shape, dt)
        offset, length = self.size, nbytes + (-nbytes % mmap.PAGESIZE)
        os.ftruncate(self.fd, offset + length)
        self.size = offset + length
        mm = mmap.mmap(self.fd, length, offset=offset)
        self._maps.append(mm)
        arr = np.frombuffer(mm, dtype=dt, count=nbytes // dt.itemsize).reshape(shape)
        self.spans[data_address(arr)] = (offset, nbytes)
        return arr

    def span(self, arr: np.ndarray) -> tuple[int, int] | None:
        """(offset, bytes) when `arr` is exactly an arena array (or a C-contiguous view of all of it)."""
        found = self.spans.get(data_address(arr)) if arr.size else None
        if found is None or found[1] != arr.nbytes or not arr.flags.c_contiguous:
            return None
        return found


def dump_result(
    result: dict, write: Callable[[Any], object], zeros: Any = (), arena: Arena | None = None
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
            write(memoryview(arr).cast("B"))
        pos += arr.nbytes
    header = json.dumps({"tree": tree, "arrays": table}).encode("utf-8")
    write(header + len(header).to_bytes(8, "little") + _TAG)


def load_result(data: Any) -> Any:
    """Inverse of `dump_result` for the bytes (or mmap) of a result.

    Arrays are read-only views into `data` (which they keep alive).
    """
    buf = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
    if len(buf) < 16 or bytes(buf[-8:]) != _TAG:
        raise ValueError("truncated result")
    n = int.from_bytes(buf[-16:-8], "little")
    end = len(buf) - 16 - n  # arrays lie before the header
    if n < 2 or end < 0:
        raise ValueError("truncated result")
    head = json.loads(bytes(buf[end : end + n]).decode("utf-8"))
    buf = buf.toreadonly()

    def array(node: dict) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------- parent


class _Child:
    """One reader process waiting for its request, and the memory file it will write its result to."""

    def __init__(self) -> None:
        self.fd, self.out_path = _result_file()
        self.preview_fd, self.preview_path = -1, ""
        try:
            self.preview_fd, self.preview_path = _result_file()
        except BaseException:
            self.close()
            raise
        arg = f"fd:{self.fd}" if self.fd >= 0 else f"path:{self.out_path}"
        parg = f"fd:{self.preview_fd}" if self.preview_fd >= 0 else f"path:{self.preview_path}"
        fds = tuple(fd for fd in (self.fd, self.preview_fd) if fd >= 0)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the `inspector` package
        env["PYTHONPATH"] = os.pathsep.join(x for x in (root, env.get("PYTHONPATH", "")) if x)
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    *_SAFE_PATH,
                    "-m",
                    "inspector.io.sandbox",
                    "--serve",
                    "--out",
                    arg,
                    "--preview-out",
                    parg,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                pass_fds=fds,
                start_new_session=(os.name == "posix"),
            )
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the child and anything it started
                else:
                    self.proc.kill()
            except OSError:
                pass

    def close(self) -> None:
        for fd_attr, path_attr in (("fd", "out_path"), ("preview_fd", "preview_path")):
            fd, where = getattr(self, fd_attr, -1), getattr(self, path_attr, "")
            if fd >= 0:
                os.close(fd)
                setattr(self, fd_attr, -1)
            if where:
                try:
                    os.unlink(where)
                except OSError:
                    pass
                setattr(self, path_attr, "")

    def discard(self) -> None:
        self.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self.close()


def _result_file() -> tuple[int, str]:
    """(fd, '') of a fresh memory file the child inherits, or (-1, path) where fds cannot be passed."""
    if os.name != "posix":
        fh = tempfile.NamedTemporaryFile(prefix="inspector-", suffix=".result", delete=False)
        fh.close()
        return -1, fh.name
    if hasattr(os, "memfd_create"):
        return os.memfd_create("inspector-sandbox", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING), ""
    fh = tempfile.TemporaryFile(prefix="inspector-")  # unlinked at once: only the fd names it
    fd = os.dup(fh.fileno())
    fh.close()
    return fd, ""


#: -P: the child does not put its working folder first on sys.path (an `inspector` folder there
#: would be imported instead of this package); our package comes from PYTHONPATH
_SAFE_PATH = ("-P",) if sys.version_info >= (3, 11) else ()

_lock = threading.Lock()
_spare: _Child | None = None
_running: set[_Child] = set()  # children reading a file now: stopped by `shutdown` too
_keep_warm = False


def prestart() -> None:
    """Start a reader process in the background now, so that the next `load_isolated` does not wait
    for an interpreter start; from then on a fresh one is started after each load.  Idempotent."""
    global _spare, _keep_warm
    _keep_warm = True
    if os.environ.get("INSPECTOR_SANDBOX", "1") == "0":
        return
    with _lock:
        if _spare is not None and _spare.alive():
            return
        old, _spare = _spare, None
    if old is not None:
        old.discard()
    try:
        child = _Child()
    except OSError:
        return
    with _lock:
        if _spare is None:
            _spare, child = child, None
    if child is not None:
        child.discard()


def shutdown() -> None:
    """Stop the pre-warmed reader process and kill any reading one (also done at exit).

    Without it they end anyway: the waiting one on end-of-input when this process dies, a reading
    one by its own alarm `timeout` + 2 s after its request.
    """
    global _spare, _keep_warm
    _keep_warm = False
    with _lock:
        old, _spare = _spare, None
        running = list(_running)
    if old is not None:
        old.discard()
    for child in running:
        child.kill()


atexit.register(shutdown)


def _take_child() -> _Child:
    global _spare
    with _lock:
        child, _spare = _spare, None
    if child is not None and child.alive():
        return child
    if child is not None:
        child.discard()
    return _Child()


def _respawn_later() -> None:
    if _keep_warm:
        timer = threading.Timer(RESPAWN_DELAY_S, lambda: prestart() if _keep_warm else None)
        timer.daemon = True
        timer.start()


def load_isolated(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    timeout: float = TIMEOUT_S,
    mem_mb: int | None = None,
    preview: str | None = None,
    on_preview: Callable[[str, ModelFile], object] | None = None,
) -> ModelFile:
    """`inspector.io.load` in a child process; a crash, hang or memory blow-up is a ModelFileError.

    Parameters
    ----------
    path, config : as for `inspector.io.load`.
    timeout : seconds before the child is killed.
    mem_mb : address-space limit of the child (POSIX only); default MEM_FLOOR_MB + MEM_PER_FILE_MB
        x the size of the file (and config), at most MEM_MB.  The result may not be larger either.
    preview, on_preview : when `on_preview` is given (POSIX), the child first reads the architecture
        and one weight (`inspector.io.preview.read_preview`; `preview` names the weight wanted, ''
        for the default) and `on_preview(weight path, ModelFile)` is called with it, on this thread,
        while the child goes on reading the whole file.  In that ModelFile only the named weight
        holds data; every other array is a read-only zero placeholder.  A preview that cannot be
        made is skipped silently (the full read reports any problem).

    Returns
    -------
    The ModelFile `inspector.io.load` returned in the child.  Its arrays are read-only,
    C-contiguous, 64-byte aligned views of one shared read-only mapping.

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
    if os.name != "posix":
        on_preview = None  # the progressive read below needs select() on pipes
    request = {
        "path": p,
        "config": os.fspath(config) if config is not None else None,
        "mem_mb": int(mem_mb),
        "timeout": float(timeout),
        "preview": (preview or "") if on_preview is not None else None,
    }
    try:
        child = _take_child()
    except OSError:  # cannot start a process at all: read in-process rather than not at all
        from inspector.io import load

        return load(p, config=config)
    with _lock:
        _running.add(child)
    try:
        return _run(child, p, request, timeout, on_preview)
    finally:
        with _lock:
            _running.discard(child)
        child.discard()
        _respawn_later()


def _run(
    child: _Child,
    p: str,
    request: dict,
    timeout: float,
    on_preview: Callable[[str, ModelFile], object] | None,
) -> ModelFile:
    line = (json.dumps(request) + "\n").encode("utf-8")
    try:
        if on_preview is None:
            out, err = child.proc.communicate(line, timeout=timeout)
        else:
            out, err = _communicate(child, line, timeout, on_preview)
    except subprocess.TimeoutExpired:
        child.kill()
        raise ModelFileError(
            p, f"reading did not finish within {timeout:g} s (corrupted file?): stopped"
        ) from None
    except OSError:  # the pre-warmed child died before reading its request (BrokenPipe)
        out, err = b"", b""
        child.proc.wait()
    if _MAGIC not in out:
        rc = child.proc.returncode
        if rc is not None and rc < 0:
            how = f"crashed (signal {-rc})"
        elif b"MemoryError" in err:
            how = "ran out of memory"
        else:
            how = f"failed (exit {rc})"
        raise ModelFileError(p, f"the HDF5/zip reader {how} on this file: corrupted or hostile file")
    try:
        res = load_result(_map_result(child.fd, child.out_path))
        status, a, b = res["status"], res.get("value"), res.get("reason")
    except Exception as exc:  # noqa: BLE001 - a malformed result is a failed read, never a crash
        raise ModelFileError(p, f"unreadable result from the reader process ({type(exc).__name__})") from None
    if status == "ok" and isinstance(a, ModelFile):
        return a
    if status == "error" and isinstance(a, str):
        raise ModelFileError(a, str(b))
    raise ModelFileError(p, "unexpected result from the reader process")


def _communicate(
    child: _Child, line: bytes, timeout: float, on_preview: Callable[[str, ModelFile], object]
) -> tuple[bytes, bytes]:
    """`Popen.communicate` that also hands a preview to `on_preview` as soon as the child announces it."""
    import selectors
    import time

    proc = child.proc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    proc.stdin.write(line)
    proc.stdin.close()
    out, err = bytearray(), bytearray()
    previewed = False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in sel.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    out += data
                    if not previewed and _PREVIEW in out:
                        previewed = True
                        _deliver_preview(child, on_preview)
                elif len(err) < _MAX_ERR:
                    err += data
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise subprocess.TimeoutExpired(proc.args, timeout) from None
    return bytes(out), bytes(err)


def _deliver_preview(child: _Child, on_preview: Callable[[str, ModelFile], object]) -> None:
    """Map the child's preview result and pass it on; any problem only means: no preview."""
    try:
        res = load_result(_map_result(child.preview_fd, child.preview_path))
        weight, mf = res.get("weight"), res.get("value")
        if res.get("status") != "preview" or not isinstance(weight, str) or not isinstance(mf, ModelFile):
            return
    except Exception:  # noqa: BLE001 - a malformed preview is no preview
        return
    try:
        on_preview(weight, mf)
    except Exception:  # noqa: BLE001 - the receiver's problem must not fail the read itself
        import logging

        logging.getLogger(__name__).debug("preview receiver failed", exc_info=True)


def _map_result(fd: int, path: str) -> Any:
    """A child's result file, mapped read-only (or read, where it is a named temporary file)."""
    if fd < 0:
        return Path(path).read_bytes()
    if hasattr(os, "memfd_create"):
        import fcntl

        # fails (EBUSY) if anything still maps it writable: then it could change under our arrays
        seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    size = os.fstat(fd).st_size
    if size == 0:
        raise ValueError("empty result")
    return mmap.mmap(fd, size, access=mmap.ACCESS_READ)


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


# ----------------------------------------------------------------------------------------- child


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view[: 1 << 30])
        view = view[n:]


def _open_out(where: str) -> int:
    kind, _, rest = where.partition(":")
    return int(rest) if kind == "fd" else os.open(rest, os.O_RDWR | os.O_TRUNC | getattr(os, "O_BINARY", 0))


def _write_preview(req: dict, where: str) -> None:
    """The architecture and one weight, written and announced before the whole file is read."""
    from inspector.io.preview import read_preview

    try:
        found = read_preview(req["path"], req["config"], str(req["preview"]))
    except Exception:  # noqa: BLE001 - no preview; the full read below reports the problem
        return
    if found is None:
        return
    weight, mf, placeholders = found
    fd = _open_out(where)
    try:
        dump_result(
            {"status": "preview", "value": mf, "weight": weight},
            lambda b: _write_all(fd, b),
            zeros=placeholders,
        )
    except Exception:  # noqa: BLE001
        return
    finally:
        if where.startswith("path:"):
            os.close(fd)
    sys.stdout.buffer.write(_PREVIEW)
    sys.stdout.buffer.flush()


def _child(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m inspector.io.sandbox")
    ap.add_argument("--serve", action="store_true", help="wait for one JSON request on stdin")
    ap.add_argument("--out", required=True, help="fd:N (an inherited file descriptor) or path:P")
    ap.add_argument("--preview-out", default=None, help="where a preview goes (as --out)")
    args = ap.parse_args(argv)
    # pay the imports before the request arrives (the point of a pre-warmed child)
    import h5py  # noqa: F401

    from inspector.io import detect, keras_v3, legacy_h5, load  # noqa: F401

    line = sys.stdin.buffer.readline()
    if not line.strip():
        return 0  # the parent went away or shut us down
    req = json.loads(line)
    # Our own end, should the parent not be there to kill us (it died, or a GUI quit while we hang):
    # libhdf5 spinning with the GIL held leaves no Python code running, but the kernel's default
    # action for SIGALRM / SIGXCPU still ends the process.
    backstop = int(float(req.get("timeout", TIMEOUT_S))) + 2
    if hasattr(signal, "alarm"):
        signal.alarm(backstop)
    try:
        import resource

        lim = int(req["mem_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))
        resource.setrlimit(resource.RLIMIT_CPU, (backstop, backstop + 1))
    except (ImportError, ValueError, OSError):
        pass
    if req.get("preview") is not None and args.preview_out:
        _write_preview(req, args.preview_out)
    from inspector.io._safe import allocating

    fd = _open_out(args.out)
    arena = Arena(fd)
    try:
        with allocating(arena.empty):
            result: dict = {"status": "ok", "value": load(req["path"], config=req["config"])}
    except ModelFileError as exc:
        result = {"status": "error", "value": exc.path, "reason": exc.reason}
    os.lseek(fd, arena.size, os.SEEK_SET)
    dump_result(result, lambda b: _write_all(fd, b), arena=arena)
    os.close(fd)
    sys.stdout.buffer.write(_MAGIC)
    sys.stdout.buffer.flush()
    os._exit(0)  # no interpreter teardown: the parent waits for this process to end


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
