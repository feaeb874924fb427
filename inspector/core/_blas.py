"""Core: choose the BLAS thread count for a recurrent step loop (no Qt, no h5py).

The recurrent loop makes one matrix product per timestep.  OpenBLAS splits a big one over its
threads, waking them for each call; they spin for ~50 ms after their last job (whatever the thread
count is set to meanwhile) before they sleep.  Whether threads pay depends on the product and on
the machine's load: for the 16 MiB recurrent kernel of an LSTM(1024), two threads on an idle 2-core
machine take ~0.1 ms per product instead of ~0.18 ms (a whole 2 x LSTM(1024) predict: ~55 ms
instead of ~100 ms), but on a 2-core machine that is busy with anything else they were 2-30x slower
than one thread.  Small products (LSTM(128), where the per-step Python work dominates) are not
split usefully at all.

So `step_loop()` runs small loops on one thread without further ado, and measures big ones:
`segments()` hands out the steps in short timed chunks and every so often runs a few steps with the
other thread count (one thread <-> the process' setting), keeping the faster (a switch is confirmed
by timing the current count once more, so a passing disturbance does not decide).  What was learnt is
kept per product size for the whole process: the choice, and the number of steps to the next check,
which doubles while checks confirm the choice.  A multi-threaded chunk that runs much slower than
measured (the machine got busy) triggers a check at once.  Trying more threads is the expensive
check on a busy machine (one such product can wait a whole scheduler time slice for a core), so it
is skipped while other processes' tasks occupy the other cores (Linux: /proc/loadavg), comes less
often, and one thread is kept unless more are clearly faster.  Code in the `with` block outside
`segments()` (the input projection, a matrix-matrix product) runs with the thread count the loop
currently prefers.

OpenBLAS' thread count is process-wide (even `openblas_set_num_threads_local` is global in pthread
builds), so nested or concurrent users share one save/restore under a lock, and while more than one
user is inside, every loop runs on one thread and nothing is measured.  Without a reachable OpenBLAS
(Accelerate, MKL, unusual builds) all of this is a no-op.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Hashable, Iterator
from contextlib import contextmanager

import numpy as np

_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)

# Step loops whose per-step product has fewer multiply-adds than this stay on one thread without
# measuring: OpenBLAS does not split them usefully (LSTM(256), batch 1: same time on 1 or 2 threads).
ADAPT_MIN_WORK = 1 << 19
_CHUNK = 8  # steps per timed chunk in the chosen mode
_PROBE = 4  # timed steps per mode in a check, after one warm-up step (waking / parking threads)
_CHECK = 3 * (1 + _PROBE)  # steps a check may take: current count, other count, current again
# Steps to the next check after a switch, doubled after each check that confirms the choice, up to a
# limit.  Trying more threads is the expensive check: the woken threads then spin for ~50 ms, taking
# a core from whoever needs it, and on a busy machine the first product with them can take
# milliseconds.  So that check comes less often.
_INTERVAL_MORE, _MAX_INTERVAL_MORE = 32, 1024
_INTERVAL_ONE, _MAX_INTERVAL_ONE = 64, 4096
_RETRY = 32  # steps to the next look when other processes held the cores at the last one
# Switch to more threads only when they take < 80% of one thread's time per step, back to one thread
# when it takes < 95% of theirs: when in doubt, one thread (a busy machine punishes threads hard).
_TO_MORE, _TO_ONE = 0.8, 0.95
# While probing the other mode, give up on it once its warm-up step takes 4x, or a timed step 1.5x,
# the current mode's time per step (on a busy machine one such step can cost milliseconds).
_ABORT_WARMUP, _ABORT_STEP = 4.0, 1.5
_DEGRADED = 2.0  # a multi-threaded chunk this much slower per step than measured triggers a check

_lock = threading.Lock()
_users = 0
_saved: int | None = None
_api: tuple[Callable[[int], None], Callable[[], int]] | None = None
_looked = False
_clock: Callable[[], float] = time.perf_counter  # tests substitute a fake clock


def _others_running() -> int | None:
    """Tasks of other processes running or runnable right now (Linux /proc; None elsewhere).

    The kernel's count of runnable tasks (/proc/loadavg) minus this process' own running threads
    (the caller, OpenBLAS workers still spinning).  About 0.1 ms; read only before trying threads.
    """
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat") as f:
                    stat = f.read()
            except OSError:  # the thread ended meanwhile
                continue
            own += stat[stat.rindex(")") + 2 :].startswith("R")
        return max(0, running - own)
    except (OSError, ValueError, IndexError):
        return None


_others = _others_running  # tests substitute a fake


def _candidates() -> list[str]:
    paths: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    p = line.split()[-1] if line.strip() else ""
                    if "openblas" in os.path.basename(p).lower() and p not in paths:
                        paths.append(p)
        except OSError:
            pass
    root = os.path.dirname(os.path.dirname(np.__file__))
    for folder in ("numpy.libs", os.path.join("numpy", ".libs"), os.path.join("numpy", ".dylibs")):
        paths += sorted(glob.glob(os.path.join(root, folder, "*openblas*")))
    return paths


def _find() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _SYMBOLS:
            setter = getattr(lib, set_name, None)
            getter = getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


def _enter() -> None:
    """Count a user in; the first saves the process setting.  Every user starts on one thread."""
    global _users, _saved, _api, _looked
    with _lock:
        if not _looked:
            _looked = True
            try:
                _api = _find()
            except Exception:  # noqa: BLE001 - any failure only means: leave threading alone
                _api = None
        if _api is not None:
            if _users == 0:
                _saved = _api[1]()
            if _saved is not None and _saved > 1:
                _api[0](1)
        _users += 1


def _leave() -> None:
    global _users
    with _lock:
        _users -= 1
        if _api is not None and _users == 0 and _saved is not None and _saved > 1:
            _api[0](_saved)


@contextmanager
def single_threaded() -> Iterator[None]:
    """Within the block, BLAS calls use one thread; the previous setting is restored after."""
    _enter()
    try:
        yield
    finally:
        _leave()


class _Choice:
    """What was learnt about one product size: the thread count to use and when to check again."""

    __slots__ = ("threads", "countdown", "interval", "expected")

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.countdown = 0  # steps until the next check; <= 0: check at the next chance
        self.interval = _INTERVAL_ONE
        self.expected = 0.0  # seconds per step measured for `threads` in the last check


_choices: dict[Hashable, _Choice] = {}


class StepLoop:
    """Hands out a loop's steps (`segments`) and sets the BLAS thread count for each run of them."""

    def __init__(self, key: Hashable, work: int) -> None:
        full = _saved if _api is not None and _saved is not None else 1
        self.full = full
        self.adaptive = full > 1 and work >= ADAPT_MIN_WORK
        self.choice: _Choice | None = None
        if self.adaptive:
            self.choice = _choices.get(key)
            if self.choice is None:
                self.choice = _choices.setdefault(key, _Choice(1))  # when in doubt, one thread
        self.threads = 1  # the count in force for the current run of steps (the caller may adapt to it)
        self.inside = True  # False once the `with` block is left (a late generator close must not set)
        self.steps_by_threads: dict[int, int] = {}  # what actually ran (diagnostics, tests)

    def _set(self, threads: int) -> bool:
        """Use `threads` (forced to 1 while another user is inside); False when forced."""
        with _lock:
            if not self.inside:
                return False
            alone = _users == 1
            if _api is not None and self.full > 1:
                _api[0](threads if alone else 1)
                self.threads = threads if alone else 1
            return alone

    def _count(self, threads: int, n: int) -> None:
        self.steps_by_threads[threads] = self.steps_by_threads.get(threads, 0) + n

    def segments(self, start: int, stop: int) -> Iterator[tuple[int, int]]:
        """Yield (s0, s1) runs covering range(start, stop) in order; the caller does steps s0..s1-1.

        Time spent between a yield and the next resumption is taken to be those steps' work.
        Afterwards, the thread count is the one currently preferred (one thread for a small loop).
        """
        ch = self.choice
        if ch is None:
            self._count(1, stop - start)
            yield start, stop
            return
        s = start
        try:
            while s < stop:
                left = stop - s
                if ch.countdown <= 0 and left >= _CHECK:
                    checked = yield from self._check(s, ch)
                    if checked > s:
                        s = checked
                        continue
                n = min(left, _CHUNK)
                alone = self._set(ch.threads)
                threads = ch.threads if alone else 1
                t0 = _clock()
                yield s, s + n
                dt = _clock() - t0
                self._count(threads, n)
                s += n
                if alone:
                    ch.countdown -= n
                    # more threads than measured-worth: the machine got busy, check again now
                    # (one thread getting slower is no reason to try more)
                    if threads > 1 and n == _CHUNK and 0 < _DEGRADED * ch.expected * n < dt:
                        ch.countdown = 0
        finally:
            self._set(ch.threads)

    def _measure(
        self, s: int, threads: int, limit: float
    ) -> Generator[tuple[int, int], None, tuple[int, float | None]]:
        """One warm-up step and _PROBE timed steps with `threads`: (next step, seconds per step).

        The warm-up step absorbs waking or parking the other threads.  With a `limit` (seconds per
        step of the other mode), gives up as soon as a step shows this mode is clearly slower (inf).
        None when another user came in (nothing ran).
        """
        if not self._set(threads):
            return s, None
        t0 = _clock()
        yield s, s + 1
        warmup = _clock() - t0
        self._count(threads, 1)
        s += 1
        if limit and warmup > _ABORT_WARMUP * limit:
            return s, float("inf")
        total = 0.0
        for _ in range(_PROBE):
            t0 = _clock()
            yield s, s + 1
            dt = _clock() - t0
            self._count(threads, 1)
            s += 1
            total += dt
            if limit and dt > _ABORT_STEP * limit:
                return s, float("inf")
        return s, total / _PROBE

    def _check(self, s: int, ch: _Choice) -> Generator[tuple[int, int], None, int]:
        """Time the current thread count, then the other; keep the faster.  Uses at most _CHECK steps.

        Before switching, the current count is timed once more and its better time counts: a passing
        disturbance (another process' threads still spinning, a cold cache) during its first
        measurement must not decide.  Returns the next step to do.
        """
        cur = ch.threads
        alt = 1 if cur > 1 else self.full
        if alt > cur:
            others = _others()
            if others is not None and others >= alt - 1:
                # the other cores are taken: a multi-threaded product would wait for them (often a
                # whole scheduler time slice, tens of ms).  Look again soon, without learning from it:
                # a moment's load (another process' threads finishing) must not keep a quiet machine
                # on one thread for thousands of steps.  Looking costs ~0.1 ms.
                ch.countdown = _RETRY
                return s
        s, t_cur = yield from self._measure(s, cur, 0.0)
        if t_cur is None:
            return s  # someone else came in: plain chunks (on one thread) from here
        s, t_alt = yield from self._measure(s, alt, t_cur)
        if t_alt is None:
            return s
        better = _TO_MORE if alt > cur else _TO_ONE
        if t_alt < better * t_cur:
            s, again = yield from self._measure(s, cur, 0.0)
            if again is None:
                return s
            t_cur = min(t_cur, again)
        if t_alt < better * t_cur:
            ch.threads, ch.expected = alt, t_alt
            ch.interval = _INTERVAL_MORE if alt > 1 else _INTERVAL_ONE
        else:
            limit = _MAX_INTERVAL_MORE if cur > 1 else _MAX_INTERVAL_ONE
            ch.interval, ch.expected = min(2 * ch.interval, limit), t_cur
        ch.countdown = ch.interval
        return s


@contextmanager
def step_loop(key: Hashable, work: int) -> Iterator[StepLoop]:
    """A block that steps a recurrent loop; `work` = multiply-adds of the per-step product(s).

    Use `loop.segments(start, stop)` for the steps.  Elsewhere in the block (the input projection)
    BLAS calls use the thread count the loop currently prefers: a matrix-matrix product gains from
    threads on a quiet machine, but suffers like the steps on a busy one.  The previous setting is
    restored after the block.
    """
    _enter()
    loop = None
    try:
        loop = StepLoop(key, work)
        if loop.choice is not None:
            loop._set(loop.choice.threads)
        yield loop
    finally:
        if loop is not None:
            with _lock:
                loop.inside = False
        _leave()
