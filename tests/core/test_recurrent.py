"""Recurrent layers vs a hand-written per-sample reference loop, plus closed-form cases (no Keras)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from inspector.core import engine, recurrent
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import GATES_BY_KIND, Layer, Network, Semantics, Weight, gate_slices

KERAS2 = Semantics("keras2", False)  # Keras 1 / multi-backend Keras 2
TF_KERAS = Semantics("keras2", True)
KERAS3 = Semantics("keras3", True)


def make_layer(
    kind: str,
    d: int,
    u: int,
    rng: np.random.Generator,
    name: str = "rnn",
    *,
    reset_after: bool = False,
    scale: float = 0.7,
    **cfg: Any,
) -> Layer:
    n = len(GATES_BY_KIND[kind])
    gates = gate_slices(kind, u)
    bias_shape = (2, n * u) if (kind == "GRU" and reset_after) else (n * u,)
    ws = (
        Weight("kernel", (rng.normal(size=(d, n * u)) * scale).astype(np.float32), gates=gates),
        Weight("recurrent_kernel", (rng.normal(size=(u, n * u)) * scale).astype(np.float32), gates=gates),
        Weight("bias", (rng.normal(size=bias_shape) * scale).astype(np.float32), gates=gates),
    )
    config = {"units": u, "activation": "tanh", "recurrent_activation": "sigmoid", **cfg}
    if kind == "GRU":
        config["reset_after"] = reset_after
    return Layer(name, kind, config=MappingProxyType(config), weights=ws)


def _act(name: str, sem: Semantics, v: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(v)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-v))
    if name == "hard_sigmoid":
        return np.clip(v / 6 + 0.5, 0, 1) if sem.hard_sigmoid == "keras3" else np.clip(0.2 * v + 0.5, 0, 1)
    if name == "relu":
        return np.maximum(v, 0)
    raise AssertionError(name)


def reference(
    layer: Layer,
    x: np.ndarray,
    mask: np.ndarray | None,
    sem: Semantics,
    *,
    zero_masked: bool = False,
    go_backwards: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loop from docs/formats.md, 'Recurrent cells' and 'Recurrent loop'.

    Returns (outputs (B,T,u) in processing order, final h)."""
    cfg = layer.config
    W = layer.weight("kernel").value.astype(np.float64)
    U = layer.weight("recurrent_kernel").value.astype(np.float64)
    b = layer.weight("bias").value.astype(np.float64)
    u = U.shape[0]
    a = lambda v: _act(cfg["activation"], sem, v)  # noqa: E731
    s = lambda v: _act(cfg["recurrent_activation"], sem, v)  # noqa: E731
    back = cfg.get("go_backwards", False) if go_backwards is None else go_backwards
    B, T, _ = x.shape
    outs = np.zeros((B, T, u))
    finals = np.zeros((B, u))
    for bi in range(B):
        h = np.zeros(u)
        c = np.zeros(u)
        prev = np.zeros(u)
        order = range(T - 1, -1, -1) if back else range(T)
        for step, t in enumerate(order):
            xt = x[bi, t].astype(np.float64)
            if layer.kind == "SimpleRNN":
                hn, cn = a(xt @ W + b + h @ U), c
            elif layer.kind == "LSTM":
                z = xt @ W + h @ U + b
                i, f, g, o = s(z[:u]), s(z[u : 2 * u]), a(z[2 * u : 3 * u]), s(z[3 * u :])
                cn = f * c + i * g
                hn = o * a(cn)
            elif cfg.get("reset_after"):
                xp = xt @ W + b[0]
                hp = h @ U + b[1]
                zg = s(xp[:u] + hp[:u])
                r = s(xp[u : 2 * u] + hp[u : 2 * u])
                hh = a(xp[2 * u :] + r * hp[2 * u :])
                hn, cn = zg * h + (1 - zg) * hh, c
            else:
                xp = xt @ W + b
                zg = s(xp[:u] + h @ U[:, :u])
                r = s(xp[u : 2 * u] + h @ U[:, u : 2 * u])
                hh = a(xp[2 * u :] + (r * h) @ U[:, 2 * u :])
                hn, cn = zg * h + (1 - zg) * hh, c
            if mask is None or mask[bi, t]:
                h, c, out = hn, cn, hn
            else:
                out = np.zeros(u) if zero_masked else prev
            prev = out
            outs[bi, step] = out
        finals[bi] = h
    return outs, finals


