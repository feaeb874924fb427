"""Core: the one BLAS thread rule of the recurrent step loop (threadpoolctl; no Qt, no h5py).

Rule: the per-step loop of a recurrent layer (one h_{t-1}.U product per step) runs on ONE BLAS
thread when the batch has at most `ONE_THREAD_MAX_BATCH` rows and the product has fewer than
`ONE_THREAD_MAX_PRODUCT` multiply-adds (an LSTM(128): 65,536; an LSTM(1024): 4.2 million).  Such
products are too small for threads to pay off, and spin-waiting BLAS threads compete with the GUI
thread for the cores; bigger products keep the BLAS library's threads (about 2x faster on 2 cores).
Everything else (the block product x.W, Dense layers, larger batches) runs with the BLAS library's
own setting.  The rule never looks at the machine's load, so a result never depends on it.

Several Python threads: threadpoolctl lets one thread at a time own a process-wide BLAS pool
(others' limits are no-ops while it does); that changes speed only, never a result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController

ONE_THREAD_MAX_BATCH = 8
ONE_THREAD_MAX_PRODUCT = 1 << 20


@cache
def _controller() -> ThreadpoolController:
    """The BLAS libraries loaded in this process (looked up once: a lookup costs ~0.3 ms)."""
    return ThreadpoolController()


@contextmanager
def step_loop_threads(batch: int, product: int = 0) -> Iterator[None]:
    """Run the enclosed step loop under the rule above (a no-op for batches over the limit).

    Parameters
    ----------
    batch : B, the number of sequences stepped together.
    product : multiply-adds of one step's recurrent product (B * units * gate columns).
    """
    if batch > ONE_THREAD_MAX_BATCH or product >= ONE_THREAD_MAX_PRODUCT:
        yield
        return
    with _controller().limit(limits=1, user_api="blas"):
        yield
