"""Engine vs real Keras: tf_keras 2.21 and Keras 3 `model.predict` (the oracle; test-only).

Models are built in memory with random non-zero weights (biases included), converted to a core
`Network` by a small test-only converter that reads the live model (so these tests do not depend on
`inspector.io`), and run through `engine.predict` / `engine.trace`.  Tolerance: docs/formats.md, 'Numerics'.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from inspector.core import engine
from inspector.core.network import (
    RECURRENT_KINDS,
    Call,
    Layer,
    Network,
    Semantics,
    TensorRef,
    Weight,
    gate_slices,
)
from inspector.core.stepper import Stepper

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

pytestmark = pytest.mark.keras

ATOL = RTOL = 1e-5
FRAMEWORKS = ["tf_keras", "keras3"]


# ------------------------------------------------------------------------------ Keras access


@pytest.fixture(scope="module", params=FRAMEWORKS)
def K(request: pytest.FixtureRequest) -> Any:
    """The Keras module under test (tf_keras or keras 3), with its Semantics attached."""
    if request.param == "tf_keras":
        k = pytest.importorskip("tf_keras")
        k.semantics = Semantics.for_version(k.__version__ + "-tf")
    else:
        k = pytest.importorskip("keras")
        if not k.__version__.startswith("3"):
            pytest.skip("keras 3 not installed")
        k.semantics = Semantics.for_version(k.__version__)
    k.name_ = request.param
    return k


def _predict(model: Any, inputs: Any) -> list[np.ndarray]:
    out = model.predict(inputs, verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]


def _randomize(model: Any, seed: int = 0) -> None:
    """Random weights everywhere (non-zero biases); BN variances kept positive."""
    rng = np.random.default_rng(seed)
    for layer in _all_layers(model):
        ws = layer.get_weights()
        if not ws or _is_container(layer):
            continue
        names = [_role(_var_name(v)) for v in layer.weights]
        new = []
        for name, w in zip(names, ws):
            if name == "moving_variance":
                new.append(rng.uniform(0.5, 1.5, size=w.shape).astype(w.dtype))
            elif name == "embeddings":
                new.append(rng.normal(0, 1.0, size=w.shape).astype(w.dtype))
            else:
                new.append(rng.normal(0, 0.6, size=w.shape).astype(w.dtype))
        layer.set_weights(new)


def _is_container(layer: Any) -> bool:
    return type(layer).__name__ in ("Sequential", "Functional", "Model", "Bidirectional", "TimeDistributed")


def _all_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        name = type(layer).__name__
        if name in ("Sequential", "Functional", "Model"):
            out += _all_layers(layer)
        elif name == "Bidirectional":
            out += [layer.forward_layer, layer.backward_layer]
        elif name == "TimeDistributed":
            out.append(layer.layer)
        else:
            out.append(layer)
    return out


# ------------------------------------------------------------------------------ live model -> Network


def _var_name(v: Any) -> str:
    return getattr(v, "path", None) or v.name


def _role(name: str) -> str:
    return name.split("/")[-1].split(":")[0]


def _kind(obj: Any) -> str:
    name = type(obj).__name__
    return "Functional" if name == "Model" else name


def _layer(obj: Any, calls: tuple[Call, ...] = ()) -> Layer:
    kind = _kind(obj)
    cfg = dict(obj.get_config())
    if kind in ("Sequential", "Functional"):
        return Layer(obj.name, kind, network=_network(obj), calls=calls)
    if kind == "Bidirectional":
        kids = (_layer(obj.forward_layer), _layer(obj.backward_layer))
        return Layer(obj.name, kind, config=MappingProxyType(cfg), children=kids, calls=calls)
    if kind == "TimeDistributed":
        return Layer(obj.name, kind, config=MappingProxyType(cfg), children=(_layer(obj.layer),), calls=calls)
    weights = []
    for v in obj.weights:
        role = _role(_var_name(v))
        gates = ()
        if kind in RECURRENT_KINDS and role in ("kernel", "recurrent_kernel", "bias"):
            gates = gate_slices(kind, int(cfg["units"]))
        weights.append(Weight(role, np.asarray(v.numpy(), dtype=np.float32), _var_name(v), gates))
    return Layer(obj.name, kind, config=MappingProxyType(cfg), weights=tuple(weights), calls=calls)


def _shape(t: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tuple(t.shape))


def _dtype(t: Any) -> str:
    d = t.dtype
    return getattr(d, "name", None) or str(d)


def _keras_tensors(obj: Any) -> list[list[Any]]:
    """keras_history triples inside a Keras 3 serialized argument structure."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            return [list(obj["config"]["keras_history"])]
        return [h for v in obj.values() for h in _keras_tensors(v)]
    if isinstance(obj, list | tuple):
        return [h for v in obj for h in _keras_tensors(v)]
    return []


