"""Core: step a model through its input one timestep at a time (no Qt, no h5py).

`Stepper` runs `engine.trace()` once, up front; moving the cursor (`step`, `back`, `seek`) and
reading `state(t)` only index the stored trajectories, so a time slider never recomputes anything.
`outputs_at(t)` is what the model outputs for the input cut after timestep t: for causal models
(forward recurrent layers, timestep-wise layers) all cuts come from one extra pass, other models
are re-run on the cut input; either way each t is computed once and cached.

Timesteps are input timesteps: `state(t)` gives, for every recurrent layer, its state right after it
consumed input timestep t.  For a go_backwards layer (the backward half of a Bidirectional) that is
processing step T-1-t, i.e. the backward pass has already seen timesteps t..T-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspector.core import engine, prefix
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import Array, Network, Semantics
from inspector.core.recurrent import Trajectory


@dataclass(frozen=True, eq=False)
class StepState:
    """One recurrent layer at one timestep (batch axis kept).

    Attributes
    ----------
    name, kind, units : as in the Trajectory.
    time : the input timestep t.   step : the processing step s that consumed it.
    gates, x_part, h_part : per gate key, (B, u) float32 (see `Trajectory`).
    h : (B, u) float32 layer output at this step.   c : (B, u) LSTM cell state, else None.
    mask : (B,) bool, False where this step was masked.
    """

    name: str
    kind: str
    units: int
    time: int
    step: int
    gates: dict[str, Array]
    x_part: dict[str, Array]
    h_part: dict[str, Array]
    h: Array
    c: Array | None
    mask: Array


def step_state(traj: Trajectory, t: int) -> StepState:
    """The state of `traj` right after it consumed input timestep t (0 <= t < traj.n_steps)."""
    s = traj.step_of_time(t)
    return StepState(
        name=traj.name,
        kind=traj.kind,
        units=traj.units,
        time=int(t),
        step=s,
        gates={k: v[:, s] for k, v in traj.gates.items()},
        x_part={k: v[:, s] for k, v in traj.x_part.items()},
        h_part={k: v[:, s] for k, v in traj.h_part.items()},
        h=traj.h[:, s],
        c=None if traj.c is None else traj.c[:, s],
        mask=traj.mask[:, s],
    )


class Stepper:
    """A cursor over the timesteps of one input batch.

    Parameters
    ----------
    net, inputs, semantics : as `engine.predict()`.

    Attributes
    ----------
    trace : the full `engine.Trace` (computed in the constructor).
    n_steps : number of timesteps of the (first) sequence input; 1 for models without one.
    t : the current timestep, 0 <= t < n_steps.
    """

    def __init__(self, net: Network, inputs: Array | Sequence[Array], semantics: Semantics) -> None:
        self.net = net
        self.semantics = semantics
        self._inputs = engine.prepare_inputs(net, inputs)
        self.trace = engine.trace(net, self._inputs, semantics)
        self._is_seq = engine.sequence_inputs(net, self._inputs)
        lengths = [a.shape[1] for a, s in zip(self._inputs, self._is_seq) if s]
        if lengths:
            self.n_steps = int(lengths[0])
        elif self.trace.layers:
            self.n_steps = max(tr.n_steps for tr in self.trace.layers.values())
        else:
            self.n_steps = 1
        self._t = 0
        self._outputs: dict[int, list[Array]] = {self.n_steps - 1: self.trace.outputs}
        self._prefix: prefix.PrefixOutputs | None = None
        self._prefix_tried = False

    @property
    def t(self) -> int:
        return self._t

    @property
    def inputs(self) -> list[Array]:
        """The model inputs as the engine ran them (batch axis first, cast like Keras)."""
        return list(self._inputs)

    @property
    def layer_names(self) -> list[str]:
        """Trace names of the recurrent layers, in the order they ran."""
        return list(self.trace.layers)

    def seek(self, t: int) -> int:
        """Move to timestep t (clamped to 0..n_steps-1); returns the new t."""
        self._t = int(np.clip(int(t), 0, self.n_steps - 1))
        return self._t

    def step(self) -> int:
        """One timestep forward (stays at the end); returns the new t."""
        return self.seek(self._t + 1)

    def back(self) -> int:
        """One timestep back (stays at 0); returns the new t."""
        return self.seek(self._t - 1)

    def _check(self, t: int | None) -> int:
        t = self._t if t is None else int(t)
        if not 0 <= t < self.n_steps:
            raise IndexError(f"timestep {t} is outside 0..{self.n_steps - 1}")
        return t

    def state(self, t: int | None = None) -> dict[str, StepState]:
        """Every recurrent layer's state after input timestep t (default: the current t).

        Layers whose own sequence is shorter than t+1 steps (after a strided Conv1D, a decoder
        fed by RepeatVector ...) are left out.
        """
        t = self._check(t)
        return {name: step_state(traj, t) for name, traj in self.trace.layers.items() if t < traj.n_steps}

    def outputs_at(self, t: int | None = None) -> list[Array]:
        """What the model outputs if the input ended after timestep t (cached per t).

        Equal to `engine.predict` on every sequence input cut to t+1 timesteps (computed from one
        pass for causal models).  Raises InputShapeError for models that need the full length
        (e.g. Flatten before a Dense).
        """
        t = self._check(t)
        if t in self._outputs:
            return self._outputs[t]
        if not self._prefix_tried:
            # Causal models get every prefix's outputs from one extra pass (stepping through T
            # timesteps then costs O(T), not O(T^2)); the others re-run the model per prefix.
            self._prefix_tried = True
            try:
                self._prefix = prefix.prefix_outputs(self.net, self._inputs, self.semantics, self._is_seq)
            except (InputShapeError, UnsupportedLayerError):
                self._prefix = None
        if self._prefix is not None:
            out = self._prefix.at(t)
        else:
            cut = [a[:, : t + 1] if s else a for a, s in zip(self._inputs, self._is_seq)]
            out = engine.predict(self.net, cut, self.semantics)
        self._outputs[t] = out
        return out
