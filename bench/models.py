"""Benchmark models and inputs: which files, how big, and how they are made.

Full runs generate the large models with real Keras (Keras 3 `.keras` and tf_keras `.h5`, same
weights) in a subprocess (`bench.keras_side generate`); smoke runs (and runs without TensorFlow)
write tiny tf.keras-layout `.h5` files with h5py instead.  Everything goes into the cache folder
(bench/.cache, git-ignored); a file is only regenerated when it is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "resources" / "samples"
DEFAULT_CACHE = REPO / "bench" / ".cache"
H5_KERAS_VERSION = "2.15.0"


@dataclass(frozen=True)
class Sizes:
    """Every size the harness uses; `SMOKE` shrinks them so the whole run takes seconds."""

    classic_steps: int = 1000  # predict_vs_keras_classic input length (batch 1)
    classic_gui_steps: int = 1000  # input length when stepping the classic model in the GUI
    large_units: int = 1024  # predict_vs_keras_large / trace_overhead / step_ms_large: 2 x LSTM(u)
    large_features: int = 256
    large_steps: int = 200
    open_vocab: int = 20000  # open_* model: Embedding(V, d) + 2 x LSTM(u) + Dense(V)
    open_dim: int = 1024
    open_units: int = 1024
    random_units: int = 128  # stand-in for the sample when resources/samples/classic.* is absent
    random_vocab: int = 57
    repeats: int = 7  # engine / Keras timings (interleaved, one call each per repeat)
    process_repeats: int = 5  # fresh-process measurements (open, h5py read, start)
    gui_step_repeats: int = 1  # passes over the whole sequence in the GUI


FULL = Sizes()
SMOKE = Sizes(
    classic_steps=40,
    classic_gui_steps=12,
    large_units=32,
    large_features=16,
    large_steps=12,
    open_vocab=300,
    open_dim=32,
    open_units=32,
    random_units=16,
    random_vocab=11,
    repeats=2,
    process_repeats=1,
    gui_step_repeats=1,
)


# ------------------------------------------------------------------------------------------ specs


def large_spec(s: Sizes) -> dict:
    """2 x LSTM(u) over f features: the predict_vs_keras_large / trace_overhead / step_ms_large model."""
    return {
        "name": f"lstm2x{s.large_units}_f{s.large_features}",
        "input_shape": [None, s.large_features],
        "input_dtype": "float32",
        "layers": [
            {"kind": "LSTM", "name": "lstm_1", "units": s.large_units, "return_sequences": True},
            {"kind": "LSTM", "name": "lstm_2", "units": s.large_units},
        ],
    }


def open_spec(s: Sizes) -> dict:
    """The big file: Embedding(V, d) + 2 x LSTM(u) + Dense(V, softmax), a word-level language model."""
    return {
        "name": f"lm_emb{s.open_vocab}x{s.open_dim}_lstm2x{s.open_units}",
        "input_shape": [None],
        "input_dtype": "int32",
        "layers": [
            {"kind": "Embedding", "name": "embedding", "input_dim": s.open_vocab, "output_dim": s.open_dim},
            {"kind": "LSTM", "name": "lstm_1", "units": s.open_units, "return_sequences": True},
            {"kind": "LSTM", "name": "lstm_2", "units": s.open_units},
            {"kind": "Dense", "name": "next_word", "units": s.open_vocab, "activation": "softmax"},
        ],
    }


def random_classic_spec(s: Sizes) -> dict:
    """Same shape as the sample text model (one-hot chars -> LSTM -> Dense softmax), random weights."""
    return {
        "name": f"classic_random_lstm{s.random_units}_v{s.random_vocab}",
        "input_shape": [None, s.random_vocab],
        "input_dtype": "float32",
        "layers": [
            {"kind": "LSTM", "name": "lstm", "units": s.random_units},
            {"kind": "Dense", "name": "next_char", "units": s.random_vocab, "activation": "softmax"},
        ],
    }


def spec_weights(spec: dict, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Deterministic float32 weights for `spec` (Keras 2/3 layout), Glorot-like scale."""
    rng = np.random.default_rng(seed)
    n_in = spec["input_shape"][-1]
    out: dict[str, list[np.ndarray]] = {}
    for lay in spec["layers"]:
        kind = lay["kind"]
        if kind == "LSTM":
            u = lay["units"]
            k = rng.standard_normal((n_in, 4 * u), dtype=np.float32) * np.float32(1 / np.sqrt(n_in))
            r = rng.standard_normal((u, 4 * u), dtype=np.float32) * np.float32(1 / np.sqrt(u))
            b = rng.standard_normal(4 * u, dtype=np.float32) * np.float32(0.1)
            b[u : 2 * u] += 1.0  # unit_forget_bias
            out[lay["name"]] = [k, r, b]
            n_in = u
        elif kind == "Dense":
            u = lay["units"]
            k = rng.standard_normal((n_in, u), dtype=np.float32) * np.float32(1 / np.sqrt(n_in))
            out[lay["name"]] = [k, rng.standard_normal(u, dtype=np.float32) * np.float32(0.1)]
            n_in = u
        elif kind == "Embedding":
            out[lay["name"]] = [
                rng.standard_normal((lay["input_dim"], lay["output_dim"]), dtype=np.float32) * np.float32(0.5)
            ]
            n_in = lay["output_dim"]
        else:  # pragma: no cover - harness misuse
            raise ValueError(kind)
    return out


