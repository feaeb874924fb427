"""Keras Tokenizer JSON, labels.json and stored label decodings (no Keras needed here; the encodings
are checked against tf_keras' texts_to_sequences in tests/app/test_text.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.io.errors import ModelFileError
from inspector.io.labels import find_labels, parse_flow_list, parse_labels, read_labels, stored_label_decoding
from inspector.io.tokenizer import find_tokenizer, read_tokenizer

# what tf_keras' Tokenizer(num_words=5, oov_token="<OOV>").fit_on_texts(["The cat sat.", "the dog ran!"])
# .to_json() writes (copied from a real run): the inner fields are JSON strings inside the JSON
REAL = (
    '{"class_name": "Tokenizer", "config": {"num_words": 5, '
    '"filters": "!\\"#$%&()*+,-./:;<=>?@[\\\\]^_`{|}~\\t\\n", '
    '"lower": true, "split": " ", "char_level": false, "oov_token": "<OOV>", "document_count": 2, '
    '"word_counts": "{\\"the\\": 2, \\"cat\\": 1, \\"sat\\": 1, \\"dog\\": 1, \\"ran\\": 1}", '
    '"word_docs": "{\\"cat\\": 1}", "index_docs": "{\\"3\\": 1}", '
    '"index_word": "{\\"1\\": \\"<OOV>\\", \\"2\\": \\"the\\", \\"3\\": \\"cat\\", \\"4\\": \\"sat\\", '
    '\\"5\\": \\"dog\\", \\"6\\": \\"ran\\"}", '
    '"word_index": "{\\"<OOV>\\": 1, \\"the\\": 2, \\"cat\\": 3, \\"sat\\": 4, \\"dog\\": 5, \\"ran\\": 6}"}}'
)


def test_reads_inner_json_strings(tmp_path: Path) -> None:
    p = tmp_path / "m.tokenizer.json"
    p.write_text(REAL, encoding="utf8")
    spec = read_tokenizer(p)
    assert dict(spec.word_index) == {"<OOV>": 1, "the": 2, "cat": 3, "sat": 4, "dog": 5, "ran": 6}
    assert spec.num_words == 5 and spec.oov_token == "<OOV>" and spec.lower and not spec.char_level
    assert spec.filters.endswith("\t\n") and "!" in spec.filters and spec.split == " "
    assert spec.index_word[6] == "ran"


def test_double_encoded_and_sidecar_lookup(tmp_path: Path) -> None:
    (tmp_path / "model.weights.tokenizer.json").write_text(json.dumps(REAL), encoding="utf8")
    spec = find_tokenizer(tmp_path / "model.weights.h5")
    assert spec is not None and spec.word_index["cat"] == 3
    assert find_tokenizer(tmp_path / "other.h5") is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "expected an object"),
        ('{"class_name": "Tokenizer", "config": {"word_index": "{}"}}', "no word_index"),
        ('{"class_name": "Tokenizer", "config": {"word_index": "{\\"a\\": \\"x\\"}"}}', "not an id"),
        ('{"class_name": "Tokenizer", "config": {"word_index": "{not json"}}', "not valid JSON"),
        ('{"class_name": "Sequential", "config": {}}', "class_name"),
        ("not json at all", "not valid JSON"),
    ],
)
def test_bad_tokenizer_is_one_line(tmp_path: Path, content: str, reason: str) -> None:
    p = tmp_path / "t.tokenizer.json"
    p.write_text(content, encoding="utf8")
    with pytest.raises(ModelFileError) as err:
        read_tokenizer(p)
    assert reason in str(err.value) and "\n" not in str(err.value) and str(p) in str(err.value)


def test_labels_forms(tmp_path: Path) -> None:
    assert parse_labels(["neg", "pos"]) == {"": ["neg", "pos"]}
    assert parse_labels({"1": "pos", "0": "neg"}) == {"": ["neg", "pos"]}
    assert parse_labels({"neg": 0, "pos": 1}) == {"": ["neg", "pos"]}
    assert parse_labels({"dense_1": ["a", "b", "c"], "dense_2": ["x", "y"]}) == {
        "dense_1": ["a", "b", "c"],
        "dense_2": ["x", "y"],
    }
    (tmp_path / "m.labels.json").write_text('["negative", "positive"]', encoding="utf8")
    assert find_labels(tmp_path / "m.h5") == {"": ["negative", "positive"]}
    (tmp_path / "bad.labels.json").write_text('{"a": [1, {"x": 2}]}', encoding="utf8")
    with pytest.raises(ModelFileError, match="not a list of class names"):
        read_labels(tmp_path / "bad.labels.json")


def test_flow_list_is_parsed_not_evaluated() -> None:
    assert parse_flow_list("['*', A, C, G, T]\n") == ["*", "A", "C", "G", "T"]
    assert parse_flow_list('["x", "y"]') == ["x", "y"]
    assert parse_flow_list("__import__('os')") is None


def test_medaka_stored_label_decoding(corpus_dir: Path) -> None:
    f = corpus_dir / "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5"
    assert stored_label_decoding(f) == ["*", "A", "C", "G", "T"]
    assert find_labels(f) == {"": ["*", "A", "C", "G", "T"]}
    assert stored_label_decoding(corpus_dir / "k3.9.2_tekuv_gru.keras") is None