def _network(model: Any) -> Network:
    kind = _kind(model)
    shapes = tuple(_shape(t) for t in model.inputs)
    dtypes = tuple(_dtype(t) for t in model.inputs)
    if kind == "Sequential":
        layers = tuple(_layer(obj) for obj in model.layers if type(obj).__name__ != "InputLayer")
        return Network(model.name, "Sequential", layers, input_shapes=shapes, input_dtypes=dtypes)
    cfg = model.get_config()
    entries = cfg["layers"]
    # Keras 3 writes each call as {"args", "kwargs"}; tf_keras as a list of connections.
    keras3 = any(isinstance(n, dict) for e in entries for n in e.get("inbound_nodes", []))
    classes = {e["name"]: e["class_name"] for e in entries}

    def live(name: str) -> Any:
        try:
            return model.get_layer(name)
        except ValueError:
            return None

    def call_offset(name: str) -> int:
        # tf_keras numbers the calls of a nested model from 1 when its first node is its own
        # input->output node (docs/formats.md, 'Model configs'); Keras 3 call references are 0-based.
        if keras3:
            return 0
        obj = live(name)
        tracked = getattr(obj, "_self_tracked_trackables", None)
        if classes[name] in ("Sequential", "Functional", "Model") and tracked:
            return int(type(tracked[0]).__name__ == "InputLayer")
        return 0

    def io_offset(name: str) -> int:
        if keras3:
            return int(classes[name] in ("Functional", "Model"))
        return call_offset(name)

    def ref(h: list[Any], offset: Callable[[str], int]) -> TensorRef:
        return TensorRef(h[0], int(h[1]) - offset(h[0]), int(h[2]))

    def io_refs(spec: Any) -> list[TensorRef]:
        # a single [name, node, tensor] triple, or any nesting of them (Keras 3 mirrors the structure)
        if isinstance(spec, list | tuple) and len(spec) == 3 and isinstance(spec[0], str):
            return [ref(list(spec), io_offset)]
        if isinstance(spec, dict):
            spec = list(spec.values())
        return [r for part in spec for r in io_refs(part)]

    layers = []
    for e in entries:
        calls = []
        for node in e.get("inbound_nodes", []):
            if isinstance(node, dict):  # Keras 3
                ins = [ref(h, call_offset) for h in _keras_tensors(node.get("args", []))]
                init = [
                    ref(h, call_offset)
                    for h in _keras_tensors(node.get("kwargs", {}).get("initial_state", []))
                ]
            else:  # tf_keras: [[name, node, tensor, kwargs], ...]; extra entries of an RNN = initial states
                conns = [node] if isinstance(node[0], str) else node
                refs = [ref(c, call_offset) for c in conns]
                if e["class_name"] in (*RECURRENT_KINDS, "Bidirectional"):
                    ins, init = refs[:1], refs[1:]
                else:
                    ins, init = refs, []
            calls.append(Call(tuple(ins), tuple(init)))
        obj = live(e["name"])
        if e["class_name"] == "InputLayer":
            layers.append(Layer(e["name"], "InputLayer"))
        elif obj is None:
            layers.append(Layer(e["name"], e["class_name"], calls=tuple(calls), runnable=False))
        else:
            layers.append(_layer(obj, tuple(calls)))
    return Network(
        model.name,
        "Functional",
        tuple(layers),
        inputs=tuple(io_refs(cfg["input_layers"])),
        outputs=tuple(io_refs(cfg["output_layers"])),
        input_shapes=shapes,
        input_dtypes=dtypes,
    )


