"""The shared memory the reader process writes its result into (Linux memfd; a file elsewhere).

The parent creates an anonymous memory file (`result_file`) that the reader inherits.  The reader
allocates every big weight array straight in it (`Arena.empty`, passed to the HDF5 readers as
their `allocate` argument) so libhdf5 reads into the very pages the parent will map, then writes
the rest of the result after them (`inspector.io.result_codec.dump_result`).  Once the reader has
exited, the parent seals the memfd (nobody can change or shrink it any more) and maps it read-only
(`map_result`): every `Weight.value` is a read-only view of that one mapping.

Lifetime: the mapping (a `mmap.mmap`, which holds its own duplicate of the descriptor) is the
base of every array built from it, so the memory and the descriptor are released when the last
array of the model dies; the parent's own descriptor is closed as soon as the result is mapped.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.network import data_address


class Arena:
    """Weight arrays allocated straight in the result memory file (child side).

    The reader's `read_dataset` allocates every big array here (its `allocate` argument), so libhdf5
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


def result_file() -> tuple[int, str]:
    """(fd, '') of a fresh memory file the child inherits, or (-1, path) where fds cannot be passed."""
    if os.name != "posix":
        fh = tempfile.NamedTemporaryFile(prefix="inspector-", suffix=".result", delete=False)
        fh.close()
        return -1, fh.name
    if hasattr(os, "memfd_create"):
        return os.memfd_create("inspector-sandbox", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING), ""
    with tempfile.TemporaryFile(prefix="inspector-") as tmp:  # unlinked at once: only the fd names it
        return os.dup(tmp.fileno()), ""


def map_result(fd: int, path: str) -> Any:
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


def write_all(fd: int, data: Any) -> None:
    """Write every byte of `data` (a buffer) to `fd`."""
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view[: 1 << 30])
        view = view[n:]


def open_out(where: str) -> int:
    """The descriptor named by a reader's ``--out`` argument: 'fd:N' (inherited) or 'path:P'."""
    kind, _, rest = where.partition(":")
    return int(rest) if kind == "fd" else os.open(rest, os.O_RDWR | os.O_TRUNC | getattr(os, "O_BINARY", 0))
