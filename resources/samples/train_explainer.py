"""Train the 'explainer' sample: a tiny LSTM that must count bracket depth, and does it in one unit.

The language: letters and round brackets, always balanced, '.' ends an expression, e.g.
`a(b(c)a)(b).((a))c.`  The text is produced by a random process whose next-character probabilities
depend only on the current nesting depth d (0..MAX_DEPTH):

* ')' can only follow when d > 0, and gets likelier the deeper we are;
* '.' can only follow when d == 0;  '(' never when d == MAX_DEPTH.

So a model that predicts the next character well has to know the depth exactly, and the natural way
for an LSTM to do that is a counter: one unit whose cell state goes up by a fixed amount on '(' and
down on ')'.  This script trains `Input(None, 6) -> LSTM(8) -> Dense(6, softmax)` (trained with a
target at every position, shipped returning the last step, like the classic sample), then measures,
for every unit, the correlation of its cell state with the true depth, and prints the best one.

Writes explainer.keras (Keras 3), explainer.h5 (tf_keras 2.x HDF5) and explainer.vocab.json.
Run: `python resources/samples/train_explainer.py` (needs tensorflow, keras 3, tf_keras).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import sample_export

VOCAB = [".", "(", ")", "a", "b", "c"]
MAX_DEPTH = 8
UNITS = 8
SEQ_LEN = 80
SEED = 7


def next_char_probs(depth: int) -> np.ndarray:
    """The true next-character distribution at nesting depth `depth` (over VOCAB)."""
    frac = depth / MAX_DEPTH
    p_open = 0.0 if depth == MAX_DEPTH else 0.35 * (1.0 - 0.6 * frac)
    p_close = 0.0 if depth == 0 else 0.15 + 0.45 * frac
    p_end = 0.2 if depth == 0 else 0.0
    p_letter = (1.0 - p_open - p_close - p_end) / 3.0
    return np.array([p_end, p_open, p_close, p_letter, p_letter, p_letter])


def generate(n: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A stream of n characters starting at depth 0, and the depth *after* each character."""
    chars, depths, d = [], np.zeros(n, np.int32), 0
    table = [next_char_probs(k) for k in range(MAX_DEPTH + 1)]
    for t in range(n):
        ch = VOCAB[rng.choice(len(VOCAB), p=table[d])]
        d += {"(": 1, ")": -1}.get(ch, 0)
        chars.append(ch)
        depths[t] = d
    return "".join(chars), depths


def one_hot(text: str) -> np.ndarray:
    out = np.zeros((len(text), len(VOCAB)), np.float32)
    out[np.arange(len(text)), [VOCAB.index(ch) for ch in text]] = 1.0
    return out


def dataset(n_seq: int, rng: np.random.Generator):
    """Inputs (n, L, V), next-char targets (n, L), depths after each input char (n, L)."""
    xs, ys, ds = [], [], []
    for _ in range(n_seq):
        text, depth = generate(SEQ_LEN + 1, rng)
        xs.append(one_hot(text[:-1]))
        ys.append([VOCAB.index(ch) for ch in text[1:]])
        ds.append(depth[:-1])
    return np.stack(xs), np.array(ys, np.int32), np.stack(ds)


def probe() -> np.ndarray:
    """(3, 40, vocab): three bracket strings, the last one reaching depth 5."""
    texts = ["a(b(c)a)(b).((a))c.(a", "((((a))b)c).a(b)c.(b(", "(((((a)))))b(((c)))."]
    return np.stack([one_hot(t.ljust(40, "a")[:40]) for t in texts])


def build(keras, return_sequences: bool = False):
    """The shipped architecture (return_sequences=False) or its training twin (True)."""
    return keras.Sequential(
        [
            keras.Input(shape=(None, len(VOCAB)), name="chars"),
            keras.layers.LSTM(UNITS, return_sequences=return_sequences, name="lstm"),
            keras.layers.Dense(len(VOCAB), activation="softmax", name="next_char"),
        ],
        name="bracket_depth_lstm",
    )


def cell_states(keras, model, x: np.ndarray) -> np.ndarray:
    """(n, L, units) LSTM cell state after every step, via return_state on a copy of the layer."""
    lstm = model.get_layer("lstm")
    twin = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    inp = keras.Input(shape=(None, len(VOCAB)))
    probe = keras.Model(inp, twin(inp))
    twin.set_weights(lstm.get_weights())
    cs = []
    for t in range(1, x.shape[1] + 1):  # c after step t = final state of the prefix of length t
        cs.append(np.asarray(probe.predict(x[:, :t], verbose=0)[2]))
    return np.stack(cs, axis=1)


def main() -> None:
    sample_export.quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, y, _ = dataset(4000, rng)
    vx, vy, vd = dataset(200, np.random.default_rng(1))
    # entropy of the true process = the best achievable loss
    probs = np.stack([next_char_probs(k) for k in range(MAX_DEPTH + 1)])
    ent = -(probs * np.log(np.where(probs > 0, probs, 1.0))).sum(axis=1)
    print(f"optimal loss on the validation set: {ent[vd].mean():.4f} nats/char")

    trainer = build(keras, return_sequences=True)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    t0 = time.perf_counter()
    for epoch, lr in enumerate([1e-2] * 12 + [3e-3] * 8 + [1e-3] * 5, start=1):
        trainer.optimizer.learning_rate.assign(lr)
        hist = trainer.fit(x, y, batch_size=64, epochs=1, verbose=0, validation_data=(vx, vy))
        print(
            f"epoch {epoch:2d}  lr {lr:.0e}  loss {hist.history['loss'][-1]:.4f}  "
            f"val_loss {hist.history['val_loss'][-1]:.4f}  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )

    model = build(keras)
    model.set_weights(trainer.get_weights())

    c = cell_states(keras, model, vx[:100])
    depth = vd[:100].reshape(-1)
    corr = [float(np.corrcoef(c[..., u].reshape(-1), depth)[0, 1]) for u in range(UNITS)]
    best = int(np.argmax(np.abs(corr)))
    print(
        "correlation of each unit's cell state with bracket depth:",
        " ".join(f"{u}:{r:+.3f}" for u, r in enumerate(corr)),
    )
    print(f"depth unit: {best} (r = {corr[best]:+.4f})")
    per_depth = [
        float(c[..., best].reshape(-1)[depth == d].mean()) for d in range(MAX_DEPTH + 1) if (depth == d).any()
    ]
    print("mean cell state of that unit by depth:", " ".join(f"{v:+.2f}" for v in per_depth))

    sample_export.write_vocabulary("explainer", VOCAB)
    sample_export.export_both("explainer", model, Path(__file__), probe())


if __name__ == "__main__":
    if not sample_export.write_h5_from_argv(build):
        main()
