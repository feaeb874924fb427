"""App layer: a folder of training checkpoints (what `ModelCheckpoint` writes) as curves over epochs (no Qt).

Files are ordered by the epoch number in their name (`weights.07.h5`, `model-epoch_12-loss_0.31.keras`,
`ckpt_3.weights.h5`): the number after 'epoch' when the name has one, else the first number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.core.network import Array, ModelFile

_EPOCH = re.compile(r"epoch[^0-9]{0,3}(\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+)")
_SUFFIXES = (".h5", ".hdf5", ".keras")


def epoch_of(name: str) -> int | None:
    """The epoch number in a checkpoint file name, or None when it has no number."""
    stem = name
    for suffix in (*_SUFFIXES, ".weights"):  # '.h5' holds a digit: never read it as an epoch
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    m = _EPOCH.search(stem) or _NUMBER.search(stem)
    return int(m.group(1)) if m else None


def find_checkpoints(folder: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """(epoch, path) of every Keras file in `folder` whose name holds a number, sorted by epoch.

    Raises
    ------
    ValueError : the folder holds no numbered .h5/.hdf5/.keras file.
    """
    found = []
    for p in Path(folder).iterdir():
        if p.is_file() and p.name.lower().endswith(_SUFFIXES):
            e = epoch_of(p.name)
            if e is not None:
                found.append((e, p))
    if not found:
        raise ValueError("no checkpoint files (numbered .h5/.hdf5/.keras, e.g. weights.01.h5) in the folder")
    return sorted(found, key=lambda ep: (ep[0], ep[1].name))


@dataclass(frozen=True, eq=False)
class CheckpointSeries:
    """Checkpoints of one training run, in epoch order.

    Attributes
    ----------
    epochs : (E,) int, the epoch numbers from the file names.
    files : the loaded files, same order.
    norms : (weight path, gate key or None) -> (E,) float64 Frobenius norm of that block per epoch.
    """

    epochs: Array
    files: list[ModelFile]
    norms: dict[tuple[str, str | None], Array]


def load_series(folder: str | os.PathLike[str], load: Callable[[str], ModelFile]) -> CheckpointSeries:
    """Load every checkpoint of `folder` with `load(path)` and compute the per-gate norm curves.

    Parameters
    ----------
    load : reads one file (e.g. `inspector.io.load`, or a sandboxed loader with a config bound).

    Raises
    ------
    ValueError : no checkpoints, or checkpoints of different architectures (the first difference named).
    ModelFileError : from `load`.
    """
    from inspector.app.diff import first_difference, matched_weights

    found = find_checkpoints(folder)
    files = [load(str(p)) for _, p in found]
    for (_, p), mf in zip(found[1:], files[1:]):
        why = first_difference(files[0], mf)
        if why is not None:
            raise ValueError(f"{p.name}: different architecture from {found[0][1].name}: {why}")
    norms: dict[tuple[str, str | None], list[float]] = {}
    for mf in files:
        for path, _, w in matched_weights(files[0], mf):
            blocks: list[tuple[str | None, Array]] = [(g.key, g.take(w.value)) for g in w.gates]
            blocks = blocks or [(None, w.value)]
            for key, v in blocks:
                norms.setdefault((path, key), []).append(float(np.linalg.norm(v.astype(np.float64))))
    return CheckpointSeries(
        np.array([e for e, _ in found]), files, {k: np.array(v) for k, v in norms.items()}
    )
