"""A first look at a big file: its architecture and ONE weight, before the rest is read.

Opening a 200 MB model, a user wants to see the weight they care about at once, not after every
dataset has been read.  `read_preview` reads the file twice *without its weights*: every dataset
becomes a zero placeholder that costs no I/O and no memory (a preview `_safe.ReadPlan`), so both passes
cost the metadata only.  The first pass finds which weight to show (the one asked for, else
`default_weight`) and the dataset it was built from; the second reads that one dataset for real.
Everything else in the result is a placeholder and must not be shown as data: the caller shows
the one weight and then reads the whole file with `inspector.io.load` as usual.

Weights built from several datasets (Keras 1 per-gate arrays, CuDNN blocks) have no single source:
they get no preview (None) and simply appear with the full read.
"""

from __future__ import annotations

import os

import numpy as np

from inspector.core.network import ModelFile, default_weight, find_weight
from inspector.io.errors import ModelFileError


def read_preview(
    path: str | os.PathLike[str], config: str | os.PathLike[str] | None = None, wanted: str = ""
) -> tuple[str, ModelFile, list[np.ndarray]] | None:
    """(weight path, ModelFile, placeholders) with only that weight's values read, or None.

    Parameters
    ----------
    path, config : as for `inspector.io.load`.
    wanted : the weight display path to show if the file has it (e.g. the selection kept over a
        reload); otherwise `default_weight` of the file.

    Returns
    -------
    None when the file cannot be read (the full read will say why) or the weight is not stored
    as one dataset.  Otherwise the weight's display path, the ModelFile in which that weight holds
    its real values and every other array is a zero placeholder, and the list of placeholders.
    """
    from inspector.io import load
    from inspector.io._safe import ReadPlan

    try:
        plan = ReadPlan(only=frozenset())
        mf = load(path, config=config, plan=plan)
        weight_path = wanted if find_weight(mf, wanted) is not None else default_weight(mf)
        found = find_weight(mf, weight_path)
        source = plan.source_of(found[1].value) if found is not None else None
        if source is None:
            return None
        del mf, plan, found
        plan = ReadPlan(only=frozenset({source}))
        mf = load(path, config=config, plan=plan)
    except ModelFileError:
        return None
    found = find_weight(mf, weight_path)
    if found is None or plan.source_of(found[1].value) is not None:
        return None
    return weight_path, mf, [arr for arr, _ in plan.placeholders.values()]
