"""Keras oracle for the text encoders and output kinds: `text_oracle.py --flavor tf_keras|keras3 --out DIR`.

Run in a subprocess by tests/oracle.py (TensorFlow never enters the pytest process).  Writes the
models, their tokenizer files and `manifest.json` with what Keras itself computes: the
`texts_to_sequences` ids, `pad_sequences` arrays and `model.predict` outputs on the same sentences,
and `model.predict` of TextVectorization models on the raw strings.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

CORPUS = [
    "The cat sat on the mat.",
    "the dog ate my homework!",
    "A great movie, really great; loved it",
    "terrible plot and bad acting",
    "I loved the cat and the dog",
    "bad bad bad, the worst movie",
]
SENTENCES = [
    "The cat sat on the mat.",
    "DOGS are GREAT, really Great!!",
    "an unknownword appears, zyx",
    "",
    "  spaces   everywhere\tand tabs ",
    "Café ÉCOLE naïve... it's (the) [cat]",
    "a-b c_d e/f loved",
]


def _tf_keras(out: Path) -> dict:
    import numpy as np
    import tf_keras as K  # noqa: N812 - the Keras-2 API under a short name
    from tf_keras.preprocessing.sequence import pad_sequences
    from tf_keras.preprocessing.text import Tokenizer

    K.utils.set_random_seed(3)
    man: dict = {"tokenizers": {}, "models": {}}
    variants = {
        "plain": {},
        "num_words_oov": {"num_words": 8, "oov_token": "<OOV>"},
        "num_words": {"num_words": 8},
        "oov": {"oov_token": "[UNK]"},
        "char": {"char_level": True},
        "char_nolower_oov": {"char_level": True, "lower": False, "oov_token": "~"},
        "split_filters": {"filters": "!.", "split": ","},
    }
    for name, kw in variants.items():
        tok = Tokenizer(**kw)
        tok.fit_on_texts(CORPUS)
        path = out / f"tok_{name}.tokenizer.json"
        path.write_text(tok.to_json(), encoding="utf8")
        man["tokenizers"][name] = {"path": path.name, "seqs": tok.texts_to_sequences(SENTENCES)}
    # double-encoded file (json.dump(tokenizer.to_json()))
    (out / "tok_double.tokenizer.json").write_text(json.dumps(tok.to_json()), encoding="utf8")

    # the word-level sentiment model, trained with the tokenizer
    tok = Tokenizer(num_words=20, oov_token="<OOV>")
    tok.fit_on_texts(CORPUS)
    x = pad_sequences(tok.texts_to_sequences(CORPUS), maxlen=10)
    y = np.array([1, 0, 1, 0, 1, 0], dtype="float32")
    m = K.Sequential(
        [K.layers.Embedding(20, 8, mask_zero=True), K.layers.LSTM(6), K.layers.Dense(1, activation="sigmoid")]
    )
    m.compile("adam", "binary_crossentropy")
    m.fit(x, y, epochs=3, verbose=0)
    m.save(out / "sentiment.h5")
    (out / "sentiment.tokenizer.json").write_text(tok.to_json(), encoding="utf8")
    seqs = tok.texts_to_sequences(SENTENCES)
    padded = pad_sequences(seqs, maxlen=10)
    man["sentiment"] = {
        "seqs": seqs,
        "padded": padded.tolist(),
        "pred_padded": m.predict(padded, verbose=0).tolist(),
        "pred_raw": [m.predict(np.array([s]), verbose=0).tolist() if s else None for s in seqs],
        "prefix": [m.predict(padded[:1, : t + 1], verbose=0)[0].tolist() for t in range(10)],
    }

    # one model per output kind (random weights are enough to tell the kind)
    def emb(v: int = 30) -> list:
        return [K.layers.Embedding(v, 4)]

    kinds = {
        "softmax_classifier": (
            K.Sequential(emb() + [K.layers.LSTM(5), K.layers.Dense(4, activation="softmax")]),
            "class_probabilities",
        ),
        "sigmoid_binary": (
            K.Sequential(emb() + [K.layers.GRU(5), K.layers.Dense(1, activation="sigmoid")]),
            "binary_probability",
        ),
        "multi_sigmoid": (
            K.Sequential(emb() + [K.layers.LSTM(5), K.layers.Dense(3, activation="sigmoid")]),
            "independent_probabilities",
        ),
        "regressor_gru": (K.Sequential([K.Input((None, 3)), K.layers.GRU(4), K.layers.Dense(1)]), "values"),
        "lstm_state": (K.Sequential([K.Input((None, 3)), K.layers.LSTM(6)]), "values"),
        "softmax_activation_layer": (
            K.Sequential(emb() + [K.layers.LSTM(5), K.layers.Dense(3), K.layers.Activation("softmax")]),
            "class_probabilities",
        ),
        "next_char": (
            K.Sequential([K.Input((None, 30)), K.layers.LSTM(8), K.layers.Dense(30, activation="softmax")]),
            "next_symbol",
        ),
        "next_word_td": (
            K.Sequential(
                emb()
                + [
                    K.layers.LSTM(8, return_sequences=True),
                    K.layers.TimeDistributed(K.layers.Dense(30, activation="softmax")),
                ]
            ),
            "next_symbol",
        ),
    }
    rng = np.random.default_rng(0)
    for name, (model, kind) in kinds.items():
        model.build((None, None) if isinstance(model.layers[0], K.layers.Embedding) else None)
        model.save(out / f"{name}.h5")
        man["models"][name] = {"path": f"{name}.h5", "kind": kind}
    xs = rng.normal(size=(1, 12, 3)).astype("float32")
    np.save(out / "regressor_x.npy", xs)
    reg = kinds["regressor_gru"][0]
    man["regressor_prefix"] = [reg.predict(xs[:, : t + 1], verbose=0)[0].tolist() for t in range(12)]

    # TextVectorization inside a tf_keras model, saved as .keras
    tv = K.layers.TextVectorization(max_tokens=30, output_sequence_length=9)
    tv.adapt(CORPUS)
    m = K.Sequential(
        [
            K.Input((1,), dtype="string"),
            tv,
            K.layers.Embedding(30, 4),
            K.layers.LSTM(5),
            K.layers.Dense(3, activation="softmax"),
        ]
    )
    m.save(out / "tfk_textvec.keras")
    strings = np.array([[s] for s in SENTENCES], dtype=object)
    man["tfk_textvec"] = {"ids": tv(strings).numpy().tolist(), "pred": m.predict(strings, verbose=0).tolist()}
    return man


def _keras3(out: Path) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(4)
    man: dict = {"textvec": {}}
    modes = {
        "default": {"output_sequence_length": 12},
        "lower_char": {"standardize": "lower", "split": "character", "output_sequence_length": 20},
        "strip_ws": {"standardize": "strip_punctuation", "output_sequence_length": 5},
        "none_ws": {"standardize": None, "output_sequence_length": 8},
        "free_length": {},
    }
    for name, kw in modes.items():
        tv = keras.layers.TextVectorization(max_tokens=40, **kw)
        tv.adapt(CORPUS)
        inp = keras.Input(shape=(), dtype="string")
        h = keras.layers.Embedding(40, 4, mask_zero=(name == "strip_ws"))(tv(inp))
        h = keras.layers.LSTM(5)(h)
        o = keras.layers.Dense(3, activation="softmax")(h)
        m = keras.Model(inp, o)
        m.save(out / f"k3_{name}.keras")
        ids, preds = [], []
        for s in SENTENCES:
            t = tf.constant([s])
            ids.append(np.asarray(tv(t)).tolist())
            try:
                preds.append(np.asarray(m.predict(t, verbose=0)).tolist())
            except Exception:  # noqa: BLE001 - e.g. an empty sequence without a fixed length
                preds.append(None)
        man["textvec"][name] = {"path": f"k3_{name}.keras", "ids": ids, "pred": preds}
    # inline vocabulary (no assets) in a Sequential
    tv = keras.layers.TextVectorization(vocabulary=["the", "cat", "dog", "great"], output_sequence_length=6)
    m = keras.Sequential(
        [keras.Input((1,), dtype="string"), tv, keras.layers.Embedding(10, 3), keras.layers.GRU(4)]
    )
    m.save(out / "k3_inline.keras")
    strings = tf.constant([[s] for s in SENTENCES])
    man["inline"] = {
        "ids": np.asarray(tv(strings)).tolist(),
        "pred": np.asarray(m.predict(strings, verbose=0)).tolist(),
    }
    # StringLookup with a mask token over pre-split tokens
    sl = keras.layers.StringLookup(vocabulary=["a", "b", "c"], mask_token="")
    m = keras.Sequential(
        [keras.Input((None,), dtype="string"), sl, keras.layers.Embedding(6, 3), keras.layers.SimpleRNN(2)]
    )
    m.save(out / "k3_stringlookup.keras")
    toks = tf.constant([["a", "zz", "c", "b"]])
    man["stringlookup"] = {
        "text": "a zz c b",
        "ids": np.asarray(sl(toks)).tolist(),
        "pred": np.asarray(m.predict(toks, verbose=0)).tolist(),
    }
    return man


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flavor", required=True, choices=("tf_keras", "keras3"))
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    flavor, out = args.flavor, args.out
    out.mkdir(parents=True, exist_ok=True)
    man = _tf_keras(out) if flavor == "tf_keras" else _keras3(out)
    man["sentences"] = SENTENCES
    (out / "manifest.json").write_text(json.dumps(man), encoding="utf8")


if __name__ == "__main__":
    main()
