"""Long sequences in bounded memory: run in chunks carrying the recurrent state, keep it every K steps.

A sequence of any length is run as consecutive chunks of `every` steps; each chunk starts from the
recurrent states the previous one ended with (`engine.trace(..., initial_states=)` and
`Trace.final_states`), so the chunks together are exactly one continuous run.  The states at every
chunk start are kept (the *key frames*, a few KB each), so any window of the run can later be
recomputed exactly from the key frame before it: seeking anywhere in a million steps costs at most
`every` extra steps, and memory is O(steps / every) instead of O(steps x units x gates).

Only causal models can be chunked: no Bidirectional layer and no go_backwards layer (their first
step needs the end of the sequence).  Those are run as independent windows instead (see
`inspector.app.units`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from inspector.core import engine
from inspector.core.engine import Trace
from inspector.core.network import RECURRENT_KINDS, Array, Layer, Network, Semantics

States = dict[str, list[Array]]
Progress = Callable[[int, int], None]
IsCancelled = Callable[[], bool]

DEFAULT_EVERY = 2048


class RunCancelledError(Exception):
    """The run was stopped because the caller's `cancelled()` returned True."""


class SequenceSource(Protocol):
    """One long sequence, handed out in pieces as model inputs with batch axis 1."""

    @property
    def n_steps(self) -> int: ...

    def inputs(self, start: int, stop: int) -> list[Array]:
        """Model inputs (one array per model input, batch 1) for steps [start, stop)."""
        ...


@dataclass(frozen=True, eq=False)
class IdSource:
    """Token ids (T,) int, fed as one-hot rows (`width` = vocabulary size) or as ids (`width` None)."""

    ids: Array
    width: int | None

    @property
    def n_steps(self) -> int:
        return int(self.ids.shape[0])

    def inputs(self, start: int, stop: int) -> list[Array]:
        return [ids_to_input(self.ids[None, start:stop], self.width)]


@dataclass(frozen=True, eq=False)
class ArraySource:
    """A numeric sequence (1, T, ...) already in the model's input layout."""

    x: Array

    @property
    def n_steps(self) -> int:
        return int(self.x.shape[1])

    def inputs(self, start: int, stop: int) -> list[Array]:
        return [self.x[:, start:stop]]


def ids_to_input(ids: Array, width: int | None) -> Array:
    """(B, T) int ids -> (B, T, width) float32 one-hot rows, or the ids themselves when width is None."""
    ids = np.asarray(ids, dtype=np.int64)
    if width is None:
        return ids
    out = np.zeros((*ids.shape, width), dtype=np.float32)
    np.put_along_axis(out, ids[..., None], np.float32(1.0), axis=-1)
    return out


def one_hot_width(net: Network, vocab_size: int) -> int | None:
    """How a text model reads ids: one-hot of this width (input (B, T, V)), or None for id input (B, T)."""
    shape = net.input_shapes[0] if net.input_shapes else None
    if shape is not None and len(shape) == 3:
        return int(shape[2]) if shape[2] is not None else vocab_size
    return None


# ------------------------------------------------------------------------------------------ chunks


def _walk(layers: Sequence[Layer]) -> Iterator[Layer]:
    for lay in layers:
        yield lay
        yield from _walk(lay.children)
        if lay.network is not None:
            yield from _walk(lay.network.layers)


def not_chunkable(net: Network) -> str | None:
    """Why `net` cannot be run as one sequence in chunks (a one-line reason), or None when it can."""
    for lay in _walk(net.layers):
        if lay.kind == "Bidirectional":
            return f"layer {lay.name!r} is Bidirectional (its backward half needs the whole sequence)"
        if lay.kind in RECURRENT_KINDS and lay.config.get("go_backwards"):
            return f"layer {lay.name!r} runs backwards (go_backwards), so it needs the whole sequence"
    return None


def trace_carrying(
    net: Network, inputs: Sequence[Array], semantics: Semantics, states: States | None
) -> tuple[Trace, States]:
    """`engine.trace` from `states` (trace name -> [h] or [h, c], (B, u)); returns it and the final states."""
    tr = engine.trace(net, list(inputs), semantics, initial_states=states or None)
    return tr, dict(tr.final_states)


