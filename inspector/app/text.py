"""Typed text -> the ids a model reads, exactly as the model's own preprocessing makes them (no Qt).

Three encoders share the `TextEncoder` protocol (`encode(text) -> Encoded`):

* `VocabularyEncoder`: the ``<stem>.vocab.json`` sidecar (one symbol per id; characters, or words
  when the vocabulary holds words).  No OOV id: an unknown symbol is a one-line ValueError.
* `TokenizerEncoder`: a Keras ``Tokenizer`` JSON; reproduces ``texts_to_sequences`` (filters, lower,
  split, char_level, num_words: ids >= num_words dropped or mapped to the OOV id, oov_token).
* `LookupEncoder`: a ``TextVectorization`` / ``StringLookup`` / ``IntegerLookup`` layer inside the
  model (standardize, split, vocabulary lookup with OOV id, ``output_sequence_length`` padding with
  the mask id 0).  The model is then run from the ids: `strip_preprocessing` removes that layer.

`Padding` applies ``pad_sequences`` conventions (pre/post, maxlen, truncating) and marks the padded
steps, so views show them as padding; `to_model_input` turns ids into the array the model takes
(ids (1, T) or one-hot (1, T, V)).  `find_encoder` picks the encoder for an open file.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from inspector.core.network import Array, Layer, ModelFile, Network, TensorRef
from inspector.io.preprocessing import LookupSpec, find_preprocessing, vocabulary_index
from inspector.io.tokenizer import TokenizerSpec, find_tokenizer, read_tokenizer

PAD = "<pad>"
OOV = "<oov>"
# Starter texts, first one the vocabulary spells whole wins: a sentence for language models, nested
# brackets for bracket-counting models (the explainer sample: its depth unit shows something); for word
# vocabularies the sentence with the most known words.
EXAMPLE_TEXTS = ("the quick brown fox jumps over the lazy dog. ", "a(b(c)a).")
WORD_EXAMPLES = (
    "this movie was a wonderful story with great acting but the ending was terrible",
    "the quick brown fox jumps over the lazy dog",
)
# Keras TextVectorization: tf.strings.lower is ASCII-only; the punctuation class and whitespace set
# are the ones Keras / TensorFlow use (DEFAULT_STRIP_REGEX, absl::ascii_isspace).
_STRIP = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Encoded:
    """One encoded text.

    Attributes
    ----------
    ids : (T,) int64, the model's input ids (padding included).
    tokens : T display strings, one per step ('<pad>' for padding, '<oov>' for an unknown symbol
        shown as '<oov>:word' so the user sees which word it was).
    kind : the encoder that made it ('Keras Tokenizer (words)', ...).
    padding : (T,) bool, True on padded steps.
    """

    ids: Array
    tokens: list[str]
    kind: str
    padding: Array

    @property
    def n_steps(self) -> int:
        return int(self.ids.shape[0])


def _encoded(
    ids: Sequence[int], tokens: Sequence[str], kind: str, pad: Sequence[bool] | None = None
) -> Encoded:
    arr = np.asarray(list(ids), dtype=np.int64).reshape(-1)
    mask = np.zeros(arr.shape, dtype=bool) if pad is None else np.asarray(list(pad), dtype=bool)
    return Encoded(arr, list(tokens), kind, mask)


class TextEncoder(Protocol):
    """Typed text -> model ids (see the module docstring)."""

    kind: str

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids the encoder can emit (0 .. vocab_size-1)."""
        ...

    def encode(self, text: str) -> Encoded:
        """Raises ValueError (one line) when the text cannot be encoded."""
        ...

    def token(self, i: int) -> str:
        """Display string of id `i` (for output labels and generated text)."""
        ...


# ------------------------------------------------------------------------------------ encoders


