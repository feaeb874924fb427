"""Interventions (Ablate, ClampGate), initial_states and Trace.final_states.

Checked against an independent per-sample numpy replay written here (float64 plain loops over the
Keras cell equations), and chunked runs against one full run.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from inspector.core import engine
from inspector.core.errors import UnsupportedLayerError
from inspector.core.interventions import Ablate, ClampGate, InterventionError
from inspector.core.network import GATES_BY_KIND, Layer, Network, Semantics, Weight, gate_slices

SEM = Semantics("keras3", True)
N_GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}


def rnn(kind: str, d: int, u: int, seed: int, name: str, reset_after: bool = True, **cfg: Any) -> Layer:
    rng = np.random.default_rng(seed)
    n = len(GATES_BY_KIND[kind])
    gates = gate_slices(kind, u)
    bias_shape = (2, n * u) if (kind == "GRU" and reset_after) else (n * u,)
    ws = (
        Weight("kernel", (rng.normal(size=(d, n * u)) * 0.6).astype(np.float32), gates=gates),
        Weight("recurrent_kernel", (rng.normal(size=(u, n * u)) * 0.6).astype(np.float32), gates=gates),
        Weight("bias", (rng.normal(size=bias_shape) * 0.5).astype(np.float32), gates=gates),
    )
    config: dict[str, Any] = {"units": u, "activation": "tanh", "recurrent_activation": "sigmoid", **cfg}
    if kind == "GRU":
        config["reset_after"] = reset_after
    return Layer(name, kind, config=MappingProxyType(config), weights=ws)


def seq_net(*layers: Layer, d: int) -> Network:
    return Network("m", "Sequential", layers, input_shapes=((None, None, d),), input_dtypes=("float32",))


def sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def replay(
    layer: Layer,
    x: np.ndarray,
    ablate: tuple[int, int] | None = None,
    clamp: tuple[int, int, float] | None = None,
) -> np.ndarray:
    """Plain per-sample loop: (B, T, u) outputs.  ablate = (unit, from_step); clamp = (gate index,
    unit, value) from step 0, gate index in Keras order."""
    W = layer.weight("kernel").value.astype(np.float64)
    U = layer.weight("recurrent_kernel").value.astype(np.float64)
    b = layer.weight("bias").value.astype(np.float64)
    kind, u = layer.kind, U.shape[0]
    b_in, b_rec = (b[0], b[1]) if b.ndim == 2 else (b, np.zeros_like(b))
    B, T, _ = x.shape
    out = np.zeros((B, T, u))
    for n in range(B):
        h, c = np.zeros(u), np.zeros(u)
        for t in range(T):
            xw = x[n, t] @ W + b_in
            if kind == "LSTM":
                z = xw + h @ U
                g = [sig(z[:u]), sig(z[u : 2 * u]), np.tanh(z[2 * u : 3 * u]), sig(z[3 * u :])]
                if clamp:
                    g[clamp[0]][clamp[1]] = clamp[2]
                c = g[1] * c + g[0] * g[2]
                h = g[3] * np.tanh(c)
            elif kind == "GRU":
                hu = h @ U + b_rec
                zg, r = sig(xw[:u] + hu[:u]), sig(xw[u : 2 * u] + hu[u : 2 * u])
                if clamp and clamp[0] < 2:
                    (zg, r)[clamp[0]][clamp[1]] = clamp[2]
                if b.ndim == 2:  # reset_after=True: reset applied after the product
                    hh = np.tanh(xw[2 * u :] + r * hu[2 * u :])
                else:
                    hh = np.tanh(xw[2 * u :] + (r * h) @ U[:, 2 * u :])
                if clamp and clamp[0] == 2:
                    hh[clamp[1]] = clamp[2]
                h = zg * h + (1 - zg) * hh
            else:
                h = np.tanh(xw + h @ U)
                if clamp:
                    h[clamp[1]] = clamp[2]
            if ablate and t >= ablate[1]:
                h = h.copy()
                h[ablate[0]] = 0.0
                c[ablate[0]] = 0.0
            out[n, t] = h
    return out


CASES = [("LSTM", True), ("GRU", True), ("GRU", False), ("SimpleRNN", True)]


@pytest.mark.parametrize(("kind", "reset_after"), CASES)
def test_ablation_matches_an_independent_replay(kind: str, reset_after: bool) -> None:
    lay = rnn(kind, 3, 5, 1, "r", reset_after, return_sequences=True)
    x = np.random.default_rng(2).normal(size=(2, 9, 3)).astype(np.float32)
    got = engine.predict(seq_net(lay, d=3), x, SEM, interventions=[Ablate("r", 2, from_step=4)])[0]
    want = replay(lay, x, ablate=(2, 4))
    np.testing.assert_allclose(got, want, atol=2e-5)
    plain = engine.predict(seq_net(lay, d=3), x, SEM)[0]
    assert np.abs(plain[:, 5:] - got[:, 5:]).max() > 1e-3  # the ablation changed later steps
    np.testing.assert_array_equal(got[:, :4], plain[:, :4])  # ... and nothing before from_step
    assert np.all(got[:, 4:, 2] == 0)


@pytest.mark.parametrize(
    ("kind", "reset_after", "gate"), [(*c, g) for c in CASES for g in range(N_GATES[c[0]])]
)
def test_clamp_gate_matches_an_independent_replay(kind: str, reset_after: bool, gate: int) -> None:
    lay = rnn(kind, 3, 4, 3, "r", reset_after, return_sequences=True)
    key = gate_slices(kind, 4)[gate].key
    x = np.random.default_rng(4).normal(size=(2, 7, 3)).astype(np.float32)
    tr = engine.trace(seq_net(lay, d=3), x, SEM, interventions=[ClampGate("r", key, 1, 0.25)])
    np.testing.assert_allclose(tr.outputs[0], replay(lay, x, clamp=(gate, 1, 0.25)), atol=2e-5)
    assert np.all(tr.layers["r"].gates[key][:, :, 1] == np.float32(0.25))


def test_ablation_of_an_lstm_cell_state_carries_to_later_steps() -> None:
    """c[unit] is zeroed too: with h zeroed only, the next step would still see the old c."""
    lay = rnn("LSTM", 2, 3, 5, "r", return_sequences=True)
    x = np.random.default_rng(6).normal(size=(1, 6, 2)).astype(np.float32)
    tr = engine.trace(seq_net(lay, d=2), x, SEM, interventions=[Ablate("r", 0, 2)])
    traj = tr.layers["r"]
    assert traj.c is not None
    assert np.all(traj.c[:, 2:, 0] == 0) and np.all(traj.h[:, 2:, 0] == 0)
    np.testing.assert_array_equal(tr.final_states["r"][1][:, 0], 0)


def test_bidirectional_halves_are_addressed_separately_or_together() -> None:
    fwd = rnn("GRU", 3, 4, 7, "forward_g", return_sequences=True)
    bwd = rnn("GRU", 3, 4, 8, "backward_g", return_sequences=True, go_backwards=True)
    bidi = Layer("bi", "Bidirectional", MappingProxyType({"merge_mode": "concat"}), (), children=(fwd, bwd))
    net = seq_net(bidi, d=3)
    x = np.random.default_rng(9).normal(size=(1, 5, 3)).astype(np.float32)
    both = engine.trace(net, x, SEM, interventions=[Ablate("bi", 1)])
    one = engine.trace(net, x, SEM, interventions=[Ablate("bi/backward", 1)])
    plain = engine.predict(net, x, SEM)[0]
    assert np.all(both.outputs[0][:, :, 1] == 0) and np.all(both.outputs[0][:, :, 4 + 1] == 0)
    assert np.all(one.outputs[0][:, :, 4 + 1] == 0)
    np.testing.assert_array_equal(one.outputs[0][:, :, :4], plain[:, :, :4])
    with pytest.raises(UnsupportedLayerError, match="Bidirectional"):
        engine.predict(net, x, SEM, initial_states={"bi": [np.zeros((1, 4)), np.zeros((1, 4))]})


def test_bad_interventions_and_initial_states_fail_in_one_line() -> None:
    net = seq_net(rnn("LSTM", 2, 3, 1, "r"), d=2)
    x = np.zeros((1, 4, 2), np.float32)
    for bad, what in [
        (Ablate("nope", 0), "no recurrent layer"),
        (Ablate("r", 3), "units 0..2"),
        (ClampGate("r", "z", 0, 1.0), "gates"),
        (Ablate("r", 0, from_step=-1), "from_step"),
    ]:
        with pytest.raises(InterventionError, match=what) as info:
            engine.predict(net, x, SEM, interventions=[bad])
        assert "\n" not in str(info.value)
    with pytest.raises(UnsupportedLayerError, match="no such recurrent layer"):
        engine.predict(net, x, SEM, initial_states={"other": [np.zeros((1, 3))] * 2})


def _stacks() -> dict[str, tuple[Network, int]]:
    return {
        "LSTM": (seq_net(rnn("LSTM", 3, 6, 11, "a", return_sequences=True), d=3), 3),
        "GRU": (seq_net(rnn("GRU", 3, 6, 12, "a", True, return_sequences=True), d=3), 3),
        "GRU_v1": (seq_net(rnn("GRU", 3, 6, 13, "a", False, return_sequences=True), d=3), 3),
        "SimpleRNN": (seq_net(rnn("SimpleRNN", 3, 6, 14, "a", return_sequences=True), d=3), 3),
        "stacked": (
            seq_net(
                rnn("LSTM", 3, 5, 15, "a", return_sequences=True),
                rnn("GRU", 5, 4, 16, "b", True, return_sequences=True),
                rnn("SimpleRNN", 4, 3, 17, "c", return_sequences=True),
                d=3,
            ),
            3,
        ),
    }


@pytest.mark.parametrize("which", list(_stacks()))
def test_chunked_runs_with_carried_state_equal_one_full_run(which: str) -> None:
    net, d = _stacks()[which]
    x = np.random.default_rng(20).normal(size=(2, 300, d)).astype(np.float32)
    full = engine.trace(net, x, SEM)
    parts, states = [], None
    for lo, hi in [(0, 7), (7, 120), (120, 121), (121, 300)]:
        tr = engine.trace(net, x[:, lo:hi], SEM, initial_states=states)
        parts.append(tr.outputs[0])
        states = tr.final_states
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full.outputs[0], atol=1e-6, rtol=0)
    assert states is not None
    for key, st in full.final_states.items():
        for a, b in zip(states[key], st):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    # predict takes the same states
    head = engine.trace(net, x[:, :121], SEM)
    tail = engine.predict(net, x[:, 121:], SEM, initial_states=head.final_states)
    np.testing.assert_allclose(tail[0], full.outputs[0][:, 121:], atol=1e-6, rtol=0)


def test_final_states_carry_through_masked_steps() -> None:
    """Masked steps keep the state (Keras): the final state is the one after the last unmasked step."""
    lay = rnn("LSTM", 2, 3, 30, "r", return_sequences=True)
    masking = Layer("m", "Masking", MappingProxyType({"mask_value": 0.0}), ())
    net = seq_net(masking, lay, d=2)
    x = np.random.default_rng(31).normal(size=(2, 6, 2)).astype(np.float32)
    x[0, 4:] = 0.0  # sample 0: the last two steps are masked
    tr = engine.trace(net, x, SEM)
    h, c = tr.final_states["r"]
    traj = tr.layers["r"]
    assert traj.c is not None
    np.testing.assert_array_equal(h[0], traj.h[0, 3])
    np.testing.assert_array_equal(c[0], traj.c[0, 3])
    np.testing.assert_array_equal(h[1], traj.h[1, 5])
