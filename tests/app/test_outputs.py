"""Output kinds of generated models of each kind and of the real corpus files; output over time against
Keras' model.predict on every cut of the sequence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector import io
from inspector.app.outputs import describe_outputs, output_over_time
from inspector.app.text import Padding, find_text_model, token_table
from inspector.io.labels import find_labels

Oracle = tuple[Path, dict[str, Any]]


@pytest.mark.parametrize(
    "name",
    [
        "softmax_classifier",
        "sigmoid_binary",
        "multi_sigmoid",
        "regressor_gru",
        "lstm_state",
        "softmax_activation_layer",
        "next_char",
        "next_word_td",
    ],
)
def test_generated_model_kinds(tfk: Oracle, name: str) -> None:
    out, man = tfk
    case = man["models"][name]
    mf = io.load(out / case["path"])
    assert mf.network is not None
    (k,) = describe_outputs(mf.network, semantics=mf.semantics)
    assert k.kind == case["kind"], k
    if k.kind == "values":
        assert not k.is_probability and k.axis_label == "value"
    if name == "lstm_state":
        assert k.activation == "state" and k.units == 6
    if name == "next_word_td":
        assert k.per_step and k.units == 30
    if name == "sigmoid_binary":
        assert k.labels == ("negative", "positive") and k.axis_label == "P(positive)"


def test_labels_file_names_classes_and_binary(tfk: Oracle, tmp_path: Path) -> None:
    out, man = tfk
    mf = io.load(out / "softmax_classifier.h5")
    assert mf.network is not None
    (k,) = describe_outputs(mf.network, labels={"": ["a", "b", "c", "d"]})
    assert k.labels == ("a", "b", "c", "d")
    (k,) = describe_outputs(mf.network, labels={"": ["a", "b"]})  # wrong size: not used
    assert k.labels[0] == "class 0"
    mf = io.load(out / "sigmoid_binary.h5")
    assert mf.network is not None
    (k,) = describe_outputs(mf.network, labels={"": ["bad review", "good review"]})
    assert k.kind == "binary_probability" and k.axis_label == "P(good review)"


def test_sentiment_kind_and_over_time_matches_keras(tfk: Oracle) -> None:
    out, man = tfk
    mf = io.load(out / "sentiment.h5")
    tm = find_text_model(mf, out / "sentiment.h5")
    assert tm is not None
    (k,) = describe_outputs(tm.network, symbols=token_table(tm.encoder, tm.encoder.vocab_size))
    assert k.kind == "binary_probability"  # a sigmoid sentiment model never "predicts what comes next"
    _, x = tm.encode(man["sentences"][0], Padding("pre", 10))
    series = output_over_time(tm.network, x, mf.semantics)
    assert series.one_pass and series.steps.tolist() == list(range(10))
    assert np.max(np.abs(series.values - np.asarray(man["sentiment"]["prefix"]))) < 1e-5


def test_regressor_over_time_with_target(tfk: Oracle) -> None:
    out, man = tfk
    mf = io.load(out / "regressor_gru.h5")
    assert mf.network is not None
    x = np.load(out / "regressor_x.npy")
    target = np.linspace(-1, 1, 12, dtype=np.float32)
    series = output_over_time(mf.network, x, mf.semantics, target=target)
    assert np.max(np.abs(series.values - np.asarray(man["regressor_prefix"]))) < 1e-5
    assert series.target is not None and series.target.tolist() == target.tolist()
    # the per-cut fallback (used for non-causal models) gives the same numbers
    slow = output_over_time(mf.network, x, mf.semantics, max_runs=5, target=target)
    assert not slow.one_pass or slow.steps.size == 12
    with pytest.raises(ValueError, match="12"):
        output_over_time(mf.network, x, mf.semantics, target=target[:5])


def test_next_symbol_uses_the_encoders_symbols(tfk: Oracle, tmp_path: Path) -> None:
    out, _ = tfk
    vocab = [chr(ord("a") + k) for k in range(26)] + [" ", ".", ",", "\n"]
    mf = io.load(out / "next_char.h5")
    assert mf.network is not None
    (k,) = describe_outputs(mf.network, symbols=vocab)
    assert k.kind == "next_symbol" and k.labels[:3] == ("a", "b", "c")


CORPUS_KINDS = {
    "k3.9.2_tekuv_gru.keras": ("values", 1),
    "k3.9.2_tekuv_gru_legacy.h5": ("values", 1),
    "k2.1.6_neil621_stacked_lstm_charrnn_full.hdf5": ("next_symbol", 52),
    "k1.0.6_beneyal_stacked_lstm_charrnn_full.hdf5": ("next_symbol", 130),
    "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5": ("binary_probability", 1),
    "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5": ("values", 20),
    "k1.2.2_dl4j_simple_rnn_tf_full.h5": ("values", 6),
    "k2.2.0_hemanth_dense_mlp_full.hdf5": ("class_probabilities", 5),
    "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5": ("class_probabilities", 5),
}


@pytest.mark.parametrize("name", sorted(CORPUS_KINDS))
def test_corpus_kinds(corpus_dir: Path, name: str) -> None:
    mf = io.load(corpus_dir / name)
    assert mf.network is not None
    (k,) = describe_outputs(mf.network, labels=find_labels(corpus_dir / name), semantics=mf.semantics)
    assert (k.kind, k.units) == CORPUS_KINDS[name], k.summary
    if name.startswith("k2.1.2_medaka"):
        assert k.per_step and k.labels == ("*", "A", "C", "G", "T")  # its stored label decoding
    if "bidirectional" in name:
        assert k.per_step and k.activation == "state"


def test_corpus_regressor_over_time(corpus_dir: Path) -> None:
    mf = io.load(corpus_dir / "k3.9.2_tekuv_gru.keras")
    assert mf.network is not None
    shape = mf.network.input_shapes[0]
    x = np.random.default_rng(1).normal(size=(1, 7, shape[2])).astype(np.float32)
    series = output_over_time(mf.network, x, mf.semantics)
    from inspector.core import engine

    for t in (0, 3, 6):  # independent check: run the model on the cut input
        want = engine.predict(mf.network, x[:, : t + 1], mf.semantics)[0][0]
        assert np.allclose(series.values[t], want, atol=1e-6)
    assert json.dumps(series.steps.tolist())


def test_csv_series_names_and_target(tmp_path: Path) -> None:
    from inspector.app.series import parse_csv_series, read_csv_series
    from inspector.io.errors import ModelFileError

    text = "temp,pressure,target\n1,2,0.5\n3,4,0.25\n5,6,-1\n"
    s = parse_csv_series(text, n_features=2)
    assert s.feature_names == ["temp", "pressure"] and s.target_name == "target"
    assert (
        s.x.tolist() == [[1, 2], [3, 4], [5, 6]]
        and s.target is not None
        and s.target.tolist() == [0.5, 0.25, -1]
    )
    assert s.model_input().shape == (1, 3, 2)
    s = parse_csv_series(text)  # the model takes all three columns: no target split
    assert s.target is None and s.x.shape == (3, 3)
    s = parse_csv_series(text, target="pressure")
    assert s.feature_names == ["temp", "target"] and s.target is not None and s.target.tolist() == [2, 4, 6]
    assert parse_csv_series("1,2\n3,4\n").feature_names == ["feature 0", "feature 1"]
    with pytest.raises(ValueError, match="row 2 has 1 columns"):
        parse_csv_series("a,b\n1,2\n3\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,x\n", encoding="utf8")  # a stray text cell in a numeric column
    with pytest.raises(ModelFileError, match="non-numeric"):
        read_csv_series(bad)
    with pytest.raises(ValueError, match="no column named 'z'"):
        parse_csv_series(text, target="z")


def test_over_time_from_the_steppers_cache(tfk: Oracle) -> None:
    from inspector.core.stepper import Stepper

    out, man = tfk
    mf = io.load(out / "regressor_gru.h5")
    assert mf.network is not None
    x = np.load(out / "regressor_x.npy")
    st = Stepper(mf.network, x, mf.semantics)
    series = output_over_time(mf.network, x, mf.semantics, outputs_at=st.outputs_at)
    assert np.max(np.abs(series.values - np.asarray(man["regressor_prefix"]))) < 1e-5
