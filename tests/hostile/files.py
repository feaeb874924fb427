"""Hostile Keras files, made by hand (h5py, zipfile, raw bytes) for the hostile-file tests (issue 5).

Two kinds of generators:

* `write_seeds(folder)` writes small **valid** files in every format the reader accepts (Keras 1
  and tf.keras legacy .h5, full and weights-only, a Functional model, a Keras 3 `.keras` archive,
  a Keras 3 `.weights.h5` and a Keras 3 legacy `.h5`), following docs/formats.md.
  They are the starting points of the mutation fuzzer and the "good file" of the GUI test.
* `CASES`: one `Case` per hostile situation of issue 5.  `case.build(folder)` writes the file (and
  whatever it needs next to it: a config, a FIFO, a sentinel module) and returns its path;
  `case.expect` says what the reader must do with it.

Nothing here is ever *loaded* with Keras: executable payloads (marshalled lambdas, pickles, module
paths) are built so that running them would create a marker file (`marker(folder, name)`), and the
tests assert that marker never appears.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

# ------------------------------------------------------------------------------------------------
# expectations

REFUSE = "refuse"  # a clean ModelFileError
LOAD = "load"  # legal (if unusual) data: must load, and run if it has a network
PARTIAL = "refuse-or-partial"  # ModelFileError, or a load that marks the problem and never runs wrongly
NOT_EXECUTABLE = "not-executable"  # loads (or is refused); the offending layer is "not executable"
# read only in part (issue 5, inconsistent content): loads with network None, ModelFile.damage names the
# problem in one line, and the weights of the `intact` layers are shown exactly as written
DAMAGED = "damaged"

SENTINEL_MODULE = "kwi_hostile_sentinel"  # a module placed on sys.path whose import writes a marker
TF_VERSION = "2.15.0"
K3_VERSION = "3.15.1"
T, D = 5, 3  # time steps and features of the seed models


def marker(folder: Path, name: str) -> Path:
    """The file a payload built for case `name` would create if it ever ran."""
    return Path(folder) / f"{name}.EXECUTED"


def _rng(tag: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(tag.encode()))


def _bytes_list(values: list[str]) -> np.ndarray:
    """A list-of-strings attribute as h5py 2.x wrote it (fixed-length bytes, Keras 1/2 files)."""
    return np.array([v.encode("utf8") for v in values])


def _f32(rng: np.random.Generator, *shape: int, scale: float = 0.4) -> np.ndarray:
    return rng.normal(0.0, scale, shape).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# model A: Input(5, 3) -> LSTM(4, return_sequences) -> GRU(3, reset_after) -> Dense(2, softmax)


def model_a_weights() -> dict[str, list[np.ndarray]]:
    r = _rng("model-a")
    return {
        "lstm": [_f32(r, D, 16), _f32(r, 4, 16), _f32(r, 16, scale=0.2)],
        "gru": [_f32(r, 4, 9), _f32(r, 3, 9), _f32(r, 2, 9, scale=0.2)],
        "dense": [_f32(r, 3, 2), _f32(r, 2, scale=0.2)],
    }


def _k2_rnn(kind: str, name: str, units: int, **extra: Any) -> dict:
    cfg: dict[str, Any] = {
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
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "recurrent_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "recurrent_constraint": None,
        "bias_constraint": None,
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


def _k2_dense(name: str, units: int, activation: str = "softmax") -> dict:
    return {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "units": units,
        "activation": activation,
        "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }


def model_a_tf_config(extra_layers: list[dict] | None = None, units: int = 4) -> dict:
    """tf.keras 2.x Sequential config of model A (`extra_layers` go after the InputLayer)."""
    layers = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, T, D],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": "lstm_input",
            },
        },
        *(extra_layers or []),
        {"class_name": "LSTM", "config": _k2_rnn("LSTM", "lstm", units, return_sequences=True)},
        {"class_name": "GRU", "config": _k2_rnn("GRU", "gru", 3)},
        {"class_name": "Dense", "config": _k2_dense("dense", 2)},
    ]
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


MODEL_A_TF_NAMES = {
    "lstm": ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"],
    "gru": ["gru/gru_cell/kernel:0", "gru/gru_cell/recurrent_kernel:0", "gru/gru_cell/bias:0"],
    "dense": ["dense/kernel:0", "dense/bias:0"],
}


def write_legacy_h5(
    path: Path,
    config: dict | None,
    layers: dict[str, tuple[list[str], list[np.ndarray]]],
    *,
    keras_version: str | None = TF_VERSION,
    backend: str | None = "tensorflow",
    root_version: str | None = None,
    extra_layer_names: list[str] | None = None,
    userblock: int = 0,
    libver: str | None = None,
) -> Path:
    """A legacy HDF5 file (docs/formats.md, "Legacy HDF5"): full model when `config` is given, else
    weights-only.

    layers : layer name -> (weight names, arrays), in `layer_names` order (weightless layers get
        an empty float64 `weight_names`, as Keras writes them).
    keras_version, backend : written on the weights group (None: absent, as in Keras 1).
    root_version : root `keras_version` of a full model (default: `keras_version`, or '1.2.2').
    """
    path = Path(path)
    kw: dict[str, Any] = {"userblock_size": userblock} if userblock else {}
    if libver:
        kw["libver"] = libver  # 'latest' allows attributes > 64 KiB (dense attribute storage)
    with h5py.File(path, "w", **kw) as f:
        if config is not None:
            f.attrs["keras_version"] = (root_version or keras_version or "1.2.2").encode()
            if backend is not None:
                f.attrs["backend"] = backend.encode()
            f.attrs["model_config"] = json.dumps(config).encode("utf8")
            g = f.create_group("model_weights")
        else:
            g = f
        g.attrs["layer_names"] = _bytes_list(list(layers) + (extra_layer_names or []))
        if keras_version is not None:
            g.attrs["keras_version"] = keras_version.encode()
        if backend is not None:
            g.attrs["backend"] = backend.encode()
        for lname, (wnames, arrays) in layers.items():
            lg = g.create_group(lname)
            lg.attrs["weight_names"] = _bytes_list(wnames) if wnames else np.asarray([])
            for wname, value in zip(wnames, arrays):
                lg.create_dataset(wname, data=value)
    return path


def model_a_tf_layers(weights: dict[str, list[np.ndarray]] | None = None) -> dict:
    w = weights or model_a_weights()
    return {k: (MODEL_A_TF_NAMES[k], w[k]) for k in ("lstm", "gru", "dense")}


def write_model_a_tf(
    path: Path, *, weights_only: bool = False, config: dict | None = None, **kw: Any
) -> Path:
    cfg = None if weights_only else (config or model_a_tf_config())
    return write_legacy_h5(path, cfg, model_a_tf_layers(kw.pop("weights", None)), **kw)


# --- Keras 3 dialect of model A ---------------------------------------------------------------

_K3_POLICY = {
    "module": "keras",
    "class_name": "DTypePolicy",
    "config": {"name": "float32"},
    "registered_name": None,
}


def _k3_layer(cls: str, config: dict, input_shape: list | None = None) -> dict:
    entry: dict[str, Any] = {
        "module": "keras.layers",
        "class_name": cls,
        "config": config,
        "registered_name": None,
    }
    if input_shape is not None:
        entry["build_config"] = {"input_shape": input_shape}
    return entry


def _k3_rnn(kind: str, name: str, units: int, **extra: Any) -> dict:
    cfg: dict[str, Any] = {
        "name": name,
        "trainable": True,
        "dtype": _K3_POLICY,
        "return_sequences": False,
        "return_state": False,
        "go_backwards": False,
        "stateful": False,
        "unroll": False,
        "zero_output_for_mask": False,
        "units": units,
        "activation": "tanh",
        "use_bias": True,
        "kernel_regularizer": None,
        "recurrent_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "recurrent_constraint": None,
        "bias_constraint": None,
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
        "seed": None,
    }
    if kind in ("LSTM", "GRU"):
        cfg["recurrent_activation"] = "sigmoid"
    if kind == "LSTM":
        cfg["unit_forget_bias"] = True
    if kind == "GRU":
        cfg["reset_after"] = True
        cfg["use_cudnn"] = "auto"
    cfg.update(extra)
    return cfg


def model_a_k3_config(extra_layers: list[dict] | None = None, units: int = 4) -> dict:
    """Keras 3 Sequential config.json of model A (`extra_layers` go after the InputLayer)."""
    layers = [
        _k3_layer(
            "InputLayer",
            {"batch_shape": [None, T, D], "dtype": "float32", "sparse": False, "name": "input_layer"},
        ),
        *(extra_layers or []),
        _k3_layer("LSTM", _k3_rnn("LSTM", "lstm", units, return_sequences=True), [None, T, D]),
        _k3_layer("GRU", _k3_rnn("GRU", "gru", 3), [None, T, units]),
        _k3_layer(
            "Dense",
            {
                "name": "dense",
                "trainable": True,
                "dtype": _K3_POLICY,
                "units": 2,
                "activation": "softmax",
                "use_bias": True,
                "kernel_regularizer": None,
                "bias_regularizer": None,
                "kernel_constraint": None,
                "bias_constraint": None,
            },
            [None, 3],
        ),
    ]
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "trainable": True,
            "dtype": _K3_POLICY,
            "layers": layers,
            "build_input_shape": [None, T, D],
        },
        "registered_name": None,
        "build_config": {"input_shape": [None, T, D]},
    }


def k3_weights_h5(
    weights: dict[str, list[np.ndarray]] | None = None,
    edit: Callable[[h5py.File], None] | None = None,
) -> bytes:
    """The bytes of a Keras 3 `model.weights.h5` for model A, optionally edited.

    See docs/formats.md, "Variables and keys".
    """
    w = weights or model_a_weights()
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for key, cell in (("lstm", "lstm_cell"), ("gru", "gru_cell")):
            f.create_group(f"layers/{key}/vars").attrs["name"] = key
            cv = f.create_group(f"layers/{key}/cell/vars")
            cv.attrs["name"] = cell
            for i, a in enumerate(w[key]):
                cv.create_dataset(str(i), data=a)
        dv = f.create_group("layers/dense/vars")
        dv.attrs["name"] = "dense"
        for i, a in enumerate(w["dense"]):
            dv.create_dataset(str(i), data=a)
        if edit is not None:
            edit(f)
    return bio.getvalue()


def write_keras_archive(
    path: Path,
    members: dict[str, bytes | str],
    *,
    config: dict | None = None,
    weights_h5: bytes | None = None,
    keras_version: str = K3_VERSION,
) -> Path:
    """A `.keras` zip: metadata.json, config.json, model.weights.h5 (entries stored, as Keras 3.15 does).

    `members` adds or replaces entries (None values are not allowed; pass the bytes).
    """
    entries: dict[str, bytes | str] = {
        "metadata.json": json.dumps({"keras_version": keras_version, "date_saved": "2026-11-26@12:00:00"}),
        "config.json": json.dumps(config if config is not None else model_a_k3_config()),
        "model.weights.h5": weights_h5 if weights_h5 is not None else k3_weights_h5(),
    }
    entries.update(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return Path(path)


def model_a_k3_legacy_config(extra_layers: list[dict] | None = None) -> dict:
    """Keras 3 legacy .h5 model_config: the Keras 3 dialect without `module`/`registered_name` per layer."""
    cfg = model_a_k3_config(extra_layers)
    for entry in cfg["config"]["layers"]:
        entry.pop("module", None)
        entry.pop("registered_name", None)
    return {"class_name": "Sequential", "config": cfg["config"]}


def write_model_a_k3_legacy(
    path: Path,
    extra_layers: list[dict] | None = None,
    extra_groups: dict[str, tuple[list[str], list[np.ndarray]]] | None = None,
) -> Path:
    w = model_a_weights()
    layers: dict[str, tuple[list[str], list[np.ndarray]]] = dict(extra_groups or {})
    layers.update(
        {
            "lstm": (
                ["lstm/lstm_cell/kernel", "lstm/lstm_cell/recurrent_kernel", "lstm/lstm_cell/bias"],
                w["lstm"],
            ),
            "gru": (["gru/gru_cell/kernel", "gru/gru_cell/recurrent_kernel", "gru/gru_cell/bias"], w["gru"]),
            "dense": (["dense/kernel", "dense/bias"], w["dense"]),
        }
    )
    return write_legacy_h5(path, model_a_k3_legacy_config(extra_layers), layers, keras_version=K3_VERSION)


# ------------------------------------------------------------------------------------------------
# model B (Keras 1.2.2): Embedding(7, 3) on (5,) ids -> LSTM(4), 12 arrays i,c,f,o -> Dense(2, softmax)


def model_b_k1_config(extra_layers: list[dict] | None = None) -> dict:
    layers = [
        {
            "class_name": "Embedding",
            "config": {
                "name": "embedding_1",
                "trainable": True,
                "batch_input_shape": [None, T],
                "input_dtype": "int32",
                "input_dim": 7,
                "output_dim": 3,
                "init": "uniform",
                "input_length": T,
                "mask_zero": False,
                "dropout": 0.0,
                "W_regularizer": None,
                "activity_regularizer": None,
                "W_constraint": None,
            },
        },
        *(extra_layers or []),
        {
            "class_name": "LSTM",
            "config": {
                "name": "lstm_1",
                "trainable": True,
                "output_dim": 4,
                "init": "glorot_uniform",
                "inner_init": "orthogonal",
                "forget_bias_init": "one",
                "activation": "tanh",
                "inner_activation": "hard_sigmoid",
                "W_regularizer": None,
                "U_regularizer": None,
                "b_regularizer": None,
                "dropout_W": 0.0,
                "dropout_U": 0.0,
                "return_sequences": False,
                "go_backwards": False,
                "stateful": False,
                "unroll": False,
                "consume_less": "cpu",
                "input_dim": 3,
                "input_length": None,
            },
        },
        {
            "class_name": "Dense",
            "config": {
                "name": "dense_1",
                "trainable": True,
                "output_dim": 2,
                "init": "glorot_uniform",
                "activation": "softmax",
                "W_regularizer": None,
                "b_regularizer": None,
                "activity_regularizer": None,
                "W_constraint": None,
                "b_constraint": None,
                "bias": True,
                "input_dim": None,
            },
        },
    ]
    return {"class_name": "Sequential", "config": layers}


def model_b_k1_layers() -> dict[str, tuple[list[str], list[np.ndarray]]]:
    r = _rng("model-b")
    lstm_names, lstm_arrays = [], []
    for gate in ("i", "c", "f", "o"):  # Keras 1 trainable_weights order (docs/formats.md, "Gate orders")
        for m, shape in (("W", (3, 4)), ("U", (4, 4)), ("b", (4,))):
            lstm_names.append(f"lstm_1_{m}_{gate}:0")
            lstm_arrays.append(_f32(r, *shape))
    return {
        "embedding_1": (["embedding_1_W:0"], [_f32(r, 7, 3)]),
        "lstm_1": (lstm_names, lstm_arrays),
        "dense_1": (["dense_1_W:0", "dense_1_b:0"], [_f32(r, 4, 2), _f32(r, 2)]),
    }


def write_model_b_k1(path: Path, *, weights_only: bool = False) -> Path:
    # Keras 1: no backend attribute, `keras_version` only at the root of a full model.
    return write_legacy_h5(
        path,
        None if weights_only else model_b_k1_config(),
        model_b_k1_layers(),
        keras_version=None,
        backend=None,
        root_version="1.2.2",
    )


# ------------------------------------------------------------------------------------------------
# model C (tf.keras Functional):
#   inp(6, 3) -> Masking -> Bidirectional(LSTM(3, seq)) -> SimpleRNN(2) -> Dense(2)


def model_c_tf_config() -> dict:
    def node(src: str) -> list:
        return [[[src, 0, 0, {}]]]

    return {
        "class_name": "Functional",
        "config": {
            "name": "func",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "inp",
                    "inbound_nodes": [],
                    "config": {
                        "batch_input_shape": [None, 6, 3],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "inp",
                    },
                },
                {
                    "class_name": "Masking",
                    "name": "mask",
                    "inbound_nodes": node("inp"),
                    "config": {"name": "mask", "trainable": True, "dtype": "float32", "mask_value": 0.0},
                },
                {
                    "class_name": "Bidirectional",
                    "name": "bidi",
                    "inbound_nodes": node("mask"),
                    "config": {
                        "name": "bidi",
                        "trainable": True,
                        "dtype": "float32",
                        "merge_mode": "concat",
                        "layer": {
                            "class_name": "LSTM",
                            "config": _k2_rnn("LSTM", "lstm", 3, return_sequences=True),
                        },
                    },
                },
                {
                    "class_name": "SimpleRNN",
                    "name": "rnn",
                    "inbound_nodes": node("bidi"),
                    "config": _k2_rnn("SimpleRNN", "rnn", 2),
                },
                {
                    "class_name": "Dense",
                    "name": "out",
                    "inbound_nodes": node("rnn"),
                    "config": _k2_dense("out", 2, "linear"),
                },
            ],
            "input_layers": [["inp", 0, 0]],
            "output_layers": [["out", 0, 0]],
        },
    }


def model_c_tf_layers() -> dict[str, tuple[list[str], list[np.ndarray]]]:
    r = _rng("model-c")
    bidi_names = [
        f"bidi/{side}_lstm/lstm_cell/{w}:0"
        for side in ("forward", "backward")
        for w in ("kernel", "recurrent_kernel", "bias")
    ]
    bidi = [_f32(r, 3, 12), _f32(r, 3, 12), _f32(r, 12), _f32(r, 3, 12), _f32(r, 3, 12), _f32(r, 12)]
    return {
        "inp": ([], []),
        "mask": ([], []),
        "bidi": (bidi_names, bidi),
        "rnn": (
            [
                "rnn/simple_rnn_cell/kernel:0",
                "rnn/simple_rnn_cell/recurrent_kernel:0",
                "rnn/simple_rnn_cell/bias:0",
            ],
            [_f32(r, 6, 2), _f32(r, 2, 2), _f32(r, 2)],
        ),
        "out": (["out/kernel:0", "out/bias:0"], [_f32(r, 2, 2), _f32(r, 2)]),
    }


# ------------------------------------------------------------------------------------------------
# the seeds


@dataclass(frozen=True)
class Seed:
    """One valid file: `path`, the architecture JSON to pass as `config=` (weights-only files) and
    whether `load` must return a network."""

    name: str
    path: Path
    config: Path | None
    has_network: bool


def write_seeds(folder: Path) -> dict[str, Seed]:
    """Write (or reuse) one small valid file per format into `folder`; returns name -> Seed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeds: dict[str, Seed] = {}

    def add(
        name: str,
        filename: str,
        write: Callable[[Path], Any],
        config: dict | None = None,
        has_network: bool = True,
    ) -> None:
        # always rebuilt (a few ms; h5py output is deterministic), replaced only when the bytes
        # differ: a cache from an older generator can never be used by mistake
        p = folder / filename
        cfg_path = None
        if config is not None:
            cfg_path = folder / (filename + ".json")
            text = json.dumps(config)
            if not cfg_path.exists() or cfg_path.read_text() != text:
                cfg_path.write_text(text)
        tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
        write(tmp)
        if p.exists() and p.read_bytes() == tmp.read_bytes():
            tmp.unlink()
        else:
            tmp.replace(p)
        seeds[name] = Seed(name, p, cfg_path, has_network)

    add("tf_h5_full", "tf_seq.h5", lambda p: write_model_a_tf(p))
    add(
        "tf_h5_weights",
        "tf_seq_weights.h5",
        lambda p: write_model_a_tf(p, weights_only=True),
        config=model_a_tf_config(),
    )
    add(
        "tf_h5_functional",
        "tf_func.h5",
        lambda p: write_legacy_h5(p, model_c_tf_config(), model_c_tf_layers()),
    )
    add("k1_h5_full", "k1_seq.h5", lambda p: write_model_b_k1(p))
    add(
        "k1_h5_weights",
        "k1_seq_weights.h5",
        lambda p: write_model_b_k1(p, weights_only=True),
        config=model_b_k1_config(),
    )
    add("k3_archive", "k3_seq.keras", lambda p: write_keras_archive(p, {}))
    add(
        "k3_weights_h5",
        "k3_seq.weights.h5",
        lambda p: p.write_bytes(k3_weights_h5()),
        config=model_a_k3_config(),
    )
    add("k3_legacy_h5", "k3_legacy.h5", lambda p: write_model_a_k3_legacy(p))
    return seeds