class VocabularyEncoder:
    """A ``<stem>.vocab.json`` list: id k is symbol vocabulary[k]; characters or whitespace-split words."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.vocabulary = list(vocabulary)
        self.index = {t: k for k, t in reversed(list(enumerate(self.vocabulary)))}
        self.word_level = any(len(t) > 1 for t in self.vocabulary if t.strip())
        self.case_folded = not any(t != t.lower() for t in self.vocabulary)
        self.kind = f"{'words' if self.word_level else 'characters'} (vocabulary sidecar)"

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def token(self, i: int) -> str:
        return self.vocabulary[i] if 0 <= i < len(self.vocabulary) else f"#{i}"

    def encode(self, text: str) -> Encoded:
        symbols = text.split() if self.word_level else list(text)
        ids = []
        for s in symbols:
            k = self.index.get(s)
            if k is None and self.case_folded:
                k = self.index.get(s.lower())
            if k is None:
                raise ValueError(f"{s!r} is not in the model's vocabulary ({len(self.vocabulary)} symbols)")
            ids.append(k)
        return _encoded(ids, symbols, self.kind)


def text_to_word_sequence(text: str, filters: str, lower: bool, split: str) -> list[str]:
    """keras_preprocessing's `text_to_word_sequence`: lower, filters -> `split`, split, drop empties."""
    if lower:
        text = text.lower()
    table: dict[str, str | int | None] = {c: split for c in filters}
    text = text.translate(str.maketrans(table))
    return [w for w in text.split(split) if w]


class TokenizerEncoder:
    """A Keras ``Tokenizer``: ``texts_to_sequences([text])[0]`` exactly."""

    def __init__(self, spec: TokenizerSpec) -> None:
        self.spec = spec
        self.kind = f"Keras Tokenizer ({'characters' if spec.char_level else 'words'})"
        self.oov_id = spec.word_index.get(spec.oov_token) if spec.oov_token is not None else None

    @property
    def vocab_size(self) -> int:
        n = max(self.spec.word_index.values(), default=0) + 1
        return min(n, self.spec.num_words) if self.spec.num_words else n

    def token(self, i: int) -> str:
        if i == 0:
            return PAD
        return self.spec.index_word.get(i, f"#{i}")

    def encode(self, text: str) -> Encoded:
        s = self.spec
        if s.char_level:
            seq = list(text.lower() if s.lower else text)
        else:
            seq = text_to_word_sequence(text, s.filters, s.lower, s.split)
        ids: list[int] = []
        tokens: list[str] = []
        for w in seq:
            i = s.word_index.get(w)
            if i is not None and not (s.num_words and i >= s.num_words):
                ids.append(i)
                tokens.append(w)
            elif self.oov_id is not None:  # unknown, or beyond num_words: the OOV id if there is one
                ids.append(self.oov_id)
                tokens.append(f"{OOV}:{w}")
            # else dropped, as texts_to_sequences does
        return _encoded(ids, tokens, self.kind)


def standardize(text: str, mode: str | None) -> str:
    """TextVectorization's `standardize` (ASCII lowercasing as tf.strings.lower; Keras' punctuation set)."""
    if mode in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = _STRIP.sub("", text)
    return text


def split_text(text: str, mode: str | None) -> list[str]:
    """TextVectorization's `split`: 'whitespace' (runs of ASCII whitespace), 'character' (code points),
    None (the whole string is one token)."""
    if mode == "whitespace":
        return [t for t in _WHITESPACE.split(text) if t]
    if mode == "character":
        return list(text)
    return [text]


class LookupEncoder:
    """A preprocessing layer inside the model (TextVectorization, StringLookup, IntegerLookup)."""

    def __init__(self, spec: LookupSpec) -> None:
        if spec.unsupported:
            raise ValueError(spec.unsupported)
        self.spec = spec
        self.index = vocabulary_index(spec)
        where = "inside the model"
        self.kind = f"{spec.kind} ({where})"

    @property
    def vocab_size(self) -> int:
        return len(self.spec.vocabulary)

    def token(self, i: int) -> str:
        v = self.spec.vocabulary
        if not 0 <= i < len(v):
            return f"#{i}"
        if self.spec.mask_token is not None and i == 0:
            return PAD
        if i == self.spec.oov_id:
            return OOV
        return str(v[i])

    def symbols(self, text: str) -> list[str]:
        """The tokens the layer looks up for `text` (after standardize and split)."""
        s = self.spec
        if s.kind == "TextVectorization":
            return split_text(standardize(text, s.standardize), s.split)
        return [t for t in re.split(r"[\s,]+", text) if t]

    def encode(self, text: str) -> Encoded:
        s = self.spec
        ids: list[int] = []
        tokens: list[str] = []
        for w in self.symbols(text):
            key: str | int = w
            if s.kind == "IntegerLookup":
                try:
                    key = int(w)
                except ValueError:
                    raise ValueError(
                        f"{w!r} is not an integer (the model's IntegerLookup reads integers)"
                    ) from None
            i = self.index.get(key)
            if s.mask_token is not None and key == s.mask_token:
                i = 0
            if i is None:
                ids.append(s.oov_id)
                tokens.append(f"{OOV}:{w}")
            else:
                ids.append(i)
                tokens.append(w)
        pad = [False] * len(ids)
        L = s.output_sequence_length
        if L is not None:  # Keras: truncate the end, pad the end with 0
            ids, tokens, pad = ids[:L], tokens[:L], pad[:L]
            n = L - len(ids)
            ids, tokens, pad = ids + [0] * n, tokens + [PAD] * n, pad + [True] * n
        return _encoded(ids, tokens, self.kind, pad)


