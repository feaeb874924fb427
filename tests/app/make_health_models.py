"""Keras oracle for the health and diff tests: tiny tf_keras models with planted faults, and a short real
run with ModelCheckpoint.  Imports TensorFlow, so it only ever runs in a subprocess (tests/oracle.py)::

    python tests/app/make_health_models.py OUT_DIR

Writes into OUT_DIR:

* healthy.h5: LSTM(8, return_sequences) -> Dense(3), input (None, None, 5); healthy.keras: the same model
  re-saved in the Keras 3 format (by tf_keras' own .keras writer);
* nan.h5 (recurrent_kernel[1, f-gate unit 3] = NaN), dead.h5 (unit 5: recurrent-kernel row and Dense
  kernel row zero), shut.h5 (input-gate bias of unit 2 = -20);
* stacked_dead.h5: LSTM(6) -> Dropout -> GRU(4) -> TimeDistributed(Dense(2)), LSTM unit 1 dead (its
  recurrent row and the GRU kernel row zero);
* bidi_dead.h5: Bidirectional(LSTM(4), concat) -> Dense(2), backward unit 2 dead (rows 4+2 of Dense);
* other_arch.h5: GRU(8) -> Dense(3) (for the architecture-mismatch message);
* hard.h5: LSTM(4, recurrent_activation='hard_sigmoid') -> Dense(3), forget-gate bias of unit 1 = +20;
* ckpt/weights.{epoch:02d}.h5: 3 epochs of real training of the healthy model (ModelCheckpoint);
* preds.npz: `x` (2, 9, 5) and `y1`..`y3`, what model.predict(x) returns for each checkpoint;
* weights.npz: `<file>/<i>` = model.get_weights()[i] of every model above, as Keras holds them;
* done.json when everything was written.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np


def main(out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras as keras

    keras.utils.set_random_seed(7)
    out.mkdir(parents=True, exist_ok=True)
    weights: dict[str, np.ndarray] = {}

    def save(model, name: str) -> None:
        model.save(out / name)
        for i, w in enumerate(model.get_weights()):
            weights[f"{name}/{i}"] = w

    def base(units: int = 8, cell=None):
        cell = cell or keras.layers.LSTM
        return keras.Sequential(
            [
                keras.layers.Input((None, 5)),
                cell(units, return_sequences=True, name="rnn"),
                keras.layers.Dense(3, name="out"),
            ]
        )

    healthy = base()
    save(healthy, "healthy.h5")
    healthy.save(out / "healthy.keras")

    def variant(name: str, change) -> None:
        m = base()
        m.set_weights(healthy.get_weights())
        ws = m.get_weights()  # kernel, recurrent_kernel, bias, dense kernel, dense bias
        change(ws)
        m.set_weights(ws)
        save(m, name)

    def nan(ws):
        ws[1][1, 8 + 3] = np.nan

    def dead(ws):
        ws[1][5, :] = 0.0
        ws[3][5, :] = 0.0

    def shut(ws):
        ws[2][2] = -20.0

    variant("nan.h5", nan)
    variant("dead.h5", dead)
    variant("shut.h5", shut)

    stacked = keras.Sequential(
        [
            keras.layers.Input((None, 5)),
            keras.layers.LSTM(6, return_sequences=True, name="lstm_a"),
            keras.layers.Dropout(0.1),
            keras.layers.GRU(4, return_sequences=True, name="gru_b"),
            keras.layers.TimeDistributed(keras.layers.Dense(2), name="td"),
        ]
    )
    ws = stacked.get_weights()
    ws[1][1, :] = 0.0  # lstm_a recurrent row of unit 1
    ws[3][1, :] = 0.0  # gru_b kernel row 1
    stacked.set_weights(ws)
    save(stacked, "stacked_dead.h5")

    bidi = keras.Sequential(
        [
            keras.layers.Input((None, 5)),
            keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), name="bi"),
            keras.layers.Dense(2, name="head"),
        ]
    )
    ws = bidi.get_weights()  # fwd k, rk, b, bwd k, rk, b, dense k, b
    ws[4][2, :] = 0.0
    ws[6][4 + 2, :] = 0.0
    bidi.set_weights(ws)
    save(bidi, "bidi_dead.h5")

    save(base(cell=keras.layers.GRU), "other_arch.h5")

    hard = keras.Sequential(
        [
            keras.layers.Input((None, 5)),
            keras.layers.LSTM(4, recurrent_activation="hard_sigmoid", return_sequences=True, name="rnn"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    ws = hard.get_weights()
    ws[2][4 + 1] = 20.0  # forget gate of unit 1 pinned at exactly 1 (clip(0.2 * 20 + 0.5) = 1)
    hard.set_weights(ws)
    save(hard, "hard.h5")

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 5)).astype("float32")
    y = rng.normal(size=(64, 12, 3)).astype("float32")
    model = base()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    (out / "ckpt").mkdir(exist_ok=True)
    cb = keras.callbacks.ModelCheckpoint(str(out / "ckpt" / "weights.{epoch:02d}.h5"))
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    probe = rng.normal(size=(2, 9, 5)).astype("float32")
    preds = {"x": probe}
    for e in (1, 2, 3):
        m = keras.models.load_model(out / "ckpt" / f"weights.{e:02d}.h5", compile=False)
        for i, w in enumerate(m.get_weights()):
            weights[f"ckpt/weights.{e:02d}.h5/{i}"] = w
        preds[f"y{e}"] = m.predict(probe, verbose=0)
    np.savez(out / "preds.npz", **preds)
    np.savez(out / "weights.npz", **weights)
    (out / "done.json").write_text(json.dumps({"ok": True}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
