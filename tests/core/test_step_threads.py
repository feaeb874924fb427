"""The step loop's BLAS thread choice (`_blas.step_loop`): decided by timing, restored after.

Most tests replace OpenBLAS and the clock by fakes, so the choice is deterministic: a step costs
`cost[threads]` fake seconds.  The last ones use the real OpenBLAS (skipped without one) and check
that both thread counts give the same layer outputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import MappingProxyType

import numpy as np
import pytest

from inspector.core import _blas, recurrent
from inspector.core.network import GATES_BY_KIND, Layer, Semantics, Weight, gate_slices

BIG = _blas.ADAPT_MIN_WORK


class FakeBlas:
    """Stands in for OpenBLAS' thread setting and for the clock: steps advance time by cost[threads]."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self.now = 0.0
        self.sets: list[int] = []
        self.clock_calls = 0

    def set(self, n: int) -> None:
        self.threads = n
        self.sets.append(n)

    def get(self) -> int:
        return self.threads

    def clock(self) -> float:
        self.clock_calls += 1
        return self.now


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBlas]:
    fb = FakeBlas()
    monkeypatch.setattr(_blas, "_api", (fb.set, fb.get))
    monkeypatch.setattr(_blas, "_looked", True)
    monkeypatch.setattr(_blas, "_users", 0)
    monkeypatch.setattr(_blas, "_saved", None)
    monkeypatch.setattr(_blas, "_choices", {})
    monkeypatch.setattr(_blas, "_clock", fb.clock)
    monkeypatch.setattr(_blas, "_others", lambda: 0)  # an otherwise idle machine
    yield fb


def run_loop(
    fb: FakeBlas,
    steps: int,
    cost: Callable[[int, int], float],
    *,
    key: object = "k",
    work: int = BIG,
    start: int = 0,
) -> tuple[list[int], _blas.StepLoop]:
    """Run `steps` fake steps; returns the thread count in force at each step, and the loop."""
    used: list[int] = []
    done: list[int] = []
    with _blas.step_loop(key, work) as loop:
        for s0, s1 in loop.segments(start, start + steps):
            for s in range(s0, s1):
                done.append(s)
                used.append(fb.threads)
                fb.now += cost(s, fb.threads)
    assert done == list(range(start, start + steps))  # every step once, in order
    return used, loop


def test_quiet_machine_uses_all_threads_and_restores(fake: FakeBlas) -> None:
    used, loop = run_loop(fake, 600, lambda s, n: 0.6 if n > 1 else 1.0)
    assert used.count(2) > 0.9 * len(used)
    assert _blas._choices["k"].threads == 2
    assert fake.threads == 2 and _blas._users == 0  # the process setting is back
    assert loop.steps_by_threads == {1: used.count(1), 2: used.count(2)}


def test_busy_machine_stays_on_one_thread(fake: FakeBlas) -> None:
    used, _ = run_loop(fake, 600, lambda s, n: 5.0 if n > 1 else 1.0)
    assert used.count(1) > 0.98 * len(used)
    assert _blas._choices["k"].threads == 1
    assert fake.threads == 2  # restored although the loop ran on one thread


def test_no_threads_tried_while_other_processes_take_the_cores(
    fake: FakeBlas, monkeypatch: pytest.MonkeyPatch
) -> None:
    others = [1]
    monkeypatch.setattr(_blas, "_others", lambda: others[0])
    used, _ = run_loop(fake, 600, lambda s, n: 0.6 if n > 1 else 1.0)
    assert used == [1] * 600  # not even a probe, although threads would be faster
    # a busy moment teaches nothing: the machine is looked at again within _RETRY steps
    assert _blas._choices["k"].interval == _blas._INTERVAL_ONE
    assert 0 < _blas._choices["k"].countdown <= _blas._RETRY
    others[0] = 0  # the machine got quiet: the next check tries threads again
    used, _ = run_loop(fake, 100, lambda s, n: 0.6 if n > 1 else 1.0)
    assert used.count(2) > 60


def test_others_running_reads_proc() -> None:
    n = _blas._others_running()
    assert n is None or n >= 0


def test_threads_only_when_clearly_faster(fake: FakeBlas) -> None:
    used, _ = run_loop(fake, 600, lambda s, n: 0.9 if n > 1 else 1.0)
    assert used.count(1) > 0.95 * len(used)


def test_probe_of_a_bad_mode_is_cut_short(fake: FakeBlas) -> None:
    used, _ = run_loop(fake, 20, lambda s, n: 100.0 if n > 1 else 1.0)
    assert used.count(2) == 1  # the warm-up step was bad enough: no timed steps with 2 threads


def test_machine_getting_busy_switches_to_one_thread_soon(fake: FakeBlas) -> None:
    used, _ = run_loop(fake, 800, lambda s, n: (0.6 if s < 400 else 10.0) if n > 1 else 1.0)
    assert used[350:400].count(2) == 50
    assert used[430:].count(2) <= 2  # within a chunk and a check; afterwards at most a warm-up step