def seq(layers: list[Layer], d: int, T: int | None = None) -> Network:
    return Network("m", "Sequential", tuple(layers), input_shapes=((None, T, d),))


def masked_input(
    rng: np.random.Generator, B: int = 4, T: int = 6, d: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(B, T, d)).astype(np.float32)
    x[0, :2] = 0
    x[1, 2:4] = 0
    x[2, -2:] = 0
    x[3] = 0
    return x, np.any(x != 0, axis=-1)


MASKING = Layer("masking", "Masking", config=MappingProxyType({"mask_value": 0.0}))

CASES = [
    ("LSTM", {}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid"}),
    ("GRU", {"reset_after": True}),
    ("GRU", {"reset_after": False, "recurrent_activation": "hard_sigmoid"}),
    ("SimpleRNN", {"activation": "relu"}),
]


@pytest.mark.parametrize("kind,extra", CASES)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("sem", [KERAS2, KERAS3], ids=["keras2", "keras3"])
def test_matches_reference_loop(kind: str, extra: dict[str, Any], go_backwards: bool, sem: Semantics) -> None:
    rng = np.random.default_rng(0)
    x, mask = masked_input(rng)
    reset_after = extra.pop("reset_after", False) if kind == "GRU" else False
    layer = make_layer(
        kind, 3, 4, rng, reset_after=reset_after, go_backwards=go_backwards, return_sequences=True, **extra
    )
    tr = engine.trace(seq([MASKING, layer], 3), x, sem)
    want, final = reference(layer, x, mask, sem)
    np.testing.assert_allclose(tr.outputs[0], want, atol=1e-6)
    traj = tr.layers["rnn"]
    np.testing.assert_allclose(traj.h, want, atol=1e-6)
    order = np.arange(6)[::-1] if go_backwards else np.arange(6)
    np.testing.assert_array_equal(traj.time_index, order)
    np.testing.assert_array_equal(traj.mask, mask[:, order])
    # return_sequences=False gives the last processed output
    last_layer = Layer(
        "rnn",
        kind,
        config=MappingProxyType({**layer.config, "return_sequences": False}),
        weights=layer.weights,
    )
    last = engine.predict(seq([MASKING, last_layer], 3), x, sem)
    np.testing.assert_allclose(last[0], want[:, -1], atol=1e-6)


def test_hard_sigmoid_formula_follows_semantics() -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(2, 5, 3)) * 3).astype(np.float32)
    layer = make_layer(
        "LSTM", 3, 4, rng, recurrent_activation="hard_sigmoid", return_sequences=True, scale=1.5
    )
    k2 = engine.trace(seq([layer], 3), x, TF_KERAS).layers["rnn"]
    k3 = engine.trace(seq([layer], 3), x, KERAS3).layers["rnn"]
    pre = k2.x_part["f"] + k2.h_part["f"]
    np.testing.assert_allclose(k2.gates["f"], np.clip(0.2 * pre + 0.5, 0, 1), atol=1e-6)
    pre3 = k3.x_part["f"] + k3.h_part["f"]
    np.testing.assert_allclose(k3.gates["f"], np.clip(pre3 / 6 + 0.5, 0, 1), atol=1e-6)
    assert np.abs(k2.h - k3.h).max() > 1e-3