# ------------------------------------------------------------------------------------- padding


@dataclass(frozen=True)
class Padding:
    """``pad_sequences`` conventions: `side` 'pre' | 'post' | 'none', `maxlen` (None: no fixed length),
    `truncating` 'pre' (keep the end, Keras' default) | 'post', padding id `value`."""

    side: str = "none"
    maxlen: int | None = None
    truncating: str = "pre"
    value: int = 0

    def apply(self, enc: Encoded) -> Encoded:
        """The padded / truncated sequence; padded steps are marked in `padding` and shown as '<pad>'."""
        ids, toks, pad = list(enc.ids), list(enc.tokens), list(enc.padding)
        if self.maxlen is None:
            return enc
        L = int(self.maxlen)
        if len(ids) > L:
            sl = slice(len(ids) - L, None) if self.truncating == "pre" else slice(0, L)
            ids, toks, pad = ids[sl], toks[sl], pad[sl]
        n = L - len(ids)
        if n > 0 and self.side in ("pre", "post"):
            extra = ([self.value] * n, [PAD] * n, [True] * n)
            if self.side == "pre":
                ids, toks, pad = extra[0] + ids, extra[1] + toks, extra[2] + pad
            else:
                ids, toks, pad = ids + extra[0], toks + extra[1], pad + extra[2]
        return _encoded(ids, toks, enc.kind, pad)


def fixed_length(net: Network, i: int = 0) -> int | None:
    """The time length recorded in the model's input shape (None when free)."""
    if i < len(net.input_shapes) and len(net.input_shapes[i]) >= 2:
        return net.input_shapes[i][1]
    return None


def to_model_input(net: Network, enc: Encoded, i: int = 0) -> Array:
    """Ids -> what model input `i` takes: (1, T) int64 ids, or (1, T, V) float32 one-hot rows for an
    input (None, T, V) (padding steps are all-zero rows).

    Raises
    ------
    ValueError : the input is neither ids nor one-hot over the encoder's ids.
    """
    shape = net.input_shapes[i] if i < len(net.input_shapes) else (None, None)
    if len(shape) == 3:
        V = shape[2]
        top = int(enc.ids.max(initial=0)) + 1
        if V is None or V < top:
            raise ValueError(f"the model expects {V} input features but the text uses ids up to {top - 1}")
        x = np.zeros((1, enc.n_steps, int(V)), dtype=np.float32)
        live = ~enc.padding
        x[0, np.flatnonzero(live), enc.ids[live]] = 1.0
        return x
    if len(shape) == 2:
        return enc.ids.reshape(1, -1).astype(np.int64)
    raise ValueError(f"cannot feed text to an input of shape {tuple(shape)}")


def encoded_ids(ids: Sequence[int], encoder: TextEncoder | None = None) -> Encoded:
    """Typed ids (no text) as an Encoded, so they get the same padding and display as typed text.
    Tokens are the encoder's symbols, or the ids themselves."""
    toks = [encoder.token(int(i)) if encoder is not None else str(int(i)) for i in ids]
    return _encoded([int(i) for i in ids], toks, encoder.kind if encoder is not None else "ids")


def skipped_steps(net: Network, enc: Encoded, i: int = 0) -> Array:
    """(T,) bool: steps the model skips because their id is 0 and the Embedding reading input `i` has
    mask_zero=True (recurrent layers then carry their state over those steps)."""
    from inspector.core.engine import first_consumers

    masked = any(
        c.kind == "Embedding" and bool(c.config.get("mask_zero", False)) for c in first_consumers(net, i)
    )
    return (enc.ids == 0) if masked else np.zeros(enc.ids.shape, dtype=bool)


# ------------------------------------------------------------------ models with preprocessing inside


