"""App: a trace (every recurrent layer's h, c and gates per step, plus the model outputs) to .npz / .csv.

The .npz layout is the one `keras-inspector trace` writes: '<layer>/h', '<layer>/c',
'<layer>/gates/<key>' (B, T, u) float32, processing order, with '<layer>/time_index' (T,) giving the
input step consumed at each processing step; `outputs=True` adds 'output/<k>'.  The .csv is one row
per number ("long" form, readable by any spreadsheet or pandas):
``sample,step,time,layer,quantity,unit,value``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from inspector.core.engine import Trace
from inspector.core.network import Array

__all__ = ["CSV_COLUMNS", "trace_arrays", "trace_rows", "write_trace_csv", "write_trace_npz"]

CSV_COLUMNS = ("sample", "step", "time", "layer", "quantity", "unit", "value")


def trace_arrays(tr: Trace, *, outputs: bool = False, time_index: bool = False) -> dict[str, Array]:
    """Flatten a Trace: '<layer>/h', '<layer>/c' (LSTM), '<layer>/gates/<key>', each (B, T, u) float32.

    Parameters
    ----------
    tr : the trace (`inspector.core.engine.trace`).
    outputs : also 'output/<k>', model output k as `predict` returns it.
    time_index : also '<layer>/time_index' (T,) int64, the input step of each processing step.
    """
    arrays: dict[str, Array] = {}
    for key, traj in tr.layers.items():
        arrays[f"{key}/h"] = np.asarray(traj.h, dtype=np.float32)
        if traj.c is not None:
            arrays[f"{key}/c"] = np.asarray(traj.c, dtype=np.float32)
        for g, v in traj.gates.items():
            arrays[f"{key}/gates/{g}"] = np.asarray(v, dtype=np.float32)
        if time_index:
            arrays[f"{key}/time_index"] = np.asarray(traj.time_index, dtype=np.int64)
    if outputs:
        for k, y in enumerate(tr.outputs):
            arrays[f"output/{k}"] = np.asarray(y, dtype=np.float32)
    return arrays


def write_trace_npz(tr: Trace, path: str | Path) -> Path:
    """Write `trace_arrays(tr, outputs=True, time_index=True)` to `path` (.npz, uncompressed)."""
    out = Path(path)
    np.savez(out, **trace_arrays(tr, outputs=True, time_index=True))  # type: ignore[arg-type]
    return out if out.suffix == ".npz" else out.with_name(out.name + ".npz")


def _cell(text: str) -> str:
    """A layer name as a CSV cell that no spreadsheet evaluates as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def trace_rows(tr: Trace) -> Iterator[tuple[int, int | str, int | str, str, str, int, float]]:
    """Every number of the trace as (sample, step, time, layer, quantity, unit, value).

    quantity is 'h', 'c' or 'gate_<key>'; step is the processing step, time the input step it read.
    Model outputs come last as layer 'output_<k>', quantity 'y' (step and time empty for an output
    without a time axis, else its step).
    """
    for key, traj in tr.layers.items():
        blocks = [("h", traj.h)] + ([("c", traj.c)] if traj.c is not None else [])
        blocks += [(f"gate_{g}", v) for g, v in traj.gates.items()]
        for name, arr in blocks:
            a = np.asarray(arr, dtype=np.float32)
            for n, s, u in np.ndindex(a.shape):
                yield n, s, int(traj.time_index[s]), key, name, u, float(a[n, s, u])
    for k, y in enumerate(tr.outputs):
        a = np.asarray(y, dtype=np.float32)
        flat = a.reshape(a.shape[0], -1) if a.ndim <= 2 else a.reshape(a.shape[0], a.shape[1], -1)
        for idx in np.ndindex(flat.shape):
            step: int | str = idx[1] if flat.ndim == 3 else ""
            yield idx[0], step, step, f"output_{k}", "y", idx[-1], float(flat[idx])


def write_trace_csv(tr: Trace, path: str | Path) -> Path:
    """Write `trace_rows(tr)` with a header line `CSV_COLUMNS` (values with 9 significant digits)."""
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for n, s, t, layer, q, u, v in trace_rows(tr):
            w.writerow((n, s, t, _cell(layer), q, u, f"{v:.9g}"))
    return out
