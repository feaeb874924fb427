"""Long inputs in the Stepper: key frames + a recomputed window, exact against a full trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.app import long_stepper as longrun
from inspector.app.keyframes import RunCancelledError, build_keyframes, build_keyframes_fast
from inspector.app.loading import long_source
from inspector.app.state import AppState, open_model
from inspector.core.stepper import Stepper

ROOT = Path(__file__).resolve().parents[2]
CLASSIC = ROOT / "resources" / "samples" / "classic.h5"
TEXT = (ROOT / "resources" / "samples" / "shakespeare.txt").read_text(encoding="utf-8").lower()
N = 30_000


@pytest.fixture(scope="module")
def state() -> AppState:
    return open_model(CLASSIC)


@pytest.fixture(scope="module")
def runs(state: AppState) -> tuple[longrun.LongStepper, Stepper]:
    """The same 30,000 characters as a LongStepper (through AppState.set_input) and as a full trace."""
    enc, x = state.encode(TEXT[:N])
    assert x.shape[1] == N > longrun.LONG_INPUT_STEPS
    state.set_input(x)
    long = state.stepper
    assert isinstance(long, longrun.LongStepper)
    assert state.tokens is not None and len(state.tokens) == N  # the typed tokens stay with the input
    assert state.run_network is not None and state.model_file is not None
    return long, Stepper(state.run_network, x, state.model_file.semantics)


def test_random_steps_equal_a_full_trace(state: AppState, runs: tuple[longrun.LongStepper, Stepper]) -> None:
    long, full = runs
    rng = np.random.default_rng(7)
    steps = [0, 1, 1023, 1024, 1025, N - 1, *rng.integers(0, N, 12).tolist()]
    for t in steps:
        state.set_step(t)
        assert state.step == long.t == t
        got, want = long.state(), full.state(t)
        assert set(got) == set(want)
        for key, st in got.items():
            ref = want[key]
            assert st.time == t
            np.testing.assert_array_equal(st.h, ref.h)
            np.testing.assert_array_equal(st.c, ref.c)
            for gate in ref.gates:
                np.testing.assert_allclose(st.gates[gate], ref.gates[gate], rtol=0, atol=1e-6)
        # the output if the text ended at t: exact up to float32 rounding of the Dense layer
        np.testing.assert_allclose(long.outputs_at(t)[0], full.outputs_at(t)[0], rtol=0, atol=2e-6)
        # the window the views read holds step t, at its absolute position
        win = long.window
        assert win.start <= t < win.stop and win.stop - win.start == longrun.WINDOW
        traj = win.trace.layers["lstm"]
        np.testing.assert_array_equal(traj.h[0], full.trace.layers["lstm"].h[0, win.start : win.stop])


def test_stepping_inside_the_window_only_indexes_it(
    state: AppState, runs: tuple[longrun.LongStepper, Stepper]
) -> None:
    long, _full = runs
    state.set_step(5000)
    win = long.window
    lo, hi = long.window_range(5000)
    assert lo <= 5000 - 3 * longrun.WINDOW // 8 and hi >= 5000 + 3 * longrun.WINDOW // 8  # room both ways
    for t in range(5000 - 100, 5000 + 100):
        state.set_step(t)
        assert long.window is win
    state.set_step(20_000)
    assert long.window is not win and long.window.holds(20_000)


def test_memory_is_bounded_by_the_window(runs: tuple[longrun.LongStepper, Stepper]) -> None:
    long, _full = runs
    kf = long.keyframes
    assert len(kf.states) == -(-N // longrun.KEYFRAME_EVERY)
    kept = sum(a.nbytes for st in kf.states for arrs in st.values() for a in arrs)
    window = sum(a.nbytes for tr in long.trace.layers.values() for a in tr.gates.values())
    assert kept < 2_000_000 and window < 10_000_000
    # typed text keeps its ids (4 bytes a step), not one-hot rows
    assert long.source.inputs(0, 3)[0].shape == (1, 3, 36)
    assert isinstance(long.source, longrun.IdSource) and long.source.ids.nbytes <= 4 * N
    ov = long.overview["lstm"]
    assert ov.shape[0] == len(kf.states)
    np.testing.assert_allclose(ov[1], _full.trace.layers["lstm"].h[0, 1024:2048].mean(axis=0), atol=1e-5)


def test_short_batched_or_bidirectional_inputs_keep_the_full_trace(state: AppState) -> None:
    net = state.run_network
    assert net is not None
    x = np.zeros((1, 100, 36), np.float32)
    assert long_source(net, [x]) is None  # short
    assert long_source(net, [np.zeros((2, 30_000, 36), np.float32)]) is None  # a batch
    assert isinstance(long_source(net, [np.zeros((1, 30_000, 36), np.float32)]), longrun.ArraySource)


def test_progress_and_cancel(state: AppState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(longrun, "LONG_INPUT_STEPS", 3000)
    monkeypatch.setattr(longrun, "BUILD_CHUNK", 2048)
    state.clear_input()
    seen: list[tuple[int, int]] = []
    failed: list[str] = []

    def on_progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 2048:
            state.cancel_input()

    state.input_progress.connect(on_progress)
    state.input_failed.connect(failed.append)
    try:
        _enc, x = state.encode(TEXT[:8000])
        state.set_input(x)
    finally:
        state.input_progress.disconnect(on_progress)
        state.input_failed.disconnect(failed.append)
    assert seen == [(2048, 8000)]  # stopped before the next run
    assert state.stepper is None and not state.busy and failed == []
    net = state.run_network
    assert net is not None and state.model_file is not None
    src = long_source(net, [x])
    assert src is not None
    with pytest.raises(RunCancelledError):
        longrun.build_long_stepper(net, state.model_file.semantics, src, cancelled=lambda: True)


def test_dense_key_frames_from_long_runs_equal_chunked_ones(state: AppState) -> None:
    net, mf = state.run_network, state.model_file
    assert net is not None and mf is not None
    src = long_source(net, [state.encode(TEXT[:25_000])[1]])
    assert src is not None
    fast = build_keyframes_fast(net, mf.semantics, src, every=1024, chunk=4096)
    slow = build_keyframes(net, mf.semantics, src, every=1024)
    assert len(fast.states) == len(slow.states) == 25
    for a, b in zip(fast.states, slow.states):
        assert set(a) == set(b)
        for key in a:
            for x, y in zip(a[key], b[key]):
                np.testing.assert_array_equal(x, y)
    for key in slow.overview:
        np.testing.assert_allclose(np.stack(fast.overview[key]), np.stack(slow.overview[key]), atol=1e-6)


def test_output_series_is_the_window_of_the_full_run(runs: tuple[longrun.LongStepper, Stepper]) -> None:
    long, full = runs
    long.seek(12_345)
    series = long.output_series(0)
    assert series.steps[0] == long.window_start and series.steps[-1] == long.window_stop - 1
    for k in (0, 100, 511):
        t = int(series.steps[k])
        np.testing.assert_allclose(series.values[k], full.outputs_at(t)[0][0], atol=2e-6)