# ------------------------------------------------------------------------------------------------
# raw zip writing (for bombs and lying headers: zipfile cannot write those)

ZIP_STORED, ZIP_DEFLATED = 0, 8
_MIB_ZERO_BLOCK: bytes | None = None
#: zlib.crc32 of 4200 MiB of zeros / 64 MiB of zeros (precomputed: computing them takes seconds)
CRC_ZEROS = {4200: 0x1A419CB1, 64: 0xB2EB30ED}


@dataclass
class RawMember:
    """One zip entry written verbatim: `payload` is the (compressed) data; sizes may lie."""

    name: bytes
    payload: bytes
    method: int
    crc: int
    file_size: int
    compress_size: int | None = None  # default: len(payload)


def deflate_zeros(mib: int) -> bytes:
    """A raw deflate stream that inflates to `mib` MiB of zeros, ~1 KiB per MiB (no 4 GB to compress)."""
    global _MIB_ZERO_BLOCK
    if _MIB_ZERO_BLOCK is None:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        # a full flush ends on a byte boundary with no back-references: the block can be repeated
        _MIB_ZERO_BLOCK = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    return _MIB_ZERO_BLOCK * mib + final


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def write_raw_zip(path: Path, members: list[RawMember]) -> Path:
    """A ZIP64 archive written byte by byte, so that sizes and CRCs can be whatever the test wants."""
    out = bytearray()
    central = bytearray()
    for m in members:
        csize = len(m.payload) if m.compress_size is None else m.compress_size
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, m.file_size, csize)
        out += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            45,
            0,
            m.method,
            0,
            0x5B7A,
            m.crc & 0xFFFFFFFF,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(m.name),
            len(local_extra),
        )
        out += m.name + local_extra + m.payload
        cen_extra = struct.pack("<HHQQQ", 1, 24, m.file_size, csize, offset)
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45,
            45,
            0,
            m.method,
            0,
            0x5B7A,
            m.crc & 0xFFFFFFFF,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(m.name),
            len(cen_extra),
            0,
            0,
            0,
            0,
            0xFFFFFFFF,
        )
        central += m.name + cen_extra
    cd_offset = len(out)
    out += central
    z64_offset = len(out)
    n = len(members)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF), 0xFFFFFFFF, 0xFFFFFFFF, 0
    )
    Path(path).write_bytes(bytes(out))
    return Path(path)


