"""Sniff what a file is from its first bytes, never from its extension.

See docs/formats.md, "Telling files apart".
"""

from __future__ import annotations

import os

import h5py

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
LFS_MAGIC = b"version https://git-lfs"


def sniff(path: str) -> str:
    """Classify `path`.

    Returns
    -------
    'hdf5' | 'zip' | 'dir' | 'lfs' | 'json' | 'npy' | 'empty' | 'special' | 'unknown'
    """
    if os.path.isdir(path):
        return "dir"
    if os.path.exists(path) and not os.path.isfile(path):
        return "special"  # a FIFO would block open() forever; devices and sockets are not models either
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if not head:
        return "empty"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(LFS_MAGIC):
        return "lfs"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return "json"
    # HDF5 allows a user block before the superblock (signature at 512, 1024, 2048 ...)
    try:
        if h5py.is_hdf5(path):
            return "hdf5"
    except Exception:  # noqa: BLE001 - sniffing must never raise
        pass
    return "unknown"


def lfs_size(path: str) -> int | None:
    """The real size recorded in a Git LFS pointer file, if readable."""
    try:
        with open(path, "rb") as fh:
            for line in fh.read(1024).decode("ascii", "replace").splitlines():
                if line.startswith("size "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def json_kind(path: str) -> str | None:
    """For a file dropped or opened beside a model: 'vocabulary' (a JSON list), 'architecture' (a
    JSON object, e.g. model.to_json()), or None (not JSON, or unreadable).  Never raises."""
    try:
        if sniff(path) != "json":
            return None
        with open(path, "rb") as fh:
            head = fh.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return None
    return "vocabulary" if head.startswith(b"[") else "architecture" if head.startswith(b"{") else None
