"""The fixed BLAS thread rule of the step loop (`inspector.core.threads`)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from inspector.core import threads


def _blas_threads() -> list[int]:
    np.ones(1)  # numpy (and its BLAS) loaded
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_small_batches_step_on_one_thread_and_the_setting_comes_back() -> None:
    before = _blas_threads()
    if not before:
        pytest.skip("no BLAS library visible to threadpoolctl")
    for batch in (1, threads.ONE_THREAD_MAX_BATCH):
        with threads.step_loop_threads(batch):
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == before
    with pytest.raises(RuntimeError), threads.step_loop_threads(1):
        raise RuntimeError("boom")
    assert _blas_threads() == before


def test_large_batches_keep_the_library_setting() -> None:
    before = _blas_threads()
    with threads.step_loop_threads(threads.ONE_THREAD_MAX_BATCH + 1):
        assert _blas_threads() == before


def test_big_products_keep_the_library_setting() -> None:
    before = _blas_threads()
    with threads.step_loop_threads(1, threads.ONE_THREAD_MAX_PRODUCT):
        assert _blas_threads() == before
