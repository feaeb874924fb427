"""Shared by the training scripts: save one trained sample in both Keras flavours, plus its vocabulary.

A sample is trained once with Keras 3 and saved as `<stem>.keras`.  Its weights are then handed, via
a temporary `.npz`, to a subprocess running with `TF_USE_LEGACY_KERAS=1` (tf_keras 2.x), which builds
the identical architecture, calls `set_weights` and writes `<stem>.h5` (legacy Keras 2 HDF5).  Each
flavour then loads its own file back and predicts on the same probe input; the two must agree, and
`<stem>.reference.npz` keeps the probe (`x`) and what each Keras returned (`keras3`, `tf_keras`) so
the tests can check the inspector's engine against real Keras without importing TensorFlow.

Re-export an already trained sample (e.g. after changing this file) without retraining:
`python resources/samples/sample_export.py classic`.

Needs TensorFlow, Keras 3 and tf_keras (the project's `test` extras); the app itself never does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def quiet_tensorflow() -> None:
    """Less log noise, and at most 2 threads (the machine is shared)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("OMP_NUM_THREADS", "2")


def write_vocabulary(stem: str, symbols: list[str]) -> Path:
    """`<stem>.vocab.json`: the symbols in one-hot column order (a JSON list of strings)."""
    path = HERE / f"{stem}.vocab.json"
    path.write_text(json.dumps(symbols, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def export_both(stem: str, model, script: Path, probe: np.ndarray) -> None:
    """Save `model` (Keras 3) as `<stem>.keras`, and through a tf_keras subprocess as `<stem>.h5`.

    `script` must call `write_h5_from_argv(build)` when started as
    `script --write-h5 WEIGHTS.npz OUT.h5`.  `probe` is an input both files must agree on.
    """
    import keras

    keras_path = HERE / f"{stem}.keras"
    h5_path = HERE / f"{stem}.h5"
    model.save(keras_path)
    expected = np.asarray(keras.saving.load_model(keras_path).predict(probe, verbose=0))
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "weights.npz"
        np.savez(npz, *model.get_weights())
        probe_path = Path(tmp) / "probe.npy"
        np.save(probe_path, probe)
        out_path = Path(tmp) / "out.npy"
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
        args = [str(script), "--write-h5", str(npz), str(h5_path), str(probe_path), str(out_path)]
        subprocess.run([sys.executable, *args], check=True, env=env)
        got = np.load(out_path)
    np.savez(HERE / f"{stem}.reference.npz", x=probe.astype(np.float32), keras3=expected, tf_keras=got)
    err = float(np.max(np.abs(got - expected)))
    print(
        f"wrote {keras_path.name} ({keras_path.stat().st_size} B) and {h5_path.name} "
        f"({h5_path.stat().st_size} B); max |keras3 - tf_keras| on the probe = {err:.2e}"
    )
    if err > 1e-5:
        raise SystemExit(f"the two flavours disagree ({err})")


def write_h5_from_argv(build: Callable) -> bool:
    """In the tf_keras subprocess: rebuild, load the weights, save `.h5`, predict the probe.

    Returns False (doing nothing) unless the script was started with `--write-h5`.
    """
    if len(sys.argv) < 2 or sys.argv[1] != "--write-h5":
        return False
    npz, h5_path, probe_path, out_path = sys.argv[2:6]
    import tensorflow as tf

    keras = tf.keras  # tf_keras, because TF_USE_LEGACY_KERAS=1
    if "tf_keras" not in type(keras).__module__ + keras.__name__:
        raise SystemExit(f"expected tf.keras to be tf_keras (TF_USE_LEGACY_KERAS=1), got {keras.__name__}")
    model = build(keras)
    with np.load(npz) as data:
        model.set_weights([data[f"arr_{i}"] for i in range(len(data.files))])
    model.save(h5_path, save_format="h5")
    reloaded = keras.models.load_model(h5_path, compile=False)
    np.save(out_path, np.asarray(reloaded.predict(np.load(probe_path), verbose=0)))
    return True


def reexport(stem: str) -> None:
    """Write `<stem>.h5` and `<stem>.reference.npz` again from the trained `<stem>.keras`."""
    import importlib

    quiet_tensorflow()
    import keras

    script = importlib.import_module(f"train_{stem}")
    model = keras.saving.load_model(HERE / f"{stem}.keras", compile=False)
    export_both(stem, model, Path(script.__file__), script.probe())


if __name__ == "__main__":
    reexport(sys.argv[1])
