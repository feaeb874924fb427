"""Core: run a block of small BLAS calls on one thread (no Qt, no h5py).

The recurrent loop makes one small matrix product per timestep.  OpenBLAS wakes its worker threads
for each of them and lets them spin afterwards; on a 2-core machine that is busy with anything else
this made a 2 x LSTM(1024) step loop about 4x slower than one thread, while an idle machine gains
only ~0.1 ms per step from the second thread.  So the step loop runs single-threaded.

OpenBLAS' thread count is process-wide (even `openblas_set_num_threads_local` is global in pthread
builds), so nested or concurrent users share one save/restore under a lock.  Without a reachable
OpenBLAS (Accelerate, MKL, unusual builds) this is a no-op.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)

_lock = threading.Lock()
_users = 0
_saved: int | None = None
_api: tuple[Callable[[int], None], Callable[[], int]] | None = None
_looked = False


def _candidates() -> list[str]:
    paths: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    p = line.split()[-1] if line.strip() else ""
                    if "openblas" in os.path.basename(p).lower() and p not in paths:
                        paths.append(p)
        except OSError:
            pass
    root = os.path.dirname(os.path.dirname(np.__file__))
    for folder in ("numpy.libs", os.path.join("numpy", ".libs"), os.path.join("numpy", ".dylibs")):
        paths += sorted(glob.glob(os.path.join(root, folder, "*openblas*")))
    return paths


def _find() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _SYMBOLS:
            setter = getattr(lib, set_name, None)
            getter = getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


@contextmanager
def single_threaded() -> Iterator[None]:
    """Within the block, BLAS calls use one thread; the previous setting is restored after."""
    global _users, _saved, _api, _looked
    with _lock:
        if not _looked:
            _looked = True
            try:
                _api = _find()
            except Exception:  # noqa: BLE001 - any failure only means: leave threading alone
                _api = None
        if _api is not None and _users == 0:
            _saved = _api[1]()
            if _saved > 1:
                _api[0](1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _api is not None and _users == 0 and _saved is not None and _saved > 1:
                _api[0](_saved)