def _stored(name: str, data: bytes) -> RawMember:
    return RawMember(name.encode(), data, ZIP_STORED, zlib.crc32(data), len(data))


def _archive_members(config: dict | None = None) -> list[RawMember]:
    cfg = json.dumps(config if config is not None else model_a_k3_config()).encode()
    meta = json.dumps({"keras_version": K3_VERSION, "date_saved": "2026-11-26@12:00:00"}).encode()
    return [_stored("metadata.json", meta), _stored("config.json", cfg)]


# ------------------------------------------------------------------------------------------------
# executable payloads (built here only; the reader must never run them)


def lambda_code(mark: Path) -> bytes:
    """marshal.dumps of the code of `lambda x: <write mark>; x` (what Keras stores for a Lambda)."""
    src = f"lambda x: (__import__('pathlib').Path({str(mark)!r}).write_text('lambda executed'), x)[1]"
    module_code = compile(src, "<hostile>", "eval")
    code = next(c for c in module_code.co_consts if hasattr(c, "co_code"))
    return marshal.dumps(code)


def module_code(mark: Path) -> bytes:
    """marshal.dumps of module-level code that writes `mark` when exec'd."""
    src = f"__import__('pathlib').Path({str(mark)!r}).write_text('code executed')"
    return marshal.dumps(compile(src, "<hostile>", "exec"))


class _ExecOnUnpickle:
    def __init__(self, src: str) -> None:
        self.src = src

    def __reduce__(self) -> tuple:
        return (exec, (self.src,))


def pickle_payload(mark: Path) -> np.ndarray:
    """An object array whose unpickling runs exec(<write mark>)."""
    arr = np.empty(1, dtype=object)
    arr[0] = _ExecOnUnpickle(f"__import__('pathlib').Path({str(mark)!r}).write_text('unpickled')")
    return arr


def write_sentinel_module(folder: Path, mark: Path) -> Path:
    """`<folder>/kwi_hostile_sentinel.py`, whose import writes `mark` (put `folder` on sys.path)."""
    p = Path(folder) / f"{SENTINEL_MODULE}.py"
    p.write_text(
        "import pathlib\n"
        f"pathlib.Path({str(mark)!r}).write_text('imported')\n"
        "class Evil:\n"
        "    def __init__(self, *a, **k):\n"
        f"        pathlib.Path({str(mark)!r}).write_text('instantiated')\n"
        "def system(*a, **k):\n"
        f"    pathlib.Path({str(mark)!r}).write_text('called')\n"
    )
    return p


# ------------------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class Case:
    """One hostile file.

    name : id (also the file stem).
    build : folder -> path of the written file.
    expect : REFUSE / LOAD / PARTIAL / NOT_EXECUTABLE.
    isolate : run it in a subprocess (it could hang, crash or allocate gigabytes if mishandled).
    config : build also writes '<file>.json' to pass as `config=` (weights-only files).
    needs : words the refusal message (or the damage of a DAMAGED file) must contain (any of them,
        case-insensitive).
    intact : DAMAGED files: layers of the seed model (model A: lstm, gru, dense; model B: embedding_1,
        lstm_1, dense_1) that must be shown with exactly the arrays the seed wrote.
    """

    name: str
    build: Callable[[Path], Path]
    expect: str
    isolate: bool = False
    config: bool = False
    needs: tuple[str, ...] = ()
    note: str = ""
    intact: tuple[str, ...] = ()

    def make(self, folder: Path) -> Path:
        """Write the file into `folder` (created if needed) and return its path."""
        Path(folder).mkdir(parents=True, exist_ok=True)
        return self.build(Path(folder))

    def config_path(self, path: Path) -> Path | None:
        return Path(str(path) + ".json") if self.config else None


CASES: list[Case] = []


def case(
    expect: str,
    *,
    isolate: bool = False,
    config: bool = False,
    needs: tuple[str, ...] = (),
    note: str = "",
    intact: tuple[str, ...] = (),
) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    def register(fn: Callable[[Path], Path]) -> Callable[[Path], Path]:
        doc = note or (fn.__doc__ or "").strip()
        CASES.append(Case(fn.__name__, fn, expect, isolate, config, needs, doc, intact))
        return fn

    return register


def _p(folder: Path, name: str) -> Path:
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / name


# --- not a model at all ---------------------------------------------------------------------------


@case(REFUSE, needs=("empty", "0 bytes", "zero"))
def zero_byte_h5(d: Path) -> Path:
    """An empty file named .h5."""
    p = _p(d, "zero_byte_h5.h5")
    p.write_bytes(b"")
    return p


@case(REFUSE, needs=("empty", "0 bytes", "zero"))
def zero_byte_keras(d: Path) -> Path:
    """An empty file named .keras."""
    p = _p(d, "zero_byte_keras.keras")
    p.write_bytes(b"")
    return p


@case(REFUSE)
def text_named_h5(d: Path) -> Path:
    """A text file named .h5."""
    p = _p(d, "text_named_h5.h5")
    p.write_text("This is not a model. It is a note that happens to end in .h5\n" * 3)
    return p


@case(REFUSE)
def text_named_keras(d: Path) -> Path:
    """A model.to_json() config (valid JSON, no weights) named .keras."""
    p = _p(d, "text_named_keras.keras")
    p.write_text(json.dumps(model_a_k3_config()))
    return p


@case(REFUSE)
def html_named_h5(d: Path) -> Path:
    """An HTML error page saved by a browser as model.h5."""
    p = _p(d, "html_named_h5.h5")
    p.write_text(
        "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"
    )
    return p


@case(REFUSE, needs=("lfs",))
def git_lfs_pointer(d: Path) -> Path:
    """A Git LFS pointer file checked out instead of the model."""
    p = _p(d, "git_lfs_pointer.h5")
    p.write_text(
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        "size 1234567\n"
    )
    return p


@case(REFUSE)
def gzipped_h5(d: Path) -> Path:
    """A gzip-compressed model renamed back to .h5."""
    p = _p(d, "gzipped_h5.h5")
    src = write_model_a_tf(Path(d) / "gzipped_h5.src.h5")
    import gzip

    p.write_bytes(gzip.compress(src.read_bytes()))
    src.unlink()
    return p


