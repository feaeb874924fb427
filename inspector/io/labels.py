"""Class names for a model's outputs: `<stem>.labels.json` beside the model, or a label decoding
stored inside the file (no Qt).

* ``<stem>.labels.json`` (or ``labels.json``): a JSON list of strings (entry k names class k), or an
  object ``{"0": "negative", "1": "positive"}`` / ``{"negative": 0, ...}``, or ``{"<output name>":
  [...], ...}`` for several outputs (keyed by the output layer's name).
* A ``*_label_decoding`` root-level scalar dataset or attribute of an HDF5 model file (medaka writes
  ``medaka_label_decoding = "['*', A, C, G, T]"``, a YAML flow list): used as the class names of
  the model's (first) output.  See ``docs/formats.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from inspector.io._safe import ReadError
from inspector.io.tokenizer import read_json_sidecar, sidecar_candidates

MAX_LABELS_BYTES = 16 * 1024**2
MAX_LABELS = 1_000_000

#: labels for every output ('' = the only / first output) keyed by output layer name
Labels = dict[str, list[str]]


def _as_list(obj: Any) -> list[str] | None:
    if (
        isinstance(obj, list)
        and len(obj) <= MAX_LABELS
        and all(isinstance(t, (str, int, float)) for t in obj)
    ):
        return [str(t) for t in obj]
    if isinstance(obj, Mapping) and obj and len(obj) <= MAX_LABELS:
        keys, vals = list(obj.keys()), list(obj.values())
        if all(str(k).isdigit() for k in keys) and all(isinstance(v, str) for v in vals):
            pairs = [(int(k), v) for k, v in obj.items()]
        elif all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals):
            pairs = [(v, str(k)) for k, v in obj.items()]
        else:
            return None
        if max(i for i, _ in pairs) >= MAX_LABELS:
            return None
        out = [f"class {i}" for i in range(max(i for i, _ in pairs) + 1)]
        for i, name in pairs:
            out[i] = name
        return out
    return None


def parse_labels(obj: Any) -> Labels:
    """A parsed labels JSON -> {output name or '': class names}.

    Raises
    ------
    ReadError : not a list of class names (one-line reason).
    """
    flat = _as_list(obj)
    if flat is not None:
        return {"": flat}
    if isinstance(obj, Mapping) and obj:
        out = {str(k): _as_list(v) for k, v in obj.items()}
        if all(v is not None for v in out.values()):
            return {k: v for k, v in out.items() if v is not None}
    raise ReadError("labels file is not a list of class names (or an object of such lists per output)")


def read_labels(path: str | os.PathLike[str]) -> Labels:
    """Read a labels JSON file (ModelFileError '<file>: <reason>' if it is not one)."""
    return read_json_sidecar(path, MAX_LABELS_BYTES, "labels file", parse_labels)


def parse_flow_list(text: str) -> list[str] | None:
    """A YAML/Python-style flow list ``['*', A, C, G, T]`` -> ['*', 'A', 'C', 'G', 'T'] (None if not one).

    Items are split on commas; surrounding quotes are removed.  Nothing is evaluated.
    """
    s = text.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return None
    body = s[1:-1].strip()
    if not body:
        return []
    items = []
    for raw in body.split(","):
        t = raw.strip()
        if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
            t = t[1:-1]
        items.append(t)
    return items if len(items) <= MAX_LABELS else None


def stored_label_decoding(model_path: str | os.PathLike[str]) -> list[str] | None:
    """Class names stored in an HDF5 model file as a ``*_label_decoding`` root dataset/attribute, or None.

    Never raises: a non-HDF5 file or an unreadable entry means no stored decoding.
    """
    try:
        import h5py

        from inspector.io._safe import text

        with h5py.File(os.fspath(model_path), "r") as f:
            found: list[Any] = [f.attrs[k] for k in f.attrs if str(k).endswith("_label_decoding")]
            for k in f.keys():
                if not str(k).endswith("_label_decoding") or not isinstance(
                    f.get(k, getlink=True), h5py.HardLink
                ):
                    continue  # links to other files are never followed
                obj = f[k]
                if isinstance(obj, h5py.Dataset) and obj.shape in ((), (1,)):
                    found.append(obj[()] if obj.shape == () else obj[0])
            for value in found:
                got = parse_flow_list(text(value))
                if got:
                    return got
    except Exception:  # noqa: BLE001 - optional metadata of an untrusted file
        return None
    return None


def find_labels(model_path: str | os.PathLike[str]) -> Labels:
    """`<stem>.labels.json` / `labels.json` beside the model, else a stored label decoding ({'': ...}),
    else {}.

    Raises
    ------
    ModelFileError : a labels file exists but is malformed.
    """
    for c in sidecar_candidates(model_path, ".labels.json"):
        if c.is_file():
            return read_labels(c)
    stored = stored_label_decoding(model_path)
    return {"": stored} if stored else {}