def preprocessing_input(net: Network) -> Layer | None:
    """The lookup layer applied directly to model input 0 (TextVectorization / StringLookup /
    IntegerLookup), or None."""
    from inspector.io.preprocessing import LOOKUP_KINDS

    if net.kind == "Sequential":
        first = next((lay for lay in net.layers if lay.kind != "InputLayer"), None)
        return first if first is not None and first.kind in LOOKUP_KINDS else None
    if not net.inputs:
        return None
    src = net.inputs[0].layer
    for lay in net.layers:
        if lay.kind in LOOKUP_KINDS and lay.calls and any(r.layer == src for r in lay.calls[0].inputs):
            return lay
    return None


def strip_preprocessing(net: Network, layer: str, length: int | None) -> Network:
    """`net` with the lookup layer `layer` removed: model input 0 then takes its ids, (B, length) int64.

    Functional models: every reference to that layer's output is rewired to the model input.
    """
    layers = tuple(lay for lay in net.layers if lay.name != layer)
    shapes = ((None, length), *net.input_shapes[1:])
    dtypes = ("int64", *net.input_dtypes[1:])
    if net.kind == "Sequential":
        return dataclasses.replace(net, layers=layers, input_shapes=shapes, input_dtypes=dtypes)
    src = net.inputs[0]

    def rewire(r: TensorRef) -> TensorRef:
        return TensorRef(src.layer, src.node, src.index) if r.layer == layer else r

    new_layers = tuple(
        dataclasses.replace(
            lay,
            calls=tuple(
                dataclasses.replace(
                    c, inputs=tuple(map(rewire, c.inputs)), initial_state=tuple(map(rewire, c.initial_state))
                )
                for c in lay.calls
            ),
        )
        for lay in layers
    )
    outputs = tuple(map(rewire, net.outputs))
    return dataclasses.replace(
        net, layers=new_layers, outputs=outputs, input_shapes=shapes, input_dtypes=dtypes
    )


@dataclass(frozen=True)
class TextModel:
    """What is needed to run a model on typed text.

    encoder : makes the ids.  network : the network that takes those ids (the model's own, or the
    model without its lookup layer).  padding : the default padding (the user may change it).
    """

    encoder: TextEncoder
    network: Network
    padding: Padding = Padding()

    def encode(self, text: str, padding: Padding | None = None) -> tuple[Encoded, Array]:
        """text -> (Encoded with padding applied, the model input array with batch axis 1)."""
        enc = (padding or self.padding).apply(self.encoder.encode(text))
        if enc.n_steps == 0:
            raise ValueError("the text has no tokens the model knows (empty after encoding)")
        return enc, to_model_input(self.network, enc)


def find_encoder(
    model_file: ModelFile,
    path: str | os.PathLike[str] | None = None,
    *,
    vocab: Sequence[str] | None = None,
    tokenizer: str | os.PathLike[str] | None = None,
) -> TextEncoder | None:
    """The text encoder for a model: an explicit `tokenizer` file or `vocab` list first, then a lookup
    layer inside the model, then ``<stem>.tokenizer.json``, then ``<stem>.vocab.json`` beside `path`.

    Raises
    ------
    ModelFileError : a tokenizer / vocabulary that exists cannot be read.
    ValueError : the model's lookup layer uses options that cannot be reproduced (named).
    """
    tm = find_text_model(model_file, path, vocab=vocab, tokenizer=tokenizer)
    return tm.encoder if tm is not None else None


def find_text_model(
    model_file: ModelFile,
    path: str | os.PathLike[str] | None = None,
    *,
    vocab: Sequence[str] | None = None,
    tokenizer: str | os.PathLike[str] | None = None,
) -> TextModel | None:
    """`find_encoder` plus the network to run and the default padding (see `TextModel`)."""
    from inspector.io.sidecar import find_vocabulary

    net = model_file.network
    if net is None:
        return None
    p = os.fspath(path if path is not None else model_file.path)
    lay = preprocessing_input(net)
    if lay is not None:  # the model's own preprocessing wins over any sidecar or explicit file
        specs = {s.layer: s for s in find_preprocessing(p, net)}
        enc = LookupEncoder(specs[lay.name])
        return TextModel(enc, strip_preprocessing(net, lay.name, enc.spec.output_sequence_length))
    encoder: TextEncoder | None = None
    if tokenizer is not None:
        encoder = TokenizerEncoder(read_tokenizer(tokenizer))
    elif vocab is not None:
        encoder = VocabularyEncoder(vocab)
    else:
        tok = find_tokenizer(p)
        if tok is not None:
            encoder = TokenizerEncoder(tok)
        else:
            found = find_vocabulary(p)
            encoder = VocabularyEncoder(found) if found else None
    if encoder is None:
        return None
    return TextModel(encoder, net, Padding())


