"""Read an untrusted file in a child process: libhdf5 can crash or spin forever on a corrupted file.

Mutation fuzzing (tests/hostile) found HDF5 files, a few flipped bytes away from valid ones, on
which libhdf5 1.14 (the one h5py ships) either **segfaults** (a corrupted vlen-string datatype
makes an attribute read call H5T__vlen_disk_write) or **loops forever while holding the GIL**
(a global-heap object of size 0: H5HG__cache_heap_deserialize never advances).  No Python code can
catch either: in-process, the first kills the app and the second freezes every thread, GUI included.

`load_isolated` therefore runs `inspector.io.load` in a fresh interpreter (``python -m
inspector.io.sandbox``) under a wall-clock timeout and an address-space limit, and turns a crash,
a hang or a memory blow-up into an ordinary ModelFileError.  The ModelFile comes back pickled and is
unpickled with a whitelist of classes (the core dataclasses and numpy arrays), so even a child that
the file managed to subvert cannot make the parent run code.

Cost: one interpreter start (~0.3 s).  `INSPECTOR_SANDBOX=0` loads in-process instead (debugging).
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

from inspector.core.network import ModelFile
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


def _mappingproxy(d: dict) -> types.MappingProxyType:
    return types.MappingProxyType(d)


def _reduce_mappingproxy(m: types.MappingProxyType) -> tuple:
    return (_mappingproxy, (dict(m),))


_ALLOWED = {
    "inspector.core.network": {"ModelFile", "Network", "Layer", "Weight", "GateSlice", "TensorRef", "Call",
                               "Semantics"},
    "inspector.io.sandbox": {"_mappingproxy"},
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},
    "numpy._core.numeric": {"_frombuffer"},
    "copyreg": {"_reconstructor"},
    "builtins": {"object", "frozenset", "set", "complex", "slice"},
}


class _Unpickler(pickle.Unpickler):
    """Only the classes a ModelFile is made of; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"sandbox result refers to {module}.{name}: refused")


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
        status, a, b = _Unpickler(io.BytesIO(out.split(_MAGIC, 1)[1])).load()
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
    from inspector.io.sandbox import _reduce_mappingproxy

    copyreg.pickle(types.MappingProxyType, _reduce_mappingproxy)

    try:
        result: tuple = ("ok", load(args.path, config=args.config), None)
    except ModelFileError as exc:
        result = ("error", exc.path, exc.reason)
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.flush()
    sys.stdout.buffer.write(_MAGIC + data)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
