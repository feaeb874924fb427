"""UI test fixtures: tiny Keras files written with h5py (tf.keras 2.x legacy layout).

The layout is docs/formats.md, "Legacy HDF5".

The files are cached under tests/.generated/ui/ (git-ignored).  They are real files read through the
real reader, so the tests exercise `inspector.io.load` as the app does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

KERAS_VERSION = "2.15.0"
CHAR_VOCAB = list("abcdefghijklmnopqrstuvwxyz .,")  # 29 symbols, one-hot column order
SEQ_LEN = 12


def _str_list(values: list[str]) -> np.ndarray:
    return np.array([v.encode("utf8") for v in values])


def _rnn_config(kind: str, name: str, units: int, **extra: object) -> dict:
    cfg: dict = {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "return_sequences": False,
        "return_state": False,
        "go_backwards": False,
        "stateful": False,
        "unroll": False,
        "time_major": False,
        "units": units,
        "activation": "tanh",
        "use_bias": True,
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
    }
    if kind in ("LSTM", "GRU"):
        cfg["recurrent_activation"] = "sigmoid"
        cfg["implementation"] = 2
    if kind == "LSTM":
        cfg["unit_forget_bias"] = True
    if kind == "GRU":
        cfg["reset_after"] = True
    cfg.update(extra)
    return cfg


def _rnn_weights(rng: np.random.Generator, kind: str, n_in: int, units: int, reset_after: bool) -> list:
    n = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
    kernel = rng.normal(0, 0.4, (n_in, n * units)).astype(np.float32)
    rec = rng.normal(0, 0.3, (units, n * units)).astype(np.float32)
    bias_shape = (2, n * units) if (kind == "GRU" and reset_after) else (n * units,)
    bias = rng.normal(0, 0.2, bias_shape).astype(np.float32)
    return [kernel, rec, bias]


def _cell(kind: str) -> str:
    return {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}[kind]


def write_sequential(
    path: Path,
    layers: list[dict],
    input_shape: tuple,
    *,
    weights_only: bool = False,
    seed: int = 0,
    input_dtype: str = "float32",
) -> dict[str, list[np.ndarray]]:
    """Write a tf.keras-2.x-style Sequential .h5 (full model or save_weights) and return the arrays.

    `layers`: dicts {kind, name, units?, ...}; kinds LSTM, GRU, SimpleRNN, Dense, Embedding,
    Bidirectional (with 'layer': an inner RNN dict).
    """
    import h5py

    rng = np.random.default_rng(seed)
    arrays: dict[str, list[np.ndarray]] = {}
    names: dict[str, list[str]] = {}
    configs = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, *input_shape],
                "dtype": input_dtype,
                "sparse": False,
                "ragged": False,
                "name": f"{layers[0]['name']}_input",
            },
        }
    ]
    n_in = input_shape[-1]
    for spec in layers:
        kind, name = spec["kind"], spec["name"]
        if kind in ("LSTM", "GRU", "SimpleRNN"):
            extra = {k: v for k, v in spec.items() if k not in ("kind", "name", "units")}
            cfg = _rnn_config(kind, name, spec["units"], **extra)
            reset_after = bool(cfg.get("reset_after", False))
            arrays[name] = _rnn_weights(rng, kind, n_in, spec["units"], reset_after)
            names[name] = [f"{name}/{_cell(kind)}/{w}:0" for w in ("kernel", "recurrent_kernel", "bias")]
            n_in = spec["units"]
            configs.append({"class_name": kind, "config": cfg})
        elif kind == "Bidirectional":
            inner = spec["layer"]
            ik = inner["kind"]
            extra = {k: v for k, v in inner.items() if k not in ("kind", "name", "units")}
            icfg = _rnn_config(ik, inner["name"], inner["units"], **extra)
            reset_after = bool(icfg.get("reset_after", False))
            fw = _rnn_weights(rng, ik, n_in, inner["units"], reset_after)
            bw = _rnn_weights(rng, ik, n_in, inner["units"], reset_after)
            arrays[name] = fw + bw
            names[name] = [
                f"{name}/{side}_{inner['name']}/{_cell(ik)}/{w}:0"
                for side in ("forward", "backward")
                for w in ("kernel", "recurrent_kernel", "bias")
            ]
            n_in = 2 * inner["units"]
            configs.append(
                {
                    "class_name": "Bidirectional",
                    "config": {
                        "name": name,
                        "trainable": True,
                        "dtype": "float32",
                        "layer": {"class_name": ik, "config": icfg},
                        "merge_mode": "concat",
                    },
                }
            )
        elif kind == "Dense":
            kernel = rng.normal(0, 0.5, (n_in, spec["units"])).astype(np.float32)
            bias = rng.normal(0, 0.1, (spec["units"],)).astype(np.float32)
            arrays[name] = [kernel, bias]
            names[name] = [f"{name}/kernel:0", f"{name}/bias:0"]
            n_in = spec["units"]
            configs.append(
                {
                    "class_name": "Dense",
                    "config": {
                        "name": name,
                        "trainable": True,
                        "dtype": "float32",
                        "units": spec["units"],
                        "activation": spec.get("activation", "linear"),
                        "use_bias": True,
                    },
                }
            )
        elif kind == "Embedding":
            emb = rng.normal(0, 0.5, (spec["input_dim"], spec["output_dim"])).astype(np.float32)
            arrays[name] = [emb]
            names[name] = [f"{name}/embeddings:0"]
            n_in = spec["output_dim"]
            configs.append(
                {
                    "class_name": "Embedding",
                    "config": {
                        "name": name,
                        "trainable": True,
                        "dtype": "float32",
                        "batch_input_shape": [None, *input_shape],
                        "input_dim": spec["input_dim"],
                        "output_dim": spec["output_dim"],
                        "mask_zero": spec.get("mask_zero", False),
                        "input_length": input_shape[0],
                    },
                }
            )
        else:  # pragma: no cover - test helper misuse
            raise ValueError(kind)

    model_config = {
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": configs},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        if weights_only:
            g = f
        else:
            f.attrs["keras_version"] = KERAS_VERSION
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = json.dumps(model_config)
            g = f.create_group("model_weights")
        g.attrs["layer_names"] = _str_list([s["name"] for s in layers])
        g.attrs["backend"] = "tensorflow"
        g.attrs["keras_version"] = KERAS_VERSION
        for spec in layers:
            lg = g.create_group(spec["name"])
            lg.attrs["weight_names"] = _str_list(names[spec["name"]])
            for wname, value in zip(names[spec["name"]], arrays[spec["name"]]):
                lg.create_dataset(wname, data=value)
        g.create_group("top_level_model_weights")
    tmp.replace(path)
    return arrays


def char_lstm_layers(units: int = 16) -> list[dict]:
    return [
        {"kind": "LSTM", "name": "lstm", "units": units},
        {"kind": "Dense", "name": "dense", "units": len(CHAR_VOCAB), "activation": "softmax"},
    ]


@pytest.fixture(scope="session")
def ui_models(generated_dir: Path) -> dict[str, Path]:
    """Paths of the tiny UI test models (written once per session).

    char_lstm : LSTM(16) + Dense(29, softmax) on one-hot (12, 29) windows, with a sidecar vocabulary.
    char_lstm_weights : the same weights, save_weights layout (no architecture), + char_lstm.json.
    gru : GRU(8, reset_after) + Dense(3) on (6, 5) float input.
    bidi : Bidirectional(LSTM(6, return_sequences)) + LSTM(4) + Dense(2) on (7, 3).
    embed_rnn : Embedding(50, 8) + SimpleRNN(10) + Dense(4) on (9,) token ids.
    """
    out = generated_dir / "ui"
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "char_lstm": out / "char_lstm.h5",
        "char_lstm_weights": out / "char_lstm_weights.h5",
        "gru": out / "gru.h5",
        "bidi": out / "bidi.h5",
        "embed_rnn": out / "embed_rnn.h5",
    }
    char_shape = (SEQ_LEN, len(CHAR_VOCAB))
    write_sequential(paths["char_lstm"], char_lstm_layers(), char_shape)
    (out / "char_lstm.vocab.json").write_text(json.dumps(CHAR_VOCAB))
    write_sequential(paths["char_lstm_weights"], char_lstm_layers(), char_shape, weights_only=True)
    # an architecture file for the weights-only variant: the model_config JSON of the full model
    import h5py

    with h5py.File(paths["char_lstm"], "r") as f:
        cfg = f.attrs["model_config"]
    (out / "char_lstm.json").write_text(cfg if isinstance(cfg, str) else cfg.decode())
    write_sequential(
        paths["gru"],
        [{"kind": "GRU", "name": "gru", "units": 8}, {"kind": "Dense", "name": "out", "units": 3}],
        (6, 5),
        seed=1,
    )
    write_sequential(
        paths["bidi"],
        [
            {
                "kind": "Bidirectional",
                "name": "bidi",
                "layer": {"kind": "LSTM", "name": "lstm_a", "units": 6, "return_sequences": True},
            },
            {"kind": "LSTM", "name": "lstm_b", "units": 4},
            {"kind": "Dense", "name": "head", "units": 2, "activation": "softmax"},
        ],
        (7, 3),
        seed=2,
    )
    write_sequential(
        paths["embed_rnn"],
        [
            {"kind": "Embedding", "name": "emb", "input_dim": 50, "output_dim": 8},
            {"kind": "SimpleRNN", "name": "rnn", "units": 10},
            {"kind": "Dense", "name": "cls", "units": 4, "activation": "softmax"},
        ],
        (9,),
        seed=3,
        input_dtype="int32",
    )
    return paths


@pytest.fixture
def ui_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private QSettings location so tests never touch the user's recent-files list."""
    from PySide6.QtCore import QSettings

    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def panel(qtbot, ui_models):
    """The Weights panel, shown, on a sync Session holding the char LSTM model and its vocabulary."""
    from PySide6.QtCore import QThreadPool

    from inspector.ui.session import Session
    from inspector.ui.weight_panel import WeightPanel

    session = Session(sync=True)
    session.open(str(ui_models["char_lstm"]))
    session.set_vocabulary(CHAR_VOCAB)
    w = WeightPanel(session)
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    yield w
    QThreadPool.globalInstance().waitForDone()


@pytest.fixture
def save_shot():
    """save_shot(widget, name, (w, h)): resize, show and grab `widget` to /tmp/shots/<name>_<w>x<h>.png."""
    shots = Path("/tmp/shots")

    def save(widget, name: str, size: tuple[int, int]) -> Path:
        shots.mkdir(parents=True, exist_ok=True)
        widget.resize(*size)
        widget.show()
        out = shots / f"{name}_{size[0]}x{size[1]}.png"
        widget.grab().save(str(out))
        return out

    return save