def test_zero_weights_give_half_open_gates() -> None:
    u, d = 3, 2
    gates = gate_slices("LSTM", u)
    layer = Layer(
        "z",
        "LSTM",
        config=MappingProxyType({"units": u, "return_sequences": True}),
        weights=(
            Weight("kernel", np.zeros((d, 4 * u), np.float32), gates=gates),
            Weight("recurrent_kernel", np.zeros((u, 4 * u), np.float32), gates=gates),
            Weight("bias", np.zeros(4 * u, np.float32), gates=gates),
        ),
    )
    traj = engine.trace(seq([layer], d), np.ones((1, 4, d), np.float32), TF_KERAS).layers["z"]
    for k in "ifo":
        np.testing.assert_allclose(traj.gates[k], 0.5)
    np.testing.assert_allclose(traj.gates["c"], 0.0)
    np.testing.assert_allclose(traj.h, 0.0)
    np.testing.assert_allclose(traj.c, 0.0)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_parts_rebuild_gates(kind: str) -> None:
    """x_part / h_part / gates are consistent with the cell equations at every step."""
    rng = np.random.default_rng(2)
    x, _ = masked_input(rng)
    for reset_after in [True, False] if kind == "GRU" else [False]:
        layer = make_layer(kind, 3, 4, rng, reset_after=reset_after, return_sequences=True)
        tr = engine.trace(seq([layer], 3), x, TF_KERAS).layers["rnn"]
        assert set(tr.gates) == {g[0] for g in GATES_BY_KIND[kind]}
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        if kind == "LSTM":
            for k in "ifo":
                np.testing.assert_allclose(tr.gates[k], sig(tr.x_part[k] + tr.h_part[k]), atol=1e-5)
            np.testing.assert_allclose(tr.gates["c"], np.tanh(tr.x_part["c"] + tr.h_part["c"]), atol=1e-5)
            c_prev = np.concatenate([np.zeros_like(tr.c[:, :1]), tr.c[:, :-1]], axis=1)
            np.testing.assert_allclose(
                tr.c, tr.gates["f"] * c_prev + tr.gates["i"] * tr.gates["c"], atol=1e-5
            )
            np.testing.assert_allclose(tr.h, tr.gates["o"] * np.tanh(tr.c), atol=1e-5)
        elif kind == "GRU":
            for k in "zr":
                np.testing.assert_allclose(tr.gates[k], sig(tr.x_part[k] + tr.h_part[k]), atol=1e-5)
            rec = tr.gates["r"] * tr.h_part["h"] if reset_after else tr.h_part["h"]
            np.testing.assert_allclose(tr.gates["h"], np.tanh(tr.x_part["h"] + rec), atol=1e-5)
            h_prev = np.concatenate([np.zeros_like(tr.h[:, :1]), tr.h[:, :-1]], axis=1)
            np.testing.assert_allclose(
                tr.h, tr.gates["z"] * h_prev + (1 - tr.gates["z"]) * tr.gates["h"], atol=1e-5
            )
        else:
            np.testing.assert_allclose(tr.gates["h"], np.tanh(tr.x_part["h"] + tr.h_part["h"]), atol=1e-5)
            np.testing.assert_allclose(tr.gates["h"], tr.h, atol=1e-6)
        # x_part is x_t . W + b, gate by gate
        W = layer.weight("kernel")
        b = layer.weight("bias").value
        b_in = b[0] if b.ndim == 2 else b
        for g in W.gates:
            np.testing.assert_allclose(tr.x_part[g.key], x @ g.take(W.value) + g.take(b_in), atol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
@pytest.mark.parametrize("sem", [KERAS2, TF_KERAS], ids=["carry", "zeroed"])
def test_bidirectional_masked_semantics(merge_mode: str | None, sem: Semantics) -> None:
    """Keras 1/2 carry masked outputs; tf.keras / Keras 3 zero them in both halves (§8.5)."""
    rng = np.random.default_rng(3)
    x, mask = masked_input(rng)
    fwd = make_layer("GRU", 3, 2, rng, name="forward_g", return_sequences=True, reset_after=True)
    bwd = make_layer("GRU", 3, 2, rng, name="backward_g", return_sequences=True, reset_after=True)
    bidi = Layer(
        "bi", "Bidirectional", config=MappingProxyType({"merge_mode": merge_mode}), children=(fwd, bwd)
    )
    tr = engine.trace(seq([MASKING, bidi], 3), x, sem)
    zero = sem.bidirectional_zero_masked
    yf, _ = reference(fwd, x, mask, sem, zero_masked=zero)
    yb, _ = reference(bwd, x, mask, sem, zero_masked=zero, go_backwards=True)
    yb = yb[:, ::-1]
    want = {
        "concat": [np.concatenate([yf, yb], -1)],
        "sum": [yf + yb],
        "ave": [(yf + yb) / 2],
        "mul": [yf * yb],
        None: [yf, yb],
    }[merge_mode]
    assert len(tr.outputs) == len(want)
    for g, w in zip(tr.outputs, want):
        np.testing.assert_allclose(g, w, atol=1e-6)
    assert list(tr.layers) == ["bi/forward", "bi/backward"]
    assert not zero or np.all(tr.layers["bi/forward"].h[~mask] == 0)


def test_bidirectional_backward_half_is_inverted_even_if_config_copied() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    fwd = make_layer("LSTM", 3, 2, rng, return_sequences=True)
    bwd_same = make_layer("LSTM", 3, 2, rng, return_sequences=True)  # go_backwards=False, as copied
    bwd_true = Layer(
        bwd_same.name,
        "LSTM",
        config=MappingProxyType({**bwd_same.config, "go_backwards": True}),
        weights=bwd_same.weights,
    )
    outs = [
        engine.predict(seq([Layer("bi", "Bidirectional", children=(fwd, b))], 3), x, TF_KERAS)[0]
        for b in (bwd_same, bwd_true)
    ]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_initial_state_and_return_state() -> None:
    rng = np.random.default_rng(5)
    layer = make_layer("LSTM", 3, 4, rng, return_state=True)
    spec = recurrent.spec_from_layer(layer, TF_KERAS)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    h0, c0 = rng.normal(size=(2, 2, 4)).astype(np.float32)
    run = recurrent.run(spec, x, None, TF_KERAS, initial_state=[h0, c0])
    outs = recurrent.layer_outputs(spec, run)
    assert len(outs) == 3
    np.testing.assert_array_equal(outs[0], outs[1])  # output == h for an LSTM
    first = recurrent.run(spec, x[:, :1], None, TF_KERAS, initial_state=[h0, c0])
    np.testing.assert_allclose(
        first.trajectory.h_part["i"][:, 0], h0 @ layer.weight("recurrent_kernel").gate("i"), atol=1e-5
    )
    with pytest.raises(InputShapeError, match="initial state"):
        recurrent.run(spec, x, None, TF_KERAS, initial_state=[h0])


def test_gru_reset_after_from_bias_shape_and_positional_weights() -> None:
    rng = np.random.default_rng(6)
    layer = make_layer("GRU", 3, 2, rng, reset_after=True)
    cfg = {k: v for k, v in layer.config.items() if k != "reset_after"}
    unnamed = tuple(Weight(f"w{i}", w.value) for i, w in enumerate(layer.weights))
    bare = Layer("g", "GRU", config=MappingProxyType(cfg), weights=unnamed)
    spec = recurrent.spec_from_layer(bare, KERAS2)
    assert spec.reset_after and spec.recurrent_bias is not None
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        engine.predict(seq([bare], 3), x, KERAS2)[0], engine.predict(seq([layer], 3), x, KERAS2)[0], atol=1e-7
    )