# ------------------------------------------------------------------------------------------ h5py writer


def _layer_config(lay: dict, spec: dict) -> dict:
    kind = lay["kind"]
    cfg: dict = {"name": lay["name"], "trainable": True, "dtype": "float32"}
    if kind == "LSTM":
        cfg.update(
            units=lay["units"],
            activation="tanh",
            recurrent_activation="sigmoid",
            use_bias=True,
            return_sequences=bool(lay.get("return_sequences", False)),
            return_state=False,
            go_backwards=False,
            stateful=False,
            unroll=False,
            time_major=False,
            unit_forget_bias=True,
            dropout=0.0,
            recurrent_dropout=0.0,
            implementation=2,
        )
    elif kind == "Dense":
        cfg.update(units=lay["units"], activation=lay.get("activation", "linear"), use_bias=True)
    elif kind == "Embedding":
        cfg.update(
            input_dim=lay["input_dim"],
            output_dim=lay["output_dim"],
            mask_zero=False,
            input_length=None,
            batch_input_shape=[None, *spec["input_shape"]],
        )
    return {"class_name": kind, "config": cfg}


def write_h5(path: Path, spec: dict, weights: dict[str, list[np.ndarray]]) -> None:
    """A tf.keras 2.x full-model `.h5` (KERAS_FORMATS §2/§3 layout) written with h5py only."""
    import h5py

    names = {
        "LSTM": ("lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias"),
        "Dense": ("kernel", "bias"),
        "Embedding": ("embeddings",),
    }
    layers = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, *spec["input_shape"]],
                "dtype": spec["input_dtype"],
                "sparse": False,
                "ragged": False,
                "name": "input_1",
            },
        }
    ]
    layers += [_layer_config(lay, spec) for lay in spec["layers"]]
    model_config = {"class_name": "Sequential", "config": {"name": spec["name"], "layers": layers}}
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["keras_version"] = H5_KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([lay["name"].encode() for lay in spec["layers"]])
        g.attrs["backend"] = "tensorflow"
        g.attrs["keras_version"] = H5_KERAS_VERSION
        for lay in spec["layers"]:
            lg = g.create_group(lay["name"])
            wnames = [f"{lay['name']}/{n}:0" for n in names[lay["kind"]]]
            lg.attrs["weight_names"] = np.array([n.encode() for n in wnames])
            for n, value in zip(wnames, weights[lay["name"]]):
                lg.create_dataset(n, data=value)
        g.create_group("top_level_model_weights")
    tmp.replace(path)


