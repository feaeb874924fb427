"""Stepper: cursor moves, per-timestep states, outputs of the truncated sequence (pure numpy)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from inspector.core import engine, prefix
from inspector.core.network import Layer, Network, Semantics, Weight, gate_slices
from inspector.core.stepper import Stepper

SEM = Semantics("keras2", True)


def rnn(kind: str, name: str, d: int, u: int, seed: int, **kw: Any) -> Layer:
    rng = np.random.default_rng(seed)
    n = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
    g = gate_slices(kind, u)
    bias = (2, n * u) if kind == "GRU" else (n * u,)
    return Layer(
        name,
        kind,
        config=MappingProxyType({"units": u, "reset_after": kind == "GRU", **kw}),
        weights=(
            Weight("kernel", rng.normal(size=(d, n * u)).astype(np.float32), gates=g),
            Weight("recurrent_kernel", rng.normal(size=(u, n * u)).astype(np.float32), gates=g),
            Weight("bias", rng.normal(size=bias).astype(np.float32), gates=g),
        ),
    )


def model() -> Network:
    bidi = Layer(
        "bi",
        "Bidirectional",
        config=MappingProxyType({"merge_mode": "concat"}),
        children=(
            rnn("GRU", "f", 3, 2, 1, return_sequences=True),
            rnn("GRU", "b", 3, 2, 2, return_sequences=True, go_backwards=True),
        ),
    )
    return Network(
        "m",
        "Sequential",
        (Layer("mask", "Masking"), bidi, rnn("LSTM", "top", 4, 3, 3)),
        input_shapes=((None, None, 3),),
    )


@pytest.fixture
def x() -> np.ndarray:
    a = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    a[1, 4:] = 0
    return a


def test_cursor_moves_and_clamps(x: np.ndarray) -> None:
    st = Stepper(model(), x, SEM)
    assert st.n_steps == 6 and st.t == 0
    assert st.back() == 0
    assert st.step() == 1 and st.t == 1
    assert st.seek(99) == 5
    assert st.step() == 5
    assert st.seek(-3) == 0
    assert st.layer_names == ["bi/forward", "bi/backward", "top"]


def test_state_is_indexed_by_input_timestep(x: np.ndarray) -> None:
    st = Stepper(model(), x, SEM)
    tr = st.trace
    for t in range(st.n_steps):
        states = st.state(t)
        assert set(states) == {"bi/forward", "bi/backward", "top"}
        fwd, bwd, top = states["bi/forward"], states["bi/backward"], states["top"]
        assert fwd.step == t and bwd.step == st.n_steps - 1 - t and bwd.time == t
        np.testing.assert_array_equal(fwd.h, tr.layers["bi/forward"].h[:, t])
        np.testing.assert_array_equal(bwd.h, tr.layers["bi/backward"].h[:, st.n_steps - 1 - t])
        np.testing.assert_array_equal(top.c, tr.layers["top"].c[:, t])
        assert set(top.gates) == {"i", "f", "c", "o"} and top.gates["f"].shape == (2, 3)
        np.testing.assert_array_equal(fwd.mask, np.any(x[:, t] != 0, axis=-1))
    st.seek(3)
    assert st.state()["top"].time == 3
    with pytest.raises(IndexError):
        st.state(6)


def test_outputs_at_is_the_truncated_prediction(x: np.ndarray) -> None:
    net = model()
    st = Stepper(net, x, SEM)
    np.testing.assert_array_equal(st.outputs_at(5)[0], engine.predict(net, x, SEM)[0])
    for t in range(st.n_steps):
        np.testing.assert_allclose(st.outputs_at(t)[0], engine.predict(net, x[:, : t + 1], SEM)[0], atol=1e-7)
    assert st.outputs_at(2) is st.outputs_at(2)  # cached
    # a forward-only model's prefix output equals its trajectory at t
    fwd_only = Network("g", "Sequential", (rnn("LSTM", "l", 3, 3, 4),), input_shapes=((None, 6, 3),))
    s2 = Stepper(fwd_only, x, SEM)
    for t in range(6):
        np.testing.assert_allclose(s2.outputs_at(t)[0], s2.trace.layers["l"].h[:, t], atol=1e-7)


def test_embedding_input_and_models_without_recurrence() -> None:
    table = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    emb = Layer(
        "e", "Embedding", config=MappingProxyType({"mask_zero": True}), weights=(Weight("embeddings", table),)
    )
    net = Network(
        "m",
        "Sequential",
        (emb, rnn("SimpleRNN", "s", 3, 2, 0)),
        input_shapes=((None, 5),),
        input_dtypes=("int32",),
    )
    ids = np.array([[1, 2, 3, 0, 0]])
    st = Stepper(net, ids, SEM)
    assert st.n_steps == 5
    assert st.state(4)["s"].mask.tolist() == [False]
    np.testing.assert_allclose(st.outputs_at(1)[0], engine.predict(net, ids[:, :2], SEM)[0])
    dense_only = Network("d", "Sequential", (Layer("d", "Dropout"),), input_shapes=((None, 4),))
    st2 = Stepper(dense_only, np.ones((1, 4), np.float32), SEM)
    assert st2.n_steps == 1 and st2.state(0) == {}
    np.testing.assert_array_equal(st2.outputs_at(0)[0], np.ones((1, 4), np.float32))


def _causal_models() -> list[Network]:
    emb_table = np.random.default_rng(5).normal(size=(9, 3)).astype(np.float32)
    rng = np.random.default_rng(6)
    dense_w = (
        Weight("kernel", rng.normal(size=(3, 4)).astype(np.float32)),
        Weight("bias", rng.normal(size=4).astype(np.float32)),
    )
    dense = Layer("head", "Dense", config=MappingProxyType({"activation": "softmax"}), weights=dense_w)
    td = Layer("td", "TimeDistributed", children=(dense,))
    conv = Layer(
        "conv",
        "Conv1D",
        config=MappingProxyType({"padding": "causal", "dilation_rate": 2}),
        weights=(Weight("kernel", rng.normal(size=(2, 3, 3)).astype(np.float32)),),
    )
    return [
        # LSTM(return_sequences=False) -> Dense: outputs depend on the prefix only through h_t
        Network("a", "Sequential", (Layer("mask", "Masking"), rnn("LSTM", "l", 3, 3, 1), dense),
                input_shapes=((None, None, 3),)),
        # stacked, sequence output through TimeDistributed, causal conv in front
        Network("b", "Sequential", (conv, rnn("GRU", "g", 3, 3, 2, return_sequences=True),
                                    rnn("SimpleRNN", "s", 3, 3, 3, return_sequences=True), td),
                input_shapes=((None, None, 3),)),
        # embedding ids -> LSTM -> RepeatVector -> decoder LSTM (runs per prefix, folded into the batch)
        Network("c", "Sequential", (
            Layer("e", "Embedding", config=MappingProxyType({"mask_zero": True}),
                  weights=(Weight("embeddings", emb_table),)),
            rnn("LSTM", "enc", 3, 3, 4),
            Layer("rep", "RepeatVector", config=MappingProxyType({"n": 2})),
            rnn("LSTM", "dec", 3, 3, 5, return_sequences=True),
        ), input_shapes=((None, None),), input_dtypes=("int32",)),
    ]  # fmt: skip


@pytest.mark.parametrize("which", [0, 1, 2])
def test_prefix_outputs_of_causal_models_equal_truncated_predict(which: int) -> None:
    net = _causal_models()[which]
    rng = np.random.default_rng(7)
    if which == 2:
        x = rng.integers(0, 9, size=(3, 6))
        x[0, 4:] = 0
    else:
        x = rng.normal(size=(3, 6, 3)).astype(np.float32)
        x[1, 2:4] = 0
    seq = engine.sequence_inputs(net, [x])
    po = prefix.prefix_outputs(net, x, SEM, seq)
    assert po is not None
    st = Stepper(net, x, SEM)
    for t in range(6):
        want = engine.predict(net, x[:, : t + 1], SEM)
        for g, w in zip(po.at(t), want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, atol=1e-6)
        np.testing.assert_allclose(st.outputs_at(t)[0], want[0], atol=1e-6)
    assert st._prefix is not None  # the one-pass path was used


def test_prefix_outputs_refuses_non_causal_models(x: np.ndarray) -> None:
    assert prefix.prefix_outputs(model(), x, SEM, [True]) is None  # Bidirectional
