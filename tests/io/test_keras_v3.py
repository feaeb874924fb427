"""Keras v3 layout quirks (.keras archives, .weights.h5) in synthetic files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from inspector.io import load
from inspector.io.config import to_snake_case
from inspector.io.sidecar import find_vocabulary

RNG = np.random.default_rng(3)


def arr(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def dense_entry(name: str, units: int) -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "registered_name": None,
        "config": {
            "name": name,
            "units": units,
            "trainable": True,
            "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}},
        },
    }


def seq_config(layers: list[dict[str, Any]], shape: list[int | None]) -> dict[str, Any]:
    inp = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "registered_name": None,
        "config": {"batch_shape": shape, "dtype": "float32", "name": "input_layer"},
    }
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "sequential", "layers": [inp, *layers]},
    }


def archive(p: Path, cfg: dict[str, Any], build: Any, version: str = "3.15.1") -> None:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": version, "date_saved": "x"}))
        z.writestr("config.json", json.dumps(cfg))
        z.writestr("model.weights.h5", buf.getvalue())


def test_snake_case_keys() -> None:
    assert [
        to_snake_case(n) for n in ("LSTM", "SimpleRNN", "Conv1D", "BatchNormalization", "CuDNNLSTM", "ReLU")
    ] == ["lstm", "simple_rnn", "conv1d", "batch_normalization", "cu_dnnlstm", "re_lu"]


def test_per_container_counters_and_many_layers(tmp_path: Path) -> None:
    n = 12
    ks = [arr(2, 2) for _ in range(n)]

    def build(f: h5py.File) -> None:
        for i in range(n):
            g = f.create_group(f"layers/dense{'' if i == 0 else f'_{i}'}/vars")
            g["0"], g["1"] = ks[i], arr(2)
        f.create_group("vars")

    p = tmp_path / "m.keras"
    archive(p, seq_config([dense_entry(f"d{i}", 2) for i in range(n)], [None, 2]), build)
    mf = load(p)
    assert mf.format_id == "keras3-archive" and mf.keras_version == "3.15.1"
    assert [lay.name for lay in mf.weight_layers] == [f"d{i}" for i in range(n)]
    np.testing.assert_array_equal(mf.network.layer("d10").weight("kernel").value, ks[10])  # type: ignore[union-attr]
    assert mf.semantics.hard_sigmoid == "keras3"


def test_bfloat16_and_numeric_var_order(tmp_path: Path) -> None:
    values = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)
    raw = (values.view(np.uint32) >> 16).astype(np.uint16)
    p = tmp_path / "w.weights.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("layers/thing/vars")
        for i in range(12):
            g[str(i)] = np.full((1,), i, np.float32)
        b = f.create_group("layers/dense/vars")
        ds = b.create_dataset("0", data=raw.view("V2").reshape(2, 2))
        ds.attrs["dtype"] = "bfloat16"
        b["1"] = np.zeros(2, np.float16)
        f.create_group("vars")
    mf = load(p)
    by = {lay.name: lay for lay in mf.weight_layers}
    thing = by["thing"]
    assert [float(w.value[0]) for w in thing.weights] == list(range(12))
    dense = by["dense"]
    k = dense.weight("kernel")
    assert k.stored_dtype == "bfloat16" and k.value.dtype == np.float32
    np.testing.assert_array_equal(k.value.ravel(), values)
    assert dense.weight("bias").stored_dtype == "float16"


def test_layer_checkpoint_dependencies_container(tmp_path: Path) -> None:
    k, b = arr(3, 2), arr(2)

    def build(f: h5py.File) -> None:
        g = f.create_group("_layer_checkpoint_dependencies/dense/vars")
        g["0"], g["1"] = k, b

    cfg = seq_config([dense_entry("out", 2)], [None, 3])
    p = tmp_path / "m.keras"
    archive(p, cfg, build, version="2.13.1")
    mf = load(p)
    assert mf.format.startswith("tf.keras") and mf.semantics.hard_sigmoid == "keras2"
    np.testing.assert_array_equal(mf.network.layer("out").weight("kernel").value, k)  # type: ignore[union-attr]


def test_name_attribute_remaps_keys(tmp_path: Path) -> None:
    ka, kb = arr(2, 2), arr(2, 3)

    def build(f: h5py.File) -> None:
        g0 = f.create_group("layers/dense/vars")  # holds 'b' by its name attribute
        g0.attrs["name"] = "b"
        g0["0"], g0["1"] = kb, arr(3)
        g1 = f.create_group("layers/dense_1/vars")
        g1.attrs["name"] = "a"
        g1["0"], g1["1"] = ka, arr(2)

    p = tmp_path / "m.keras"
    archive(p, seq_config([dense_entry("a", 2), dense_entry("b", 3)], [None, 2]), build)
    mf = load(p)
    net = mf.network
    assert net is not None
    np.testing.assert_array_equal(net.layer("a").weight("kernel").value, ka)
    np.testing.assert_array_equal(net.layer("b").weight("kernel").value, kb)
    assert any("found under" in pr for pr in mf.problems)


def test_unzipped_folder(tmp_path: Path) -> None:
    d = tmp_path / "saved"
    d.mkdir()
    (d / "metadata.json").write_text(json.dumps({"keras_version": "3.4.0"}))
    (d / "config.json").write_text(json.dumps(seq_config([dense_entry("d", 2)], [None, 3])))
    with h5py.File(d / "model.weights.h5", "w") as f:
        g = f.create_group("layers/dense/vars")
        g["0"], g["1"] = arr(3, 2), arr(2)
    mf = load(d)
    assert mf.network is not None and mf.network.input_shapes == ((None, 3),)


def test_weights_h5_with_config(tmp_path: Path) -> None:
    lstm = {
        "module": "keras.layers",
        "class_name": "LSTM",
        "registered_name": None,
        "config": {"name": "enc", "units": 2, "return_sequences": False},
    }
    cfg = seq_config([lstm, dense_entry("d", 1)], [None, 5, 3])
    p = tmp_path / "w.weights.h5"
    k = arr(3, 8)
    with h5py.File(p, "w") as f:
        c = f.create_group("layers/lstm/cell/vars")
        c["0"], c["1"], c["2"] = k, arr(2, 8), arr(8)
        f.create_group("layers/lstm/vars")
        d = f.create_group("layers/dense/vars")
        d["0"], d["1"] = arr(2, 1), arr(1)
    c_path = tmp_path / "c.json"
    c_path.write_text(json.dumps(cfg))
    mf = load(p, config=c_path)
    assert mf.network is not None and mf.format_id == "keras3-weights-h5"
    enc = mf.network.layer("enc")
    assert enc.config["recurrent_activation"] == "sigmoid"
    np.testing.assert_array_equal(enc.weight("kernel").gate("c"), k[:, 4:6])


def test_sidecar_vocabulary(tmp_path: Path) -> None:
    model = tmp_path / "char.keras"
    model.write_bytes(b"")
    assert find_vocabulary(model) is None
    (tmp_path / "char.vocab.json").write_text(json.dumps(["\n", " ", "a"]))
    assert find_vocabulary(model) == ["\n", " ", "a"]
    w = tmp_path / "m.weights.h5"
    (tmp_path / "m.vocab.json").write_text(json.dumps({"a": 1, "b": 0}))
    assert find_vocabulary(w) == ["b", "a"]
    (tmp_path / "x.vocab.json").write_text("[1, 2]")
    assert find_vocabulary(tmp_path / "x.h5") is None


def test_keras_2_11_variables_h5(tmp_path: Path) -> None:
    buf = io.BytesIO()
    k = arr(3, 2)
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense/vars")
        g["0"], g["1"] = k, arr(2)
    p = tmp_path / "m.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "2.11.0"}))
        z.writestr("config.json", json.dumps(seq_config([dense_entry("d", 2)], [None, 3])))
        z.writestr("variables.h5", buf.getvalue())
    mf = load(p)
    np.testing.assert_array_equal(mf.network.layer("d").weight("kernel").value, k)  # type: ignore[union-attr]
    assert "variables.h5" in mf.network.layer("d").weight("kernel").source  # type: ignore[union-attr]
