"""Preprocessing layers that turn strings into ids inside a model: `TextVectorization`, `StringLookup`,
`IntegerLookup` -> `LookupSpec` (config + the vocabulary from the archive's `assets/` or the config).

Where the vocabulary is (see ``docs/formats.md``):

* Keras 3 and tf_keras 2.x ``.keras`` archives: ``assets/layers/<snake_case class>[_k]/vocabulary.txt``
  (the k-th layer of that class, k >= 1, gets the ``_k`` suffix), one token per line, *including* the
  special tokens: line 0 is the mask token ``""`` (TextVectorization) and the next lines the OOV
  token(s) ``[UNK]``.  TextVectorization also writes ``.../_lookup_layer/vocabulary.txt`` (same content).
* A vocabulary passed to the constructor as a list is stored inline in the config
  (``"vocabulary": ["the", "cat"]``), usually *without* the special tokens.

Id layout (Keras ``IndexLookup``): ``[mask_token] + [oov_token] * num_oov_indices + tokens``; the
mask token is present only when it is not None (TextVectorization: always ``""``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.core.network import Layer, Network
from inspector.io._safe import ReadError
from inspector.io.config import to_snake_case
from inspector.io.errors import ModelFileError

MAX_VOCAB_FILE = 64 * 1024**2
LOOKUP_KINDS = ("TextVectorization", "StringLookup", "IntegerLookup")
STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = (None, "whitespace", "character")

Token = str | int


@dataclass(frozen=True)
class LookupSpec:
    """One string/integer -> id preprocessing layer.

    Attributes
    ----------
    layer : the layer's name in the model.
    kind : 'TextVectorization' | 'StringLookup' | 'IntegerLookup'.
    vocabulary : id -> token, special tokens included (index 0 is the mask token when there is one).
    mask_token, oov_token : as configured (None when absent).
    num_oov_indices : ids reserved for unknown tokens (only 1 is supported).
    standardize, split : TextVectorization only ('lower_and_strip_punctuation', 'whitespace', ...).
    output_sequence_length : TextVectorization only: pad with 0 / truncate to this length.
    unsupported : None, or a one-line reason why this layer cannot be reproduced (named options).
    """

    layer: str
    kind: str
    vocabulary: tuple[Token, ...]
    mask_token: Token | None
    oov_token: Token | None
    num_oov_indices: int = 1
    standardize: str | None = None
    split: str | None = None
    output_sequence_length: int | None = None
    unsupported: str | None = None

    @property
    def oov_id(self) -> int:
        """The id of an unknown token (the first OOV index)."""
        return 1 if self.mask_token is not None else 0


def _unsupported(lay: Layer) -> list[str]:
    cfg = lay.raw_config
    bad = []
    if cfg.get("output_mode", "int") != "int":
        bad.append(f"output_mode={cfg.get('output_mode')!r}")
    if cfg.get("invert"):
        bad.append("invert=True")
    if cfg.get("num_oov_indices", 1) != 1:
        bad.append(f"num_oov_indices={cfg.get('num_oov_indices')!r}")
    if lay.kind == "TextVectorization":
        if cfg.get("ngrams") not in (None, 1):
            bad.append(f"ngrams={cfg.get('ngrams')!r}")
        if cfg.get("standardize") not in STANDARDIZE:
            bad.append(f"standardize={str(cfg.get('standardize'))[:40]!r} (custom function)")
        if cfg.get("split") not in SPLIT:
            bad.append(f"split={str(cfg.get('split'))[:40]!r} (custom function)")
    return bad


def _asset_names(net: Network) -> dict[str, str]:
    """layer name -> asset folder key ('text_vectorization', 'text_vectorization_1', ...)."""
    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    for lay in net.layers:
        snake = to_snake_case(lay.kind)
        k = seen.get(snake, 0)
        seen[snake] = k + 1
        out[lay.name] = snake if k == 0 else f"{snake}_{k}"
    return out


def _read_asset(model_path: str, key: str) -> list[str] | None:
    from inspector.io.keras_v3 import _Archive  # the one reader of .keras archives and their folders

    if not os.path.exists(model_path):
        return None
    try:
        arch = _Archive(model_path)
    except Exception:  # noqa: BLE001 - not an archive: no assets
        return None
    try:
        name = f"assets/layers/{key}/vocabulary.txt"
        if arch.zip is None:
            p = os.path.join(model_path, *name.split("/"))
            if not os.path.isfile(p) or os.path.islink(p) or os.path.getsize(p) > MAX_VOCAB_FILE:
                return None
            with open(p, "rb") as fh:
                data = fh.read(MAX_VOCAB_FILE + 1)
        elif arch.has(name):
            data = arch.read(name, MAX_VOCAB_FILE)
        else:
            return None
        return data.decode("utf8").split("\n")
    finally:
        arch.close()


def _with_specials(tokens: Sequence[Any], mask: Token | None, oov: Token | None, n_oov: int) -> list[Token]:
    """The full id table: [mask] + [oov]*n + tokens, whether or not `tokens` already starts with them."""
    head: list[Token] = ([mask] if mask is not None else []) + ([oov] * n_oov if oov is not None else [])
    toks = list(tokens)
    if head and [str(t) for t in toks[: len(head)]] == [str(t) for t in head]:
        toks = toks[len(head) :]
    return head + toks


def lookup_spec(lay: Layer, model_path: str, asset_key: str) -> LookupSpec:
    """One preprocessing layer -> LookupSpec (vocabulary from the archive's assets, else the config).

    Raises
    ------
    ReadError : no vocabulary anywhere, or a malformed one.
    """
    cfg = lay.raw_config
    kind = lay.kind
    integer = kind == "IntegerLookup"
    mask: Token | None
    oov: Token | None
    if kind == "TextVectorization":
        mask, oov = "", "[UNK]"
    else:
        mask = cfg.get("mask_token")
        oov = cfg.get("oov_token", -1 if integer else "[UNK]")
    n_oov = int(cfg.get("num_oov_indices", 1) or 0)
    lines = _read_asset(model_path, asset_key)
    raw: list[Any] | None = lines
    if lines is not None and integer:
        try:
            raw = [int(t) for t in lines if t.strip()]
        except ValueError:
            raise ReadError(f"layer {lay.name!r}: integer vocabulary file holds a non-integer") from None
    if raw is None:
        inline = cfg.get("vocabulary")
        if isinstance(inline, list):
            raw = inline
        elif isinstance(inline, str):
            raise ReadError(
                f"layer {lay.name!r}: vocabulary is a file path {inline[:60]!r} outside the model"
            )
        else:
            raise ReadError(
                f"layer {lay.name!r} ({kind}): no vocabulary in the archive's assets or the config"
            )
    vocab = _with_specials(raw, mask, oov, n_oov)
    bad = _unsupported(lay)
    osl = cfg.get("output_sequence_length") if kind == "TextVectorization" else None
    return LookupSpec(
        layer=lay.name,
        kind=kind,
        vocabulary=tuple(vocab),
        mask_token=mask,
        oov_token=oov,
        num_oov_indices=n_oov,
        standardize=cfg.get("standardize") if kind == "TextVectorization" else None,
        split=cfg.get("split") if kind == "TextVectorization" else None,
        output_sequence_length=int(osl) if isinstance(osl, int) and osl > 0 else None,
        unsupported=(f"{kind} layer {lay.name!r}: unsupported " + ", ".join(bad)) if bad else None,
    )


def find_preprocessing(model_path: str | os.PathLike[str], net: Network) -> list[LookupSpec]:
    """Every top-level TextVectorization / StringLookup / IntegerLookup layer of `net`, in layer order.

    Raises
    ------
    ModelFileError : such a layer exists but its vocabulary cannot be found or read.
    """
    p = os.fspath(model_path)
    keys = _asset_names(net)
    out = []
    for lay in net.layers:
        if lay.kind in LOOKUP_KINDS:
            try:
                out.append(lookup_spec(lay, p, keys[lay.name]))
            except ReadError as exc:
                raise ModelFileError(p, str(exc)) from None
            except (UnicodeDecodeError, OSError) as exc:
                raise ModelFileError(p, f"layer {lay.name!r}: vocabulary unreadable ({exc})") from None
    return out


def vocabulary_index(spec: LookupSpec) -> Mapping[Token, int]:
    """token -> id (the first id wins when a token repeats, as Keras' lookup table does)."""
    index: dict[Token, int] = {}
    for i, t in enumerate(spec.vocabulary):
        index.setdefault(t, i)
    return index
