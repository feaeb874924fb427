"""App layer: a Stepper over a long sequence in bounded memory (key frames + a recomputed window).

The plain `Stepper` keeps the whole trace: (T, units) per gate and state, about 1.5 GB for 100,000
characters of the classic sample.  Above `LONG_INPUT_STEPS` steps the app builds a `LongStepper`
instead: one pass keeps the recurrent states every `KEYFRAME_EVERY` steps (`inspector.app.keyframes`)
and the views read the exact trajectory of a `WINDOW`-step window around the current step, recomputed
from the key frame before it when the step leaves it.  Memory is O(T / KEYFRAME_EVERY + WINDOW) plus
the input ids; seeking anywhere costs at most KEYFRAME_EVERY + WINDOW steps of work.

Only causal single-sequence inputs of batch 1 take this path (`long_input_reason`): no Bidirectional
or go_backwards layer (their first step needs the end of the sequence).  Everything else keeps the
full trace.

Steps are absolute input timesteps; the window's trajectories start at `window_start`
(trajectory step s = input step window_start + s).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.app.keyframes import (
    ArraySource,
    IdSource,
    Keyframes,
    SequenceSource,
    States,
    build_keyframes_fast,
    not_chunkable,
    one_hot_width,
    window_and_state,
)
from inspector.app.outputs import OutputSeries
from inspector.core import engine
from inspector.core.engine import Trace
from inspector.core.network import Array, Network, Semantics
from inspector.core.stepper import StepState, step_state

# Inputs longer than this many steps are stepped through key frames instead of a full trace (a full
# trace of 20,000 steps of the classic sample holds ~300 MB; a long one is built in about the same time).
LONG_INPUT_STEPS = 20_000
KEYFRAME_EVERY = 1024  # steps between kept states: a window costs at most this many extra steps
WINDOW = 512  # steps of exact trajectory the views get around the current step
BUILD_CHUNK = 16 * KEYFRAME_EVERY  # steps per engine run while building (long runs: less overhead)

Report = Callable[[object], None]


@dataclass(frozen=True, eq=False)
class Window:
    """The exact trace of steps [start, stop) of a long run (trajectory step s = input step start + s)."""

    start: int
    stop: int
    trace: Trace
    before: States | None = None  # the states carried into `start` (None: not kept, see `state_at`)

    def holds(self, t: int) -> bool:
        return self.start <= t < self.stop


def long_input_reason(net: Network, inputs: Sequence[Array]) -> str | None:
    """None when `inputs` can be stepped through key frames (one sequence input, batch 1, causal model),
    else why not (one line)."""
    if len(inputs) != 1:
        return "the model has several inputs"
    x = np.asarray(inputs[0])
    if x.ndim < 2 or x.shape[0] != 1:
        return "the input is a batch of several sequences"
    return not_chunkable(net)


def source_for(net: Network, x: Array, ids: Array | None = None) -> SequenceSource:
    """The sequence of `x` (1, T, ...) as a key-frame source: token ids when given and `x` is one-hot of
    them or the ids themselves (4 bytes a step instead of a one-hot row), else `x` as it is."""
    if ids is not None:
        ids = np.asarray(ids)
        width = one_hot_width(net, 0) if x.ndim == 3 else None
        if ids.shape == (x.shape[1],) and (width is None or width == x.shape[2]):
            small = ids.astype(np.int32 if ids.size and ids.max() < 2**31 else np.int64)
            return IdSource(small, width)
    return ArraySource(x)


class LongStepper:
    """A cursor over a long sequence with the `Stepper` API (t, n_steps, seek, state, outputs_at, trace).

    Parameters
    ----------
    net, semantics : the network that runs and its semantics.
    source : the input sequence (`source_for`).
    keyframes : from `build_keyframes` over `source` (see `build_long_stepper`).
    window : steps of the recomputed window.

    Attributes
    ----------
    long : True (the views show a window; `trace` covers only `window_start`..`window_stop`).
    trace : the current window's `Trace` (trajectories (1, stop - start, u); its outputs are those of
        the run cut at `window_stop - 1`).
    """

    long = True

    def __init__(
        self,
        net: Network,
        semantics: Semantics,
        source: SequenceSource,
        keyframes: Keyframes,
        window: int = WINDOW,
    ) -> None:
        self.net = net
        self.semantics = semantics
        self.source = source
        self.keyframes = keyframes
        self.window_size = max(8, int(window))
        self.n_steps = int(source.n_steps)
        self._t = 0
        self._window: Window | None = None
        self._window_out: tuple[Window, list[Array]] | None = None
        self.set_window(self.compute_window(0))

    # ------------------------------------------------------------------ cursor
    @property
    def t(self) -> int:
        return self._t

    def seek(self, t: int) -> int:
        """Move to step t (clamped); the window follows when t leaves it (recomputed here, exact)."""
        self._t = int(np.clip(int(t), 0, self.n_steps - 1))
        if not self.has_window(self._t):
            self.set_window(self.compute_window(self._t))
        return self._t

    def step(self) -> int:
        return self.seek(self._t + 1)

    def back(self) -> int:
        return self.seek(self._t - 1)

    # ------------------------------------------------------------------ window
    def window_range(self, t: int) -> tuple[int, int]:
        """[start, stop) of the window for step t: starts on a quarter-window grid, so t sits at least a
        quarter window from either edge (except at the ends) and stepping recomputes every quarter."""
        w = min(self.window_size, self.n_steps)
        q = max(1, w // 4)
        start = (int(t) // q) * q - (w - q) // 2
        start = int(np.clip(start, 0, self.n_steps - w))
        return start, start + w

    def has_window(self, t: int) -> bool:
        """The current window serves step t: it holds t at least an eighth of a window from an edge that is
        not the end of the input (stepping inside it only indexes it; a new window puts t near its middle)."""
        win = self._window
        if win is None or not win.holds(t):
            return False
        q = max(1, min(self.window_size, self.n_steps) // 8)
        return (win.start == 0 or t - win.start >= q) and (win.stop == self.n_steps or win.stop - t > q)

    def compute_window(self, t: int) -> Window:
        """The exact window for step t, recomputed from the key frame before it (no state touched: may run
        on a worker thread)."""
        start, stop = self.window_range(t)
        tr, before = window_and_state(self.keyframes, self.net, self.semantics, self.source, start, stop)
        return Window(start, stop, tr, before)

    def set_window(self, window: Window) -> None:
        self._window = window

    @property
    def window(self) -> Window:
        assert self._window is not None  # set in the constructor
        return self._window

    @property
    def window_start(self) -> int:
        return self.window.start

    @property
    def window_stop(self) -> int:
        return self.window.stop

    @property
    def trace(self) -> Trace:
        return self.window.trace

    @property
    def layer_names(self) -> list[str]:
        return list(self.window.trace.layers)

    @property
    def overview(self) -> dict[str, Array]:
        """Trace name -> (n_chunks, u) float32 mean h of each unit over each key-frame chunk."""
        return {k: np.stack(v) for k, v in self.keyframes.overview.items()}

    @property
    def inputs(self) -> list[Array]:
        """The whole input as model inputs (batch 1).  Built on each call from the ids: a full one-hot
        copy of a long text is large; the views read `source` and the window instead."""
        return self.source.inputs(0, self.n_steps)

    # ------------------------------------------------------------------ values
    def _check(self, t: int | None) -> int:
        t = self._t if t is None else int(t)
        if not 0 <= t < self.n_steps:
            raise IndexError(f"timestep {t} is outside 0..{self.n_steps - 1}")
        return t

    def _window_for(self, t: int) -> Window:
        return self.window if self.window.holds(t) else self.compute_window(t)

    def state(self, t: int | None = None) -> dict[str, StepState]:
        """Every recurrent layer's state after input step t (default: the current t), exact; `time` and
        `step` are absolute steps."""
        t = self._check(t)
        win = self._window_for(t)
        return {
            name: dataclasses.replace(step_state(traj, t - win.start), time=t, step=t)
            for name, traj in win.trace.layers.items()
        }

    def window_outputs(self, window: Window) -> list[Array]:
        """The outputs "if the input ended here" at every step of `window`: one (L, ...) array per model
        output (row s = step window.start + s; a sequence output keeps its one step: (L, 1, ...)).

        Exact for the causal models this class takes: step t is one step run from the states carried
        into it, all steps of the window as one batch.  Touches no state (may run on a worker thread).
        """
        start, stop = window.start, window.stop
        layers = list(window.trace.layers.values())
        first = window.before
        if first is None:
            first = self.keyframes.state_at(self.net, self.semantics, self.source, start - 1) if start else {}
        states: States = {}
        for tr in layers:
            own = [tr.h] if tr.c is None else [tr.h, tr.c]
            init = first.get(tr.name) or [np.zeros_like(a[:, 0]) for a in own]
            if not all(bool(np.all(tr.mask[0, :-1])) for tr in layers):
                return self._outputs_one_by_one(window)  # a masked step carries a state h does not show
            states[tr.name] = [np.concatenate([i, a[0, :-1]], axis=0) for i, a in zip(init, own)]
        steps = [np.moveaxis(x, 1, 0) for x in self.source.inputs(start, stop)]  # (L, 1, ...)
        return engine.predict(self.net, steps, self.semantics, initial_states=states)

    def _outputs_one_by_one(self, window: Window) -> list[Array]:
        rows = [
            engine.predict(
                self.net,
                self.source.inputs(t, t + 1),
                self.semantics,
                initial_states=self.keyframes.state_at(self.net, self.semantics, self.source, t - 1)
                if t
                else {},
            )
            for t in range(window.start, window.stop)
        ]
        return [np.concatenate([r[k] for r in rows], axis=0) for k in range(len(rows[0]))]

    def outputs_at(self, t: int | None = None) -> list[Array]:
        """What the model outputs if the input ended after step t (exact; one batched pass per window).

        A sequence output holds only step t: shape (1, 1, ...) instead of (1, t + 1, ...).
        """
        t = self._check(t)
        win = self._window_for(t)
        if self._window_out is None or self._window_out[0] is not win:
            self._window_out = (win, self.window_outputs(win))
        s = t - win.start
        return [o[s : s + 1] for o in self._window_out[1]]

    def output_series(self, output: int = 0, target: Array | None = None) -> OutputSeries:
        """The output over time across the current window (absolute steps; `target` (T, ...) is cut to it)."""
        win = self.window
        outs = self.window_outputs(win)
        y = np.asarray(outs[output], dtype=np.float32)
        values = y.reshape(y.shape[0], -1) if y.ndim <= 2 else y[:, -1].reshape(y.shape[0], -1)
        steps = np.arange(win.start, win.stop, dtype=np.int64)
        tgt = None
        if target is not None and len(target) == self.n_steps:
            tgt = np.asarray(target, dtype=np.float32)[win.start : win.stop]
        return OutputSeries(steps, values, tgt, True)


def build_long_stepper(
    net: Network,
    semantics: Semantics,
    source: SequenceSource,
    *,
    every: int = KEYFRAME_EVERY,
    window: int = WINDOW,
    report: Report | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LongStepper:
    """One pass over `source` keeping the key frames, then the first window (on a worker thread).

    `report((done, total))` after each chunk; `cancelled()` is checked before each chunk.

    Raises
    ------
    ValueError : the model cannot be chunked.   keyframes.RunCancelledError : cancelled.
    """

    def progress(done: int, total: int) -> None:
        if report is not None:
            report((done, total))

    kf = build_keyframes_fast(
        net, semantics, source, every=every, chunk=BUILD_CHUNK, progress=progress, cancelled=cancelled
    )
    return LongStepper(net, semantics, source, kf, window)


class LongJobs:
    """The runner side of long inputs for `AppState`: building key frames (cancellable) and windows.

    Attributes
    ----------
    cancel : set when the input being built is no longer wanted (a new `build` gets a fresh one).
    want : the step to show once the window being computed arrives (-1: none).
    """

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.want = -1
        self._busy_with: LongStepper | None = None

    def build(
        self,
        runner: Any,
        net: Network,
        semantics: Semantics,
        source: SequenceSource,
        *,
        on_done: Callable[[LongStepper], None],
        on_error: Callable[[str], None],
        on_progress: Callable[[int, int], None],
    ) -> None:
        """`build_long_stepper` on `runner`; a cancelled build reports nothing."""
        self.cancel.set()
        cancel = self.cancel = threading.Event()

        def job(report: Report | None = None) -> LongStepper:
            return build_long_stepper(net, semantics, source, report=report, cancelled=cancel.is_set)

        def failed(message: str) -> None:
            if not cancel.is_set():
                on_error(message)

        def progress(value: Any) -> None:
            if not cancel.is_set():
                on_progress(int(value[0]), int(value[1]))

        def done(stepper: LongStepper) -> None:
            if not cancel.is_set():
                on_done(stepper)

        runner.submit(job, on_done=done, on_error=failed, on_progress=progress)

    def seek(
        self,
        runner: Any,
        stepper: LongStepper,
        t: int,
        arrived: Callable[[LongStepper, int], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Compute the window for step t on `runner` (one at a time: the newest wanted step wins), then
        ``arrived(stepper, t)`` with the window set."""
        self.want = t
        if self._busy_with is not None:
            return
        self._busy_with = stepper

        def done(window: Window) -> None:
            self._busy_with = None
            stepper.set_window(window)
            want, self.want = self.want, -1
            if want >= 0:
                arrived(stepper, want)

        def failed(message: str) -> None:
            self._busy_with = None
            on_error(message)

        runner.submit(stepper.compute_window, t, on_done=done, on_error=failed)