@case(REFUSE)
def random_bytes_h5(d: Path) -> Path:
    """64 KiB of random bytes."""
    p = _p(d, "random_bytes_h5.h5")
    p.write_bytes(_rng("random").integers(0, 256, 65536, dtype=np.uint8).tobytes())
    return p


@case(REFUSE)
def hdf5_magic_only(d: Path) -> Path:
    """The HDF5 signature followed by garbage."""
    p = _p(d, "hdf5_magic_only.h5")
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    return p


@case(REFUSE)
def zip_magic_only(d: Path) -> Path:
    """A zip local-header signature followed by garbage."""
    p = _p(d, "zip_magic_only.keras")
    p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    return p


@case(REFUSE)
def hdf5_not_keras(d: Path) -> Path:
    """A scientific HDF5 file with datasets and attributes but nothing Keras."""
    p = _p(d, "hdf5_not_keras.h5")
    with h5py.File(p, "w") as f:
        f.attrs["instrument"] = "spectrometer"
        f.create_dataset("data/spectra", data=np.arange(1000, dtype=np.float64).reshape(10, 100))
        f.create_dataset("data/labels", data=np.arange(10))
        f.create_group("calibration").attrs["gain"] = 2.5
    return p


@case(REFUSE)
def hdf5_empty(d: Path) -> Path:
    """A valid HDF5 file with nothing in it."""
    p = _p(d, "hdf5_empty.h5")
    with h5py.File(p, "w"):
        pass
    return p


@case(REFUSE)
def zip_empty(d: Path) -> Path:
    """An empty zip archive named .keras."""
    p = _p(d, "zip_empty.keras")
    with zipfile.ZipFile(p, "w"):
        pass
    return p


@case(REFUSE)
def zip_not_keras(d: Path) -> Path:
    """A zip of unrelated files named .keras."""
    p = _p(d, "zip_not_keras.keras")
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("README.txt", "hello")
        zf.writestr("data/numbers.csv", "1,2,3\n")
    return p


@case(REFUSE, needs=("weight",))
def zip_without_weights(d: Path) -> Path:
    """A .keras archive with config.json and metadata.json but no model.weights.h5."""
    p = _p(d, "zip_without_weights.keras")
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": K3_VERSION}))
        zf.writestr("config.json", json.dumps(model_a_k3_config()))
    return p


@case(DAMAGED, needs=("config.json",), intact=("lstm", "gru", "dense"))
def zip_without_config(d: Path) -> Path:
    """A .keras archive with model.weights.h5 only (refused, or weights shown with the problem marked)."""
    p = _p(d, "zip_without_config.keras")
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("model.weights.h5", k3_weights_h5())
    return p


@case(REFUSE)
def zip_weights_not_hdf5(d: Path) -> Path:
    """A .keras archive whose model.weights.h5 member is text."""
    return write_keras_archive(
        _p(d, "zip_weights_not_hdf5.keras"), {"model.weights.h5": b"not hdf5 at all\n" * 40}
    )


