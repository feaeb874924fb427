"""Measuring what a process holds: RSS, open descriptors, memory files, child processes.

Used by the memory tests (tests/hostile/test_memory.py, tests/ui/test_memory.py, the soak test) and
by bench/reopen.py.  Linux /proc only: `available()` says whether the figures mean anything.
Also writes the big generated models those tests reopen (h5py only, no TensorFlow), cached in the
git-ignored generated folder.
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from hostile.files import _k2_rnn, write_legacy_h5


def available() -> bool:
    return os.path.isfile("/proc/self/status") and os.path.isdir("/proc/self/fd")


def rss_mb() -> float:
    """Resident set size of this process in MiB, after a garbage collection."""
    gc.collect()
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _fd_targets() -> list[tuple[str, str]]:
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            out.append((name, os.readlink(f"/proc/self/fd/{name}")))
        except OSError:  # the descriptor listdir itself used, closed since
            continue
    return out


def fd_kinds() -> Counter[str]:
    """Open descriptors counted by what they name (memory files and pipes by kind, not by inode)."""
    return Counter(re.sub(r"\[\d+\]|\(deleted\)|:[0-9a-f-]+$", "", t).strip() for _, t in _fd_targets())


def fd_count() -> int:
    """Open descriptors of this process."""
    return len(_fd_targets())


def memfds() -> tuple[int, float]:
    """(descriptors naming a memory file, MiB of the distinct memory files they name)."""
    n, seen, total = 0, set(), 0
    for name, target in _fd_targets():
        if not target.startswith("/memfd:"):
            continue
        n += 1
        try:
            st = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if st.st_ino not in seen:
            seen.add(st.st_ino)
            total += st.st_size
    return n, total / 1024**2


def children() -> list[int]:
    """Process ids of this process's children (running or zombie), from /proc/self/task/*/children."""
    out: list[int] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as fh:
                out += [int(p) for p in fh.read().split()]
        except OSError:
            continue
    return out


def zombies() -> list[int]:
    """Children that have ended but were never waited for."""
    out = []
    for pid in children():
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":
            out.append(pid)
    return out


def big_lstm_model(folder: Path, units: int = 1024, features: int = 256, seed: int = 0) -> Path:
    """A tf.keras-2 HDF5 full model: LSTM(units, return_sequences) + LSTM(units) + Dense(8).

    With the defaults about 55 MB of float32 weights.  Written once (cached by its parameters).
    """
    path = Path(folder) / f"lstm2x{units}_f{features}_s{seed}.h5"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def arr(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    names = {
        n: [f"{n}/lstm_cell/kernel:0", f"{n}/lstm_cell/recurrent_kernel:0", f"{n}/lstm_cell/bias:0"]
        for n in ("lstm", "lstm_1")
    }
    layers = {
        "lstm": (names["lstm"], [arr(features, 4 * units), arr(units, 4 * units), arr(4 * units)]),
        "lstm_1": (names["lstm_1"], [arr(units, 4 * units), arr(units, 4 * units), arr(4 * units)]),
        "dense": (["dense/kernel:0", "dense/bias:0"], [arr(units, 8), arr(8)]),
    }
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, None, features], "dtype": "float32", "name": "x"},
                },
                {"class_name": "LSTM", "config": _k2_rnn("LSTM", "lstm", units, return_sequences=True)},
                {"class_name": "LSTM", "config": _k2_rnn("LSTM", "lstm_1", units)},
                {
                    "class_name": "Dense",
                    "config": {"name": "dense", "units": 8, "activation": "softmax", "use_bias": True},
                },
            ],
        },
    }
    tmp = path.with_suffix(".tmp")
    write_legacy_h5(tmp, json.loads(json.dumps(config)), layers)
    tmp.replace(path)
    return path
