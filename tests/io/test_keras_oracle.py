"""Files written by real tf_keras / Keras 3: every leaf layer's weights equal `layer.get_weights()`.

Covers Masking, Bidirectional(LSTM), GRU both reset_after, go_backwards, SimpleRNN, TimeDistributed,
BN, LN, Conv1D, nested Sequential (trainable-first order with a frozen sub-layer), nested
Functional, RNN initial_state / return_state wiring, a frozen nested model, bfloat16, in every
container: legacy .h5, save_weights .h5 + to_json, .keras, Keras 3 .weights.h5 + to_json.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector.core.network import Layer, TensorRef
from inspector.io import load

pytestmark = pytest.mark.keras
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _leaf_weights(model: Any, K: Any, prefix: str = "") -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for lay in model.layers:
        if isinstance(lay, K.Model):
            out.update(_leaf_weights(lay, K, prefix + lay.name + "/"))
        elif isinstance(lay, K.layers.Bidirectional):
            out[prefix + lay.name + "/forward"] = [
                np.asarray(w, np.float32) for w in lay.forward_layer.get_weights()
            ]
            out[prefix + lay.name + "/backward"] = [
                np.asarray(w, np.float32) for w in lay.backward_layer.get_weights()
            ]
        elif lay.get_weights():
            out[prefix + lay.name] = [np.asarray(w, np.float32) for w in lay.get_weights()]
    return out


def _ours(layers: tuple[Layer, ...], prefix: str = "") -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for lay in layers:
        if lay.network is not None:
            out.update(_ours(lay.network.layers, prefix + lay.name + "/"))
        elif lay.kind == "Bidirectional":
            out[prefix + lay.name + "/forward"] = [w.value for w in lay.children[0].weights]
            out[prefix + lay.name + "/backward"] = [w.value for w in lay.children[1].weights]
        elif lay.kind == "TimeDistributed":
            out[prefix + lay.name] = [w.value for w in lay.children[0].weights]
        elif lay.weights:
            out[prefix + lay.name] = [w.value for w in lay.weights]
    return out


def _big_model(K: Any, keras3: bool) -> Any:
    L = K.layers
    inp = K.Input((6, 4), name="inp")
    x = L.Masking(name="mask")(inp)
    x = L.Bidirectional(L.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid"), name="bidi")(x)
    x = L.GRU(4, return_sequences=True, reset_after=False, name="gru_a")(x)
    x = L.GRU(3, return_sequences=True, go_backwards=True, name="gru_b")(x)
    x = L.SimpleRNN(3, return_sequences=True, name="srnn")(x)
    x = L.TimeDistributed(L.Dense(4), name="td")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.Conv1D(3, 2, padding="same", name="conv")(x)
    sub = K.Sequential(
        [
            L.Dense(3, name="sd1"),
            L.BatchNormalization(name="sbn"),
            L.Dense(3, name="sd2", trainable=False),
            L.Dense(3, name="sd3"),
        ],
        name="subseq",
    )
    x = sub(x)
    sinp = K.Input((None, 3))
    x = K.Model(sinp, L.Dense(3, name="fdense")(sinp), name="subfunc")(x)
    y, h, c = L.LSTM(2, return_state=True, name="enc")(x)
    dec = L.LSTM(2, name="dec")(x, initial_state=[h, c])
    return K.Model(inp, L.Concatenate(name="cat")([y, dec]), name="big")


def _frozen_model(K: Any, keras3: bool) -> Any:
    L = K.layers
    sub = K.Sequential(
        [K.Input((4,)), L.Dense(3, name="fd1"), L.BatchNormalization(name="fbn"), L.Dense(2, name="fd2")],
        name="frozen_sub",
    )
    sub.trainable = False
    dt = "bfloat16" if keras3 else "float32"
    return K.Sequential([K.Input((5,)), L.Dense(4, name="d0", dtype=dt), sub])


def _randomize(m: Any) -> None:
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in m.get_weights()])


def _save_all(m: Any, K: Any, folder: Path, base: str, keras3: bool) -> list[tuple[Path, Path | None]]:
    cfg = folder / f"{base}.json"
    cfg.write_text(m.to_json())
    out: list[tuple[Path, Path | None]] = []
    m.save(folder / f"{base}.h5")
    out.append((folder / f"{base}.h5", None))
    m.save(folder / f"{base}.keras")
    out.append((folder / f"{base}.keras", None))
    if keras3:
        m.save_weights(folder / f"{base}.weights.h5")
        out.append((folder / f"{base}.weights.h5", cfg))
    else:
        m.save_weights(folder / f"{base}_w.h5")
        out.append((folder / f"{base}_w.h5", cfg))
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, Path | None, dict]]:
    folder = tmp_path_factory.mktemp("oracle")
    cases: list[tuple[str, Path, Path | None, dict]] = []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for modname, keras3 in (("tf_keras", False), ("keras", True)):
            K = pytest.importorskip(modname)
            for make in (_big_model, _frozen_model):
                m = make(K, keras3)
                _randomize(m)
                base = f"{modname}_{make.__name__.strip('_')}"
                ref = _leaf_weights(m, K)
                for path, cfg in _save_all(m, K, folder, base, keras3):
                    cases.append((base, path, cfg, ref))
    return cases


def test_weights_equal_get_weights(written: list[tuple[str, Path, Path | None, dict]]) -> None:
    assert len(written) == 12
    for _base, path, cfg, ref in written:
        mf = load(path, config=cfg)
        assert mf.network is not None, path
        ours = _ours(mf.network.layers)
        assert set(ours) == set(ref), (path.name, set(ours) ^ set(ref))
        for key, ws in ref.items():
            assert [w.shape for w in ours[key]] == [w.shape for w in ws], (path.name, key)
            for a, b in zip(ours[key], ws):
                np.testing.assert_array_equal(a, b, err_msg=f"{path.name}:{key}")
        for lay in mf.network.layers:
            assert lay.runnable, (path.name, lay.name, lay.problems)


def test_wiring_of_big_model(written: list[tuple[str, Path, Path | None, dict]]) -> None:
    for base, path, cfg, _ in written:
        if "big" not in base:
            continue
        net = load(path, config=cfg).network
        assert net is not None and net.kind == "Functional"
        assert [lay.kind for lay in net.layers if lay.kind in ("NotEqual", "Any")] == []
        dec = net.layer("dec")
        assert dec.calls[0].initial_state == (TensorRef("enc", 0, 1), TensorRef("enc", 0, 2)), path.name
        assert net.layer("enc").calls[0].inputs == (TensorRef("subfunc", 0, 0),), path.name
        assert net.layer("subfunc").calls[0].inputs == (TensorRef("subseq", 0, 0),), path.name
        assert net.outputs == (TensorRef("cat", 0, 0),)
        bidi = net.layer("bidi")
        assert [c.config["go_backwards"] for c in bidi.children] == [False, True]
        assert bidi.children[0].config["recurrent_activation"] == "hard_sigmoid"
        assert net.layer("gru_a").config["reset_after"] is False
        assert net.layer("gru_b").weight("bias").shape == (2, 9)
        assert net.input_shapes == ((None, 6, 4),)
