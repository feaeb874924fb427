"""Fixtures for the app-layer tests: tiny models written with h5py (no Keras, no Qt), and the Keras oracles
(tests/app/keras_oracle.py for export / attribution / interventions, tests/app/text_oracle.py for the text
tests), each run once per flavor in a subprocess and cached under tests/.generated/ by a hash of the script:
TensorFlow never enters the pytest process."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
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
GENERATED = Path(os.environ.get("INSPECTOR_GENERATED", HERE.parent / ".generated"))
TEXT_ORACLE = HERE / "text_oracle.py"
TEXT_NEEDS = {"tf_keras": ("tensorflow", "tf_keras"), "keras3": ("tensorflow", "keras")}


def _run_oracles() -> dict[str, tuple[Path, str | None]]:
    digest = hashlib.sha256(TEXT_ORACLE.read_bytes()).hexdigest()[:12]
    todo: dict[str, subprocess.Popen[bytes]] = {}
    result: dict[str, tuple[Path, str | None]] = {}
    for flavor, mods in TEXT_NEEDS.items():
        out = GENERATED / "text" / f"{flavor}-{digest}"
        result[flavor] = (out, None)
        if (out / "manifest.json").is_file():
            continue
        missing = [m for m in mods if importlib.util.find_spec(m) is None]
        if missing:
            result[flavor] = (out, f"skip: {', '.join(missing)} not installed")
            continue
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
        todo[flavor] = subprocess.Popen(
            [sys.executable, str(TEXT_ORACLE), flavor, str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    for flavor, proc in todo.items():
        log, _ = proc.communicate(timeout=1200)
        if proc.returncode != 0:
            result[flavor] = (result[flavor][0], log.decode(errors="replace")[-2000:])
    return result


_CACHE: dict[str, tuple[Path, str | None]] = {}


def text_oracle(flavor: str) -> tuple[Path, dict[str, Any]]:
    if not _CACHE:
        _CACHE.update(_run_oracles())
    out, err = _CACHE[flavor]
    if err is not None and err.startswith("skip:"):
        pytest.skip(err)
    if err is not None:
        pytest.fail(f"Keras oracle {flavor} failed:\n{err}", pytrace=False)
    return out, json.loads((out / "manifest.json").read_text(encoding="utf8"))


@pytest.fixture(scope="session")
def tfk() -> tuple[Path, dict[str, Any]]:
    return text_oracle("tf_keras")


@pytest.fixture(scope="session")
def k3() -> tuple[Path, dict[str, Any]]:
    return text_oracle("keras3")


# --- the Keras oracle of the export / attribution / intervention tests (tests/app/keras_oracle.py)
ORACLE = HERE / "keras_oracle.py"
PARITY = HERE.parent / "parity" / "generate.py"
NEEDS = {"tf_keras": ("tensorflow", "tf_keras"), "keras3": ("tensorflow", "keras")}
FLAVORS = ("tf_keras", "keras3")


def oracle_hash() -> str:
    h = hashlib.sha256(ORACLE.read_bytes() + PARITY.read_bytes())
    return h.hexdigest()[:16]


class Oracle:
    """One flavor's oracle output: `path(case)`, `arrays(case)`, or a skip/failure reason."""

    def __init__(self, flavor: str, root: Path, error: str | None = None) -> None:
        self.flavor, self.root, self.error = flavor, root, error
        m = root / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(m.read_text()) if m.is_file() and not error else {}

    def require(self, case: str) -> dict[str, Any]:
        if self.error:
            pytest.skip(self.error) if self.error.startswith("skip:") else pytest.fail(self.error)
        if case in self.manifest.get("failures", {}):
            pytest.fail(f"Keras itself failed on {case}:\n{self.manifest['failures'][case]}")
        if case not in self.manifest.get("cases", {}):
            pytest.skip(f"{case} is not generated for {self.flavor}")
        return self.manifest["cases"][case]

    def path(self, case: str) -> Path:
        return self.root / self.require(case)["file"]

    def arrays(self, case: str) -> dict[str, np.ndarray]:
        self.require(case)
        with np.load(self.root / f"{case}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def oracle(generated_dir: Path) -> dict[str, Oracle]:
    """Run (or reuse) the oracle for both flavors, in parallel subprocesses."""
    key = oracle_hash()
    out: dict[str, Oracle] = {}
    procs = {}
    for flavor in FLAVORS:
        root = generated_dir / "app_oracle" / f"{flavor}-{key}"
        missing = [m for m in NEEDS[flavor] if importlib.util.find_spec(m) is None]
        if missing:
            out[flavor] = Oracle(flavor, root, f"skip: {'/'.join(missing)} not importable")
            continue
        if (root / "manifest.json").is_file():
            continue
        root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
        log = open(root / "oracle.log", "w")  # noqa: SIM115 - closed below
        cmd = [sys.executable, str(ORACLE), "--flavor", flavor, "--out", str(root)]
        procs[flavor] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log, root)
    for flavor, (proc, log, root) in procs.items():
        rc = proc.wait(timeout=1800)
        log.close()
        if rc != 0:
            tail = (root / "oracle.log").read_text(errors="replace")[-1500:]
            out[flavor] = Oracle(flavor, root, f"Keras oracle for {flavor} exited {rc}:\n{tail}")
    for flavor in FLAVORS:
        out.setdefault(flavor, Oracle(flavor, generated_dir / "app_oracle" / f"{flavor}-{key}"))
    return out