def check(K: Any, model: Any, inputs: Any, seed: int = 0) -> engine.Trace:
    """Randomize, predict with Keras and with the engine, compare; return the engine trace."""
    _randomize(model, seed)
    want = _predict(model, inputs)
    net = _network(model)
    got = engine.predict(net, inputs, K.semantics)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, atol=ATOL, rtol=RTOL)
    tr = engine.trace(net, inputs, K.semantics)
    for g, w in zip(tr.outputs, want):
        np.testing.assert_allclose(g, w, atol=ATOL, rtol=RTOL)
    return tr


def padded(rng: np.random.Generator, B: int, T: int, d: int) -> np.ndarray:
    """Float sequences with pre-, mid- and post-padding (zero vectors) in different rows."""
    x = rng.normal(size=(B, T, d)).astype(np.float32)
    x[0, :2] = 0  # pre
    x[1, 2:4] = 0  # mid
    x[2, -3:] = 0  # post
    if B > 3:
        x[3, :] = 0  # fully masked
    return x


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("ret_seq", [True, False])
@pytest.mark.parametrize("rec_act", ["hard_sigmoid", "sigmoid"])
def test_lstm_masked(K: Any, ret_seq: bool, rec_act: str) -> None:
    rng = np.random.default_rng(1)
    x = padded(rng, 4, 7, 3)
    inp = K.Input((7, 3))
    m = K.layers.Masking()(inp)
    h = K.layers.LSTM(5, recurrent_activation=rec_act, return_sequences=ret_seq)(m)
    out = K.layers.Dense(4, activation="softmax")(h)
    tr = check(K, K.Model(inp, out), x)
    assert list(tr.layers) == ["lstm"] or len(tr.layers) == 1


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gru_masked(K: Any, reset_after: bool, go_backwards: bool) -> None:
    rng = np.random.default_rng(2)
    x = padded(rng, 4, 6, 3)
    model = K.Sequential(
        [
            K.Input((6, 3)),
            K.layers.Masking(),
            K.layers.GRU(
                4,
                reset_after=reset_after,
                go_backwards=go_backwards,
                return_sequences=True,
                recurrent_activation="hard_sigmoid",
            ),
            K.layers.GRU(3, reset_after=reset_after),
        ]
    )
    check(K, model, x)


def test_simple_rnn_stack(K: Any) -> None:
    rng = np.random.default_rng(3)
    x = padded(rng, 4, 5, 2)
    model = K.Sequential(
        [
            K.Input((5, 2)),
            K.layers.Masking(),
            K.layers.SimpleRNN(4, activation="relu", return_sequences=True),
            K.layers.SimpleRNN(3, go_backwards=True),
            K.layers.Dense(2),
        ]
    )
    check(K, model, x)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_masked(K: Any, merge_mode: str | None) -> None:
    rng = np.random.default_rng(4)
    x = padded(rng, 4, 6, 3)
    inp = K.Input((6, 3))
    m = K.layers.Masking()(inp)
    y = K.layers.Bidirectional(
        K.layers.LSTM(3, return_sequences=True, recurrent_activation="hard_sigmoid"), merge_mode=merge_mode
    )(m)
    outs = list(y) if isinstance(y, list | tuple) else [y]
    model = K.Model(inp, outs)
    tr = check(K, model, x)
    names = list(tr.layers)
    assert len(names) == 2 and names[0].endswith("/forward") and names[1].endswith("/backward")
    fwd, bwd = tr.layers[names[0]], tr.layers[names[1]]
    np.testing.assert_array_equal(bwd.time_index, np.arange(6)[::-1])
    # The backward trajectory is in processing order; the model output is it reversed back.
    want = _predict(model, x)
    if merge_mode == "concat":
        np.testing.assert_allclose(bwd.h[:, ::-1], want[0][..., 3:], atol=ATOL)
        np.testing.assert_allclose(fwd.h, want[0][..., :3], atol=ATOL)


