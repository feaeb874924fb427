"""Files that travel next to a model: the vocabulary for text models.

Format (written by `resources/` sample-model scripts and accepted from users):

* ``<stem>.vocab.json`` next to the model: a JSON **list of strings**; entry ``i`` is the token
  for input id / output class ``i`` (for character models, one character per entry, e.g.
  ``["\\n", " ", "a", ...]``).  A JSON object ``{"token": index, ...}`` is accepted too and
  turned into the list ordered by index (missing indices become ``""``).
* ``vocab.json`` in the same folder, same format, as a fallback.

`read_vocabulary` is the one reader and validator of vocabulary files (it also accepts plain text,
one token per line, for a file the user opens).

``<stem>`` is the file name without its extension, and for multi-suffix names such as
``model.weights.h5`` also without all extensions (``model``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_VOCAB_BYTES = 16 * 1024**2
MAX_TOKENS = 2_000_000


def _stems(model_path: Path) -> list[str]:
    name = model_path.name
    out = []
    if "." in name:
        out.append(name.rsplit(".", 1)[0])
        first = name.split(".", 1)[0]
        if first and first not in out:
            out.append(first)
    else:
        out.append(name)
    return out


def read_vocabulary(path: str | os.PathLike[str]) -> list[str]:
    """The one vocabulary reader (sidecars found next to a model, files the user opens, samples).

    Accepted: a JSON list of strings; a JSON object ``{"token": index, ...}`` (turned into the list
    ordered by index, missing indices ``""``); any other text (not named ``*.json``): one token
    per line.

    Returns
    -------
    list[str] : entry ``i`` is the token of input id / output class ``i``.

    Raises
    ------
    ValueError : '<file>: <one-line reason>' for anything else (too big, malformed JSON, a list
        holding non-strings, negative or absurd indices); OSError when the file cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: not a regular file")
    if p.stat().st_size > MAX_VOCAB_BYTES:
        raise ValueError(f"{p}: over {MAX_VOCAB_BYTES // 1024**2} MiB: not a vocabulary")
    try:
        text = p.read_text(encoding="utf8")
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text") from None
    if text.lstrip("\ufeff \t\r\n")[:1] not in ("[", "{") and p.suffix.lower() != ".json":
        tokens = text.splitlines()
        if len(tokens) > MAX_TOKENS:
            raise ValueError(f"{p}: more than {MAX_TOKENS} tokens")
        return tokens
    try:
        obj = json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError):
        raise ValueError(f"{p}: malformed JSON") from None
    return _tokens(obj, p)


def _tokens(obj: object, p: Path) -> list[str]:
    if isinstance(obj, list):
        if len(obj) > MAX_TOKENS or not all(isinstance(t, str) for t in obj):
            raise ValueError(f"{p}: a vocabulary must be a JSON list of strings")
        return list(obj)
    if not isinstance(obj, dict) or len(obj) > MAX_TOKENS:
        raise ValueError(f"{p}: a vocabulary must be a JSON list of strings or a token -> index object")
    items = [(k, v) for k, v in obj.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
    if not items or len(items) != len(obj) or max(v for _, v in items) >= MAX_TOKENS:
        raise ValueError(f"{p}: token indices must be integers from 0 to {MAX_TOKENS - 1}")
    out = [""] * (max(v for _, v in items) + 1)
    for k, v in items:
        out[v] = k
    return out


def find_vocabulary(model_path: str | os.PathLike[str]) -> list[str] | None:
    """The vocabulary stored next to `model_path`, or None (see the module docstring for the format).

    Never raises: an unreadable or malformed vocabulary file is treated as absent.
    """
    p = Path(model_path)
    folder = p.parent
    candidates = [folder / f"{s}.vocab.json" for s in _stems(p)] + [folder / "vocab.json"]
    for c in candidates:
        try:
            return read_vocabulary(c)
        except (OSError, ValueError):
            continue
    return None
