"""The Keras side of the benchmark (imports TensorFlow; never imported by our own measurements).

`python -m bench.keras_side generate SPEC.json OUT.h5 OUT.keras` builds a model from a bench spec
with the same deterministic weights twice: tf_keras -> `.h5` (Keras 2 HDF5), Keras 3 -> `.keras`.
`python -m bench.keras_side serve` times `model.predict` (see bench.protocol).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from bench.models import spec_weights
from bench.protocol import serve


def _threads() -> None:
    import tensorflow as tf

    n = int(os.environ.get("BENCH_THREADS", "0") or 0)
    if n > 0:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


def build(k, spec: dict):
    """The spec as a Sequential of module `k` (keras or tf_keras)."""
    layers = [k.Input(shape=tuple(spec["input_shape"]), dtype=spec["input_dtype"])]
    for lay in spec["layers"]:
        kind = lay["kind"]
        if kind == "LSTM":
            layers.append(
                k.layers.LSTM(
                    lay["units"], return_sequences=bool(lay.get("return_sequences")), name=lay["name"]
                )
            )
        elif kind == "Dense":
            layers.append(k.layers.Dense(lay["units"], activation=lay.get("activation"), name=lay["name"]))
        elif kind == "Embedding":
            layers.append(k.layers.Embedding(lay["input_dim"], lay["output_dim"], name=lay["name"]))
        else:
            raise ValueError(kind)
    return k.Sequential(layers, name=spec["name"][:60])


def generate(spec_path: str, h5_path: str, keras_path: str) -> None:
    spec = json.loads(open(spec_path).read())
    weights = spec_weights(spec)
    flat = [w for lay in spec["layers"] for w in weights[lay["name"]]]
    _threads()
    import keras
    import tf_keras

    for mod, path in ((tf_keras, h5_path), (keras, keras_path)):
        model = build(mod, spec)
        model.set_weights(flat)
        tmp = path + ".tmp" + os.path.splitext(path)[1]
        model.save(tmp)
        os.replace(tmp, path)
        print(
            f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB) with {mod.__name__} {mod.__version__}",
            file=sys.stderr,
        )


class _Keras:
    def __init__(self) -> None:
        self.cases: dict[str, tuple[object, np.ndarray]] = {}

    def setup(self, req: dict) -> dict:
        _threads()
        if req["flavour"] == "tf_keras":
            import tf_keras as k

            model = k.models.load_model(req["model"], compile=False)
        else:
            import keras as k

            model = k.saving.load_model(req["model"], compile=False)
        x = np.load(req["input"])
        t0 = time.perf_counter()
        y = model.predict(x, verbose=0, batch_size=len(x))
        first = time.perf_counter() - t0
        for _ in range(int(req.get("warmup", 2))):
            model.predict(x, verbose=0, batch_size=len(x))
        np.save(req["out"], np.asarray(y, dtype=np.float32))
        self.cases[req["case"]] = (model, x)
        return {"first_s": first, "version": k.__version__}

    def time(self, req: dict) -> dict:
        model, x = self.cases[req["case"]]
        t0 = time.perf_counter()
        model.predict(x, verbose=0, batch_size=len(x))  # type: ignore[attr-defined]
        return {"t": time.perf_counter() - t0}

    def versions(self, _req: dict) -> dict:
        import keras
        import tensorflow as tf
        import tf_keras

        return {"tensorflow": tf.__version__, "keras": keras.__version__, "tf_keras": tf_keras.__version__}


def main(argv: list[str]) -> None:
    if argv[0] == "generate":
        generate(*argv[1:4])
    elif argv[0] == "serve":
        k = _Keras()
        serve({"setup": k.setup, "time": k.time, "versions": k.versions})


if __name__ == "__main__":
    main(sys.argv[1:])