@dataclass
class Keyframes:
    """The recurrent states at every `every`-th step of one continuous run, and how to recompute from them.

    Attributes
    ----------
    every : steps between key frames.
    n_steps : length of the run.
    states : states[k] = every layer's state before step k*every ({} for k = 0: zeros).
    overview : trace name -> (n_chunks, u) float32, the mean h of each unit over each chunk (a
        whole-run overview for a time axis too long to draw step by step).
    """

    every: int
    n_steps: int
    states: list[States] = field(default_factory=list)
    overview: dict[str, list[Array]] = field(default_factory=dict)

    def window(
        self, net: Network, semantics: Semantics, source: SequenceSource, start: int, stop: int
    ) -> Trace:
        """The exact trace of steps [start, stop) of the run, recomputed from the key frame before `start`.

        The returned trajectories cover only [start, stop) (step s of them is step start + s of the
        run).  Cost: at most `every` steps more than stop - start.
        """
        start = max(0, min(start, self.n_steps - 1))
        stop = max(start + 1, min(stop, self.n_steps))
        k = min(start // self.every, len(self.states) - 1)
        begin = k * self.every
        tr, _ = trace_carrying(net, source.inputs(begin, stop), semantics, self.states[k])
        cut = start - begin
        if cut == 0:
            return tr
        layers = {key: _slice_traj(traj, cut) for key, traj in tr.layers.items()}
        return Trace(tr.outputs, layers)

    def state_at(self, net: Network, semantics: Semantics, source: SequenceSource, step: int) -> States:
        """Every layer's state after `step` (exact)."""
        k = min(step // self.every, len(self.states) - 1)
        _, final = trace_carrying(net, source.inputs(k * self.every, step + 1), semantics, self.states[k])
        return final


def _slice_traj(traj, cut: int):  # type: ignore[no-untyped-def]
    import dataclasses

    def cut_all(d: dict[str, Array]) -> dict[str, Array]:
        return {k: v[:, cut:] for k, v in d.items()}

    return dataclasses.replace(
        traj,
        h=traj.h[:, cut:],
        c=None if traj.c is None else traj.c[:, cut:],
        gates=cut_all(traj.gates),
        x_part=cut_all(traj.x_part),
        h_part=cut_all(traj.h_part),
        mask=traj.mask[:, cut:],
        time_index=traj.time_index[cut:] - cut,
    )


def run_chunks(
    net: Network,
    semantics: Semantics,
    source: SequenceSource,
    *,
    every: int = DEFAULT_EVERY,
    keyframes: Keyframes | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> Iterator[tuple[int, Trace]]:
    """Run `source` as one continuous sequence, `every` steps at a time; yields (start step, chunk trace).

    Fills `keyframes` (when given) as it goes.  `progress(done, total)` is called after each chunk;
    `cancelled()` is checked before each chunk and raises `RunCancelledError` when it returns True.

    Raises
    ------
    ValueError : the model cannot be chunked (see `not_chunkable`).
    RunCancelledError : `cancelled()` returned True.
    """
    why = not_chunkable(net)
    if why:
        raise ValueError(f"{why}; run it in independent windows instead")
    total = source.n_steps
    states: States = {}
    for start in range(0, total, every):
        if cancelled is not None and cancelled():
            raise RunCancelledError("cancelled")
        stop = min(total, start + every)
        if keyframes is not None:
            keyframes.states.append(states)
        tr, states = trace_carrying(net, source.inputs(start, stop), semantics, states)
        if keyframes is not None:
            for key, traj in tr.layers.items():
                keyframes.overview.setdefault(key, []).append(traj.h[0].mean(axis=0))
        yield start, tr
        if progress is not None:
            progress(stop, total)


def build_keyframes(
    net: Network,
    semantics: Semantics,
    source: SequenceSource,
    *,
    every: int = DEFAULT_EVERY,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> Keyframes:
    """One pass over `source` keeping only the key frames (for the Stepper on long inputs)."""
    kf = Keyframes(every, source.n_steps)
    for _ in run_chunks(
        net, semantics, source, every=every, keyframes=kf, progress=progress, cancelled=cancelled
    ):
        pass
    return kf


def build_keyframes_fast(
    net: Network,
    semantics: Semantics,
    source: SequenceSource,
    *,
    every: int = DEFAULT_EVERY,
    chunk: int = 8 * DEFAULT_EVERY,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> Keyframes:
    """`build_keyframes` with dense key frames (`every`) from longer runs (`chunk`, a multiple of it).

    Each run of `chunk` steps costs about as much per step as one whole-sequence pass, while short
    chunks pay per-call overhead.  The key frames inside a run are read from its trajectories (the
    state after step j - 1 is h[:, j - 1] and c[:, j - 1] when that step was not masked; a masked one
    is recomputed from the previous key frame), so they are the same as `build_keyframes(every=)`.
    """
    chunk = max(every, chunk // every * every)
    kf = Keyframes(every, source.n_steps)
    carried: States = {}  # the states the run starts from: the previous run's final states
    for start, tr in run_chunks(net, semantics, source, every=chunk, progress=progress, cancelled=cancelled):
        n = min(chunk, source.n_steps - start)
        for j in range(0, n, every):
            state = carried if j == 0 else _state_in(tr, j - 1)
            kf.states.append(
                state if state is not None else kf.state_at(net, semantics, source, start + j - 1)
            )
            for key, traj in tr.layers.items():
                kf.overview.setdefault(key, []).append(traj.h[0, j : j + every].mean(axis=0))
        carried = dict(tr.final_states)
    return kf


def _state_in(tr: Trace, s: int) -> States | None:
    """Every layer's state after step s of a run, from its trajectories; None when a layer masked step s
    (its carried state is then not what h shows) or keeps states the trajectories do not name."""
    keys = tr.final_states or tr.layers  # a window cut from a longer run keeps no final states
    if set(keys) - set(tr.layers):
        return None
    out: States = {}
    for key in keys:
        traj = tr.layers[key]
        if not bool(np.all(traj.mask[:, s])):
            return None
        out[key] = [traj.h[:, s].copy()] if traj.c is None else [traj.h[:, s].copy(), traj.c[:, s].copy()]
    return out


def window_and_state(
    kf: Keyframes, net: Network, semantics: Semantics, source: SequenceSource, start: int, stop: int
) -> tuple[Trace, States | None]:
    """`kf.window(start, stop)` and the states carried into step `start` ({} at 0), from one run (one
    step longer); the states are None when step start - 1 was masked (use `kf.state_at` then)."""
    if start <= 0:
        return kf.window(net, semantics, source, 0, stop), {}
    tr = kf.window(net, semantics, source, start - 1, stop)
    before = _state_in(tr, 0)
    layers = {key: _slice_traj(traj, 1) for key, traj in tr.layers.items()}
    return Trace(tr.outputs, layers, final_states=tr.final_states), before
