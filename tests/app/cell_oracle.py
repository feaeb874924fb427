"""Keras oracle for tests/app/test_cell.py: tiny tf_keras recurrent models and what Keras computes.

    python cell_oracle.py OUT_DIR

Run in a subprocess (TensorFlow never enters the pytest process).  For each case it writes
OUT_DIR/<case>.h5 (model.save, legacy HDF5), and OUT_DIR/<case>.npz with the input `x`, the raw
weights as Keras holds them (`kernel`, `recurrent_kernel`, `bias`) and, for every prefix length
t+1, Keras' own states after step t: `h` (B, T, u) and, for LSTM, `c` (B, T, u).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

CASES = {
    # name: (layer class, units, extra config)
    "lstm": ("LSTM", 5, {}),
    "lstm_hard": ("LSTM", 3, {"recurrent_activation": "hard_sigmoid"}),
    "gru_after": ("GRU", 4, {"reset_after": True}),
    "gru_before": ("GRU", 4, {"reset_after": False, "recurrent_activation": "hard_sigmoid"}),
    "rnn": ("SimpleRNN", 3, {}),
}
T, D, B = 6, 3, 2


def main(out: Path) -> None:
    import numpy as np
    import tf_keras as keras

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1.0, (B, T, D)).astype(np.float32)
    for name, (cls, units, extra) in CASES.items():
        keras.utils.set_random_seed(3)
        inp = keras.Input((None, D))
        layer = getattr(keras.layers, cls)(
            units, return_sequences=True, return_state=True, name=name, **extra
        )
        outs = layer(inp)
        model = keras.Model(inp, outs)
        weights = layer.get_weights()
        # non-zero biases, so the bias term is visible in the decomposition
        weights[2] = (weights[2] + rng.normal(0, 0.3, weights[2].shape)).astype(np.float32)
        layer.set_weights(weights)
        model.save(out / f"{name}.h5", save_format="h5")
        hs = np.zeros((B, T, units), np.float32)
        cs = np.zeros((B, T, units), np.float32)
        for t in range(T):
            res = model.predict(x[:, : t + 1], verbose=0)
            hs[:, t] = res[1]
            if cls == "LSTM":
                cs[:, t] = res[2]
        np.savez(
            out / f"{name}.npz",
            x=x,
            kernel=weights[0],
            recurrent_kernel=weights[1],
            bias=weights[2],
            h=hs,
            c=cs,
        )
    (out / "done").write_text("ok")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
