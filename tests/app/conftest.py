"""Fixtures for the app-layer tests: tiny models written with h5py (no Keras, no Qt), and the Keras oracles
(tests/app/keras_oracle.py for export / attribution / interventions, tests/app/text_oracle.py for the text
tests), each run once per flavor by tests/oracle.py (fixture `keras_oracle`) in a subprocess and cached under
tests/.generated/ by a hash of the script: TensorFlow never enters the pytest process."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import h5py
import numpy as np
import pytest

VOCAB = list("abc ().")
UNITS = 3


def _config(kind: str, input_shape: list, extra: list | None = None) -> dict:
    rnn = {
        "name": kind.lower(),
        "units": UNITS,
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "use_bias": True,
        "return_sequences": False,
        "go_backwards": False,
        "return_state": False,
        "stateful": False,
        "unroll": False,
        "time_major": False,
    }
    if kind == "GRU":
        rnn["reset_after"] = True
    layers = [
        {
            "class_name": "InputLayer",
            "config": {"batch_input_shape": input_shape, "dtype": "float32", "name": "in"},
        },
        {"class_name": kind, "config": rnn},
        {"class_name": "Dense", "config": {"name": "dense", "units": len(VOCAB), "activation": "softmax"}},
    ]
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers + (extra or [])}}


def write_model(
    path: Path, kind: str = "LSTM", *, features: int = len(VOCAB), weights_only: bool = False
) -> Path:
    """A tf.keras-2 legacy .h5 with one recurrent layer and a softmax Dense; seeded weights."""
    rng = np.random.default_rng(0)
    n = {"LSTM": 4, "GRU": 3}[kind]
    arrays = {
        kind.lower(): {
            "kernel:0": rng.normal(0, 0.5, (features, n * UNITS)),
            "recurrent_kernel:0": rng.normal(0, 0.5, (UNITS, n * UNITS)),
            "bias:0": rng.normal(0, 0.1, (2, n * UNITS) if kind == "GRU" else (n * UNITS,)),
        },
        "dense": {"kernel:0": rng.normal(0, 0.5, (UNITS, len(VOCAB))), "bias:0": np.zeros(len(VOCAB))},
    }
    cfg = _config(kind, [None, None, features])
    with h5py.File(path, "w") as f:
        root = f if weights_only else f.create_group("model_weights")
        if not weights_only:
            f.attrs["model_config"] = json.dumps(cfg)
            f.attrs["keras_version"] = "2.15.0"
            f.attrs["backend"] = "tensorflow"
        root.attrs["layer_names"] = np.array([k.encode() for k in arrays])
        root.attrs["keras_version"] = "2.15.0"
        root.attrs["backend"] = "tensorflow"
        for layer, ws in arrays.items():
            g = root.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{layer}/{w}".encode() for w in ws])
            for w, v in ws.items():
                g.create_dataset(f"{layer}/{w}", data=v.astype(np.float32))
    if weights_only:
        path.with_name(path.name.split(".", 1)[0] + ".arch.json").write_text(json.dumps(cfg))
    (path.parent / "vocab.json").write_text(json.dumps(VOCAB))
    return path


@pytest.fixture
def lstm_file(tmp_path: Path) -> Path:
    return write_model(tmp_path / "lstm.h5")


@pytest.fixture
def models() -> SimpleNamespace:
    """`models.write(path, kind, features=, weights_only=)`, `models.VOCAB`, `models.UNITS`."""
    return SimpleNamespace(write=write_model, VOCAB=VOCAB, UNITS=UNITS)


HERE = Path(__file__).resolve().parent
TEXT_ORACLE = HERE / "text_oracle.py"


@pytest.fixture(scope="session")
def text_oracles(keras_oracle: ModuleType, generated_dir: Path) -> dict[str, Any]:
    """tests/app/text_oracle.py, both flavours (tests/oracle.py runs it once, cached by hash)."""
    return keras_oracle.run("text", TEXT_ORACLE, generated_dir)


def _text(runs: dict[str, Any], flavor: str) -> tuple[Path, dict[str, Any]]:
    out = runs[flavor].folder()
    return out, json.loads((out / "manifest.json").read_text(encoding="utf8"))


@pytest.fixture(scope="session")
def tfk(text_oracles: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    return _text(text_oracles, "tf_keras")


@pytest.fixture(scope="session")
def k3(text_oracles: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    return _text(text_oracles, "keras3")


# --- the Keras oracle of the export / attribution / intervention tests (tests/app/keras_oracle.py)
ORACLE = HERE / "keras_oracle.py"
PARITY = HERE.parent / "parity" / "generate.py"


class Oracle:
    """One flavor's oracle output: `path(case)`, `arrays(case)`, or a skip/failure reason."""

    def __init__(self, run: Any) -> None:
        self.run, self.flavor = run, run.flavor
        m = run.out / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(m.read_text()) if m.is_file() and not run.error else {}

    def require(self, case: str) -> dict[str, Any]:
        self.run.folder()  # skips or fails the test when the oracle did not run
        if case in self.manifest.get("failures", {}):
            pytest.fail(f"Keras itself failed on {case}:\n{self.manifest['failures'][case]}")
        if case not in self.manifest.get("cases", {}):
            pytest.skip(f"{case} is not generated for {self.flavor}")
        return self.manifest["cases"][case]

    def path(self, case: str) -> Path:
        return self.run.out / self.require(case)["file"]

    def arrays(self, case: str) -> dict[str, np.ndarray]:
        self.require(case)
        with np.load(self.run.out / f"{case}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def oracle(keras_oracle: ModuleType, generated_dir: Path) -> dict[str, Oracle]:
    """tests/app/keras_oracle.py for both flavors (run once, in parallel subprocesses, cached by hash)."""
    full = (
        os.environ.get("INSPECTOR_FULL_ORACLE") == "1"
    )  # keras_oracle.FULL_ENV: every case, not the default set

    def args(flavor: str, out: Path) -> list[str]:
        return ["--flavor", flavor, "--out", str(out), *(["--full"] if full else [])]

    runs = keras_oracle.run(
        "app_oracle", ORACLE, generated_dir, args=args, reads=(PARITY,), extra_key="full" if full else ""
    )
    return {flavor: Oracle(run) for flavor, run in runs.items()}