@case(REFUSE)
def zip_weights_truncated_hdf5(d: Path) -> Path:
    """A .keras archive whose model.weights.h5 member is cut in half."""
    w = k3_weights_h5()
    return write_keras_archive(
        _p(d, "zip_weights_truncated_hdf5.keras"), {"model.weights.h5": w[: len(w) // 2]}
    )


@case(REFUSE)
def zip_bad_crc(d: Path) -> Path:
    """A .keras archive whose model.weights.h5 CRC does not match its bytes."""
    w = k3_weights_h5()
    bad = RawMember(b"model.weights.h5", w, ZIP_STORED, zlib.crc32(w) ^ 0xFFFF, len(w))
    members = _archive_members() + [bad]
    return write_raw_zip(_p(d, "zip_bad_crc.keras"), members)


# --- truncated and flipped ----------------------------------------------------------------------


def _truncated(name: str, write: Callable[[Path], Path], fraction: float) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        src = write(Path(d) / f"{name}.src")
        data = src.read_bytes()
        src.unlink()
        p = _p(d, name)
        p.write_bytes(data[: max(1, int(len(data) * fraction))])
        return p

    return build


for _frac in (0.002, 0.05, 0.3, 0.6, 0.95, 0.999):
    _tag = str(_frac).replace(".", "_")
    CASES.append(
        Case(
            f"truncated_tf_h5_{_tag}",
            _truncated(f"truncated_tf_h5_{_tag}.h5", write_model_a_tf, _frac),
            REFUSE,
            note=f"tf.keras .h5 cut at {_frac:.1%}",
        )
    )
    CASES.append(
        Case(
            f"truncated_keras_{_tag}",
            _truncated(f"truncated_keras_{_tag}.keras", lambda p: write_keras_archive(p, {}), _frac),
            REFUSE,
            note=f".keras archive cut at {_frac:.1%}",
        )
    )
    CASES.append(
        Case(
            f"truncated_k1_h5_{_tag}",
            _truncated(f"truncated_k1_h5_{_tag}.h5", write_model_b_k1, _frac),
            REFUSE,
            note=f"Keras 1 .h5 cut at {_frac:.1%}",
        )
    )


@case(REFUSE)
def flipped_superblock(d: Path) -> Path:
    """A tf.keras .h5 whose superblock (root object address) has flipped bytes."""
    p = write_model_a_tf(_p(d, "flipped_superblock.h5"))
    data = bytearray(p.read_bytes())
    for i in range(40, 56):
        data[i] ^= 0xA5
    p.write_bytes(bytes(data))
    return p


@case(PARTIAL)
def flipped_many(d: Path) -> Path:
    """A tf.keras .h5 with 64 bytes flipped all over the file."""
    p = write_model_a_tf(_p(d, "flipped_many.h5"))
    data = bytearray(p.read_bytes())
    r = _rng("flipped-many")
    for i in r.integers(0, len(data), 64):
        data[int(i)] ^= int(r.integers(1, 256))
    p.write_bytes(bytes(data))
    return p


@case(PARTIAL)
def flipped_zip_central_directory(d: Path) -> Path:
    """A .keras archive with flipped bytes in its central directory."""
    p = write_keras_archive(_p(d, "flipped_zip_central_directory.keras"), {})
    data = bytearray(p.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    for i in range(cd + 10, cd + 30):
        data[i] ^= 0x5A
    p.write_bytes(bytes(data))
    return p


# --- inconsistent content ------------------------------------------------------------------------


@case(DAMAGED, needs=("extra_dense",), intact=("lstm", "gru", "dense"))
def keras_config_layer_missing_from_weights(d: Path) -> Path:
    """A .keras whose config.json has a Dense layer that model.weights.h5 does not have."""
    extra = [
        _k3_layer(
            "Dense",
            {
                "name": "extra_dense",
                "units": 3,
                "activation": "tanh",
                "use_bias": True,
                "dtype": _K3_POLICY,
                "trainable": True,
            },
            [None, T, D],
        )
    ]
    return write_keras_archive(
        _p(d, "keras_config_layer_missing_from_weights.keras"), {}, config=model_a_k3_config(extra)
    )


@case(DAMAGED, needs=("extra_dense",), intact=("lstm", "gru", "dense"))
def h5_config_layer_missing_from_weights(d: Path) -> Path:
    """A tf.keras .h5 whose model_config has a Dense layer that model_weights does not have."""
    extra = [{"class_name": "Dense", "config": _k2_dense("extra_dense", 3, "tanh")}]
    return write_model_a_tf(_p(d, "h5_config_layer_missing_from_weights.h5"), config=model_a_tf_config(extra))


@case(PARTIAL)
def h5_layer_names_lists_missing_group(d: Path) -> Path:
    """layer_names names a group that does not exist."""
    return write_model_a_tf(_p(d, "h5_layer_names_lists_missing_group.h5"), extra_layer_names=["ghost"])


@case(DAMAGED, needs=("lstm",), intact=("gru", "dense"))
def h5_weight_names_lists_missing_dataset(d: Path) -> Path:
    """weight_names of the LSTM names a dataset that does not exist."""
    p = write_model_a_tf(_p(d, "h5_weight_names_lists_missing_dataset.h5"))
    with h5py.File(p, "r+") as f:
        names = MODEL_A_TF_NAMES["lstm"] + ["lstm/ghost:0"]
        f["model_weights/lstm"].attrs["weight_names"] = _bytes_list(names)
        del f["model_weights/lstm/lstm/lstm_cell/bias:0"]
    return p


@case(DAMAGED, needs=("lstm",), intact=("gru", "dense"))
def h5_kernel_shape_disagrees(d: Path) -> Path:
    """The LSTM kernel is (3, 12) while the config says 4 units (needs (3, 16))."""
    w = model_a_weights()
    w["lstm"][0] = w["lstm"][0][:, :12]
    return write_model_a_tf(_p(d, "h5_kernel_shape_disagrees.h5"), weights=w)


@case(DAMAGED, needs=("dense",), intact=("lstm", "gru"))
def h5_dense_shape_disagrees(d: Path) -> Path:
    """The Dense kernel is (5, 2) but the GRU before it has 3 units."""
    w = model_a_weights()
    w["dense"][0] = np.ones((5, 2), np.float32)
    return write_model_a_tf(_p(d, "h5_dense_shape_disagrees.h5"), weights=w)


@case(DAMAGED, needs=("gru",), intact=("lstm", "dense"))
def keras_shape_disagrees(d: Path) -> Path:
    """A .keras whose GRU recurrent kernel is (3, 6) (config: 3 units -> (3, 9))."""
    w = model_a_weights()
    w["gru"][1] = w["gru"][1][:, :6]
    return write_keras_archive(_p(d, "keras_shape_disagrees.keras"), {}, weights_h5=k3_weights_h5(w))


@case(DAMAGED, needs=("dense",), intact=("lstm", "gru"))
def keras_weight_is_group(d: Path) -> Path:
    """A .keras whose layers/dense/vars/0 is a group instead of a dataset."""

    def edit(f: h5py.File) -> None:
        del f["layers/dense/vars/0"]
        f.create_group("layers/dense/vars/0/evil")

    return write_keras_archive(_p(d, "keras_weight_is_group.keras"), {}, weights_h5=k3_weights_h5(edit=edit))


@case(DAMAGED, needs=("dense",), intact=("lstm", "gru"))
def h5_weight_is_string(d: Path) -> Path:
    """The Dense bias is stored as a string dataset."""
    p = write_model_a_tf(_p(d, "h5_weight_is_string.h5"))
    with h5py.File(p, "r+") as f:
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense/bias:0"] = np.array([b"rm -rf /", b"x"])
    return p


@case(DAMAGED, needs=("dense",), intact=("lstm", "gru"))
def h5_weight_is_compound(d: Path) -> Path:
    """The Dense bias is a compound (struct) dataset."""
    p = write_model_a_tf(_p(d, "h5_weight_is_compound.h5"))
    with h5py.File(p, "r+") as f:
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense/bias:0"] = np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])
    return p


@case(DAMAGED, needs=("lstm",), intact=("gru", "dense"))
def h5_weight_is_scalar(d: Path) -> Path:
    """The LSTM bias is a 0-d scalar."""
    w = model_a_weights()
    w["lstm"][2] = np.float32(1.5)
    return write_model_a_tf(_p(d, "h5_weight_is_scalar.h5"), weights=w)


@case(PARTIAL)
def unknown_layer_class(d: Path) -> Path:
    """A layer of an unknown class (weightless) between the input and the LSTM."""
    extra = [{"class_name": "MyFancyAttention", "config": {"name": "fancy", "trainable": True, "heads": 4}}]
    return write_model_a_tf(_p(d, "unknown_layer_class.h5"), config=model_a_tf_config(extra))


@case(PARTIAL)
def unknown_layer_class_with_weights(d: Path) -> Path:
    """An unknown layer class that owns weights (they must still be shown)."""
    extra = [{"class_name": "MyProjection", "config": {"name": "proj", "trainable": True, "size": 3}}]
    layers = {"proj": (["proj/w:0"], [np.eye(3, dtype=np.float32)]), **model_a_tf_layers()}
    return write_legacy_h5(_p(d, "unknown_layer_class_with_weights.h5"), model_a_tf_config(extra), layers)


@case(PARTIAL)
def keras_unknown_class(d: Path) -> Path:
    """A .keras whose config names an unknown class from an unknown package."""
    extra = [
        {
            "module": "some_private_package.layers",
            "class_name": "Sparkle",
            "registered_name": "Custom>Sparkle",
            "config": {"name": "sparkle", "trainable": True},
        }
    ]
    return write_keras_archive(_p(d, "keras_unknown_class.keras"), {}, config=model_a_k3_config(extra))


@case(DAMAGED, needs=("json",), intact=("lstm", "gru", "dense"))
def h5_malformed_json(d: Path) -> Path:
    """model_config is cut in the middle of the JSON."""
    p = write_model_a_tf(_p(d, "h5_malformed_json.h5"))
    with h5py.File(p, "r+") as f:
        f.attrs["model_config"] = json.dumps(model_a_tf_config())[:150].encode()
    return p


@case(DAMAGED, needs=("json",), intact=("lstm", "gru", "dense"))
def keras_malformed_json(d: Path) -> Path:
    """config.json is not JSON."""
    return write_keras_archive(
        _p(d, "keras_malformed_json.keras"), {"config.json": "{'class_name': Sequential,"}
    )


@case(DAMAGED, needs=("config",), intact=("lstm", "gru", "dense"))
def keras_config_wrong_type(d: Path) -> Path:
    """config.json is a JSON list of numbers."""
    return write_keras_archive(_p(d, "keras_config_wrong_type.keras"), {"config.json": "[1, 2, 3]"})


@case(DAMAGED, needs=("config",), intact=("lstm", "gru", "dense"))
def h5_config_is_number(d: Path) -> Path:
    """model_config is the JSON number 42."""
    p = write_model_a_tf(_p(d, "h5_config_is_number.h5"))
    with h5py.File(p, "r+") as f:
        f.attrs["model_config"] = b"42"
    return p


@case(DAMAGED, needs=("lstm",), intact=("lstm", "gru", "dense"))
def h5_config_layers_wrong_types(d: Path) -> Path:
    """model_config layers with wrong value types everywhere (units a string, name a list, ...)."""
    cfg = model_a_tf_config()
    lay = cfg["config"]["layers"]
    lay[1]["config"]["units"] = "four"
    lay[2]["config"]["name"] = ["g", "r", "u"]
    lay[3]["config"] = None
    return write_model_a_tf(_p(d, "h5_config_layers_wrong_types.h5"), config=cfg)


@case(DAMAGED, needs=("units",), intact=("lstm", "gru", "dense"))
def h5_config_negative_units(d: Path) -> Path:
    """An LSTM with units = -4."""
    return write_model_a_tf(_p(d, "h5_config_negative_units.h5"), config=model_a_tf_config(units=-4))


@case(DAMAGED, config=True, needs=("output_dim",), intact=("embedding_1", "dense_1"))
def k1_config_units_is_object(d: Path) -> Path:
    """Keras 1 weights-only file given an architecture whose LSTM output_dim is {} (found by the fuzzer)."""
    p = write_model_b_k1(_p(d, "k1_config_units_is_object.h5"), weights_only=True)
    cfg = model_b_k1_config()
    cfg["config"][1]["config"]["output_dim"] = {}
    Path(str(p) + ".json").write_text(json.dumps(cfg))
    return p


@case(DAMAGED, needs=("units",), intact=("lstm", "gru", "dense"))
def h5_config_units_is_bool(d: Path) -> Path:
    """A tf.keras LSTM whose units is true and a Dense whose units is 2.5."""
    cfg = model_a_tf_config()
    cfg["config"]["layers"][1]["config"]["units"] = True
    cfg["config"]["layers"][3]["config"]["units"] = 2.5
    return write_model_a_tf(_p(d, "h5_config_units_is_bool.h5"), config=cfg)


def _deep_lists(n: int) -> str:
    return "[" * n + "]" * n


@case(DAMAGED, isolate=True, needs=("nested", "deep"), intact=("lstm", "gru", "dense"))
def h5_deep_json(d: Path) -> Path:
    """model_config is 100000 nested lists."""
    p = write_model_a_tf(_p(d, "h5_deep_json.h5"), libver="latest")
    with h5py.File(p, "r+") as f:
        f.attrs["model_config"] = _deep_lists(100_000).encode()
    return p


@case(DAMAGED, isolate=True, needs=("nested", "deep"), intact=("lstm", "gru", "dense"))
def keras_deep_json(d: Path) -> Path:
    """config.json is 100000 nested lists."""
    return write_keras_archive(_p(d, "keras_deep_json.keras"), {"config.json": _deep_lists(100_000)})


@case(DAMAGED, isolate=True, needs=("nested", "deep"), intact=("lstm", "gru", "dense"))
def keras_deep_json_in_layer(d: Path) -> Path:
    """A valid model whose LSTM config carries a 50000-deep dict under an unused key."""
    text = json.dumps(model_a_k3_config()).replace('"seed": null', '"seed": ' + _deep_dict_text(50_000), 1)
    return write_keras_archive(_p(d, "keras_deep_json_in_layer.keras"), {"config.json": text})


def _deep_dict_text(n: int) -> str:
    return '{"a": ' * n + "{}" + "}" * n


@case(DAMAGED, isolate=True, needs=("nest", "deep"), intact=("lstm", "gru", "dense"))
def keras_deep_nested_models(d: Path) -> Path:
    """Sequential inside Sequential inside ... 60 levels deep (valid JSON, ~250 brackets deep)."""
    inner = model_a_k3_config()
    for k in range(60):
        inner = {
            "module": "keras",
            "class_name": "Sequential",
            "registered_name": None,
            "config": {"name": f"nest{k}", "layers": [inner]},
        }
    return write_keras_archive(_p(d, "keras_deep_nested_models.keras"), {"config.json": json.dumps(inner)})


@case(REFUSE, config=True, isolate=True)
def weights_only_with_deep_config(d: Path) -> Path:
    """A valid weights-only .h5 given an architecture JSON of 100000 nested lists."""
    p = write_model_a_tf(_p(d, "weights_only_with_deep_config.h5"), weights_only=True)
    Path(str(p) + ".json").write_text(_deep_lists(100_000))
    return p


@case(REFUSE, config=True)
def weights_only_with_malformed_config(d: Path) -> Path:
    """A valid weights-only .h5 given a config file that is not JSON."""
    p = write_model_a_tf(_p(d, "weights_only_with_malformed_config.h5"), weights_only=True)
    Path(str(p) + ".json").write_bytes(b"\xff\xfe{not json")
    return p


@case(DAMAGED, config=True, needs=("embedding_1",), intact=("lstm", "gru", "dense"))
def weights_only_with_wrong_config(d: Path) -> Path:
    """A valid tf.keras weights-only .h5 given the Keras 1 architecture of another model."""
    p = write_model_a_tf(_p(d, "weights_only_with_wrong_config.h5"), weights_only=True)
    Path(str(p) + ".json").write_text(json.dumps(model_b_k1_config()))
    return p


# --- names that are not UTF-8 ---------------------------------------------------------------------


@case(DAMAGED, needs=("utf-8",), intact=("lstm", "dense"))
def non_utf8_layer_names(d: Path) -> Path:
    """layer_names holds invalid UTF-8 and the group is named with those raw bytes."""
    p = write_model_a_tf(_p(d, "non_utf8_layer_names.h5"))
    with h5py.File(p, "r+") as f:
        g = f["model_weights"]
        g.move("gru", b"gr\xff\xfeu")
        g.attrs["layer_names"] = np.array([b"lstm", b"gr\xff\xfeu", b"dense"])
    return p


@case(DAMAGED, needs=("utf-8",), intact=("lstm", "gru"))
def non_utf8_weight_names(d: Path) -> Path:
    """weight_names of the Dense layer hold invalid UTF-8 naming raw-bytes datasets."""
    p = write_model_a_tf(_p(d, "non_utf8_weight_names.h5"))
    with h5py.File(p, "r+") as f:
        g = f["model_weights/dense"]
        g.move("dense/kernel:0", b"dense/k\xc3\x28:0")
        g.attrs["weight_names"] = np.array([b"dense/k\xc3\x28:0", b"dense/bias:0"])
    return p


@case(DAMAGED, needs=("utf-8",), intact=("gru", "dense"))
def non_utf8_vlen_attribute(d: Path) -> Path:
    """weight_names is a variable-length string of invalid UTF-8 (h5py returns lone surrogates)."""
    p = write_model_a_tf(_p(d, "non_utf8_vlen_attribute.h5"))
    with h5py.File(p, "r+") as f:
        f["model_weights/lstm"].attrs["weight_names"] = b"\xff\xfe"
    return p


@case(DAMAGED, needs=("utf-8",), intact=("lstm", "gru", "dense"))
def non_utf8_model_config(d: Path) -> Path:
    """model_config bytes are not UTF-8."""
    p = write_model_a_tf(_p(d, "non_utf8_model_config.h5"))
    with h5py.File(p, "r+") as f:
        f.attrs["model_config"] = np.bytes_(json.dumps(model_a_tf_config()).encode()[:40] + b"\xff\xfe\xfd")
    return p


@case(DAMAGED, needs=("utf-8",), intact=("lstm", "gru", "dense"))
def non_utf8_keras_version(d: Path) -> Path:
    """keras_version is raw invalid bytes (the version decides the maths: must not be guessed silently)."""
    p = write_model_a_tf(_p(d, "non_utf8_keras_version.h5"))
    with h5py.File(p, "r+") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.\xff\xfe")
        f["model_weights"].attrs["keras_version"] = np.bytes_(b"2.\xff\xfe")
    return p


@case(DAMAGED, needs=("utf-8",), intact=("lstm", "gru", "dense"))
def non_utf8_config_json(d: Path) -> Path:
    """config.json inside a .keras is not UTF-8."""
    return write_keras_archive(
        _p(d, "non_utf8_config_json.keras"), {"config.json": b'{"class_name": "\xff\xfe"}'}
    )


@case(DAMAGED, config=True, needs=("utf-8",), intact=("lstm", "dense"))
def non_utf8_k3_group_name(d: Path) -> Path:
    """A Keras 3 .weights.h5 whose layer group is named with invalid UTF-8 bytes."""

    def edit(f: h5py.File) -> None:
        f["layers"].move("gru", b"gr\xff\xfeu")

    p = _p(d, "non_utf8_k3_group_name.weights.h5")
    p.write_bytes(k3_weights_h5(edit=edit))
    Path(str(p) + ".json").write_text(json.dumps(model_a_k3_config()))
    return p


@case(DAMAGED, needs=("layer_names",), intact=("gru", "dense"))
def non_utf8_attribute_types(d: Path) -> Path:
    """layer_names is an opaque (void) blob and weight_names an int array."""
    p = write_model_a_tf(_p(d, "non_utf8_attribute_types.h5"))
    with h5py.File(p, "r+") as f:
        f["model_weights"].attrs["layer_names"] = np.void(b"\xff\x00lstm\x00gru")
        f["model_weights/lstm"].attrs["weight_names"] = np.arange(3)
    return p


# --- legal but unusual ------------------------------------------------------------------------------


def _nan_inf_weights() -> dict[str, list[np.ndarray]]:
    w = model_a_weights()
    w["lstm"][0][0, 0] = np.nan
    w["lstm"][1][1, 2] = np.inf
    w["gru"][2][0, 1] = -np.inf
    w["dense"][1][:] = np.nan
    return w


@case(LOAD)
def nan_inf_weights_h5(d: Path) -> Path:
    """NaN, +Inf and -Inf in several weights of a tf.keras .h5."""
    return write_model_a_tf(_p(d, "nan_inf_weights_h5.h5"), weights=_nan_inf_weights())


@case(LOAD)
def nan_inf_weights_keras(d: Path) -> Path:
    """NaN, +Inf and -Inf in several weights of a .keras archive."""
    return write_keras_archive(
        _p(d, "nan_inf_weights_keras.keras"), {}, weights_h5=k3_weights_h5(_nan_inf_weights())
    )


@case(LOAD)
def keras_archive_named_h5(d: Path) -> Path:
    """A valid .keras archive named model.h5 (formats are detected by content)."""
    return write_keras_archive(_p(d, "keras_archive_named_h5.h5"), {})


@case(LOAD)
def h5_named_keras(d: Path) -> Path:
    """A valid tf.keras .h5 named model.keras."""
    return write_model_a_tf(_p(d, "h5_named_keras.keras"))


@case(LOAD)
def h5_with_userblock(d: Path) -> Path:
    """A valid .h5 with a 512-byte HDF5 user block (the signature is at offset 512, not 0)."""
    return write_model_a_tf(_p(d, "h5_with_userblock.h5"), userblock=512)


@case(LOAD)
def float64_and_float16_weights(d: Path) -> Path:
    """Weights stored as float64 and float16 (widened/narrowed to float32 on read)."""
    w = model_a_weights()
    w["lstm"] = [a.astype(np.float64) for a in w["lstm"]]
    w["dense"] = [a.astype(np.float16) for a in w["dense"]]
    return write_model_a_tf(_p(d, "float64_and_float16_weights.h5"), weights=w)


@case(LOAD)
def keras_archive_with_extra_members(d: Path) -> Path:
    """A valid .keras with assets/ and unrelated members, including path-traversal names (never extracted)."""
    return write_keras_archive(
        _p(d, "keras_archive_with_extra_members.keras"),
        {
            "assets/vocab.txt": "a\nb\n",
            "../../kwi_escaped.txt": "escaped",
            "/tmp/kwi_absolute.txt": "absolute",
        },
    )


@case(LOAD)
def keras_archive_deflated(d: Path) -> Path:
    """A valid .keras whose members are deflate-compressed (older Keras 3 versions)."""
    p = _p(d, "keras_archive_deflated.keras")
    src = write_keras_archive(Path(d) / "keras_archive_deflated.src.keras", {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    src.unlink()
    return p


# --- nothing from a file ever runs -----------------------------------------------------------------


@case(NOT_EXECUTABLE)
def lambda_keras1(d: Path) -> Path:
    """Keras 1 Lambda: function = [marshal.dumps(code).decode('raw_unicode_escape'), defaults, closure]."""
    mark = marker(d, "lambda_keras1")
    fn = lambda_code(mark).decode("raw_unicode_escape")
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda_1",
            "trainable": True,
            "function": [fn, None, None],
            "function_type": "lambda",
            "output_shape": [module_code(mark).decode("raw_unicode_escape"), None, None],
            "output_shape_type": "lambda",
            "arguments": {},
        },
    }
    return write_legacy_h5(
        _p(d, "lambda_keras1.h5"),
        model_b_k1_config([lam]),
        model_b_k1_layers(),
        keras_version=None,
        backend=None,
        root_version="1.2.2",
    )


@case(NOT_EXECUTABLE)
def lambda_keras2(d: Path) -> Path:
    """Keras 2 / tf.keras Lambda: function = [base64(marshal), defaults, closure], function_type 'lambda'."""
    mark = marker(d, "lambda_keras2")
    b64 = base64.b64encode(lambda_code(mark)).decode("ascii")
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "dtype": "float32",
            "function": [b64, None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }
    return write_model_a_tf(_p(d, "lambda_keras2.h5"), config=model_a_tf_config([lam]))


@case(NOT_EXECUTABLE)
def lambda_keras3(d: Path) -> Path:
    """Keras 3 Lambda: function = {"class_name": "__lambda__", "config": {"code": base64(marshal)}}."""
    mark = marker(d, "lambda_keras3")
    b64 = base64.b64encode(lambda_code(mark)).decode("ascii")
    lam = _k3_layer(
        "Lambda",
        {
            "name": "lambda",
            "trainable": True,
            "dtype": _K3_POLICY,
            "function": {
                "class_name": "__lambda__",
                "config": {"code": b64, "defaults": None, "closure": None},
            },
            "arguments": {},
        },
        [None, T, D],
    )
    return write_keras_archive(_p(d, "lambda_keras3.keras"), {}, config=model_a_k3_config([lam]))


@case(NOT_EXECUTABLE)
def lambda_keras3_legacy_h5(d: Path) -> Path:
    """Keras 3 legacy .h5 with a __lambda__ Lambda."""
    mark = marker(d, "lambda_keras3_legacy_h5")
    b64 = base64.b64encode(lambda_code(mark)).decode("ascii")
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "dtype": _K3_POLICY,
            "function": {
                "class_name": "__lambda__",
                "config": {"code": b64, "defaults": None, "closure": None},
            },
            "arguments": {},
        },
    }
    return write_model_a_k3_legacy(_p(d, "lambda_keras3_legacy_h5.h5"), [lam])


@case(NOT_EXECUTABLE)
def lambda_module_function(d: Path) -> Path:
    """tf.keras Lambda naming a function by module path (function_type 'raw', module 'os')."""
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "dtype": "float32",
            "function": "system",
            "function_type": "raw",
            "module": "os",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {"command": f"touch {marker(d, 'lambda_module_function')}"},
        },
    }
    return write_model_a_tf(_p(d, "lambda_module_function.h5"), config=model_a_tf_config([lam]))


