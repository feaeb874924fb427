"""inspector.core.stats: hand-computed statistics, NaN/Inf counted and excluded."""

import numpy as np
import pytest

from inspector.core.stats import finite_range, gate_stats, summary


def test_hand_computed_block():
    s = gate_stats("i", np.array([[3.0, -4.0], [0.0, 0.0005]], np.float32), near_zero_tol=1e-3)
    assert s.min == -4.0 and s.max == 3.0 and s.size == 4 and s.n_nonfinite == 0
    assert s.mean == pytest.approx((3 - 4 + 0 + 0.0005) / 4, rel=1e-6)
    assert s.norm == pytest.approx(np.sqrt(9 + 16 + 0.0005**2), rel=1e-6)
    assert s.near_zero == 0.5  # 0 and 0.0005
    assert s.std == pytest.approx(np.std([3.0, -4.0, 0.0, 0.0005]), rel=1e-5)


def test_nan_and_inf_are_counted_and_left_out():
    v = np.array([1.0, np.nan, -np.inf, 3.0, np.inf], np.float32)
    s = summary(v, "w")
    assert s.n_nonfinite == 3 and s.size == 5
    assert (s.min, s.max, s.mean) == (1.0, 3.0, 2.0)
    assert finite_range(v) == (1.0, 3.0, False)


def test_all_nan_gives_nan_moments_not_an_error():
    s = summary(np.full((2, 2), np.nan, np.float32))
    assert s.n_nonfinite == 4 and np.isnan(s.mean) and np.isnan(s.max)


def test_symmetric_levels():
    from inspector.core.stats import symmetric_levels

    assert symmetric_levels(np.array([1.0, -3.0, np.nan], np.float32)) == (-3.0, 3.0)
    assert symmetric_levels(np.zeros(3)) == (-1.0, 1.0)  # never a zero-width scale
    assert symmetric_levels(np.full(4, np.inf)) == (-1.0, 1.0)
    lo, hi = symmetric_levels(np.r_[np.ones(999), 1000.0], 99.5)
    assert hi == -lo and 1.0 <= hi < 10.0  # the single outlier is clipped
