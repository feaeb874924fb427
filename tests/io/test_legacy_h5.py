"""Legacy HDF5 dialect quirks, each reproduced in a tiny synthetic file written with h5py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from inspector.core.network import TensorRef
from inspector.io import ModelFileError, load

RNG = np.random.default_rng(0)


def arr(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def write_layers(
    g: h5py.Group,
    layers: list[tuple[str, list[tuple[str, np.ndarray]]]],
    *,
    as_bytes: bool = True,
    chunk_layer_names: bool = False,
) -> None:
    """Write `layer_names` + per-layer `weight_names` and datasets the way Keras does."""
    names = [n for n, _ in layers]
    enc = [n.encode() for n in names] if as_bytes else names
    if chunk_layer_names:
        half = len(enc) // 2 or 1
        g.attrs["layer_names0"] = np.array(enc[:half]) if as_bytes else enc[:half]
        g.attrs["layer_names1"] = np.array(enc[half:]) if as_bytes else enc[half:]
    else:
        g.attrs["layer_names"] = np.array(enc) if as_bytes else enc
    for lname, ws in layers:
        sub = g.create_group(lname)
        if ws:
            wn = [w.encode() for w, _ in ws] if as_bytes else [w for w, _ in ws]
            sub.attrs["weight_names"] = np.array(wn) if as_bytes else wn
        else:
            sub.attrs["weight_names"] = np.asarray([])  # Keras' empty float64 array
        for wname, value in ws:
            sub.create_dataset(wname, data=value)


def k1_lstm_arrays(lname: str, d: int, u: int, suffix: str = ":0") -> list[tuple[str, np.ndarray]]:
    out = []
    for g in "icfo":  # Keras 1 file order i, c, f, o
        out += [
            (f"{lname}_W_{g}{suffix}", arr(d, u)),
            (f"{lname}_U_{g}{suffix}", arr(u, u)),
            (f"{lname}_b_{g}{suffix}", arr(u)),
        ]
    return out


K1_SEQ_CONFIG = {
    "class_name": "Sequential",
    "config": [
        {
            "class_name": "LSTM",
            "config": {
                "name": "lstm_1",
                "output_dim": 3,
                "inner_activation": "hard_sigmoid",
                "activation": "tanh",
                "consume_less": "cpu",
                "batch_input_shape": [None, 7, 2],
                "input_dtype": "float32",
                "return_sequences": False,
                "go_backwards": False,
                "stateful": False,
                "unroll": False,
                "init": "glorot_uniform",
                "inner_init": "orthogonal",
                "forget_bias_init": "one",
                "dropout_W": 0.0,
                "dropout_U": 0.0,
                "trainable": True,
            },
        },
        {
            "class_name": "Dense",
            "config": {"name": "dense_1", "output_dim": 4, "bias": True, "activation": "linear"},
        },
        {"class_name": "Activation", "config": {"name": "activation_1", "activation": "softmax"}},
    ],
}


def test_keras1_full_model_12_array_lstm(tmp_path: Path) -> None:
    p = tmp_path / "k1.h5"
    lstm = k1_lstm_arrays("lstm_1", 2, 3)
    with h5py.File(p, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["model_config"] = json.dumps(K1_SEQ_CONFIG).encode()
        mw = f.create_group("model_weights")  # Keras 1: no keras_version on the weights group
        write_layers(
            mw,
            [
                ("lstm_1", lstm),
                ("dense_1", [("dense_1_W:0", arr(3, 4)), ("dense_1_b:0", arr(4))]),
                ("activation_1", []),
            ],
        )
    mf = load(p)
    assert mf.format_id == "legacy-h5-model" and mf.keras_version == "1.2.2"
    net = mf.network
    assert net is not None and net.input_shapes == ((None, 7, 2),)
    lay = net.layer("lstm_1")
    assert lay.kind == "LSTM" and lay.config["units"] == 3
    assert lay.config["recurrent_activation"] == "hard_sigmoid" and lay.config["implementation"] == 0
    raw = dict(lstm)
    k = lay.weight("kernel")
    assert k.shape == (2, 12) and [g.key for g in k.gates] == ["i", "f", "c", "o"]
    for g in "ifco":
        np.testing.assert_array_equal(k.gate(g), raw[f"lstm_1_W_{g}:0"])
        np.testing.assert_array_equal(lay.weight("recurrent_kernel").gate(g), raw[f"lstm_1_U_{g}:0"])
        np.testing.assert_array_equal(lay.weight("bias").gate(g), raw[f"lstm_1_b_{g}:0"])
    assert "lstm_1_W_f:0" in k.source
    dense = net.layer("dense_1")
    assert dense.config["units"] == 4 and dense.config["use_bias"] is True
    assert [w.name for w in dense.weights] == ["kernel", "bias"]
    assert mf.semantics.hard_sigmoid == "keras2" and mf.semantics.bidirectional_zero_masked is False


def test_keras1_gru_9_arrays_weights_only(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    ws = []
    for g in "zrh":
        ws += [(f"gru_1_W_{g}", arr(5, 2)), (f"gru_1_U_{g}", arr(2, 2)), (f"gru_1_b_{g}", arr(2))]
    with h5py.File(p, "w") as f:
        write_layers(f, [("gru_1", ws)])
    mf = load(p)
    assert mf.network is None and mf.format_id == "legacy-h5-weights"
    gru = mf.weight_layers[0]
    assert gru.kind == "GRU"
    raw = dict(ws)
    for g in "zrh":
        np.testing.assert_array_equal(gru.weight("kernel").gate(g), raw[f"gru_1_W_{g}"])
        np.testing.assert_array_equal(gru.weight("bias").gate(g), raw[f"gru_1_b_{g}"])


def test_chunked_attrs_and_str_attrs(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    layers = [
        (f"dense_{i}", [(f"dense_{i}/kernel:0", arr(2, 2)), (f"dense_{i}/bias:0", arr(2))]) for i in range(5)
    ]
    with h5py.File(p, "w") as f:
        f.attrs["keras_version"] = "2.10.0"
        f.attrs["backend"] = "tensorflow"
        write_layers(f, layers, as_bytes=False, chunk_layer_names=True)
        # chunk one weight_names attr too
        g = f["dense_3"]
        del g.attrs["weight_names"]
        g.attrs["weight_names0"] = ["dense_3/kernel:0"]
        g.attrs["weight_names1"] = ["dense_3/bias:0"]
    mf = load(p)
    assert [lay.name for lay in mf.weight_layers] == [f"dense_{i}" for i in range(5)]
    d3 = mf.weight_layers[3]
    assert d3.kind == "Dense" and [w.name for w in d3.weights] == ["kernel", "bias"]
    np.testing.assert_array_equal(d3.weights[1].value, layers[3][1][1][1])


def test_empty_weight_names_and_bytes_attrs(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        write_layers(
            f, [("input_1", []), ("dense_1", [("dense_1/kernel:0", arr(3, 2)), ("dense_1/bias:0", arr(2))])]
        )
    mf = load(p)
    assert [lay.name for lay in mf.weight_layers] == ["dense_1"]
    assert mf.backend == "tensorflow" and mf.keras_version == "2.2.4"


def _nested_config() -> dict[str, Any]:
    sub_layers = [
        {
            "class_name": "InputLayer",
            "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "x"},
        },
        {"class_name": "Dense", "config": {"name": "d1", "units": 3, "trainable": True}},
        {"class_name": "BatchNormalization", "config": {"name": "bn", "trainable": True}},
        {"class_name": "Dense", "config": {"name": "d2", "units": 3, "trainable": False}},
        {"class_name": "Dense", "config": {"name": "d3", "units": 2, "trainable": True}},
    ]
    return {
        "class_name": "Sequential",
        "config": {
            "name": "outer",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "inp"},
                },
                {"class_name": "Sequential", "config": {"name": "sub", "layers": sub_layers}},
            ],
        },
    }


def test_nested_trainable_first_order(tmp_path: Path) -> None:
    d1k, d1b, g, b, mm, mv, d2k, d2b, d3k, d3b = (
        arr(4, 3),
        arr(3),
        arr(3),
        arr(3),
        arr(3),
        np.abs(arr(3)),
        arr(3, 3),
        arr(3),
        arr(3, 2),
        arr(2),
    )
    order = [
        ("d1/kernel:0", d1k),
        ("d1/bias:0", d1b),
        ("bn/gamma:0", g),
        ("bn/beta:0", b),
        ("d3/kernel:0", d3k),
        ("d3/bias:0", d3b),
        ("bn/moving_mean:0", mm),
        ("bn/moving_variance:0", mv),
        ("d2/kernel:0", d2k),
        ("d2/bias:0", d2b),
    ]
    p = tmp_path / "nested.h5"
    with h5py.File(p, "w") as f:
        f.attrs["keras_version"] = "2.21.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(_nested_config())
        mw = f.create_group("model_weights")
        mw.attrs["keras_version"] = "2.21.0"
        write_layers(mw, [("sub", order)], as_bytes=False)
    mf = load(p)
    sub = mf.network.layer("sub")  # type: ignore[union-attr]
    assert sub.kind == "Sequential" and sub.network is not None
    got = {path: w.value for path, w in sub.all_weights()}
    np.testing.assert_array_equal(got["sub/d1/kernel"], d1k)
    np.testing.assert_array_equal(got["sub/bn/moving_mean"], mm)
    np.testing.assert_array_equal(got["sub/bn/moving_variance"], mv)
    np.testing.assert_array_equal(got["sub/d2/kernel"], d2k)
    np.testing.assert_array_equal(got["sub/d3/bias"], d3b)


def test_cudnn_lstm_and_gru_conversion(tmp_path: Path) -> None:
    u, d = 3, 2
    lk, lr, lb = arr(d, 4 * u), arr(u, 4 * u), arr(8 * u)
    gk, gr, gb = arr(d, 3 * u), arr(u, 3 * u), arr(6 * u)
    cfg = {
        "class_name": "Sequential",
        "config": [
            {
                "class_name": "CuDNNLSTM",
                "config": {
                    "name": "cl",
                    "units": u,
                    "return_sequences": True,
                    "batch_input_shape": [None, 5, d],
                },
            },
            {"class_name": "CuDNNGRU", "config": {"name": "cg", "units": u}},
        ],
    }
    gk = arr(u, 3 * u)
    p = tmp_path / "cudnn.h5"
    with h5py.File(p, "w") as f:
        f.attrs.update({"keras_version": "2.1.5", "backend": "tensorflow", "model_config": json.dumps(cfg)})
        mw = f.create_group("model_weights")
        mw.attrs.update({"keras_version": "2.1.5", "backend": "tensorflow"})
        write_layers(
            mw,
            [
                ("cl", [("cl/kernel:0", lk), ("cl/recurrent_kernel:0", lr), ("cl/bias:0", lb)]),
                ("cg", [("cg/kernel:0", gk), ("cg/recurrent_kernel:0", gr), ("cg/bias:0", gb)]),
            ],
        )
    net = load(p).network
    assert net is not None
    cl, cg = net.layers
    assert cl.kind == "LSTM" and cl.config["recurrent_activation"] == "sigmoid"
    assert cg.kind == "GRU" and cg.config["reset_after"] is True
    np.testing.assert_allclose(cl.weight("bias").value, lb[: 4 * u] + lb[4 * u :])
    np.testing.assert_array_equal(cl.weight("kernel").gate("f"), lk[:, u : 2 * u].ravel().reshape(u, d).T)
    np.testing.assert_array_equal(cl.weight("recurrent_kernel").gate("o"), lr[:, 3 * u :].T)
    assert cg.weight("bias").shape == (2, 3 * u)
    np.testing.assert_array_equal(cg.weight("bias").value, gb.reshape(2, 3 * u))
    np.testing.assert_array_equal(cg.weight("kernel").gate("r"), gk[:, u : 2 * u].ravel().reshape(u, u).T)


def test_theano_conv_flip_and_keras1_bn(tmp_path: Path) -> None:
    k = arr(3, 2, 4)
    p = tmp_path / "th.h5"
    with h5py.File(p, "w") as f:
        f.attrs.update({"keras_version": "2.0.8", "backend": "theano", "layer_names": [b"conv1d_1"]})
        write_layers(f, [("conv1d_1", [("conv1d_1/kernel", k), ("conv1d_1/bias", arr(4))])])
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "class_name": "Sequential",
                "config": [
                    {
                        "class_name": "Conv1D",
                        "config": {
                            "name": "conv1d_1",
                            "filters": 4,
                            "kernel_size": [3],
                            "batch_input_shape": [None, 10, 2],
                        },
                    }
                ],
            }
        )
    )
    net = load(p, config=cfg).network
    assert net is not None
    np.testing.assert_array_equal(net.layers[0].weight("kernel").value, k[::-1])

    p2 = tmp_path / "bn.h5"
    vals = [arr(3), arr(3), arr(3), np.abs(arr(3))]
    with h5py.File(p2, "w") as f:
        f.attrs["model_config"] = json.dumps(
            {
                "class_name": "Sequential",
                "config": [
                    {
                        "class_name": "BatchNormalization",
                        "config": {"name": "bn", "mode": 0, "epsilon": 1e-3, "batch_input_shape": [None, 3]},
                    }
                ],
            }
        )
        f.attrs["keras_version"] = "1.2.2"
        mw = f.create_group("model_weights")
        write_layers(
            mw, [("bn", list(zip(["bn_gamma", "bn_beta", "bn_running_mean", "bn_running_std"], vals)))]
        )
    bn = load(p2).network.layers[0]  # type: ignore[union-attr]
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    np.testing.assert_array_equal(bn.weight("moving_variance").value, vals[3])


def test_weights_only_with_config_positional_and_mismatch(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        write_layers(
            f,
            [
                ("lstm_7", k1_lstm_arrays("lstm_7", 2, 3, "")),
                ("dense_9", [("dense_9_W", arr(3, 4)), ("dense_9_b", arr(4))]),
            ],
        )
    cfg = tmp_path / "arch.json"
    cfg.write_text(json.dumps({**K1_SEQ_CONFIG, "keras_version": "1.0.8"}))
    mf = load(p, config=cfg)
    assert mf.network is not None
    assert [lay.name for lay in mf.weight_layers] == ["lstm_1", "dense_1"]  # positional, names differ
    assert mf.network.layer("lstm_1").weight("kernel").shape == (2, 12)

    bad = dict(K1_SEQ_CONFIG)
    bad["config"] = [
        dict(K1_SEQ_CONFIG["config"][0]),
        {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 5}},
    ]
    cfg.write_text(json.dumps(bad))
    # An architecture that disagrees with the weights: no network, the weights still shown, the
    # reason (naming the layer and the shapes) in ModelFile.damage.
    mf = load(p, config=cfg)
    assert mf.network is None and mf.damage is not None
    assert "dense_1" in mf.damage and "(3, 4)" in mf.damage
    assert [lay.name for lay in mf.weight_layers] == ["lstm_7", "dense_9"]  # the file's own names
    assert mf.weight_layers[0].weight("kernel").shape == (2, 12)

    cfg.write_text(json.dumps({**K1_SEQ_CONFIG, "config": K1_SEQ_CONFIG["config"][:1]}))
    mf = load(p, config=cfg)
    assert mf.network is None and "1 layers with weights" in mf.damage


def test_bad_config_file_is_reported_against_config(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        write_layers(f, [("dense_1", [("dense_1/kernel:0", arr(3, 2))])])
    cfg = tmp_path / "arch.json"
    cfg.write_text("{not json")
    with pytest.raises(ModelFileError) as info:
        load(p, config=cfg)
    assert info.value.path == str(cfg)


def test_extra_root_content_and_top_level_weights(tmp_path: Path) -> None:
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.attrs.update(
            {
                "keras_version": "2.10.0",
                "backend": "tensorflow",
                "model_config": json.dumps(
                    {
                        "class_name": "Sequential",
                        "config": {
                            "name": "s",
                            "layers": [
                                {
                                    "class_name": "InputLayer",
                                    "config": {
                                        "batch_input_shape": [None, 3],
                                        "dtype": "float32",
                                        "name": "i",
                                    },
                                },
                                {"class_name": "Dense", "config": {"name": "dense", "units": 2}},
                            ],
                        },
                    }
                ),
            }
        )
        mw = f.create_group("model_weights")
        mw.attrs.update({"keras_version": "2.10.0", "backend": "tensorflow"})
        write_layers(
            mw, [("dense", [("dense/kernel:0", arr(3, 2)), ("dense/bias:0", arr(2))])], as_bytes=False
        )
        mw.create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])
        f["medaka_model_kwargs"] = "{}"
    mf = load(p)
    assert mf.network is not None and mf.network.input_shapes == ((None, 3),)
    assert any("medaka_model_kwargs" in pr for pr in mf.problems)


def test_keras0_weights(tmp_path: Path) -> None:
    p = tmp_path / "k0.h5"
    with h5py.File(p, "w") as f:
        f.attrs["nb_layers"] = 2
        g = f.create_group("layer_0")
        g.attrs["nb_params"] = 2
        g["param_0"] = arr(3, 2)
        g["param_1"] = arr(2)
        f.create_group("layer_1").attrs["nb_params"] = 0
    mf = load(p)
    assert mf.format_id == "keras0-h5" and len(mf.weight_layers) == 1


def test_functional_keras1_merge_and_generic_rnn(tmp_path: Path) -> None:
    cfg = {
        "class_name": "Model",
        "config": {
            "name": "m",
            "layers": [
                {
                    "name": "a",
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 4, 2], "input_dtype": "float32", "name": "a"},
                    "inbound_nodes": [],
                },
                {
                    "name": "r",
                    "class_name": "RNN",
                    "config": {
                        "name": "r",
                        "return_sequences": False,
                        "cell": {"class_name": "GRUCell", "config": {"units": 3, "reset_after": True}},
                    },
                    "inbound_nodes": [[["a", 0, 0]]],
                },
                {
                    "name": "s",
                    "class_name": "SimpleRNN",
                    "config": {"name": "s", "output_dim": 3},
                    "inbound_nodes": [[["a", 0, 0]]],
                },
                {
                    "name": "m1",
                    "class_name": "Merge",
                    "config": {"name": "m1", "mode": "concat", "concat_axis": -1},
                    "inbound_nodes": [[["r", 0, 0], ["s", 0, 0]]],
                },
            ],
            "input_layers": [["a", 0, 0]],
            "output_layers": [["m1", 0, 0]],
        },
    }
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f.attrs.update({"keras_version": "1.2.2", "model_config": json.dumps(cfg)})
        mw = f.create_group("model_weights")
        write_layers(
            mw,
            [
                ("a", []),
                ("r", [("r/kernel", arr(2, 9)), ("r/recurrent_kernel", arr(3, 9)), ("r/bias", arr(2, 9))]),
                ("s", [("s_W", arr(2, 3)), ("s_U", arr(3, 3)), ("s_b", arr(3))]),
                ("m1", []),
            ],
        )
    net = load(p).network
    assert net is not None and net.kind == "Functional"
    assert [lay.kind for lay in net.layers] == ["InputLayer", "GRU", "SimpleRNN", "Concatenate"]
    assert net.layer("r").config["units"] == 3 and net.layer("r").config["reset_after"] is True
    assert net.layer("s").config["units"] == 3
    m1 = net.layer("m1")
    assert [r.layer for r in m1.calls[0].inputs] == ["r", "s"] and m1.config["axis"] == -1
    assert net.input_dtypes == ("float32",)


def _write_full(p: Path, cfg: dict[str, Any], version: str, layers: list[tuple[str, list]]) -> None:
    with h5py.File(p, "w") as f:
        f.attrs.update({"keras_version": version, "backend": "tensorflow", "model_config": json.dumps(cfg)})
        mw = f.create_group("model_weights")
        mw.attrs.update({"keras_version": version, "backend": "tensorflow"})
        write_layers(mw, layers)


@pytest.mark.parametrize(
    "version, rec_act, reset_after",
    [
        ("2.1.6", "hard_sigmoid", False),
        ("2.3.1", "sigmoid", False),
        ("2.2.4-tf", "sigmoid", True),
        ("2.4.0", "sigmoid", True),
        ("3.1.0", "sigmoid", True),
    ],
)
def test_version_defaults_for_missing_keys(
    tmp_path: Path, version: str, rec_act: str, reset_after: bool
) -> None:
    cfg = {
        "class_name": "Sequential",
        "config": [
            {"class_name": "GRU", "config": {"name": "g", "units": 2, "batch_input_shape": [None, 3, 1]}}
        ],
    }
    bias = arr(2, 6) if reset_after else arr(6)
    p = tmp_path / "m.h5"
    _write_full(
        p,
        cfg,
        version,
        [("g", [("g/kernel:0", arr(1, 6)), ("g/recurrent_kernel:0", arr(2, 6)), ("g/bias:0", bias)])],
    )
    g = load(p).network.layers[0]  # type: ignore[union-attr]
    assert g.config["recurrent_activation"] == rec_act
    assert g.config["reset_after"] is reset_after
    assert g.config["activation"] == "tanh" and g.config["return_sequences"] is False


def test_keras2_nested_model_node_offset(tmp_path: Path) -> None:
    sub = {
        "name": "sub",
        "class_name": "Model",
        "config": {
            "name": "sub",
            "layers": [
                {
                    "name": "si",
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 3], "name": "si"},
                    "inbound_nodes": [],
                },
                {
                    "name": "sd",
                    "class_name": "Dense",
                    "config": {"name": "sd", "units": 2},
                    "inbound_nodes": [[["si", 0, 0, {}]]],
                },
            ],
            "input_layers": [["si", 0, 0]],
            "output_layers": [["sd", 0, 0]],
        },
        "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]],
    }
    cfg = {
        "class_name": "Model",
        "config": {
            "name": "outer",
            "layers": [
                {
                    "name": "a",
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 3], "name": "a"},
                    "inbound_nodes": [],
                },
                {
                    "name": "b",
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 3], "name": "b"},
                    "inbound_nodes": [],
                },
                sub,
                {
                    "name": "add",
                    "class_name": "Add",
                    "config": {"name": "add"},
                    "inbound_nodes": [[["sub", 1, 0, {}], ["sub", 2, 0, {}]]],
                },
            ],
            "input_layers": [["a", 0, 0], ["b", 0, 0]],
            "output_layers": [["add", 0, 0], ["sub", 2, 0]],
        },
    }
    p = tmp_path / "n.h5"
    k = arr(3, 2)
    _write_full(
        p,
        cfg,
        "2.2.4",
        [("a", []), ("b", []), ("sub", [("sd/kernel:0", k), ("sd/bias:0", arr(2))]), ("add", [])],
    )
    net = load(p).network
    assert net is not None
    sub_l = net.layer("sub")
    assert [c.inputs[0].layer for c in sub_l.calls] == ["a", "b"]
    assert net.layer("add").calls[0].inputs == (TensorRef("sub", 0, 0), TensorRef("sub", 1, 0))
    assert net.outputs[1] == TensorRef("sub", 1, 0)
    np.testing.assert_array_equal(sub_l.network.layer("sd").weight("kernel").value, k)  # type: ignore[union-attr]