@case(NOT_EXECUTABLE)
def custom_object_module_keras3(d: Path) -> Path:
    """.keras layers with module paths: the sentinel module (imports write a marker) and os.system."""
    mark = marker(d, "custom_object_module_keras3")
    write_sentinel_module(d, mark)
    extra = [
        {
            "module": SENTINEL_MODULE,
            "class_name": "Evil",
            "registered_name": f"{SENTINEL_MODULE}>Evil",
            "config": {"name": "evil", "trainable": True},
        },
        {
            "module": "os",
            "class_name": "system",
            "registered_name": "os>system",
            "config": {"name": "sys", "command": f"touch {mark}"},
        },
    ]
    cfg = model_a_k3_config(extra)
    # an activation given as a custom object from the sentinel module, too
    cfg["config"]["layers"][-1]["config"]["activation"] = {
        "module": SENTINEL_MODULE,
        "class_name": "function",
        "config": "system",
        "registered_name": "system",
    }
    return write_keras_archive(_p(d, "custom_object_module_keras3.keras"), {}, config=cfg)


@case(NOT_EXECUTABLE)
def custom_object_module_tfkeras(d: Path) -> Path:
    """tf.keras .h5 layers whose class names are registered custom objects from the sentinel module."""
    mark = marker(d, "custom_object_module_tfkeras")
    write_sentinel_module(d, mark)
    extra = [
        {
            "class_name": f"{SENTINEL_MODULE}>Evil",
            "module": SENTINEL_MODULE,
            "registered_name": f"{SENTINEL_MODULE}>Evil",
            "config": {"name": "evil", "trainable": True},
        },
        {"class_name": "os.system", "config": {"name": "sys2", "command": f"touch {mark}"}},
    ]
    cfg = model_a_tf_config(extra)
    cfg["config"]["layers"][-1]["config"]["kernel_initializer"] = {
        "class_name": f"{SENTINEL_MODULE}.Evil",
        "module": SENTINEL_MODULE,
        "config": {},
    }
    return write_model_a_tf(_p(d, "custom_object_module_tfkeras.h5"), config=cfg)