# ------------------------------------------------------------------------------------------ files


@dataclass(frozen=True)
class ModelFiles:
    """One benchmark model: its `.h5` (always) and `.keras` (when Keras made it), plus how it was made."""

    name: str
    h5: str
    keras: str | None
    made_by: str  # 'sample', 'keras', 'h5py'
    vocabulary: list[str] | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def child_env(threads: int) -> dict[str, str]:
    """The environment of every benchmark subprocess: identical thread settings on both sides."""
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    ):
        env[var] = str(threads)
    env["BENCH_THREADS"] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def ensure(spec: dict, cache: Path, *, use_keras: bool, threads: int, log) -> ModelFiles:
    """The files of `spec` in `cache`, generated when missing (with Keras when `use_keras`)."""
    cache.mkdir(parents=True, exist_ok=True)
    h5 = cache / f"{spec['name']}.h5"
    kf = cache / f"{spec['name']}.keras"
    if use_keras:
        if not (h5.is_file() and kf.is_file()):
            log(f"generating {spec['name']} with Keras (.h5 via tf_keras, .keras via Keras 3) ...")
            spec_path = cache / f"{spec['name']}.spec.json"
            spec_path.write_text(json.dumps(spec))
            subprocess.run(
                [sys.executable, "-m", "bench.keras_side", "generate", str(spec_path), str(h5), str(kf)],
                check=True,
                env=child_env(threads),
                cwd=REPO,
            )
        return ModelFiles(spec["name"], str(h5), str(kf), "keras")
    h5 = cache / f"{spec['name']}.h5py.h5"
    if not h5.is_file():
        log(f"writing {spec['name']} with h5py (no Keras) ...")
        write_h5(h5, spec, spec_weights(spec))
    return ModelFiles(spec["name"], str(h5), None, "h5py")


def classic_model(s: Sizes, cache: Path, *, use_keras: bool, threads: int, log) -> ModelFiles:
    """The sample text model (resources/samples/classic.*) or, when absent, a same-shaped random one."""
    kf, h5, vocab = SAMPLES / "classic.keras", SAMPLES / "classic.h5", SAMPLES / "classic.vocab.json"
    if kf.is_file() and h5.is_file() and vocab.is_file():
        return ModelFiles(
            "classic (resources/samples)",
            str(h5),
            str(kf),
            "sample",
            json.loads(vocab.read_text(encoding="utf-8")),
        )
    return ensure(random_classic_spec(s), cache, use_keras=use_keras, threads=threads, log=log)


def classic_text(n: int) -> str:
    """n characters of the sample corpus (or a fixed pangram loop when it is absent)."""
    corpus = SAMPLES / "shakespeare.txt"
    text = corpus.read_text(encoding="utf-8") if corpus.is_file() else ""
    if len(text) < n:
        text = (text + " the quick brown fox jumps over the lazy dog.") * (n // 40 + 2)
    start = len(text) // 3 if len(text) > 3 * n else 0
    return text[start : start + n]


def classic_input(model: ModelFiles, n: int, n_features: int) -> tuple[np.ndarray, str | None]:
    """(1, n, V) one-hot float32 input for the classic model, and the text it encodes (None: random ids)."""
    x = np.zeros((1, n, n_features), dtype=np.float32)
    if model.vocabulary and len(model.vocabulary) == n_features:
        vocab = model.vocabulary
        index = {c: k for k, c in enumerate(vocab)}
        lowered = classic_text(n * 2).lower()
        chars = [c for c in lowered if c in index][:n]
        text = "".join(chars)
        if len(chars) == n:
            x[0, np.arange(n), [index[c] for c in chars]] = 1.0
            return x, text
    ids = np.random.default_rng(1).integers(0, n_features, n)
    x[0, np.arange(n), ids] = 1.0
    return x, None


def large_input(s: Sizes) -> np.ndarray:
    return np.random.default_rng(2).standard_normal((1, s.large_steps, s.large_features), dtype=np.float32)
