"""The one vocabulary reader (`io.sidecar.read_vocabulary`) and JSON sniffing (`io.detect.json_kind`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.io.detect import json_kind
from inspector.io.sidecar import find_vocabulary, read_vocabulary


def test_accepted_forms(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(["\n", " ", "x"]))
    assert read_vocabulary(tmp_path / "a.json") == ["\n", " ", "x"]
    (tmp_path / "b.json").write_text(json.dumps({"x": 2, "y": 0}))
    assert read_vocabulary(tmp_path / "b.json") == ["y", "", "x"]
    (tmp_path / "c.txt").write_text("the\ncat\nsat\n")
    assert read_vocabulary(tmp_path / "c.txt") == ["the", "cat", "sat"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("n.json", "[1, 2]", "list of strings"),
        ("m.json", '["a",', "malformed JSON"),
        ("t.json", "the\ncat", "malformed JSON"),  # a .json file must be JSON
        ("i.json", '{"a": -1}', "indices"),
        ("j.json", '{"a": true}', "indices"),
        ("k.json", "3", "list of strings"),
    ],
)
def test_refused_with_one_line(tmp_path: Path, name: str, content: str, reason: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=reason) as err:
        read_vocabulary(tmp_path / name)
    assert str(err.value).startswith(str(tmp_path / name)) and "\n" not in str(err.value)


def test_find_vocabulary_skips_a_bad_sidecar(tmp_path: Path) -> None:
    (tmp_path / "m.vocab.json").write_text("[1]")
    (tmp_path / "vocab.json").write_text('["a", "b"]')
    assert find_vocabulary(tmp_path / "m.h5") == ["a", "b"]


def test_json_kind(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text('\ufeff ["a"]', encoding="utf8")
    (tmp_path / "a.json").write_text('{"class_name": "Sequential"}')
    (tmp_path / "x.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert json_kind(str(tmp_path / "v.json")) == "vocabulary"
    assert json_kind(str(tmp_path / "a.json")) == "architecture"
    assert json_kind(str(tmp_path / "x.h5")) is None
    assert json_kind(str(tmp_path / "missing.json")) is None