def test_bidirectional_gru_last_output_and_states(K: Any) -> None:
    rng = np.random.default_rng(5)
    x = padded(rng, 4, 5, 2)
    inp = K.Input((5, 2))
    m = K.layers.Masking()(inp)
    outs = K.layers.Bidirectional(K.layers.GRU(3, return_state=True))(m)
    model = K.Model(inp, list(outs))
    check(K, model, x)


def test_zero_output_for_mask_last_output(K: Any) -> None:
    rng = np.random.default_rng(6)
    x = padded(rng, 4, 6, 3)
    inp = K.Input((6, 3))
    m = K.layers.Masking()(inp)
    a = K.layers.LSTM(3, zero_output_for_mask=True, return_sequences=True)(m)
    b = K.layers.GRU(3, zero_output_for_mask=True, go_backwards=True)(m)
    check(K, K.Model(inp, [a, b]), x)


def test_encoder_decoder_initial_state_and_embedding(K: Any) -> None:
    rng = np.random.default_rng(7)
    enc_ids = rng.integers(1, 20, size=(3, 6))
    enc_ids[0, 4:] = 0
    enc_ids[1, :2] = 0
    dec_ids = rng.integers(1, 20, size=(3, 4))
    dec_ids[2, 3:] = 0
    enc_in = K.Input((None,), dtype="int32")
    dec_in = K.Input((None,), dtype="int32")
    emb = K.layers.Embedding(20, 5, mask_zero=True)
    _, h, c = K.layers.LSTM(4, return_state=True)(emb(enc_in))
    dec = K.layers.LSTM(4, return_sequences=True)(emb(dec_in), initial_state=[h, c])
    out = K.layers.TimeDistributed(K.layers.Dense(6, activation="softmax"))(dec)
    tr = check(K, K.Model([enc_in, dec_in], out), [enc_ids, dec_ids])
    assert len(tr.layers) == 2


# Keras 3 warns that a nested model "will destroy the mask", yet passes it through (checked here).
@pytest.mark.filterwarnings(
    "ignore:Layer '.*' \\(of type (Sequential|Functional)\\) was passed an input with a mask"
)
def test_nested_models(K: Any) -> None:
    rng = np.random.default_rng(8)
    x = padded(rng, 4, 5, 3)
    inner_seq = K.Sequential(
        [K.Input((5, 4)), K.layers.LSTM(3, return_sequences=True), K.layers.Dense(2)], name="inner_seq"
    )
    fi = K.Input((5, 2))
    inner_fun = K.Model(fi, K.layers.GRU(2)(fi), name="inner_fun")
    inp = K.Input((5, 3))
    y = K.layers.Dense(4)(K.layers.Masking()(inp))
    y = inner_seq(y)
    out = inner_fun(y)
    tr = check(K, K.Model(inp, [out, y]), x)
    assert any(k.startswith("inner_seq/") for k in tr.layers)
    assert any(k.startswith("inner_fun/") for k in tr.layers)


def test_nested_functional_in_sequential(K: Any) -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    fi = K.Input((5, 3))
    sub = K.Model(fi, K.layers.SimpleRNN(4, return_sequences=True)(fi), name="sub")
    model = K.Sequential([K.Input((5, 3)), sub, K.layers.LSTM(2)])
    tr = check(K, model, x)
    assert "sub/" + [k for k in tr.layers if k.startswith("sub/")][0].split("/", 1)[1] in tr.layers