def describe_encoder(tm: TextModel | None) -> str:
    """One line for `info`: which text encoding was found."""
    if tm is None:
        return "none (numeric input; give --vocab or --tokenizer for text)"
    enc = tm.encoder
    extra = ""
    if isinstance(enc, LookupEncoder) and enc.spec.kind == "TextVectorization":
        s = enc.spec
        extra = f", standardize={s.standardize}, split={s.split}"
        extra += f", output_sequence_length={s.output_sequence_length}"
    elif isinstance(enc, TokenizerEncoder):
        s2 = enc.spec
        extra = f", num_words={s2.num_words}, oov_token={s2.oov_token!r}, from {os.path.basename(s2.path)}"
    return f"{enc.kind}: {enc.vocab_size} ids{extra}"


def is_word_level(vocabulary: Sequence[str]) -> bool:
    """A vocabulary of words (some token longer than one character, '<pad>'-style markers aside)."""
    return any(len(t) > 1 and not (t.startswith("<") and t.endswith(">")) for t in vocabulary if t.strip())


def example_text(vocabulary: Sequence[str]) -> str:
    """A starter text written with `vocabulary`'s symbols (words for a word vocabulary)."""
    if is_word_level(vocabulary):
        known = set(vocabulary)
        best = max(WORD_EXAMPLES, key=lambda text: sum(w in known for w in text.split()))
        words = [w for w in best.split() if w in known]
        return " ".join(words or [t for t in vocabulary if t.strip() and not t.startswith("<")][:5])
    allowed = set(vocabulary)
    for text in EXAMPLE_TEXTS:
        if set(text) <= allowed:
            return text
    text = "".join(ch for ch in EXAMPLE_TEXTS[0] if ch in allowed)
    return text or "".join(vocabulary[: min(len(vocabulary), 10)])


def display_token(token: str) -> str:
    """A step's token as views label it: an unknown word 'w?' (from '<oov>:w'), padding '∅'."""
    if token.startswith(OOV + ":"):
        return token[len(OOV) + 1 :] + "?"
    return "\u2205" if token == PAD else token


def token_table(enc: TextEncoder, n: int) -> list[str]:
    """Display strings of ids 0..n-1 (output class labels for a next-symbol model)."""
    return [enc.token(i) for i in range(n)]


def read_vocabulary_file(path: str | os.PathLike[str]) -> list[str]:
    """A vocabulary JSON given explicitly (`--vocab`, File > Open vocabulary): same format as the sidecar.

    Raises
    ------
    ModelFileError : '<file>: <reason>'.
    """
    from inspector.io.errors import ModelFileError
    from inspector.io.sidecar import read_vocabulary

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise ModelFileError(p, "no such file")
    try:
        return read_vocabulary(p)
    except ValueError as exc:
        reason = str(exc).removeprefix(f"{p}: ")
        raise ModelFileError(p, reason) from None


def text_input(
    model_file: ModelFile,
    text: str,
    *,
    path: str | os.PathLike[str] | None = None,
    vocab_file: str | os.PathLike[str] | None = None,
    tokenizer_file: str | os.PathLike[str] | None = None,
    padding: Padding | None = None,
) -> tuple[Network, Encoded, Array]:
    """Typed text -> (the network to run, the Encoded steps, the input array (1, T[, V])): one function
    for the CLI (`--text`) and the GUI.

    Raises
    ------
    ValueError : no text encoding for this model, or the text cannot be encoded (one line).
    ModelFileError : a given or found tokenizer / vocabulary / preprocessing vocabulary is unreadable.
    """
    vocab = read_vocabulary_file(vocab_file) if vocab_file is not None else None
    tm = find_text_model(model_file, path, vocab=vocab, tokenizer=tokenizer_file)
    if tm is None:
        raise ValueError(
            "no text encoding found for this model (no TextVectorization/StringLookup inside, "
            "no <stem>.tokenizer.json or <stem>.vocab.json beside it): give --vocab or --tokenizer"
        )
    enc, x = tm.encode(text, padding)
    return tm.network, enc, x
