"""Files that travel next to a model: the vocabulary for text models.

Format (written by `resources/` sample-model scripts and accepted from users):

* ``<stem>.vocab.json`` next to the model: a JSON **list of strings**; entry ``i`` is the token
  for input id / output class ``i`` (for character models, one character per entry, e.g.
  ``["\\n", " ", "a", ...]``).  A JSON object ``{"token": index, ...}`` is accepted too and
  turned into the list ordered by index (missing indices become ``""``).
* ``vocab.json`` in the same folder, same format, as a fallback.

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


def _parse(path: Path) -> list[str] | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_VOCAB_BYTES:
            return None
        obj = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(obj, list) and len(obj) <= MAX_TOKENS and all(isinstance(t, str) for t in obj):
        return list(obj)
    if isinstance(obj, dict) and len(obj) <= MAX_TOKENS:
        items = [(k, v) for k, v in obj.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
        if not items or len(items) != len(obj) or max(v for _, v in items) >= MAX_TOKENS:
            return None
        out = [""] * (max(v for _, v in items) + 1)
        for k, v in items:
            out[v] = k
        return out
    return None


def find_vocabulary(model_path: str | os.PathLike[str]) -> list[str] | None:
    """The vocabulary stored next to `model_path`, or None (see the module docstring for the format).

    Never raises: an unreadable or malformed vocabulary file is treated as absent.
    """
    p = Path(model_path)
    folder = p.parent
    candidates = [folder / f"{s}.vocab.json" for s in _stems(p)] + [folder / "vocab.json"]
    for c in candidates:
        got = _parse(c)
        if got is not None:
            return got
    return None


def read_vocabulary(path: str | os.PathLike[str]) -> list[str] | None:
    """A vocabulary file the user chose: the sidecar JSON format, or one token per line (a .txt).

    Returns None when the file is unreadable or malformed (never raises).
    """
    p = Path(path)
    got = _parse(p)
    if got is not None:
        return got
    try:
        if p.stat().st_size > MAX_VOCAB_BYTES:
            return None
        text = p.read_text(encoding="utf8")
    except (OSError, UnicodeDecodeError):
        return None
    if text.lstrip().startswith(("[", "{")):
        return None  # JSON, but not a vocabulary
    lines = text.splitlines()
    return lines if lines and len(lines) <= MAX_TOKENS else None
