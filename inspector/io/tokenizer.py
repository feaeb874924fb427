"""Keras `Tokenizer` JSON files (what `tokenizer.to_json()` writes) -> `TokenizerSpec` (no Qt).

Format (keras_preprocessing / tf_keras ``Tokenizer.to_json()``; see ``docs/formats.md``)::

    {"class_name": "Tokenizer",
     "config": {"num_words": 5 | null, "filters": "!\\"#...", "lower": true, "split": " ",
                "char_level": false, "oov_token": "<OOV>" | null, "document_count": 2,
                "word_index": "{\\"<OOV>\\": 1, \\"the\\": 2, ...}",   <- a JSON string inside the JSON
                "index_word": "{\\"1\\": \\"<OOV>\\", ...}", "word_counts": "...", ...}}

The inner fields (`word_index`, `index_word`, `word_counts`, `word_docs`, `index_docs`) are JSON
strings; a file written with ``json.dump(tokenizer.to_json())`` is double-encoded as a whole and is
accepted too.  Found beside a model as ``<stem>.tokenizer.json`` (or ``tokenizer.json``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from inspector.io._safe import ReadError, parse_json
from inspector.io.errors import ModelFileError
from inspector.io.sidecar import _stems

MAX_TOKENIZER_BYTES = 64 * 1024**2
T = TypeVar("T")
DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


@dataclass(frozen=True)
class TokenizerSpec:
    """Everything `Tokenizer.texts_to_sequences` uses, read from a tokenizer JSON.

    Attributes
    ----------
    word_index : token -> id (ids start at 1; 0 is never assigned: it is the padding id).
    num_words : keep only ids < num_words (None: keep all).
    filters, lower, split, char_level, oov_token : as in the Keras Tokenizer.
    path : the file it was read from ('' when built in memory).
    """

    word_index: Mapping[str, int]
    num_words: int | None = None
    filters: str = DEFAULT_FILTERS
    lower: bool = True
    split: str = " "
    char_level: bool = False
    oov_token: str | None = None
    path: str = ""
    index_word: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))


def _inner(cfg: Mapping[str, Any], key: str) -> Any:
    v = cfg.get(key)
    if isinstance(v, str):
        return parse_json(v, f"tokenizer field {key!r}")
    return v


def parse_tokenizer(obj: Any, path: str = "") -> TokenizerSpec:
    """A parsed tokenizer JSON object -> TokenizerSpec.

    Raises
    ------
    ReadError : not a Keras Tokenizer JSON (one-line reason).
    """
    if isinstance(obj, str):  # json.dump(tokenizer.to_json()) double-encodes
        obj = parse_json(obj, "tokenizer file")
    if not isinstance(obj, Mapping):
        raise ReadError("not a Keras Tokenizer JSON (expected an object)")
    if obj.get("class_name") not in (None, "Tokenizer"):
        raise ReadError(f"not a Keras Tokenizer JSON (class_name {str(obj.get('class_name'))[:40]!r})")
    cfg = obj.get("config", obj)
    if not isinstance(cfg, Mapping):
        raise ReadError("not a Keras Tokenizer JSON (config is not an object)")
    wi = _inner(cfg, "word_index")
    if not isinstance(wi, Mapping) or not wi:
        raise ReadError("not a Keras Tokenizer JSON (no word_index)")
    word_index: dict[str, int] = {}
    for k, v in wi.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ReadError(f"tokenizer word_index maps {str(k)[:40]!r} to {str(v)[:20]!r}, not an id")
        word_index[str(k)] = v
    num_words = cfg.get("num_words")
    if num_words is not None and (not isinstance(num_words, int) or isinstance(num_words, bool)):
        raise ReadError(f"tokenizer num_words is {str(num_words)[:20]!r}, not an integer")
    oov = cfg.get("oov_token")
    filters = cfg.get("filters", DEFAULT_FILTERS)
    split = cfg.get("split", " ")
    if not isinstance(filters, str) or not isinstance(split, str):
        raise ReadError("tokenizer filters/split are not strings")
    if cfg.get("analyzer") not in (None,):
        raise ReadError("tokenizer uses a custom analyzer function (not stored in the file)")
    index_word = {i: w for w, i in word_index.items()}
    return TokenizerSpec(
        word_index=MappingProxyType(word_index),
        num_words=num_words or None,
        filters=filters,
        lower=bool(cfg.get("lower", True)),
        split=split,
        char_level=bool(cfg.get("char_level", False)),
        oov_token=None if oov is None else str(oov),
        path=path,
        index_word=MappingProxyType(index_word),
    )


def read_json_sidecar(path: str | os.PathLike[str], cap: int, what: str, parse: Callable[[Any], T]) -> T:
    """Read a small JSON file beside a model (size-capped, depth-limited) and `parse` it.

    Raises
    ------
    ModelFileError : '<file>: <reason>' when the file is missing, larger than `cap` bytes, not JSON,
        or `parse` raises ReadError.
    """
    p = os.fspath(path)
    try:
        if not os.path.isfile(p):
            raise ReadError("no such file" if not os.path.exists(p) else "not a regular file")
        if os.path.getsize(p) > cap:
            raise ReadError(f"{what} is larger than {cap // 1024**2} MiB: refused")
        with open(p, "rb") as fh:
            return parse(parse_json(fh.read(cap + 1), what))
    except ReadError as exc:
        raise ModelFileError(p, str(exc)) from None
    except OSError as exc:
        raise ModelFileError(p, f"cannot read: {exc.strerror or exc}") from None


def read_tokenizer(path: str | os.PathLike[str]) -> TokenizerSpec:
    """Read a Keras Tokenizer JSON file (ModelFileError '<file>: <reason>' if it is not one)."""
    p = os.fspath(path)
    return read_json_sidecar(p, MAX_TOKENIZER_BYTES, "tokenizer file", lambda obj: parse_tokenizer(obj, p))


def sidecar_candidates(model_path: str | os.PathLike[str], suffix: str) -> list[Path]:
    """`<stem><suffix>` beside the model for each stem ('m.weights.h5' -> 'm.weights', 'm'),
    then the bare `<suffix without dot>` name ('tokenizer.json')."""
    p = Path(model_path)
    out = [p.parent / f"{s}{suffix}" for s in _stems(p) if s]
    out.append(p.parent / suffix.lstrip("."))
    return out


def find_tokenizer(model_path: str | os.PathLike[str]) -> TokenizerSpec | None:
    """The `<stem>.tokenizer.json` (or `tokenizer.json`) beside the model, or None.

    Raises
    ------
    ModelFileError : a tokenizer file exists but cannot be used (the user should hear why).
    """
    for c in sidecar_candidates(model_path, ".tokenizer.json"):
        if c.is_file():
            return read_tokenizer(c)
    return None
