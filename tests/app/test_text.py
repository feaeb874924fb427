"""Text encoders against real Keras: tf_keras Tokenizer.texts_to_sequences and pad_sequences, model.predict
on the same sequences through our engine, and Keras 3 / tf_keras models with TextVectorization inside
run on the raw strings (tests/app/text_oracle.py computes the references)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector import io
from inspector.app import text
from inspector.app.text import Padding, TokenizerEncoder, find_text_model
from inspector.core import engine
from inspector.io.tokenizer import read_tokenizer

Oracle = tuple[Path, dict[str, Any]]
MAX_ERR: dict[str, float] = {}


def _err(name: str, ours: np.ndarray, ref: Any) -> float:
    e = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(ref, dtype=np.float64))))
    MAX_ERR[name] = max(MAX_ERR.get(name, 0.0), e)
    return e


@pytest.mark.parametrize(
    "variant", ["plain", "num_words_oov", "num_words", "oov", "char", "char_nolower_oov", "split_filters"]
)
def test_tokenizer_matches_texts_to_sequences(tfk: Oracle, variant: str) -> None:
    out, man = tfk
    case = man["tokenizers"][variant]
    enc = TokenizerEncoder(read_tokenizer(out / case["path"]))
    for sentence, want in zip(man["sentences"], case["seqs"]):
        got = enc.encode(sentence)
        assert got.ids.tolist() == want, (variant, sentence)
        assert len(got.tokens) == len(want) and got.ids.dtype == np.int64


def test_num_words_drops_or_maps_to_oov(tfk: Oracle) -> None:
    out, man = tfk
    dropped = TokenizerEncoder(read_tokenizer(out / man["tokenizers"]["num_words"]["path"]))
    mapped = TokenizerEncoder(read_tokenizer(out / man["tokenizers"]["num_words_oov"]["path"]))
    s = man["sentences"][0]
    assert len(dropped.encode(s).ids) < len(mapped.encode(s).ids)
    assert any(t.startswith("<oov>:") for t in mapped.encode(s).tokens)
    assert max(mapped.encode(" ".join(man["sentences"])).ids) < 8


def test_double_encoded_tokenizer(tfk: Oracle) -> None:
    out, man = tfk
    double = read_tokenizer(out / "tok_double.tokenizer.json")  # the last variant written: split_filters
    assert dict(double.word_index) == dict(
        read_tokenizer(out / "tok_split_filters.tokenizer.json").word_index
    )
    enc = TokenizerEncoder(double)
    for sentence, want in zip(man["sentences"], man["tokenizers"]["split_filters"]["seqs"]):
        assert enc.encode(sentence).ids.tolist() == want


def test_sentiment_model_on_typed_text(tfk: Oracle) -> None:
    out, man = tfk
    mf = io.load(out / "sentiment.h5")
    tm = find_text_model(mf, out / "sentiment.h5")
    assert tm is not None and tm.encoder.kind == "Keras Tokenizer (words)"
    sm = man["sentiment"]
    for k, sentence in enumerate(man["sentences"]):
        enc, x = tm.encode(sentence, Padding("pre", 10))
        assert enc.ids.tolist() == sm["padded"][k]
        assert enc.padding.tolist() == [True] * (10 - len(sm["seqs"][k])) + [False] * len(sm["seqs"][k])
        assert all(t == "<pad>" for t, p in zip(enc.tokens, enc.padding) if p)
        y = engine.predict(tm.network, x, mf.semantics)[0]
        assert _err("sentiment", y, sm["pred_padded"][k]) < 1e-5
        if sm["pred_raw"][k] is not None:
            enc2, x2 = tm.encode(sentence)
            assert not enc2.padding.any()
            assert (
                _err("sentiment", engine.predict(tm.network, x2, mf.semantics)[0], sm["pred_raw"][k]) < 1e-5
            )
        else:
            with pytest.raises(ValueError, match="empty"):
                tm.encode(sentence)


def test_padding_conventions() -> None:
    enc = text._encoded([5, 6, 7], ["a", "b", "c"], "k")
    assert Padding("pre", 5).apply(enc).ids.tolist() == [0, 0, 5, 6, 7]
    assert Padding("post", 5).apply(enc).ids.tolist() == [5, 6, 7, 0, 0]
    assert Padding("pre", 2).apply(enc).ids.tolist() == [6, 7]
    assert Padding("pre", 2, truncating="post").apply(enc).ids.tolist() == [5, 6]
    assert Padding("none", 5).apply(enc).ids.tolist() == [5, 6, 7]
    assert Padding().apply(enc) is enc


@pytest.mark.parametrize("mode", ["default", "lower_char", "strip_ws", "none_ws", "free_length"])
def test_keras3_textvectorization_on_raw_strings(k3: Oracle, mode: str) -> None:
    out, man = k3
    case = man["textvec"][mode]
    mf = io.load(out / case["path"])
    tm = find_text_model(mf, out / case["path"])
    assert tm is not None and tm.encoder.kind == "TextVectorization (inside the model)"
    for sentence, want_ids, want in zip(man["sentences"], case["ids"], case["pred"]):
        if not want_ids[0]:  # free length, empty string: Keras gives a zero-length sequence
            with pytest.raises(ValueError):
                tm.encode(sentence)
            continue
        enc, x = tm.encode(sentence)
        assert enc.ids.tolist() == want_ids[0], (mode, sentence)
        if want is not None:
            assert _err("textvec keras3", engine.predict(tm.network, x, mf.semantics)[0], want) < 1e-5


def test_keras3_inline_vocabulary_and_stringlookup(k3: Oracle) -> None:
    out, man = k3
    mf = io.load(out / "k3_inline.keras")
    tm = find_text_model(mf)
    assert tm is not None
    for k, sentence in enumerate(man["sentences"]):
        enc, x = tm.encode(sentence)
        assert enc.ids.tolist() == man["inline"]["ids"][k]
        assert (
            _err("textvec keras3", engine.predict(tm.network, x, mf.semantics)[0], man["inline"]["pred"][k])
            < 1e-5
        )
    mf = io.load(out / "k3_stringlookup.keras")
    tm = find_text_model(mf)
    assert tm is not None and tm.encoder.kind.startswith("StringLookup")
    enc, x = tm.encode(man["stringlookup"]["text"])
    assert enc.ids.tolist() == man["stringlookup"]["ids"][0]
    assert (
        _err("stringlookup", engine.predict(tm.network, x, mf.semantics)[0], man["stringlookup"]["pred"][0])
        < 1e-5
    )


def test_tf_keras_textvectorization_keras_archive(tfk: Oracle) -> None:
    out, man = tfk
    mf = io.load(out / "tfk_textvec.keras")
    tm = find_text_model(mf)
    assert tm is not None
    for k, sentence in enumerate(man["sentences"]):
        enc, x = tm.encode(sentence)
        assert enc.ids.tolist() == man["tfk_textvec"]["ids"][k]
        assert (
            _err(
                "textvec tf_keras",
                engine.predict(tm.network, x, mf.semantics)[0],
                man["tfk_textvec"]["pred"][k],
            )
            < 1e-5
        )


def test_unsupported_option_is_named(k3: Oracle) -> None:
    import dataclasses

    out, man = k3
    mf = io.load(out / "k3_default.keras")
    assert mf.network is not None
    lay = text.preprocessing_input(mf.network)
    assert lay is not None
    bad = dataclasses.replace(lay, raw_config={**lay.raw_config, "output_mode": "tf_idf", "ngrams": 2})
    net = dataclasses.replace(
        mf.network, layers=tuple(bad if x.name == lay.name else x for x in mf.network.layers)
    )
    with pytest.raises(ValueError, match=r"unsupported output_mode='tf_idf', ngrams=2"):
        find_text_model(dataclasses.replace(mf, network=net), out / "k3_default.keras")


def test_vocabulary_sidecar_one_hot(tmp_path: Path) -> None:
    enc = text.VocabularyEncoder(["\n", " ", "a", "b"])
    assert enc.kind == "characters (vocabulary sidecar)"
    e = Padding("pre", 5).apply(enc.encode("ab a"))
    from inspector.core.network import Network

    net = Network("n", "Sequential", (), input_shapes=((None, 5, 4),))
    x = text.to_model_input(net, e)
    assert x.shape == (1, 5, 4) and x[0, 0].sum() == 0 and x[0, 1].tolist() == [0, 0, 1, 0]
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        enc.encode("abc")


def test_report_largest_error() -> None:
    """Runs last in this module: prints the largest error against Keras seen above (for the report)."""
    print("largest |ours - keras|:", MAX_ERR)
    assert all(v < 1e-5 for v in MAX_ERR.values())


def test_cli_text(tfk: Oracle, k3: Oracle, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from inspector.cli import main

    out, man = tfk
    model = str(out / "sentiment.h5")
    y = tmp_path / "y.npy"
    s = man["sentences"][1]
    assert main(["predict", model, "--text", s, "--maxlen", "10", "--output", str(y)]) == 0
    assert _err("sentiment", np.load(y), [man["sentiment"]["pred_padded"][1]]) < 1e-5
    assert main(["predict", model, "--text", "", "--output", str(y)]) == 2
    assert "empty after encoding" in capsys.readouterr().err
    assert main(["predict", str(out / "regressor_gru.h5"), "--text", "hi", "--output", str(y)]) == 2
    assert "--vocab or --tokenizer" in capsys.readouterr().err
    # an explicit tokenizer for a model without a sidecar
    assert main(["predict", str(out / "softmax_classifier.h5"), "--text", "the cat", "--tokenizer",
                 str(out / "tok_plain.tokenizer.json"), "--output", str(y)]) == 0  # fmt: skip
    assert np.load(y).shape == (1, 4)
    assert main(["info", model]) == 0
    info = capsys.readouterr().out
    assert "text:     Keras Tokenizer (words)" in info and "P(positive)" in info
    out3, man3 = k3
    tr = tmp_path / "t.npz"
    assert main(["trace", str(out3 / "k3_default.keras"), "--text", "The cat!", "--output", str(tr)]) == 0
    with np.load(tr) as z:
        assert z["lstm/h"].shape == (1, 12, 5)  # output_sequence_length=12: padding steps included


def test_sentiment_sample_against_its_keras_reference() -> None:
    from inspector import resources
    from inspector.app.outputs import describe_outputs, output_over_time
    from inspector.io.labels import find_labels

    path = resources.samples_dir() / "sentiment.h5"
    ref = np.load(resources.samples_dir() / "sentiment.reference.npz", allow_pickle=False)
    mf = io.load(path)
    tm = find_text_model(mf, path)
    assert tm is not None and isinstance(tm.encoder, TokenizerEncoder)
    (kind,) = describe_outputs(tm.network, labels=find_labels(path))
    assert kind.kind == "binary_probability" and kind.labels == ("negative", "positive")
    for k, sentence in enumerate(ref["texts"].tolist()):
        enc, x = tm.encode(sentence, Padding("pre", 24))
        assert enc.ids.tolist() == ref["x"][k].tolist()
        assert (
            _err("sentiment sample", engine.predict(tm.network, x, mf.semantics)[0], ref["tf_keras"][k])
            < 1e-5
        )
    _, x = tm.encode("a wonderful film but the ending is ridiculous")
    series = output_over_time(tm.network, x, mf.semantics)
    assert series.one_pass and series.values.shape == (8, 1)
    assert series.values[2, 0] > 0.5  # "... wonderful film"


def test_typed_ids_and_mask_zero_steps(tfk: Oracle) -> None:
    out, man = tfk
    mf = io.load(out / "sentiment.h5")  # Embedding(mask_zero=True)
    tm = find_text_model(mf, out / "sentiment.h5")
    assert tm is not None
    enc = Padding("pre", 6).apply(text.encoded_ids([2, 4], tm.encoder))
    assert enc.ids.tolist() == [0, 0, 0, 0, 2, 4] and enc.tokens[-1] != "4"
    assert text.skipped_steps(tm.network, enc).tolist() == [True] * 4 + [False] * 2
    mf2 = io.load(out / "softmax_classifier.h5")  # no mask_zero: padding steps are computed
    assert mf2.network is not None
    assert not text.skipped_steps(mf2.network, enc).any()