@case(REFUSE, needs=("npz", "pickle", "not supported", "unsupported"))
def npz_weights_with_pickle(d: Path) -> Path:
    """A .keras whose weights are model.weights.npz holding a pickle that runs exec() when loaded."""
    buf = io.BytesIO()
    np.savez(buf, **{"layers/lstm/cell/vars": pickle_payload(marker(d, "npz_weights_with_pickle"))})
    p = _p(d, "npz_weights_with_pickle.keras")
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": K3_VERSION}))
        zf.writestr("config.json", json.dumps(model_a_k3_config()))
        zf.writestr("model.weights.npz", buf.getvalue())
    return p


@case(REFUSE)
def pickle_named_h5(d: Path) -> Path:
    """A raw pickle (that would run exec()) named model.h5."""
    p = _p(d, "pickle_named_h5.h5")
    src = f"__import__('pathlib').Path({str(marker(d, 'pickle_named_h5'))!r}).write_text('x')"
    p.write_bytes(pickle.dumps(_ExecOnUnpickle(src)))
    return p


@case(REFUSE)
def npy_pickle_named_keras(d: Path) -> Path:
    """A .npy object array (pickle inside) named model.keras."""
    p = _p(d, "npy_pickle_named_keras.keras")
    with open(p, "wb") as fh:
        np.save(fh, pickle_payload(marker(d, "npy_pickle_named_keras")), allow_pickle=True)
    return p


# --- resource limits -----------------------------------------------------------------------------


@case(REFUSE, isolate=True, needs=("large", "big", "bomb", "size", "limit"))
def zip_bomb_weights(d: Path) -> Path:
    """A .keras whose model.weights.h5 inflates to 4.1 GiB of zeros (honest headers, ~4 MiB file)."""
    members = _archive_members() + [
        RawMember(b"model.weights.h5", deflate_zeros(4200), ZIP_DEFLATED, CRC_ZEROS[4200], 4200 << 20)
    ]
    return write_raw_zip(_p(d, "zip_bomb_weights.keras"), members)


@case(REFUSE, isolate=True, needs=("large", "big", "bomb", "size", "limit"))
def zip_bomb_config(d: Path) -> Path:
    """A .keras whose config.json inflates to 4.1 GiB of zeros."""
    meta = json.dumps({"keras_version": K3_VERSION}).encode()
    members = [
        _stored("metadata.json", meta),
        RawMember(b"config.json", deflate_zeros(4200), ZIP_DEFLATED, CRC_ZEROS[4200], 4200 << 20),
        _stored("model.weights.h5", k3_weights_h5()),
    ]
    return write_raw_zip(_p(d, "zip_bomb_config.keras"), members)


@case(REFUSE, isolate=True)
def zip_header_understates_size(d: Path) -> Path:
    """model.weights.h5's header says 1 MiB, its deflate stream inflates to 4.1 GiB."""
    members = _archive_members() + [
        RawMember(b"model.weights.h5", deflate_zeros(4200), ZIP_DEFLATED, CRC_ZEROS[4200], 1 << 20)
    ]
    return write_raw_zip(_p(d, "zip_header_understates_size.keras"), members)


@case(REFUSE, isolate=True)
def zip_header_overstates_size(d: Path) -> Path:
    """model.weights.h5's header says 64 MiB, the stream holds 1 MiB."""
    members = _archive_members() + [
        RawMember(b"model.weights.h5", deflate_zeros(1), ZIP_DEFLATED, CRC_ZEROS[64], 64 << 20)
    ]
    return write_raw_zip(_p(d, "zip_header_overstates_size.keras"), members)


@case(REFUSE, isolate=True)
def zip_compress_size_past_eof(d: Path) -> Path:
    """model.weights.h5's compressed size points 1 GiB past the end of the file."""
    w = k3_weights_h5()
    members = _archive_members() + [
        RawMember(b"model.weights.h5", w, ZIP_STORED, zlib.crc32(w), len(w), compress_size=1 << 30)
    ]
    return write_raw_zip(_p(d, "zip_compress_size_past_eof.keras"), members)


@case(REFUSE, isolate=True)
def zip_many_members(d: Path) -> Path:
    """A .keras with 60000 empty members besides a config whose weights are missing."""
    members = _archive_members() + [_stored(f"assets/{i:05d}", b"") for i in range(60_000)]
    return write_raw_zip(_p(d, "zip_many_members.keras"), members)


@case(DAMAGED, isolate=True, needs=("absurd", "units"), intact=("lstm", "gru", "dense"))
def config_2_31_units_h5(d: Path) -> Path:
    """A tf.keras .h5 whose LSTM config claims 2**31 units (the weights are the small real ones)."""
    return write_model_a_tf(_p(d, "config_2_31_units_h5.h5"), config=model_a_tf_config(units=2**31))


@case(DAMAGED, isolate=True, needs=("absurd", "units"), intact=("lstm", "gru", "dense"))
def config_2_31_units_keras(d: Path) -> Path:
    """A .keras whose LSTM config claims 2**31 units."""
    return write_keras_archive(
        _p(d, "config_2_31_units_keras.keras"), {}, config=model_a_k3_config(units=2**31)
    )


@case(DAMAGED, isolate=True, config=True, needs=("absurd", "units"), intact=("lstm", "gru", "dense"))
def config_2_31_units_weights_only(d: Path) -> Path:
    """A weights-only .h5 loaded with an architecture JSON claiming 2**31 units and a 2**40 vocabulary."""
    p = write_model_a_tf(_p(d, "config_2_31_units_weights_only.h5"), weights_only=True)
    cfg = model_a_tf_config(units=2**31)
    cfg["config"]["layers"][0]["config"]["batch_input_shape"] = [2**40, 2**40, 2**31]
    Path(str(p) + ".json").write_text(json.dumps(cfg))
    return p


@case(REFUSE, isolate=True, needs=("large", "big", "size", "limit", "shape"))
def dataset_declares_terabytes(d: Path) -> Path:
    """A Keras 3 .weights.h5 whose LSTM kernel declares (2**20, 2**20) float32 (4 TiB, file is tiny)."""

    def edit(f: h5py.File) -> None:
        del f["layers/lstm/cell/vars/0"]
        f["layers/lstm/cell/vars"].create_dataset("0", shape=(2**20, 2**20), dtype="f4", chunks=(64, 64))

    p = _p(d, "dataset_declares_terabytes.keras")
    return write_keras_archive(p, {}, weights_h5=k3_weights_h5(edit=edit))


@case(REFUSE, isolate=True, needs=("large", "big", "size", "limit", "shape"))
def dataset_declares_terabytes_h5(d: Path) -> Path:
    """A tf.keras .h5 whose Dense kernel declares (2**20, 2**21) float32 and the config agrees-ish."""
    p = write_model_a_tf(_p(d, "dataset_declares_terabytes_h5.h5"))
    with h5py.File(p, "r+") as f:
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense"].create_dataset(
            "kernel:0", shape=(2**20, 2**21), dtype="f4", chunks=(64, 64)
        )
    return p


