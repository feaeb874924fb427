"""Core: one step of each recurrent cell (LSTM, GRU both reset_after variants, SimpleRNN), in numpy.

Each cell's step is written once here and used for predict, trace, masks and interventions alike.
A cell object is made per layer run for one batch size and owns the scratch buffers of a step, so
a step allocates nothing for the common activations.  The maths is docs/formats.md, 'LSTM cell',
'GRU cell' and 'SimpleRNN cell'; gate column blocks are in Keras order ([i, f, c, o] / [z, r, h]).

Per step, every cell leaves in its buffers (B = batch, u = units, n = number of gates):

* `hu` (B, n*u) float32: h_{t-1}.U per gate block (GRU reset_after=True: plus the recurrent bias;
  GRU reset_after=False: the candidate block is (r * h_{t-1}).U, the product actually added);
* `g` (B, n*u) float32: the post-activation gates, clamps applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inspector.core import activations
from inspector.core.network import Array

Into = Callable[[Array, Array], None]
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)


def into(act: Callable[[Array], Array]) -> Into:
    """`f(src, dst)`: dst[...] = act(src) (dst may be src), without temporaries for sigmoid / tanh.

    The sigmoid is the same expression as `activations.sigmoid` (0.5 + 0.5 tanh(x / 2)), so the
    values are identical bit for bit.
    """
    if act is activations.sigmoid:

        def sigmoid(src: Array, dst: Array) -> None:
            np.multiply(src, _HALF, dst)
            np.tanh(dst, dst)
            np.multiply(dst, _HALF, dst)
            np.add(dst, _HALF, dst)

        return sigmoid
    if act is activations.tanh:

        def tanh(src: Array, dst: Array) -> None:
            np.tanh(src, dst)

        return tanh

    def other(src: Array, dst: Array) -> None:
        dst[...] = act(src)

    return other


def _clamp(g: Array, clamps: Sequence[tuple[int, float, int]], s: int) -> None:
    for col, value, start in clamps:
        if s >= start:
            g[:, col] = value


class Cell:
    """Scratch buffers and weights shared by every cell; `step` is the cell's own.

    Parameters
    ----------
    U : (u, n*u) float32 recurrent kernel.
    batch : B.
    act, rec_act : the activation and recurrent activation.
    clamps : (column, value, from_step) triples (`interventions.StepControl.clamps`).
    """

    def __init__(
        self,
        U: Array,
        batch: int,
        act: Callable[[Array], Array],
        rec_act: Callable[[Array], Array],
        clamps: Sequence[tuple[int, float, int]] = (),
    ) -> None:
        u, nu = U.shape
        self.units = u
        self.U = U
        self.activation, self.recurrent_activation = act, rec_act
        self.act, self.rec_act = into(act), into(rec_act)  # (src, dst) forms
        self.hu = np.empty((batch, nu), np.float32)
        self.g = np.empty((batch, nu), np.float32)
        self.tmp = np.empty((batch, u), np.float32)
        self.clamps = tuple(clamps)

    def step(self, s: int, xw: Array, h: Array, c: Array | None, h_out: Array, c_out: Array | None) -> None:
        """Step s: from input projection xw (B, n*u) and state h (B, u) (c for LSTM) write the new
        h into h_out (and c into c_out).  Outputs never alias inputs."""
        raise NotImplementedError


def lstm_gate_activation(
    act: Callable[[Array], Array], rec_act: Callable[[Array], Array], u: int
) -> Callable[[Array], None]:
    """`f(z)`: rec_act over the i, f, o blocks and act over the candidate block of z (B, 4u), in place.

    For the usual sigmoid / tanh pair one tanh covers all four blocks: sigmoid(x) = 0.5 tanh(0.5 x)
    + 0.5 (the expression of `activations.sigmoid`) and tanh(x) = 1 tanh(1 x) + 0, both exact in
    float32, so the values equal the per-block activations bit for bit.
    """
    if act is activations.tanh and rec_act is activations.sigmoid:
        scale = np.full(4 * u, _HALF, np.float32)
        shift = np.full(4 * u, _HALF, np.float32)
        scale[2 * u : 3 * u], shift[2 * u : 3 * u] = 1.0, 0.0

        def sigmoid_tanh(z: Array) -> None:
            np.multiply(z, scale, z)
            np.tanh(z, z)
            np.multiply(z, scale, z)
            np.add(z, shift, z)

        return sigmoid_tanh
    rec, cand = into(rec_act), into(act)

    def per_block(z: Array) -> None:
        rec(z[:, : 2 * u], z[:, : 2 * u])
        cand(z[:, 2 * u : 3 * u], z[:, 2 * u : 3 * u])
        rec(z[:, 3 * u :], z[:, 3 * u :])

    return per_block


class LSTMCell(Cell):
    """i, f, o = rec_act(.), c~ = act(.); c' = f*c + i*c~; h' = o * act(c')."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        u, g = self.units, self.g
        self.gi, self.gf, self.gc, self.go = g[:, :u], g[:, u : 2 * u], g[:, 2 * u : 3 * u], g[:, 3 * u :]
        self.activate = lstm_gate_activation(self.activation, self.recurrent_activation, u)

    def step(self, s: int, xw: Array, h: Array, c: Array | None, h_out: Array, c_out: Array | None) -> None:
        assert c is not None and c_out is not None
        g, tmp = self.g, self.tmp
        np.dot(h, self.U, self.hu)
        np.add(self.hu, xw, g)
        self.activate(g)
        if self.clamps:
            _clamp(g, self.clamps, s)
        np.multiply(self.gf, c, c_out)
        np.multiply(self.gi, self.gc, tmp)
        np.add(c_out, tmp, c_out)
        self.act(c_out, tmp)
        np.multiply(self.go, tmp, h_out)


class GRUCell(Cell):
    """z, r = rec_act(.); h~ = act(x.W_h + r * (h.U_h + b_h)) (reset_after) or act(x.W_h + (r*h).U_h);
    h' = z*h + (1-z)*h~."""

    def __init__(self, *args: Any, recurrent_bias: Array | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        u, g, hu = self.units, self.g, self.hu
        self.recurrent_bias = recurrent_bias  # None: reset_after=False
        self.U_zr, self.U_h = self.U[:, : 2 * u], self.U[:, 2 * u :]
        self.gz, self.gr, self.gzr, self.gh = g[:, :u], g[:, u : 2 * u], g[:, : 2 * u], g[:, 2 * u :]
        self.hu_zr, self.hu_h = hu[:, : 2 * u], hu[:, 2 * u :]
        self.clamps_zr = tuple(cl for cl in self.clamps if cl[0] < 2 * u)
        self.clamps_h = tuple(cl for cl in self.clamps if cl[0] >= 2 * u)

    def step(self, s: int, xw: Array, h: Array, c: Array | None, h_out: Array, c_out: Array | None) -> None:
        u, gh, tmp = self.units, self.gh, self.tmp
        if self.recurrent_bias is not None:
            np.dot(h, self.U, self.hu)
            np.add(self.hu, self.recurrent_bias, self.hu)
        else:
            np.matmul(h, self.U_zr, out=self.hu_zr)
        np.add(xw[:, : 2 * u], self.hu_zr, self.gzr)
        self.rec_act(self.gzr, self.gzr)
        if self.clamps_zr:
            _clamp(self.g, self.clamps_zr, s)
        if self.recurrent_bias is not None:
            np.multiply(self.gr, self.hu_h, gh)
            np.add(xw[:, 2 * u :], gh, gh)
        else:
            np.multiply(self.gr, h, tmp)
            np.matmul(tmp, self.U_h, out=self.hu_h)
            np.add(xw[:, 2 * u :], self.hu_h, gh)
        self.act(gh, gh)
        if self.clamps_h:
            _clamp(self.g, self.clamps_h, s)
        np.multiply(self.gz, h, h_out)
        np.subtract(_ONE, self.gz, tmp)
        np.multiply(tmp, gh, tmp)
        np.add(h_out, tmp, h_out)


class SimpleRNNCell(Cell):
    """h' = act(x.W + h.U + b); the single gate 'h' is h'."""

    def step(self, s: int, xw: Array, h: Array, c: Array | None, h_out: Array, c_out: Array | None) -> None:
        g = self.g
        np.dot(h, self.U, self.hu)
        np.add(xw, self.hu, g)
        self.act(g, g)
        if self.clamps:
            _clamp(g, self.clamps, s)
        np.copyto(h_out, g)