@pytest.mark.parametrize(
    "conv_kwargs",
    [
        {"padding": "same", "strides": 2},
        {"padding": "causal", "dilation_rate": 2},
        {"padding": "valid"},
        {"padding": "same", "strides": 1},
    ],
)
def test_conv1d_pooling(K: Any, conv_kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    model = K.Sequential(
        [
            K.Input((9, 3)),
            K.layers.Conv1D(4, 3, activation="relu", **conv_kwargs),
            K.layers.MaxPooling1D(2, padding="same"),
            K.layers.LSTM(3, return_sequences=True),
            K.layers.AveragePooling1D(2, padding="same"),
            K.layers.GlobalMaxPooling1D(),
        ]
    )
    check(K, model, x)


def test_norms_merges_and_misc(K: Any) -> None:
    rng = np.random.default_rng(11)
    x = padded(rng, 4, 6, 4)
    inp = K.Input((6, 4))
    m = K.layers.Masking()(inp)
    a = K.layers.LSTM(4, return_sequences=True)(m)
    b = K.layers.BatchNormalization()(K.layers.Dense(4, activation="tanh")(m))
    cat = K.layers.Concatenate()([a, b])
    add = K.layers.Add()([a, b])
    mul = K.layers.Multiply()([a, add])
    ln = K.layers.LayerNormalization()(cat)
    g = K.layers.GRU(3, return_sequences=True)(ln)
    avg = K.layers.GlobalAveragePooling1D()(g)
    mx = K.layers.Maximum()([K.layers.Dense(3)(avg), K.layers.Dense(3)(avg)])
    out = K.layers.Dense(2, activation="sigmoid")(K.layers.Dropout(0.5)(mx))
    check(K, K.Model(inp, [out, mul]), x)


def test_timedistributed_flatten_reshape(K: Any) -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, 4, 6)).astype(np.float32)
    model = K.Sequential(
        [
            K.Input((4, 6)),
            K.layers.TimeDistributed(K.layers.Dense(5, activation="elu")),
            K.layers.SimpleRNN(3, return_sequences=True),
            K.layers.Flatten(),
            K.layers.RepeatVector(2),
            K.layers.Reshape((3, 8)),
            K.layers.Permute((2, 1)),
            K.layers.LSTM(2),
        ]
    )
    check(K, model, x)


def test_trajectory_h_is_return_sequences_output(K: Any) -> None:
    """Trajectory.h equals what Keras returns for the layer with return_sequences=True."""
    rng = np.random.default_rng(13)
    x = padded(rng, 4, 6, 3)
    for layer in (K.layers.LSTM(4, go_backwards=True), K.layers.GRU(4), K.layers.SimpleRNN(4)):
        inp = K.Input((6, 3))
        last = layer(K.layers.Masking()(inp))
        model = K.Model(inp, last)
        tr = check(K, model, x)
        (traj,) = tr.layers.values()
        seq_cfg = {**layer.get_config(), "return_sequences": True, "name": "probe"}
        probe_layer = type(layer).from_config(seq_cfg)
        probe = K.Model(inp, probe_layer(K.layers.Masking()(inp)))
        probe_layer.set_weights(layer.get_weights())
        np.testing.assert_allclose(traj.h, _predict(probe, x)[0], atol=ATOL, rtol=RTOL)
        np.testing.assert_allclose(traj.h[:, -1], _predict(model, x)[0], atol=ATOL, rtol=RTOL)


