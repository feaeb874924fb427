"""Time series from a CSV with a header: column names label the input features, an optional target
column is drawn against the model's output per step (no Qt).

The CSV: first row names (non-numeric), then one row per time step, numbers only.  The target column
is the one named by the caller, else a column called ``target`` / ``y`` / ``label`` when the model
takes one feature fewer than the file has.  (The app layer's `inputs.read_input_file` reads CSV inputs
in general; this module adds the names and the target on top of it.)
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

import numpy as np

from inspector.core.network import Array
from inspector.io.errors import ModelFileError

MAX_CSV_BYTES = 256 * 1024**2
TARGET_NAMES = ("target", "y", "label")


@dataclass(frozen=True)
class TimeSeries:
    """x : (T, F) float32 input rows; feature_names : F names (header); target : (T,) float32 or None;
    target_name : its column name or None."""

    x: Array
    feature_names: list[str]
    target: Array | None = None
    target_name: str | None = None

    def model_input(self) -> Array:
        """(1, T, F) float32, batch axis first."""
        return self.x[None].astype(np.float32)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def parse_csv_series(text: str, *, target: str | None = None, n_features: int | None = None) -> TimeSeries:
    """CSV text -> TimeSeries (see the module docstring).

    Raises
    ------
    ValueError : no data rows, ragged rows, non-numeric cells, or an unknown target column (one line).
    """
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError("the CSV has no rows")
    header = [c.strip() for c in rows[0]]
    if all(_is_number(c) for c in header):
        header = [f"feature {k}" for k in range(len(rows[0]))]
    else:
        rows = rows[1:]
    if not rows:
        raise ValueError("the CSV has a header but no data rows")
    for k, r in enumerate(rows):
        if len(r) != len(header):
            raise ValueError(f"CSV data row {k + 1} has {len(r)} columns but the header names {len(header)}")
    try:
        data = np.asarray([[float(c) for c in r] for r in rows], dtype=np.float32)
    except ValueError as exc:
        raise ValueError(f"the CSV holds a non-numeric cell ({exc})") from None
    col: int | None = None
    if target is not None:
        if target not in header:
            raise ValueError(f"no column named {target!r} (columns: {', '.join(header)})")
        col = header.index(target)
    elif n_features is not None and n_features == len(header) - 1:
        col = next((k for k, h in enumerate(header) if h.lower() in TARGET_NAMES), None)
    if col is None:
        return TimeSeries(data, header)
    keep = [k for k in range(len(header)) if k != col]
    return TimeSeries(data[:, keep], [header[k] for k in keep], data[:, col].copy(), header[col])


def read_csv_series(
    path: str | os.PathLike[str], *, target: str | None = None, n_features: int | None = None
) -> TimeSeries:
    """Read a CSV time series.

    Raises
    ------
    ModelFileError : '<file>: <reason>'.
    """
    p = os.fspath(path)
    try:
        if os.path.getsize(p) > MAX_CSV_BYTES:
            raise ValueError("the CSV is larger than 256 MiB")
        with open(p, encoding="utf8", newline="") as fh:
            return parse_csv_series(fh.read(), target=target, n_features=n_features)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(p, str(exc)) from None
    except OSError as exc:
        raise ModelFileError(p, f"cannot read: {exc.strerror or exc}") from None
