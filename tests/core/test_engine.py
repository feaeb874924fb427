"""Engine graph handling and errors (pure numpy, no Keras)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from inspector.core import activations, engine
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import Call, Layer, Network, Semantics, TensorRef, Weight, gate_slices

SEM = Semantics("keras2", True)


def cfg(**kw: Any) -> MappingProxyType:
    return MappingProxyType(kw)


def dense(
    name: str, d: int, u: int, seed: int = 0, act: str = "linear", calls: tuple[Call, ...] = ()
) -> Layer:
    rng = np.random.default_rng(seed)
    return Layer(
        name,
        "Dense",
        config=cfg(units=u, activation=act),
        weights=(
            Weight("kernel", rng.normal(size=(d, u)).astype(np.float32)),
            Weight("bias", rng.normal(size=u).astype(np.float32)),
        ),
        calls=calls,
    )


def lstm(name: str, d: int, u: int, seed: int = 0, calls: tuple[Call, ...] = (), **kw: Any) -> Layer:
    rng = np.random.default_rng(seed)
    g = gate_slices("LSTM", u)
    return Layer(
        name,
        "LSTM",
        config=cfg(units=u, activation="tanh", recurrent_activation="sigmoid", **kw),
        weights=(
            Weight("kernel", rng.normal(size=(d, 4 * u)).astype(np.float32), gates=g),
            Weight("recurrent_kernel", rng.normal(size=(u, 4 * u)).astype(np.float32), gates=g),
            Weight("bias", rng.normal(size=4 * u).astype(np.float32), gates=g),
        ),
        calls=calls,
    )


def ref(name: str, node: int = 0, index: int = 0) -> TensorRef:
    return TensorRef(name, node, index)


def call(*inputs: TensorRef, initial_state: tuple[TensorRef, ...] = ()) -> Call:
    return Call(tuple(inputs), initial_state)


def seq_net(*layers: Layer, shape: tuple[int | None, ...] = (None, 5, 3), dtype: str = "float32") -> Network:
    return Network("m", "Sequential", tuple(layers), input_shapes=(shape,), input_dtypes=(dtype,))


def test_predict_returns_float32_list_and_accepts_lists() -> None:
    net = seq_net(lstm("l", 3, 4), dense("d", 4, 2))
    x = np.random.default_rng(0).normal(size=(2, 5, 3))  # float64 in, cast like Keras
    out = engine.predict(net, x, SEM)
    assert isinstance(out, list) and len(out) == 1
    assert out[0].dtype == np.float32 and out[0].shape == (2, 2)
    np.testing.assert_array_equal(out[0], engine.predict(net, [x], SEM)[0])
    np.testing.assert_array_equal(out[0], engine.predict(net, x.astype(np.float32), SEM)[0])


def test_input_shape_errors_are_one_line_and_say_what_was_expected() -> None:
    net = seq_net(lstm("l", 3, 4))
    with pytest.raises(InputShapeError, match=r"3-D \(batch, time, 3\)") as e:
        engine.predict(net, np.zeros((5, 3), np.float32), SEM)
    assert "\n" not in str(e.value)
    with pytest.raises(InputShapeError, match=r"shape \(batch, time, 3\)"):
        engine.predict(net, np.zeros((1, 5, 4), np.float32), SEM)
    with pytest.raises(InputShapeError, match="takes 1 input"):
        engine.predict(net, [np.zeros((1, 5, 3)), np.zeros((1, 5, 3))], SEM)


def test_time_axis_may_differ_from_the_recorded_length() -> None:
    net = seq_net(lstm("l", 3, 4), shape=(None, 40, 3))
    assert engine.predict(net, np.zeros((1, 7, 3), np.float32), SEM)[0].shape == (1, 4)
    fixed = seq_net(dense("d", 3, 2), shape=(None, 3))
    with pytest.raises(InputShapeError):
        engine.predict(fixed, np.zeros((1, 4), np.float32), SEM)


def test_shape_mismatch_inside_the_model_is_an_input_shape_error() -> None:
    net = seq_net(
        lstm("l", 3, 4, return_sequences=True), Layer("f", "Flatten"), dense("d", 20, 2), shape=(None, 5, 3)
    )
    engine.predict(net, np.zeros((1, 5, 3), np.float32), SEM)
    with pytest.raises(InputShapeError, match="'d'"):
        engine.predict(net, np.zeros((1, 4, 3), np.float32), SEM)


def test_unrunnable_and_unknown_layers() -> None:
    lam = Layer(
        "lambda_1", "Lambda", runnable=False, problems=("Lambda holds Python bytecode; never executed",)
    )
    with pytest.raises(UnsupportedLayerError, match="lambda_1.*bytecode"):
        engine.predict(seq_net(lam), np.zeros((1, 5, 3), np.float32), SEM)
    with pytest.raises(UnsupportedLayerError, match="MyCustomLayer"):
        engine.predict(seq_net(Layer("c", "MyCustomLayer")), np.zeros((1, 5, 3), np.float32), SEM)
    weird = Layer("d", "Dense", config=cfg(activation="my_act"), weights=dense("d", 3, 2).weights)
    with pytest.raises(UnsupportedLayerError, match="my_act"):
        engine.predict(seq_net(weird), np.zeros((1, 5, 3), np.float32), SEM)


def test_embedding_ids() -> None:
    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    emb = Layer("e", "Embedding", config=cfg(mask_zero=True), weights=(Weight("embeddings", table),))
    net = seq_net(emb, lstm("l", 2, 3, return_sequences=True), shape=(None, 4), dtype="int32")
    ids = np.array([[1, 2, 0, 5]])
    out = engine.trace(net, ids, SEM)
    np.testing.assert_array_equal(out.layers["l"].mask, ids != 0)
    # float ids are truncated like Keras' cast
    np.testing.assert_array_equal(engine.predict(net, ids.astype(np.float32) + 0.3, SEM)[0], out.outputs[0])
    with pytest.raises(InputShapeError, match="token id 6"):
        engine.predict(net, np.array([[1, 6, 0, 0]]), SEM)
    with pytest.raises(InputShapeError, match="token id -1"):
        engine.predict(net, np.array([[1, -1, 0, 0]]), SEM)


def _shared_net() -> Network:
    shared = lstm("shared", 3, 2, calls=(call(ref("a")), call(ref("b"))))
    add = Layer("add", "Add", calls=(call(ref("shared", 0), ref("shared", 1)),))
    return Network(
        "f",
        "Functional",
        (Layer("a", "InputLayer"), Layer("b", "InputLayer"), shared, add),
        inputs=(ref("a"), ref("b")),
        outputs=(ref("add"), ref("shared", 1)),
        input_shapes=((None, 4, 3), (None, 6, 3)),
    )


def test_shared_layer_calls_are_traced_separately() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 4, 3)).astype(np.float32)
    b = rng.normal(size=(2, 6, 3)).astype(np.float32)
    tr = engine.trace(_shared_net(), [a, b], SEM)
    assert list(tr.layers) == ["shared", "shared@1"]
    assert tr.layers["shared"].n_steps == 4 and tr.layers["shared@1"].n_steps == 6
    alone = engine.predict(seq_net(lstm("shared", 3, 2)), b, SEM)[0]
    np.testing.assert_allclose(tr.outputs[1], alone, atol=1e-7)
    np.testing.assert_allclose(tr.outputs[0], tr.layers["shared"].h[:, -1] + alone, atol=1e-6)


def test_bad_references_are_reported() -> None:
    net = _shared_net()
    broken = Network(net.name, net.kind, net.layers, net.inputs, (ref("shared", 2),), net.input_shapes)
    x = [np.zeros((1, 4, 3), np.float32), np.zeros((1, 6, 3), np.float32)]
    with pytest.raises(UnsupportedLayerError, match="call 2 of layer 'shared'"):
        engine.predict(broken, x, SEM)
    missing = Network(net.name, net.kind, net.layers, net.inputs, (ref("nope"),), net.input_shapes)
    with pytest.raises(UnsupportedLayerError, match="missing layer 'nope'"):
        engine.predict(missing, x, SEM)
    cyc = Network(
        "c",
        "Functional",
        (
            Layer("i", "InputLayer"),
            dense("p", 2, 2, calls=(call(ref("q")),)),
            dense("q", 2, 2, calls=(call(ref("p")),)),
        ),
        inputs=(ref("i"),),
        outputs=(ref("p"),),
        input_shapes=((None, 2),),
    )
    with pytest.raises(UnsupportedLayerError, match="cycle"):
        engine.predict(cyc, np.zeros((1, 2), np.float32), SEM)


def test_deep_functional_chain_does_not_recurse() -> None:
    n = 3000
    layers = [Layer("in", "InputLayer")]
    prev = "in"
    for k in range(n):
        layers.append(Layer(f"d{k}", "Dropout", calls=(call(ref(prev)),)))
        prev = f"d{k}"
    net = Network(
        "deep",
        "Functional",
        tuple(layers),
        inputs=(ref("in"),),
        outputs=(ref(prev),),
        input_shapes=((None, 2),),
    )
    x = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(engine.predict(net, x, SEM)[0], x)


def test_nested_model_trace_names() -> None:
    inner = seq_net(lstm("l", 3, 3, return_sequences=True), dense("d", 3, 3))
    bidi = Layer(
        "bi",
        "Bidirectional",
        config=cfg(merge_mode="concat"),
        children=(
            lstm("forward_l", 3, 3, seed=1, return_sequences=True),
            lstm("backward_l", 3, 3, seed=2, return_sequences=True, go_backwards=True),
        ),
    )
    outer_inner = Network(
        "mid", "Sequential", (Layer("inner", "Sequential", network=inner), bidi), input_shapes=((None, 5, 3),)
    )
    net = seq_net(Layer("mid", "Sequential", network=outer_inner), lstm("top", 6, 2))
    tr = engine.trace(net, np.random.default_rng(0).normal(size=(1, 5, 3)), SEM)
    assert list(tr.layers) == ["mid/inner/l", "mid/bi/forward", "mid/bi/backward", "top"]


def test_initial_state_refs_and_return_state_indices() -> None:
    enc = lstm("enc", 3, 4, return_state=True, calls=(call(ref("x")),))
    dec = lstm(
        "dec",
        3,
        4,
        seed=1,
        return_sequences=True,
        calls=(call(ref("y"), initial_state=(ref("enc", 0, 1), ref("enc", 0, 2))),),
    )
    net = Network(
        "s2s",
        "Functional",
        (Layer("x", "InputLayer"), Layer("y", "InputLayer"), enc, dec),
        inputs=(ref("x"), ref("y")),
        outputs=(ref("dec"), ref("enc", 0, 2)),
        input_shapes=((None, 5, 3), (None, 2, 3)),
    )
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 2, 3))
    tr = engine.trace(net, [x, y], SEM)
    np.testing.assert_allclose(tr.outputs[1], tr.layers["enc"].c[:, -1], atol=1e-7)
    # the decoder's first recurrent product uses the encoder's final h
    h_enc = tr.layers["enc"].h[:, -1]
    U = dec.weight("recurrent_kernel")
    np.testing.assert_allclose(tr.layers["dec"].h_part["f"][:, 0], h_enc @ U.gate("f"), atol=1e-5)
    with pytest.raises(UnsupportedLayerError, match="tensor 3"):
        bad = Network(net.name, net.kind, net.layers, net.inputs, (ref("enc", 0, 3),), net.input_shapes)
        engine.predict(bad, [x, y], SEM)


def test_activation_getter() -> None:
    x = np.array([-1e4, -3.0, 0.0, 2.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(
            activations.get("sigmoid", SEM)(x),
            [0, 1 / (1 + np.exp(3)), 0.5, 1 / (1 + np.exp(-2)), 1],
            atol=1e-12,
        )
        np.testing.assert_allclose(activations.get("hard_sigmoid", SEM)(x), [0, 0, 0.5, 0.9, 1])
        np.testing.assert_allclose(
            activations.get("hard_sigmoid", Semantics("keras3"))(x), [0, 0, 0.5, 2 / 6 + 0.5, 1]
        )
        assert np.all(np.isfinite(activations.get("softmax", SEM)(x)))
        activations.get("softplus", SEM)(x)
        activations.get("elu", SEM)(x)
    assert activations.activation_name(None) == "linear"
    assert activations.activation_name({"class_name": "function", "config": "tanh"}) == "tanh"
    assert activations.activation_name("keras.activations.relu") == "relu"
