"""App layer: typed text -> model input, through a small encoder object (characters or words).

An encoder turns text into token ids (`Encoded`); `text_to_input` turns those ids into the array a
model takes (one-hot rows or an id row, left-padded to a fixed window).  The vocabulary encoder here
reads a sidecar vocabulary (`<stem>.vocab.json`, see docs/formats.md); `inspector.app.text` adds
tokenizer-based encoders with the same `encode` method.  No Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from inspector.core.network import Network

PAD_TOKEN = "<pad>"
# Starter texts, first one the vocabulary spells whole wins: a sentence for language models, nested
# brackets for bracket-counting models (the explainer sample: its depth unit shows something).
EXAMPLE_TEXTS = ("the quick brown fox jumps over the lazy dog. ", "a(b(c)a).")


@dataclass(frozen=True)
class Encoded:
    """Text as token ids.

    Attributes
    ----------
    ids : (T,) int64 token ids, one per step.
    tokens : one display string per step ('<pad>' for padding).
    kind : what did the encoding, e.g. 'characters (vocabulary sidecar)'.
    """

    ids: np.ndarray
    tokens: list[str]
    kind: str


class Encoder(Protocol):
    """Anything with `encode(text) -> Encoded` (see `inspector.app.text` for word tokenizers)."""

    def encode(self, text: str) -> Encoded: ...


def is_word_level(vocabulary: Sequence[str]) -> bool:
    """A vocabulary of words (some token longer than one character), not of characters."""
    return any(len(tok) > 1 for tok in vocabulary if tok.strip())


class VocabularyEncoder:
    """Characters (or whitespace-separated words) looked up in a sidecar vocabulary list.

    Upper case folds to lower case when the vocabulary has no upper-case symbol.  A symbol not in the
    vocabulary raises ValueError (one line).
    """

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.vocabulary = list(vocabulary)
        self.word_level = is_word_level(self.vocabulary)
        self.kind = "words (vocabulary sidecar)" if self.word_level else "characters (vocabulary sidecar)"
        self._index = {tok: k for k, tok in enumerate(self.vocabulary)}
        self._fold = not any(tok != tok.lower() for tok in self.vocabulary)

    def encode(self, text: str) -> Encoded:
        symbols = text.split() if self.word_level else list(text)
        ids: list[int] = []
        for s in symbols:
            k = self._index.get(s)
            if k is None and self._fold:
                k = self._index.get(s.lower())
            if k is None:
                raise ValueError(f"{s!r} is not in the model's vocabulary ({len(self.vocabulary)} symbols)")
            ids.append(k)
        if not ids:
            raise ValueError("the text is empty")
        return Encoded(np.asarray(ids, dtype=np.int64), [self.vocabulary[k] for k in ids], self.kind)

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids back to text (ids outside the vocabulary are skipped)."""
        tokens = [self.vocabulary[int(i)] for i in ids if 0 <= int(i) < len(self.vocabulary)]
        return (" " if self.word_level else "").join(tokens)


def example_text(vocabulary: Sequence[str]) -> str:
    """A starter text written only with `vocabulary`'s symbols (words for a word vocabulary)."""
    if is_word_level(vocabulary):
        words = [w for w in EXAMPLE_TEXTS[0].split() if w in set(vocabulary)]
        return " ".join(words or [t for t in vocabulary if t.strip()][:5])
    allowed = set(vocabulary)
    for text in EXAMPLE_TEXTS:
        if set(text) <= allowed:
            return text
    text = "".join(ch for ch in EXAMPLE_TEXTS[0] if ch in allowed)
    return text or "".join(vocabulary[: min(len(vocabulary), 10)])


def text_to_input(network: Network | None, encoded: Encoded, n_symbols: int) -> np.ndarray:
    """Token ids -> model input with batch axis 1, from the model's first input shape.

    One-hot models (input (None, T, V), V == `n_symbols`) get float32 (1, T, V); token-id models
    (input (None, T)) int32 (1, T).  A fixed T keeps the last T symbols and left-pads shorter text
    with zero rows (id 0).  Raises ValueError with one line otherwise.
    """
    if network is None:
        raise ValueError("no architecture is loaded, so text cannot be encoded")
    if not network.input_shapes:
        raise ValueError("the model's input shape is unknown")
    shape = network.input_shapes[0]
    ids = [int(i) for i in encoded.ids]
    T = shape[1] if len(shape) >= 2 else None
    pad = 0
    if T is not None:
        ids = ids[-T:]
        pad = T - len(ids)
    if len(shape) == 3:
        V = shape[2]
        if V is not None and V != n_symbols:
            raise ValueError(
                f"the vocabulary has {n_symbols} symbols but the model expects {V} input features"
            )
        x = np.zeros((1, pad + len(ids), n_symbols), dtype=np.float32)
        x[0, pad + np.arange(len(ids)), ids] = 1.0
        return x
    if len(shape) == 2:
        return np.asarray([[0] * pad + ids], dtype=np.int32)
    raise ValueError(f"cannot encode text for an input of shape {shape}")