def test_machine_getting_quiet_is_noticed(fake: FakeBlas) -> None:
    steps = 3 * _blas._MAX_INTERVAL_ONE
    used, _ = run_loop(fake, steps, lambda s, n: (5.0 if s < steps // 3 else 0.6) if n > 1 else 1.0)
    assert used[: steps // 3].count(2) < 20
    assert used[-steps // 3 :].count(2) > 0.9 * (steps // 3)


def test_choice_is_kept_between_calls(fake: FakeBlas) -> None:
    run_loop(fake, 300, lambda s, n: 0.6 if n > 1 else 1.0)
    used, _ = run_loop(fake, 8, lambda s, n: 0.6 if n > 1 else 1.0)
    assert used == [2] * 8  # no check needed yet: starts with the learnt choice
    used, _ = run_loop(fake, 8, lambda s, n: 0.6 if n > 1 else 1.0, key="other size")
    assert used == [1] * 8  # a new size starts on one thread (too short to check)


def test_small_work_runs_on_one_thread_without_timing(fake: FakeBlas) -> None:
    used, loop = run_loop(fake, 500, lambda s, n: 0.1 if n > 1 else 1.0, work=BIG - 1)
    assert used == [1] * 500
    assert fake.clock_calls == 0 and not loop.adaptive
    assert fake.threads == 2


def test_projection_in_the_block_uses_the_preferred_count(fake: FakeBlas) -> None:
    run_loop(fake, 300, lambda s, n: 0.6 if n > 1 else 1.0)
    with _blas.step_loop("k", BIG):
        assert fake.threads == 2
    run_loop(fake, 300, lambda s, n: 5.0 if n > 1 else 1.0, key="busy")
    with _blas.step_loop("busy", BIG) as loop:
        assert fake.threads == 1
        for _ in loop.segments(0, 3):
            pass
        assert fake.threads == 1
    with _blas.step_loop("small", BIG - 1):
        assert fake.threads == 1
    assert fake.threads == 2


def test_after_segments_the_preferred_count_is_back(fake: FakeBlas) -> None:
    # exactly one check: 1 thread, 2 threads (faster), 1 thread again to confirm; 2 threads chosen
    with _blas.step_loop("k", BIG) as loop:
        for s0, s1 in loop.segments(0, _blas._CHECK):
            fake.now += (s1 - s0) * (0.6 if fake.threads > 1 else 1.0)
        assert loop.steps_by_threads == {1: 2 * _blas._CHECK // 3, 2: _blas._CHECK // 3}
        assert _blas._choices["k"].threads == 2 and fake.threads == 2


def test_a_disturbed_first_measurement_does_not_switch(fake: FakeBlas) -> None:
    run_loop(fake, 300, lambda s, n: 0.6 if n > 1 else 1.0)  # learnt: 2 threads
    _blas._choices["k"].countdown = 0  # check at the next call's first step ...
    # ... while something else still slows the first steps down (2 threads: 0.6 -> 3.0)
    used, _ = run_loop(fake, 100, lambda s, n: (3.0 if s < 4 else 0.6) if n > 1 else 1.0)
    assert _blas._choices["k"].threads == 2
    assert used.count(1) == 1 + _blas._PROBE


def test_segments_with_offsets_and_short_ranges(fake: FakeBlas) -> None:
    for start, steps in ((5, 1), (0, 3), (7, 11), (100, 257)):
        run_loop(fake, steps, lambda s, n: 1.0, start=start, key=("r", start))


def test_exception_inside_restores(fake: FakeBlas) -> None:
    with pytest.raises(RuntimeError), _blas.step_loop("k", BIG) as loop:
        for s0, _s1 in loop.segments(0, 100):
            fake.now += 1.0
            if s0 > 20:
                raise RuntimeError("boom")
    assert fake.threads == 2 and _blas._users == 0


def test_generator_closed_after_the_block_leaves_the_setting_alone(fake: FakeBlas) -> None:
    run_loop(fake, 300, lambda s, n: 0.6 if n > 1 else 1.0)  # learnt: 2 threads
    kept = []
    with pytest.raises(RuntimeError), _blas.step_loop("k", BIG) as loop:
        gen = loop.segments(0, 100)
        kept.append(gen)  # e.g. a traceback keeping the frame alive
        for _s0, _s1 in gen:
            fake.threads = 1  # ... while something else had one thread
            raise RuntimeError("boom")
    fake.threads = 3  # the process' setting after the block (whatever it is)
    kept.pop().close()  # runs the generator's cleanup only now
    assert fake.threads == 3


def test_another_user_forces_one_thread(fake: FakeBlas) -> None:
    run_loop(fake, 300, lambda s, n: 0.6 if n > 1 else 1.0)  # learnt: 2 threads
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with _blas.single_threaded():
            inside.set()
            release.wait(timeout=10)

    t = threading.Thread(target=other)
    t.start()
    try:
        assert inside.wait(timeout=10)
        used, loop = run_loop(fake, 300, lambda s, n: 0.6 if n > 1 else 1.0)
        assert used == [1] * 300
        assert fake.threads == 1  # the other user is still inside
    finally:
        release.set()
        t.join(timeout=10)
    assert fake.threads == 2 and _blas._users == 0


def test_without_openblas_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_blas, "_api", None)
    monkeypatch.setattr(_blas, "_looked", True)
    monkeypatch.setattr(_blas, "_users", 0)
    with _blas.step_loop("k", BIG) as loop:
        assert not loop.adaptive
        assert list(loop.segments(0, 50)) == [(0, 50)]


# ------------------------------------------------------------------ real OpenBLAS


def _real_threads() -> int | None:
    with _blas.single_threaded():  # make sure the library lookup has happened
        pass
    return None if _blas._api is None else _blas._api[1]()


def _layer(kind: str, d: int, u: int, seed: int, **cfg: object) -> Layer:
    rng = np.random.default_rng(seed)
    n = len(GATES_BY_KIND[kind])
    gates = gate_slices(kind, u)
    scale = 1.0 / np.sqrt(u)
    ws = (
        Weight("kernel", (rng.normal(size=(d, n * u)) * scale).astype(np.float32), gates=gates),
        Weight("recurrent_kernel", (rng.normal(size=(u, n * u)) * scale).astype(np.float32), gates=gates),
        Weight("bias", (rng.normal(size=(n * u,)) * 0.1).astype(np.float32), gates=gates),
    )
    config = {"units": u, "activation": "tanh", "recurrent_activation": "sigmoid", **cfg}
    return Layer("rnn", kind, config=MappingProxyType(config), weights=ws)


@pytest.mark.parametrize(
    ("kind", "cfg", "record"),
    [("LSTM", {}, False), ("LSTM", {}, True), ("GRU", {"reset_after": False}, False)],
)
def test_one_and_all_threads_agree(
    monkeypatch: pytest.MonkeyPatch, kind: str, cfg: dict, record: bool
) -> None:
    before = _real_threads()
    if before is None or before < 2:
        pytest.skip("needs OpenBLAS with at least 2 threads")
    sem = Semantics("keras3", True)
    u = 512  # big enough to be timed and split by OpenBLAS
    spec = recurrent.spec_from_layer(_layer(kind, 64, u, seed=3, **cfg), sem)
    assert spec.recurrent_kernel.size >= BIG
    x = np.random.default_rng(4).normal(size=(1, 40, 64)).astype(np.float32)
    outs = {}
    monkeypatch.setattr(recurrent, "_TRANSPOSED", {})
    for threads in (1, before):
        forced = _blas._Choice(threads)
        forced.countdown = forced.interval = 10**9  # no checks: this count throughout
        key = ("LSTM", 1, u) if kind == "LSTM" else (kind, False, 1, u)  # the loops' keys (batch 1)
        monkeypatch.setattr(_blas, "_choices", {key: forced})
        loops: list[_blas.StepLoop] = []
        real_init = _blas.StepLoop.__init__

        def spy(self: _blas.StepLoop, *a: object, _init=real_init, _loops=loops) -> None:
            _init(self, *a)
            _loops.append(self)

        monkeypatch.setattr(_blas.StepLoop, "__init__", spy)
        res = recurrent.run(spec, x, None, sem, record=record)
        monkeypatch.setattr(_blas.StepLoop, "__init__", real_init)
        assert [lp.steps_by_threads for lp in loops] == [{threads: 40}]
        assert _blas._api[1]() == before  # restored after the loop
        # the LSTM fast path multiplies by a transposed copy of U on several threads (faster there)
        assert len(recurrent._TRANSPOSED) == (1 if kind == "LSTM" and threads > 1 else 0)
        outs[threads] = res
    one, many = outs[1], outs[before]
    np.testing.assert_allclose(one.trajectory.h, many.trajectory.h, rtol=0, atol=1e-6)
    for a, b in zip(one.states, many.states):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    if record:
        for key in one.trajectory.h_part:
            np.testing.assert_allclose(one.trajectory.h_part[key], many.trajectory.h_part[key], atol=1e-5)


def test_real_predict_restores_thread_count() -> None:
    before = _real_threads()
    if before is None:
        pytest.skip("no OpenBLAS reachable")
    sem = Semantics("keras3", True)
    spec = recurrent.spec_from_layer(_layer("LSTM", 32, 384, seed=5), sem)
    x = np.random.default_rng(6).normal(size=(1, 60, 32)).astype(np.float32)
    a = recurrent.run(spec, x, None, sem, record=False).last_output
    b = recurrent.run(spec, x, None, sem, record=False).last_output
    assert _blas._api[1]() == before and _blas._users == 0
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