def test_stepper_outputs_at_matches_truncated_predict(K: Any) -> None:
    rng = np.random.default_rng(14)
    x = padded(rng, 4, 5, 3)
    inp = K.Input((None, 3))
    m = K.layers.Masking()(inp)
    y = K.layers.Bidirectional(K.layers.GRU(3, return_sequences=True))(m)
    out = K.layers.Dense(2)(K.layers.LSTM(3)(y))
    model = K.Model(inp, out)
    _randomize(model, 3)
    net = _network(model)
    st = Stepper(net, x, K.semantics)
    assert st.n_steps == 5
    for t in range(st.n_steps):
        np.testing.assert_allclose(
            st.outputs_at(t)[0], _predict(model, x[:, : t + 1])[0], atol=ATOL, rtol=RTOL
        )


@pytest.mark.filterwarnings("ignore:Layer 'global_max_pooling1d.*was passed an input with a mask")
def test_merges_of_differently_masked_branches(K: Any) -> None:
    """Merge masks differ by version: AND in tf.keras, OR (and masked-entry rules) in Keras 3."""
    rng = np.random.default_rng(15)
    x1 = padded(rng, 4, 6, 3)
    x2 = rng.normal(size=(4, 6, 3)).astype(np.float32)
    x2[0, 3:] = 0
    x2[2, :2] = 0
    i1, i2 = K.Input((6, 3)), K.Input((6, 3))
    a = K.layers.LSTM(3, return_sequences=True)(K.layers.Masking()(i1))
    b = K.layers.GRU(3, return_sequences=True)(K.layers.Masking()(i2))
    c = K.layers.Dense(3)(i2)  # unmasked branch
    outs = []
    for merge in (
        K.layers.Add(),
        K.layers.Subtract(),
        K.layers.Multiply(),
        K.layers.Average(),
        K.layers.Maximum(),
        K.layers.Minimum(),
    ):
        merged = merge([a, b])
        outs += [merged, K.layers.SimpleRNN(2, return_sequences=True)(merged)]
    for merge in (K.layers.Multiply(), K.layers.Maximum(), K.layers.Add()):
        outs.append(K.layers.SimpleRNN(2, return_sequences=True)(merge([a, c])))
    cat = K.layers.Concatenate()([a, b])
    outs += [cat, K.layers.SimpleRNN(2, return_sequences=True)(cat)]
    cat_c = K.layers.Concatenate()([c, b])
    outs.append(K.layers.SimpleRNN(2, return_sequences=True)(cat_c))
    outs.append(K.layers.GlobalAveragePooling1D()(a))
    outs.append(K.layers.GlobalMaxPooling1D()(a))
    check(K, K.Model([i1, i2], outs), [x1, x2])


def test_bidirectional_with_initial_state(K: Any) -> None:
    rng = np.random.default_rng(16)
    x = padded(rng, 4, 5, 3)
    enc_x = rng.normal(size=(4, 4, 2)).astype(np.float32)
    ei = K.Input((4, 2))
    _, fh, fc, bh, bc = K.layers.Bidirectional(K.layers.LSTM(3, return_state=True))(ei)
    di = K.Input((5, 3))
    y = K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True), merge_mode="sum")(
        K.layers.Masking()(di), initial_state=[fh, fc, bh, bc]
    )
    out = K.layers.GRU(2)(y)
    check(K, K.Model([ei, di], [y, out]), [enc_x, x])


