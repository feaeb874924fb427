"""Train the 'classic' sample: a character-level LSTM in the shape of the Keras text-generation example.

    one-hot window of characters (batch, time, 36) -> LSTM(128) -> Dense(36, softmax)

trained on `shakespeare.txt` (Hamlet + Macbeth, public domain; built by `make_corpus.py`).  The model
takes windows of any length; the Keras example samples with a sliding window of maxlen = 40
characters, and so does this script when it prints generated text.

Training is more efficient than in the example and gives the same weights shape: the LSTM is trained
with `return_sequences=True` on 100-character windows with a next-character target at *every*
position (100 targets per window instead of 1), with dropout between the LSTM and the Dense layer,
then its weights are copied into the shipped model, which returns only the last step.
Writes, next to this file:

    classic.keras       Keras 3 archive
    classic.h5          Keras 2 HDF5 written by tf_keras 2.x (same weights)
    classic.vocab.json  the 36 symbols in one-hot column order

Run: `python resources/samples/train_classic.py [--minutes 12]` (needs tensorflow, keras 3, tf_keras).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import sample_export

HERE = Path(__file__).resolve().parent
TEXT = (HERE / "shakespeare.txt").read_text(encoding="utf-8")
VOCAB = sorted(set(TEXT))
UNITS = 128
MAXLEN = 40  # the sampling window of the Keras example
TRAIN_LEN = 100  # training windows (a target at every position)
DROPOUT = 0.25  # training only: the corpus is small and an LSTM(128) overfits it within minutes
SEED = 1234


def build(keras, training_twin: bool = False):
    """The shipped architecture, or its training twin: all steps returned, dropout before the Dense.

    Dropout has no weights, so `twin.get_weights()` fits the shipped model as is.
    """
    layers = [
        keras.Input(shape=(None, len(VOCAB)), name="chars"),
        keras.layers.LSTM(UNITS, return_sequences=training_twin, name="lstm"),
        keras.layers.Dense(len(VOCAB), activation="softmax", name="next_char"),
    ]
    if training_twin:
        layers.insert(2, keras.layers.Dropout(DROPOUT))
    return keras.Sequential(layers, name="classic_char_lstm")


def one_hot(text: str) -> np.ndarray:
    """(len(text), vocab) float32."""
    index = {ch: i for i, ch in enumerate(VOCAB)}
    out = np.zeros((len(text), len(VOCAB)), np.float32)
    out[np.arange(len(text)), [index[ch] for ch in text]] = 1.0
    return out


def windows(ids: np.ndarray, onehot: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping TRAIN_LEN windows from a random start: inputs (n, L, V), targets (n, L)."""
    start = int(rng.integers(TRAIN_LEN))
    offsets = np.arange(start, len(ids) - TRAIN_LEN - 1, TRAIN_LEN)
    rng.shuffle(offsets)
    idx = offsets[:, None] + np.arange(TRAIN_LEN)[None, :]
    return onehot[idx], ids[idx + 1]


def sample(probs: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    logits = np.log(np.maximum(probs.astype(np.float64), 1e-12)) / temperature
    p = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def generate(model, seed: str, n: int, temperature: float, rng: np.random.Generator) -> str:
    """The Keras example's sampling loop: predict from the last MAXLEN characters, append, repeat."""
    text = seed
    for _ in range(n):
        probs = np.asarray(model(one_hot(text[-MAXLEN:])[None], training=False))[0]
        text += VOCAB[sample(probs, temperature, rng)]
    return text[len(seed) :]


def probe() -> np.ndarray:
    """(2, MAXLEN, vocab): the opening of Hamlet and a line from the held-out end of Macbeth."""
    split = int(len(TEXT) * 0.95)
    return np.stack([one_hot(TEXT[:MAXLEN]), one_hot(TEXT[split : split + MAXLEN])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0, help="training time budget")
    parser.add_argument("--max-epochs", type=int, default=200)
    args = parser.parse_args()

    sample_export.quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    ids = np.array([VOCAB.index(ch) for ch in TEXT], np.int32)
    onehot = one_hot(TEXT)
    split = int(len(ids) * 0.95)
    val_x, val_y = windows(ids[split:], onehot[split:], np.random.default_rng(0))
    print(f"corpus {len(TEXT)} characters, vocabulary {len(VOCAB)}: {''.join(VOCAB)!r}")

    trainer = build(keras, training_twin=True)
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
    )
    t0 = time.perf_counter()
    budget = args.minutes * 60
    epoch, best, best_weights = 0, np.inf, trainer.get_weights()
    while epoch < args.max_epochs and (elapsed := time.perf_counter() - t0) < budget:
        # step the learning rate down over the time budget: 3e-3, then 1e-3, then 3e-4
        lr = 3e-3 if elapsed < 0.5 * budget else 1e-3 if elapsed < 0.8 * budget else 3e-4
        trainer.optimizer.learning_rate.assign(lr)
        x, y = windows(ids[:split], onehot[:split], rng)
        hist = trainer.fit(x, y, batch_size=32, epochs=1, verbose=0, validation_data=(val_x, val_y))
        epoch += 1
        loss, val = hist.history["loss"][-1], hist.history["val_loss"][-1]
        if val < best:
            best, best_weights = val, trainer.get_weights()
        print(
            f"epoch {epoch:3d}  lr {lr:.0e}  loss {loss:.3f}  val_loss {val:.3f}  "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    print(f"trained {epoch} epochs in {time.perf_counter() - t0:.0f} s; best val_loss {best:.3f} nats/char")

    model = build(keras)
    model.set_weights(best_weights)
    seed = TEXT[split : split + MAXLEN]
    for temperature in (0.2, 0.5, 1.0):
        text = generate(model, seed, 400, temperature, rng)
        print(f"\n--- temperature {temperature}, seed {seed!r}\n{text}")

    sample_export.write_vocabulary("classic", VOCAB)
    sample_export.export_both("classic", model, Path(__file__), probe())


if __name__ == "__main__":
    if not sample_export.write_h5_from_argv(build):
        main()