def test_bad_recurrent_weights_are_reported() -> None:
    rng = np.random.default_rng(7)
    layer = make_layer("LSTM", 3, 4, rng)
    broken = Layer("bad", "LSTM", config=layer.config, weights=layer.weights[:1])
    with pytest.raises(UnsupportedLayerError, match="bad"):
        engine.predict(seq([broken], 3), np.zeros((1, 2, 3), np.float32), TF_KERAS)
    wrong_units = Layer(
        "bad", "LSTM", config=MappingProxyType({**layer.config, "units": 5}), weights=layer.weights
    )
    with pytest.raises(UnsupportedLayerError, match="units"):
        engine.predict(seq([wrong_units], 3), np.zeros((1, 2, 3), np.float32), TF_KERAS)


def test_record_false_keeps_outputs() -> None:
    rng = np.random.default_rng(8)
    spec = recurrent.spec_from_layer(make_layer("GRU", 3, 4, rng, reset_after=True), TF_KERAS)
    x, mask = masked_input(rng)
    full = recurrent.run(spec, x, mask, TF_KERAS)
    lean = recurrent.run(spec, x, mask, TF_KERAS, record=False)
    np.testing.assert_array_equal(full.trajectory.h, lean.trajectory.h)
    assert lean.trajectory.gates == {} and full.trajectory.gates["z"].shape == (4, 6, 4)


def test_long_sequence_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """predict computes x.W in time blocks; the block size must not change the result."""
    rng = np.random.default_rng(9)
    spec = recurrent.spec_from_layer(make_layer("LSTM", 3, 4, rng, go_backwards=True), TF_KERAS)
    x = rng.normal(size=(2, 37, 3)).astype(np.float32)
    whole = recurrent.run(spec, x, None, TF_KERAS)
    monkeypatch.setattr(recurrent, "_XW_BLOCK_VALUES", 2 * 16 * 5)
    blocks = recurrent.run(spec, x, None, TF_KERAS, record=False)
    np.testing.assert_allclose(whole.trajectory.h, blocks.trajectory.h, atol=1e-6)
    np.testing.assert_allclose(whole.states[1], blocks.states[1], atol=1e-6)
