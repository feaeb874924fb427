"""Core: statistics of weight arrays for display (pure numpy; NaN/Inf-safe).

NaN and Inf are legal weight values: they are counted (`n_nonfinite`) and left out of the moments,
never raised as errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspector.core.network import Array


@dataclass(frozen=True)
class GateStats:
    """Summary of one weight or gate block (finite values only; `n_nonfinite` counts NaN/Inf)."""

    name: str
    mean: float
    std: float
    min: float
    max: float
    norm: float
    near_zero: float  # share in [0, 1] of |w| <= the tolerance given to gate_stats
    n_nonfinite: int
    size: int


def finite_range(value: Array) -> tuple[float, float, bool]:
    """(min, max) over the finite values of `value` and whether every value is finite.

    Cheap for the common all-finite case: no boolean mask or copy is made.  (nan, nan, False) when
    no value is finite.
    """
    lo, hi = float(np.min(value)), float(np.max(value))
    if np.isfinite(lo) and np.isfinite(hi):
        return lo, hi, True  # NaN would have propagated into min/max
    finite = value[np.isfinite(value)]
    if finite.size == 0:
        return float("nan"), float("nan"), False
    return float(finite.min()), float(finite.max()), False


def gate_stats(name: str, block: Array, near_zero_tol: float, all_finite: bool | None = None) -> GateStats:
    """Statistics of `block` (any shape, float32).

    Parameters
    ----------
    name : label of the block (a gate title, or the weight's name).
    block : the values; NaN/Inf are counted and left out of mean/std/min/max/norm.
    near_zero_tol : |w| at or below this counts as near zero.
    all_finite : pass True/False when already known (saves a pass over big arrays).
    """
    block = np.asarray(block, dtype=np.float32)
    if all_finite is None:
        all_finite = bool(np.isfinite(block).all())
    if all_finite:
        vals, n_bad = block, 0
    else:
        vals = block[np.isfinite(block)]
        n_bad = int(block.size - vals.size)
    if vals.size == 0:
        nan = float("nan")
        return GateStats(name, nan, nan, nan, nan, nan, nan, n_bad, int(block.size))
    # float64 accumulators without float64 copies of the block
    mean = float(np.mean(vals, dtype=np.float64))
    axes = "abcdefgh"[: vals.ndim]
    sq = float(np.einsum(f"{axes},{axes}->", vals, vals, dtype=np.float64))
    var = max(sq / vals.size - mean * mean, 0.0)
    return GateStats(
        name=name,
        mean=mean,
        std=float(np.sqrt(var)),
        min=float(vals.min()),
        max=float(vals.max()),
        norm=float(np.sqrt(sq)),
        near_zero=float(np.count_nonzero(np.abs(vals) <= near_zero_tol)) / vals.size,
        n_nonfinite=n_bad,
        size=int(block.size),
    )


def summary(value: Array, name: str = "", near_zero_relative: float = 1e-3) -> GateStats:
    """`gate_stats` of a whole array, near zero meaning |w| <= near_zero_relative * max|w|."""
    value = np.asarray(value, dtype=np.float32)
    lo, hi, all_finite = finite_range(value) if value.size else (0.0, 0.0, True)
    top = max(abs(lo), abs(hi)) if np.isfinite(lo) else 0.0
    return gate_stats(name, value, near_zero_relative * top, all_finite)


def symmetric_levels(values: Array, percentile: float = 100.0) -> tuple[float, float]:
    """(-m, m) colour levels for a diverging scale centred on 0.

    m is the `percentile` of |values| over the finite values (100 = the largest |w|; 99.5 clips a
    few outliers).  Always finite and > 0, so a colour bar can be drawn for any array, including
    all-zero, all-NaN and empty ones.
    """
    value = np.asarray(values, dtype=np.float32)
    if percentile >= 100.0:
        lo, hi, _ = finite_range(value) if value.size else (0.0, 0.0, True)
        m = max(abs(lo), abs(hi)) if np.isfinite(lo) else 0.0
    else:
        a = np.abs(value[np.isfinite(value)])
        m = float(np.percentile(a, percentile)) if a.size else 0.0
        if m <= 0.0 and a.size:
            m = float(a.max())
    if not np.isfinite(m) or m <= 0.0:
        m = 1.0
    return -m, m
