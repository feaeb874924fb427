"""Time series from a CSV with a header: column names label the input features, an optional target
column is drawn against the model's output per step (no Qt).

The CSV is read by the app's one CSV reader, `inspector.app.inputs.parse_csv` (first row names, then one
row per time step).  The target column is the one named by the caller, else a column called
``target`` / ``y`` / ``label`` when the model takes one feature fewer than the file has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from inspector.app.inputs import InputData, InputFileError, parse_csv, read_input_file
from inspector.core.network import Array
from inspector.io.errors import ModelFileError


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


def _series(data: InputData) -> TimeSeries:
    x = data.arrays[0]
    names = data.columns or [f"feature {k}" for k in range(x.shape[1])]
    return TimeSeries(x, names, data.target, data.target_name)


def parse_csv_series(text: str, *, target: str | None = None, n_features: int | None = None) -> TimeSeries:
    """CSV text -> TimeSeries (see the module docstring).

    Raises
    ------
    ValueError : no data rows, ragged rows, non-numeric cells, or an unknown target column (one line).
    """
    return _series(parse_csv(text, target=target, n_features=n_features, auto_target=n_features is not None))


def read_csv_series(
    path: str | os.PathLike[str], *, target: str | None = None, n_features: int | None = None
) -> TimeSeries:
    """Read a CSV time series.

    Raises
    ------
    ModelFileError : '<file>: <reason>'.
    """
    try:
        data = read_input_file(path, target=target, n_features=n_features, auto_target=n_features is not None)
    except InputFileError as exc:
        raise ModelFileError(None, str(exc)) from None
    if data.arrays[0].ndim != 2:
        raise ModelFileError(os.fspath(path), f"not a time series (an array of shape {data.arrays[0].shape})")
    return _series(data)