def test_embedding_mask_pooling_and_activations(K: Any) -> None:
    rng = np.random.default_rng(17)
    ids = rng.integers(1, 30, size=(4, 7))
    ids[0, :3] = 0
    ids[1, 5:] = 0
    inp = K.Input((7,), dtype="int32")
    e = K.layers.Embedding(30, 6, mask_zero=True)(inp)
    s = K.layers.SimpleRNN(5, return_sequences=True, activation="softsign")(e)
    pooled = K.layers.GlobalAveragePooling1D()(s)
    outs = [pooled]
    for act in (
        "selu",
        "softplus",
        "swish",
        "gelu",
        "relu6",
        "hard_sigmoid",
        "exponential",
        "elu",
        "linear",
        "softmax",
    ):
        outs.append(K.layers.Dense(3, activation=act)(pooled))
    outs.append(K.layers.Activation("tanh")(pooled))
    outs.append(K.layers.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.05)(pooled))
    outs.append(K.layers.LeakyReLU()(pooled))
    outs.append(K.layers.PReLU()(pooled))
    outs.append(K.layers.ELU(alpha=0.7)(pooled))
    outs.append(K.layers.Softmax()(K.layers.Dense(4)(pooled)))
    outs.append(K.layers.Dot(axes=1)([pooled, pooled]))
    outs.append(K.layers.Dot(axes=(2, 2), normalize=True)([s, s]))
    tr = check(K, K.Model(inp, outs), ids)
    (traj,) = tr.layers.values()
    np.testing.assert_array_equal(traj.mask, ids != 0)


def test_conv2d_stack(K: Any) -> None:
    rng = np.random.default_rng(18)
    x = rng.normal(size=(2, 9, 8, 3)).astype(np.float32)
    model = K.Sequential(
        [
            K.Input((9, 8, 3)),
            K.layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu"),
            K.layers.MaxPooling2D((2, 2), padding="same"),
            K.layers.Conv2D(3, 2, dilation_rate=(1, 2)),
            K.layers.AveragePooling2D(1),
            K.layers.Flatten(),
            K.layers.Dense(2),
        ]
    )
    check(K, model, x)


def test_lstm_without_bias_and_grouped_conv(K: Any) -> None:
    rng = np.random.default_rng(19)
    x = rng.normal(size=(2, 8, 4)).astype(np.float32)
    model = K.Sequential(
        [
            K.Input((8, 4)),
            K.layers.Conv1D(6, 3, groups=2, padding="same"),
            K.layers.LSTM(3, use_bias=False, return_sequences=True),
            K.layers.GRU(2, use_bias=False),
        ]
    )
    check(K, model, x)


def test_time_major_tf_keras(K: Any) -> None:
    if K.name_ != "tf_keras":
        pytest.skip("time_major exists only in tf.keras")
    rng = np.random.default_rng(20)
    x = rng.normal(size=(6, 3, 2)).astype(np.float32)  # (T, B, d)
    inp = K.Input(batch_shape=(6, None, 2))
    y = K.layers.LSTM(3, time_major=True, return_sequences=True)(inp)
    z = K.layers.GRU(2, time_major=True)(y)
    check(K, K.Model(inp, [y, z]), x)


def test_spatial_and_preprocessing_layers(K: Any) -> None:
    rng = np.random.default_rng(21)
    x = rng.normal(size=(2, 6, 5, 4, 3)).astype(np.float32)
    inp = K.Input((6, 5, 4, 3))
    v = K.layers.Conv3D(4, (2, 3, 2), padding="same", strides=(1, 2, 1))(inp)
    v = K.layers.MaxPooling3D((2, 1, 2))(v)
    v = K.layers.AveragePooling3D((1, 2, 1), padding="same")(v)
    g = K.layers.GlobalAveragePooling3D()(v)
    gm = K.layers.GlobalMaxPooling3D()(v)
    img = K.layers.Reshape((6, 20, 3))(inp)
    img = K.layers.ZeroPadding2D(((1, 0), (2, 1)))(img)
    img = K.layers.Cropping2D(((0, 2), (1, 1)))(img)
    img = K.layers.UpSampling2D((2, 1))(img)
    img = K.layers.Rescaling(0.5, offset=-1.0)(img)
    norm = K.layers.Normalization(mean=[0.1, -0.2, 0.3], variance=[1.5, 0.5, 2.0])(img)
    unit = K.layers.UnitNormalization()(norm)
    ident = K.layers.Identity()(unit) if hasattr(K.layers, "Identity") else unit
    check(K, K.Model(inp, [g, gm, ident]), x)
