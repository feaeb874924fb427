"""Train the 'sentiment' sample: a word-level review classifier with a Keras `Tokenizer` beside it.

    word ids (batch, 24), pre-padded with 0 -> Embedding(200, 16, mask_zero) -> LSTM(16) -> Dense(1, sigmoid)

the IMDB-style shape most people's first recurrent model has, at toy size.  The training data are the
short film-review sentences below, written for this project (no download).  Writes, next to this file:

    sentiment.h5               tf_keras 2.x HDF5 (Keras 2 format)
    sentiment.tokenizer.json   tokenizer.to_json() (num_words=200, oov_token='<OOV>')
    sentiment.labels.json      ["negative", "positive"]
    sentiment.reference.npz    probe sentences' ids `x` (pad_sequences, maxlen 24) and `tf_keras`
                               (what model.predict returned after loading the file back)

Run: `python resources/samples/train_sentiment.py` (needs tensorflow and tf_keras; about a minute).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MAXLEN = 24
NUM_WORDS = 200
SEED = 7

POSITIVE = [
    "a wonderful film with a moving story",
    "i loved every minute of it",
    "the acting is superb and the music is beautiful",
    "brilliant, funny and warm",
    "one of the best films of the year",
    "a delight from start to finish",
    "the cast is excellent and the script is sharp",
    "i laughed and cried, what a great movie",
    "beautifully shot and wonderfully acted",
    "a clever, charming and touching story",
    "the best performance of her career",
    "i would happily watch it again",
    "an original and gripping thriller",
    "fun for the whole family",
    "the ending is perfect",
    "smart writing and a great cast",
    "it is a masterpiece",
    "pure joy, highly recommended",
    "a strong, honest and memorable film",
    "the director does a fantastic job",
    "i enjoyed it more than i expected",
    "gorgeous photography and a lovely score",
    "tense, exciting and well made",
    "the characters feel real and the dialogue sparkles",
    "not bad at all, actually quite good",
    "it never gets boring",
    "a true classic that will last",
    "great fun, great actors, great story",
]
NEGATIVE = [
    "a boring film with a silly story",
    "i hated every minute of it",
    "the acting is awful and the music is annoying",
    "dull, slow and far too long",
    "one of the worst films of the year",
    "a mess from start to finish",
    "the cast is wasted and the script is lazy",
    "i fell asleep, what a terrible movie",
    "badly shot and poorly acted",
    "a stupid, tiresome and empty story",
    "the worst performance of her career",
    "i would never watch it again",
    "a predictable and forgettable thriller",
    "painful for the whole family",
    "the ending is ridiculous",
    "weak writing and a bored cast",
    "it is a disaster",
    "pure pain, avoid it",
    "a weak, dishonest and forgettable film",
    "the director does a poor job",
    "i disliked it more than i expected",
    "ugly photography and a grating score",
    "limp, tedious and badly made",
    "the characters feel fake and the dialogue is flat",
    "not good at all, actually quite bad",
    "it is boring from the first scene",
    "a waste of time and money",
    "bad fun, bad actors, bad story",
]
# a few compositional sentences so word order matters ("not good" vs "good")
OPENERS = ["honestly", "in the end", "overall", "sadly", "happily"]
PROBES = [
    "a wonderful film, i loved it",
    "boring and far too long",
    "The acting is superb but the ending is ridiculous!",
    "an unknownword masterpiece",
    "",
]


def dataset() -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for opener, (pos, neg) in itertools.product(OPENERS, zip(POSITIVE, NEGATIVE)):
        texts += [pos, neg, f"{opener}, {pos}", f"{opener}, {neg}"]
        labels += [1, 0, 1, 0]
    return texts, np.asarray(labels, dtype=np.float32)


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    import tf_keras as keras  # the Keras-2 API: Tokenizer and pad_sequences live there
    from tf_keras.preprocessing.sequence import pad_sequences
    from tf_keras.preprocessing.text import Tokenizer

    keras.utils.set_random_seed(SEED)
    texts, y = dataset()
    tok = Tokenizer(num_words=NUM_WORDS, oov_token="<OOV>")
    tok.fit_on_texts(texts)
    x = pad_sequences(tok.texts_to_sequences(texts), maxlen=MAXLEN)
    model = keras.Sequential(
        [
            keras.layers.Embedding(NUM_WORDS, 16, mask_zero=True, input_length=MAXLEN, name="words"),
            keras.layers.LSTM(16, name="lstm"),
            keras.layers.Dense(1, activation="sigmoid", name="positive"),
        ],
        name="sentiment_lstm",
    )
    model.compile(keras.optimizers.Adam(2e-3), "binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=6, batch_size=16, shuffle=True, verbose=0)
    print(f"training accuracy {hist.history['accuracy'][-1]:.3f}, loss {hist.history['loss'][-1]:.3f}")
    model.save(HERE / "sentiment.h5", include_optimizer=False)
    (HERE / "sentiment.tokenizer.json").write_text(tok.to_json(), encoding="utf-8")
    (HERE / "sentiment.labels.json").write_text(json.dumps(["negative", "positive"]) + "\n", encoding="utf-8")
    back = keras.models.load_model(HERE / "sentiment.h5", compile=False)
    probe = pad_sequences(tok.texts_to_sequences(PROBES), maxlen=MAXLEN)
    pred = back.predict(probe, verbose=0)
    for s, p in zip(PROBES, pred[:, 0]):
        print(f"P(positive) = {p:.3f}  {s!r}")
    np.savez(HERE / "sentiment.reference.npz", x=probe, tf_keras=pred, texts=np.asarray(PROBES))


if __name__ == "__main__":
    main()