@case(REFUSE, isolate=True)
def keras0_nb_layers_huge(d: Path) -> Path:
    """A Keras 0.x weights file whose nb_layers says 2**31 (with one real layer)."""
    p = _p(d, "keras0_nb_layers_huge.h5")
    with h5py.File(p, "w") as f:
        f.attrs["nb_layers"] = 2**31
        g = f.create_group("layer_0")
        g.attrs["nb_params"] = 2**31
        g.create_dataset("param_0", data=np.ones((3, 2), np.float32))
    return p


@case(PARTIAL, isolate=True)
def chunked_layer_names_many(d: Path) -> Path:
    """layer_names split into 3000 chunk attributes naming 3000 missing groups (plus the real ones)."""
    p = write_model_a_tf(_p(d, "chunked_layer_names_many.h5"), weights_only=True)
    with h5py.File(p, "r+") as f:
        del f.attrs["layer_names"]
        f.attrs["layer_names0"] = _bytes_list(["lstm", "gru", "dense"])
        for k in range(1, 3000):
            f.attrs[f"layer_names{k}"] = _bytes_list([f"ghost_{k}"])
    return p


# --- links out of the file -----------------------------------------------------------------------


def _outside_target(d: Path, name: str) -> Path:
    """A real HDF5 file outside the model, holding plausible weights (it must never be read)."""
    t = Path(d) / f"{name}.OUTSIDE.h5"
    with h5py.File(t, "w") as f:
        f["data"] = np.full((3, 16), 7.0, np.float32)
        f["kernel"] = np.full((3, 16), 7.0, np.float32)
    return t


def fifo(d: Path, name: str) -> Path:
    """A named pipe: opening it for reading blocks forever (no writer), so any read is caught as a hang."""
    f = Path(d) / f"{name}.fifo"
    if not f.exists():
        os.mkfifo(f)
    return f


@case(REFUSE, isolate=True, needs=("external", "link", "outside", "other file"))
def external_link_weight(d: Path) -> Path:
    """The LSTM kernel is an HDF5 external link to a dataset in another (real) file."""
    t = _outside_target(d, "external_link_weight")
    p = write_model_a_tf(_p(d, "external_link_weight.h5"))
    with h5py.File(p, "r+") as f:
        del f["model_weights/lstm/lstm/lstm_cell/kernel:0"]
        f["model_weights/lstm/lstm/lstm_cell/kernel:0"] = h5py.ExternalLink(str(t), "/kernel")
    return p


@case(REFUSE, isolate=True, needs=("external", "link", "outside", "other file"))
def external_link_fifo(d: Path) -> Path:
    """The Dense bias is an external link to a FIFO (a reader that follows it hangs)."""
    t = fifo(d, "external_link_fifo")
    p = write_model_a_tf(_p(d, "external_link_fifo.h5"))
    with h5py.File(p, "r+") as f:
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense/bias:0"] = h5py.ExternalLink(str(t), "/data")
    return p


@case(REFUSE, isolate=True, needs=("external", "link", "outside", "other file"))
def external_link_model_weights(d: Path) -> Path:
    """The whole model_weights group is an external link to another file."""
    t = write_model_a_tf(Path(d) / "external_link_model_weights.OUTSIDE.h5")
    p = write_model_a_tf(_p(d, "external_link_model_weights.h5"))
    with h5py.File(p, "r+") as f:
        del f["model_weights"]
        f["model_weights"] = h5py.ExternalLink(str(t), "/model_weights")
    return p


@case(REFUSE, isolate=True, needs=("external", "link", "outside", "other file"))
def external_link_in_archive(d: Path) -> Path:
    """A .keras whose model.weights.h5 has layers/dense as an external link (relative to the cwd)."""
    t = fifo(d, "external_link_in_archive")

    def edit(f: h5py.File) -> None:
        del f["layers/dense"]
        f["layers/dense"] = h5py.ExternalLink(str(t), "/layers/dense")

    return write_keras_archive(
        _p(d, "external_link_in_archive.keras"), {}, weights_h5=k3_weights_h5(edit=edit)
    )


@case(REFUSE, isolate=True, needs=("virtual", "external", "outside", "other file"))
def virtual_dataset(d: Path) -> Path:
    """The LSTM kernel is a virtual dataset mapped from another file (a FIFO)."""
    t = fifo(d, "virtual_dataset")
    p = write_model_a_tf(_p(d, "virtual_dataset.h5"))
    with h5py.File(p, "r+") as f:
        g = f["model_weights/lstm/lstm/lstm_cell"]
        del g["kernel:0"]
        layout = h5py.VirtualLayout(shape=(3, 16), dtype="f4")
        layout[:] = h5py.VirtualSource(str(t), "data", shape=(3, 16))
        g.create_virtual_dataset("kernel:0", layout, fillvalue=0)
    return p


@case(REFUSE, isolate=True, needs=("virtual", "external", "outside", "other file"))
def virtual_dataset_in_archive(d: Path) -> Path:
    """A .keras whose LSTM kernel is a virtual dataset mapped from a real file outside."""
    t = _outside_target(d, "virtual_dataset_in_archive")

    def edit(f: h5py.File) -> None:
        del f["layers/lstm/cell/vars/0"]
        layout = h5py.VirtualLayout(shape=(3, 16), dtype="f4")
        layout[:] = h5py.VirtualSource(str(t), "kernel", shape=(3, 16))
        f["layers/lstm/cell/vars"].create_virtual_dataset("0", layout, fillvalue=0)

    return write_keras_archive(
        _p(d, "virtual_dataset_in_archive.keras"), {}, weights_h5=k3_weights_h5(edit=edit)
    )


@case(REFUSE, isolate=True, needs=("external", "outside", "other file"))
def external_raw_storage(d: Path) -> Path:
    """The GRU kernel's raw data lives in an external file (a FIFO): HDF5 'external storage'."""
    t = fifo(d, "external_raw_storage")
    p = write_model_a_tf(_p(d, "external_raw_storage.h5"))
    with h5py.File(p, "r+") as f:
        g = f["model_weights/gru/gru/gru_cell"]
        del g["kernel:0"]
        g.create_dataset("kernel:0", shape=(4, 9), dtype="f4", external=[(str(t), 0, 4 * 9 * 4)])
    return p


@case(PARTIAL, isolate=True, config=True)
def hardlink_cycle(d: Path) -> Path:
    """A Keras 3 .weights.h5 where layers/lstm/cell/loop is a hard link back to /layers (a cycle)."""

    def edit(f: h5py.File) -> None:
        f["layers/lstm/cell/loop"] = f["layers"]
        f["layers/gru/self"] = f["layers/gru"]

    p = _p(d, "hardlink_cycle.weights.h5")
    p.write_bytes(k3_weights_h5(edit=edit))
    Path(str(p) + ".json").write_text(json.dumps(model_a_k3_config()))
    return p


@case(PARTIAL, isolate=True)
def softlink_cycle(d: Path) -> Path:
    """A .keras whose layers/dense/vars is a soft link to itself and layers/gru/cell a soft link loop."""

    def edit(f: h5py.File) -> None:
        del f["layers/dense/vars"]
        f["layers/dense/vars"] = h5py.SoftLink("/layers/dense/vars")
        f["layers/gru/a"] = h5py.SoftLink("/layers/gru/b")
        f["layers/gru/b"] = h5py.SoftLink("/layers/gru/a")

    return write_keras_archive(_p(d, "softlink_cycle.keras"), {}, weights_h5=k3_weights_h5(edit=edit))


# ------------------------------------------------------------------------------------------------
# one-byte corruptions on which libhdf5 itself crashes or hangs (found by the fuzzer)


@dataclass(frozen=True)
class BytePatch:
    """Seed file `seed` with byte `offset` changed from `old` to `new`."""

    name: str
    seed: str
    offset: int
    old: int
    new: int
    effect: str  # 'crash' (segfault) | 'hang'
    note: str


LIBHDF5_KILLERS = (
    BytePatch(
        "libhdf5_segfault_vlen_attr",
        "tf_h5_functional",
        1009,
        0x01,
        0xF9,
        "crash",
        "model_config's vlen-string datatype bits corrupted: reading the attribute segfaults in "
        "H5T__vlen_disk_write / H5VL_blob_put",
    ),
    BytePatch(
        "libhdf5_hang_global_heap",
        "k3_weights_h5",
        1984,
        0x04,
        0x4A,
        "hang",
        "a global-heap object size 4 -> 74: H5HG__cache_heap_deserialize loops forever holding the GIL",
    ),
)


def write_byte_patch(
    patch: BytePatch, folder: Path, seeds: dict[str, Seed]
) -> tuple[Path, Path | None] | None:
    """Write the patched file into `folder`: (path, config or None); None if the seed's bytes differ
    (another h5py/libhdf5 wrote a different layout, so the recipe does not apply)."""
    seed = seeds[patch.seed]
    data = bytearray(seed.path.read_bytes())
    if len(data) <= patch.offset or data[patch.offset] != patch.old:
        return None
    data[patch.offset] = patch.new
    Path(folder).mkdir(parents=True, exist_ok=True)
    out = Path(folder) / (patch.name + "".join(seed.path.suffixes[-2:]))
    out.write_bytes(bytes(data))
    return out, seed.config


# --- not a regular file ----------------------------------------------------------------------------


@case(REFUSE, isolate=True, needs=("regular file",))
def fifo_as_model(d: Path) -> Path:
    """The model path is a named pipe with no writer (open() would block forever)."""
    return fifo(d, "fifo_as_model")


@case(REFUSE, isolate=True, config=True, needs=("regular file",))
def fifo_as_config(d: Path) -> Path:
    """A valid weights-only file whose config= path is a named pipe with no writer."""
    p = write_model_a_tf(_p(d, "fifo_as_config.h5"), weights_only=True)
    os.mkfifo(str(p) + ".json")
    return p


CASE_BY_NAME = {c.name: c for c in CASES}
