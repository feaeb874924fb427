"""Parity oracle: build tiny Keras models, save them in every format, and record what *Keras* computes.

This script imports TensorFlow, so it only ever runs in a subprocess (never inside pytest)::

    python tests/parity/generate.py --flavor tf_keras|keras3 --out DIR [--corpus DIR] [--force]

For every case it writes, into DIR:

* the model in every format the flavor writes (tf_keras: legacy ``.h5``, legacy weights ``.w.h5`` +
  ``model.to_json()``, ``.keras``; Keras 3: ``.keras``, ``.weights.h5`` + ``to_json()``, legacy ``.h5``);
* ``<case>.inputs.npz`` (``in_0``, ``in_1``, ...) and ``<case>.expected.npz``: ``out_k`` = ``model.predict``
  output k, ``h_j`` / ``c_j`` = Keras' own per-step hidden / cell state of recurrent layer j;
* ``manifest.json`` describing all of it.

The per-step states come from Keras itself: the recurrent layers' ``call`` is wrapped to capture the
exact input, mask and initial state Keras feeds them during an eager forward pass; then a fresh copy of
the layer (same config, same weights, ``return_sequences=True``) is run on that input, and for LSTM the
cell state comes from a Keras ``RNN`` around the layer's own cell class that also emits ``c``.

The module is importable without TensorFlow: test collection reads ``case_names()``, ``FORMATS`` and
``corpus_case_names()`` from here, while everything that needs Keras lives behind ``main()``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FLAVORS = ("tf_keras", "keras3")
# format id -> (file suffix, is weights-only).  Weights-only formats come with '<case>.json' (to_json()).
FORMATS: dict[str, dict[str, tuple[str, bool]]] = {
    "tf_keras": {"h5": (".h5", False), "h5-weights": (".w.h5", True), "keras": (".keras", False)},
    "keras3": {"keras": (".keras", False), "weights-h5": (".weights.h5", True), "h5": (".h5", False)},
}
SEED = 20240611
# Sequences longer than this run Keras in graph mode (tf.function); shorter ones eagerly (no tracing cost).
EAGER_MAX_T = 32

# --------------------------------------------------------------------------------------------------
# Case registry (pure Python: builders receive the Keras module `K` at generation time)
# --------------------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    build: Callable[[Any], Any]  # K -> keras Model
    inputs: Callable[[np.random.Generator], list[np.ndarray]]
    note: str = ""
    flavors: tuple[str, ...] = FLAVORS
    tags: tuple[str, ...] = field(default_factory=tuple)


CASES: list[Case] = []


def case(
    name: str,
    inputs: Callable[[np.random.Generator], list[np.ndarray]],
    note: str = "",
    flavors: tuple[str, ...] = FLAVORS,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def deco(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        CASES.append(Case(name, fn, inputs, note, flavors))
        return fn

    return deco


def case_names(flavor: str) -> list[str]:
    """Names of the generated cases for `flavor` (no TensorFlow needed)."""
    _register_random_stacks()
    return [c.name for c in CASES if flavor in c.flavors]


# ---- input factories ------------------------------------------------------------------------------


def floats(*shape: int) -> Callable[[np.random.Generator], list[np.ndarray]]:
    return lambda rng: [rng.normal(0.0, 1.0, shape).astype(np.float32)]


def multi(*factories: Callable[[np.random.Generator], list[np.ndarray]]):
    return lambda rng: [a for f in factories for a in f(rng)]


def padded(B: int, T: int, d: int, where: str, full_row: bool = False):
    """Float inputs with all-zero (masked) timesteps: 'pre', 'mid', 'post' padding per sample."""

    def make(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.normal(0.0, 1.0, (B, T, d)).astype(np.float32)
        for b in range(B):
            n = (b * 2 + 1) % (T - 1)  # 1, 3, 5 ... padded steps, never all of them
            if b == 0:
                n = 0  # one unpadded sample
            if where == "pre":
                x[b, :n] = 0.0
            elif where == "post":
                x[b, T - n :] = 0.0 if n else x[b, T - n :]
            else:  # mid: a hole in the middle
                s = max(1, (T - n) // 2)
                x[b, s : s + n] = 0.0
        if full_row:
            x[-1] = 0.0  # a sample that is masked at every step
        return [x]

    return make


def ids(B: int, T: int, vocab: int, pad: str = "post"):
    """Integer token ids in [1, vocab) with 0-padding."""

    def make(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.integers(1, vocab, (B, T)).astype(np.int32)
        for b in range(1, B):
            n = 2 * b
            if pad == "post":
                x[b, T - n :] = 0
            elif pad == "pre":
                x[b, :n] = 0
            else:
                x[b, 2 : 2 + n] = 0
        return [x]

    return make


# ---- the cases ------------------------------------------------------------------------------------

ACTIVATIONS = (
    "relu",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "gelu",
    "exponential",
    "linear",
)


def seq(K, shape, *layers, dtype="float32", name=None):
    return K.Sequential([K.Input(shape=shape, dtype=dtype), *layers], name=name)


@case("lstm_last", floats(2, 7, 4))
def _(K):
    L = K.layers
    return seq(K, (7, 4), L.LSTM(5), L.Dense(3, activation="softmax"))


@case("lstm_seq_hard_sigmoid", floats(2, 6, 3), "recurrent_activation=hard_sigmoid (0.2x+.5 vs x/6+.5)")
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.LSTM(4, recurrent_activation="hard_sigmoid", return_sequences=True))


@case("lstm_backwards_nobias", floats(2, 6, 4))
def _(K):
    L = K.layers
    return seq(K, (6, 4), L.LSTM(5, go_backwards=True, use_bias=False, return_sequences=True), L.Dense(2))


@case("lstm_backwards_last", floats(2, 8, 3))
def _(K):
    L = K.layers
    return seq(K, (8, 3), L.LSTM(4, go_backwards=True, recurrent_activation="hard_sigmoid"))


@case("lstm_stacked", floats(2, 6, 4))
def _(K):
    L = K.layers
    return seq(K, (6, 4), L.LSTM(6, return_sequences=True), L.LSTM(4, return_sequences=True), L.LSTM(3))


@case("lstm_activations", floats(2, 5, 4), "relu / softsign cell activations")
def _(K):
    L = K.layers
    return seq(
        K,
        (5, 4),
        L.LSTM(5, activation="relu", return_sequences=True),
        L.LSTM(3, activation="softsign", recurrent_activation="hard_sigmoid"),
    )


@case("gru_reset_after", floats(2, 7, 4))
def _(K):
    L = K.layers
    return seq(K, (7, 4), L.GRU(5, reset_after=True, return_sequences=True), L.Dense(2))


@case("gru_reset_before_hard_sigmoid", floats(2, 7, 4))
def _(K):
    L = K.layers
    return seq(
        K, (7, 4), L.GRU(5, reset_after=False, recurrent_activation="hard_sigmoid", return_sequences=True)
    )


@case("gru_reset_before_backwards", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.GRU(4, reset_after=False, go_backwards=True), L.Dense(3))


@case("gru_reset_after_backwards_seq", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.GRU(4, reset_after=True, go_backwards=True, return_sequences=True))


@case("gru_nobias", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.GRU(4, use_bias=False, return_sequences=True),
        L.GRU(3, use_bias=False, reset_after=False, activation="relu"),
    )


@case("simple_rnn", floats(2, 7, 3))
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.SimpleRNN(6, return_sequences=True), L.SimpleRNN(3, activation="relu"))


@case("simple_rnn_backwards_nobias", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.SimpleRNN(5, go_backwards=True, use_bias=False, return_sequences=True, activation="softsign"),
    )


@case("rnn_cells", floats(2, 6, 3), "generic RNN(LSTMCell / GRUCell / SimpleRNNCell)")
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.RNN(L.LSTMCell(4), return_sequences=True),
        L.RNN(L.GRUCell(3, reset_after=False), return_sequences=True),
        L.RNN(L.GRUCell(4, recurrent_activation="hard_sigmoid"), return_sequences=True, go_backwards=True),
        L.RNN(L.SimpleRNNCell(5)),
    )


@case("dense_activations", floats(2, 6, 3), "one Dense head per activation")
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    x = L.LSTM(5)(inp)
    outs = [L.Dense(3, activation=a, name=f"head_{a}")(x) for a in ACTIVATIONS]
    return K.Model(inp, outs)


@case("activation_layers", floats(2, 5, 4), "one Activation layer per activation")
def _(K):
    L = K.layers
    inp = K.Input(shape=(5, 4))
    x = L.GRU(4, return_sequences=True)(inp)
    x = L.Dense(4)(x)
    outs = [L.Activation(a, name=f"act_{a}")(x) for a in ACTIVATIONS]
    return K.Model(inp, outs)


@case("bidi_concat_seq", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.Bidirectional(L.LSTM(4, return_sequences=True)), L.Dense(2))


@case("bidi_sum_gru", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum"))


@case("bidi_ave_gru_reset_before", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.Bidirectional(L.GRU(4, reset_after=False), merge_mode="ave"))


@case("bidi_mul_simple_rnn", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.Bidirectional(L.SimpleRNN(5, return_sequences=True), merge_mode="mul"))


@case("bidi_none", floats(2, 6, 3), "merge_mode=None -> two outputs")
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    a, b = L.Bidirectional(L.LSTM(3, recurrent_activation="hard_sigmoid"), merge_mode=None)(inp)
    return K.Model(inp, [a, b])


@case("bidi_return_state", floats(2, 6, 3))
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    outs = L.Bidirectional(L.LSTM(3, return_state=True))(inp)
    return K.Model(inp, list(outs))


@case("bidi_masked_seq", padded(3, 7, 3, "post"), "Masking + Bidirectional(LSTM, return_sequences)")
def _(K):
    L = K.layers
    return seq(
        K,
        (7, 3),
        L.Masking(0.0),
        L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.TimeDistributed(L.Dense(2)),
    )


@case("bidi_masked_last_gru", padded(3, 7, 3, "mid"), "Masking (mid) + Bidirectional(GRU)")
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.Masking(0.0), L.Bidirectional(L.GRU(4), merge_mode="concat"), L.Dense(2))


@case("bidi_masked_pre_sum", padded(3, 6, 3, "pre"), "Masking (pre) + Bidirectional(SimpleRNN) sum")
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.Masking(0.0),
        L.Bidirectional(L.SimpleRNN(4, return_sequences=True), merge_mode="sum"),
        L.LSTM(3),
    )


@case(
    "bidi_inner_go_backwards",
    padded(3, 6, 3, "post"),
    "Bidirectional(LSTM(go_backwards=True)): the 'forward' half runs backwards (Keras 3 refuses this)",
    flavors=("tf_keras",),
)
def _(K):
    L = K.layers
    return seq(
        K, (6, 3), L.Masking(0.0), L.Bidirectional(L.LSTM(3, go_backwards=True, return_sequences=True))
    )


@case("timedistributed_dense", floats(2, 6, 4))
def _(K):
    L = K.layers
    return seq(K, (6, 4), L.LSTM(5, return_sequences=True), L.TimeDistributed(L.Dense(3, activation="tanh")))


@case("embedding_mask_zero_lstm", ids(3, 7, 12, "post"), "Embedding(mask_zero=True) + LSTM")
def _(K):
    L = K.layers
    return seq(K, (7,), L.Embedding(12, 4, mask_zero=True), L.LSTM(5), L.Dense(2), dtype="int32")


@case("embedding_mask_zero_gru_seq", ids(3, 7, 10, "pre"), "Embedding(mask_zero=True) pre-padded + GRU seq")
def _(K):
    L = K.layers
    return seq(
        K,
        (7,),
        L.Embedding(10, 3, mask_zero=True),
        L.GRU(4, return_sequences=True),
        L.TimeDistributed(L.Dense(2)),
        dtype="int32",
    )


@case("embedding_nomask_lstm", ids(2, 6, 9, "post"))
def _(K):
    L = K.layers
    return seq(K, (6,), L.Embedding(9, 4), L.LSTM(3, return_sequences=True), dtype="int32")


@case("masking_lstm_pre", padded(3, 7, 3, "pre"))
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.Masking(0.0), L.LSTM(4, return_sequences=True), L.LSTM(3))


@case("masking_lstm_post", padded(3, 7, 3, "post", full_row=True), "includes an all-masked sample")
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.Masking(0.0), L.LSTM(4, return_sequences=True))


@case("masking_lstm_mid_backwards", padded(3, 8, 3, "mid"))
def _(K):
    L = K.layers
    return seq(K, (8, 3), L.Masking(0.0), L.LSTM(4, go_backwards=True, return_sequences=True), L.Dense(2))


@case("masking_gru_pre", padded(3, 7, 3, "pre"))
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.Masking(0.0), L.GRU(4, return_sequences=True), L.GRU(3, reset_after=False))


@case("masking_gru_mid", padded(3, 7, 3, "mid"))
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.Masking(0.0), L.GRU(5, reset_after=False, recurrent_activation="hard_sigmoid"))


@case("masking_gru_post_backwards", padded(3, 6, 3, "post"))
def _(K):
    L = K.layers
    return seq(K, (6, 3), L.Masking(0.0), L.GRU(4, go_backwards=True))


@case("masking_simple_rnn_mid", padded(3, 7, 2, "mid"))
def _(K):
    L = K.layers
    return seq(K, (7, 2), L.Masking(0.0), L.SimpleRNN(4, return_sequences=True), L.Dense(1))


@case("masking_dense_passthrough", padded(3, 7, 3, "post"), "mask passes through Dense/Dropout/BN")
def _(K):
    L = K.layers
    return seq(
        K,
        (7, 3),
        L.Masking(0.0),
        L.Dense(4, activation="tanh"),
        L.Dropout(0.3),
        L.BatchNormalization(),
        L.LSTM(3),
    )


@case("dropout_between", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.LSTM(5, return_sequences=True, dropout=0.2, recurrent_dropout=0.2),
        L.Dropout(0.5),
        L.GRU(3, dropout=0.1),
        L.Dropout(0.4),
        L.Dense(2),
    )


@case("flatten_reshape", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(
        K, (6, 3), L.LSTM(4, return_sequences=True), L.Flatten(), L.Dense(6), L.Reshape((3, 2)), L.GRU(3)
    )


@case("repeat_vector_seq2seq", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.LSTM(5),
        L.RepeatVector(4),
        L.LSTM(3, return_sequences=True),
        L.TimeDistributed(L.Dense(2, activation="softmax")),
    )


@case("permute", floats(2, 6, 4))
def _(K):
    L = K.layers
    return seq(K, (6, 4), L.Permute((2, 1)), L.LSTM(3))


@case("merge_layers", multi(floats(2, 6, 3), floats(2, 5, 2)), "Concatenate / Add / Multiply / Average")
def _(K):
    L = K.layers
    a_in = K.Input(shape=(6, 3), name="a_in")
    b_in = K.Input(shape=(5, 2), name="b_in")
    a = L.LSTM(4, name="enc_a")(a_in)
    b = L.GRU(4, name="enc_b")(b_in)
    outs = [L.Concatenate()([a, b]), L.Add()([a, b]), L.Multiply()([a, b]), L.Average()([a, b])]
    return K.Model([a_in, b_in], outs)


@case("merge_sequences", floats(2, 6, 3), "Concatenate/Add on sequences, then LSTM")
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    a = L.LSTM(4, return_sequences=True)(inp)
    b = L.GRU(4, return_sequences=True)(inp)
    c = L.SimpleRNN(4, return_sequences=True)(inp)
    x = L.Concatenate(axis=-1)([L.Add()([a, b]), L.Multiply()([b, c])])
    return K.Model(inp, L.LSTM(3)(x))


@case("conv1d_valid_maxpool", floats(2, 9, 3))
def _(K):
    L = K.layers
    return seq(K, (9, 3), L.Conv1D(4, 3, padding="valid", activation="relu"), L.MaxPooling1D(2), L.LSTM(3))


@case("conv1d_same_stride_avgpool", floats(2, 9, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (9, 3),
        L.Conv1D(5, 3, padding="same", strides=2),
        L.AveragePooling1D(2, padding="same"),
        L.GRU(3, return_sequences=True),
    )


@case("conv1d_causal_dilated", floats(2, 9, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (9, 3),
        L.Conv1D(4, 2, padding="causal", dilation_rate=2, activation="tanh"),
        L.LSTM(4, return_sequences=True),
        L.GlobalAveragePooling1D(),
    )


@case("conv1d_same_dilated_globalmax", floats(2, 8, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (8, 3),
        L.Conv1D(3, 3, padding="same", dilation_rate=2, use_bias=False),
        L.MaxPooling1D(2, strides=1),
        L.SimpleRNN(4, return_sequences=True),
        L.GlobalMaxPooling1D(),
        L.Dense(2),
    )


@case("batchnorm", floats(2, 6, 3), "non-trivial moving statistics")
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.LSTM(5, return_sequences=True),
        L.BatchNormalization(),
        L.LSTM(4),
        L.BatchNormalization(epsilon=0.01, center=False),
        L.Dense(2),
    )


@case("layernorm", floats(2, 6, 3))
def _(K):
    L = K.layers
    return seq(
        K,
        (6, 3),
        L.LSTM(5, return_sequences=True),
        L.LayerNormalization(),
        L.GRU(3),
        L.LayerNormalization(epsilon=1e-5, scale=False),
    )


@case("return_state_lstm", floats(2, 6, 3), "functional model exposing [out, h, c]")
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    out, h, c = L.LSTM(4, return_state=True, return_sequences=True)(inp)
    return K.Model(inp, [out, h, c])


@case("return_state_gru", floats(2, 6, 3))
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    out, h = L.GRU(4, return_state=True, go_backwards=True)(inp)
    return K.Model(inp, [out, L.Dense(2)(h)])


@case("encoder_decoder_lstm", multi(floats(2, 6, 3), floats(2, 5, 2)), "initial_state=[h, c]")
def _(K):
    L = K.layers
    enc_in = K.Input(shape=(6, 3), name="enc_in")
    dec_in = K.Input(shape=(5, 2), name="dec_in")
    _, h, c = L.LSTM(4, return_state=True, name="encoder")(enc_in)
    y = L.LSTM(4, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    return K.Model([enc_in, dec_in], L.TimeDistributed(L.Dense(3, activation="softmax"))(y))


@case("encoder_decoder_gru", multi(floats(2, 6, 3), floats(2, 5, 2)), "GRU initial_state")
def _(K):
    L = K.layers
    enc_in = K.Input(shape=(6, 3), name="enc_in")
    dec_in = K.Input(shape=(5, 2), name="dec_in")
    _, h = L.GRU(4, return_state=True, reset_after=False, name="encoder")(enc_in)
    y = L.GRU(4, return_sequences=True, reset_after=False, name="decoder")(dec_in, initial_state=[h])
    return K.Model([enc_in, dec_in], y)


@case("multi_io", multi(floats(2, 6, 3), floats(2, 4)), "two inputs, three outputs")
def _(K):
    L = K.layers
    seq_in = K.Input(shape=(6, 3), name="seq_in")
    vec_in = K.Input(shape=(4,), name="vec_in")
    h = L.LSTM(4)(seq_in)
    v = L.Dense(4, activation="relu")(vec_in)
    j = L.Concatenate()([h, v])
    return K.Model([seq_in, vec_in], [L.Dense(2, activation="softmax")(j), L.Dense(1)(j), h])


@case("shared_lstm", multi(floats(2, 6, 3), floats(2, 6, 3)), "one LSTM called on two inputs")
def _(K):
    L = K.layers
    a_in = K.Input(shape=(6, 3))
    b_in = K.Input(shape=(6, 3))
    shared = L.LSTM(4, name="shared")
    dense = L.Dense(3, name="shared_dense")
    a, b = shared(a_in), shared(b_in)
    return K.Model([a_in, b_in], [L.Subtract()([dense(a), dense(b)]), L.Concatenate()([a, b])])


@case("nested_sequential", floats(2, 6, 3))
def _(K):
    L = K.layers
    inner = K.Sequential([K.Input(shape=(6, 3)), L.LSTM(4, return_sequences=True), L.Dense(3)], name="inner")
    inp = K.Input(shape=(6, 3))
    return K.Model(inp, L.GRU(3)(inner(inp)))


@case("nested_functional", floats(2, 6, 3))
def _(K):
    L = K.layers
    i = K.Input(shape=(6, 3))
    inner = K.Model(i, L.Bidirectional(L.GRU(3, return_sequences=True))(i), name="inner_f")
    inp = K.Input(shape=(6, 3))
    x = L.Dense(3)(inp)
    return K.Model(inp, L.LSTM(2)(inner(x)))


@case("nested_sequential_in_sequential", padded(3, 6, 3, "post"), "masking flows into a nested Sequential")
def _(K):
    L = K.layers
    inner = K.Sequential([K.Input(shape=(6, 3)), L.LSTM(4, return_sequences=True), L.LSTM(3)], name="inner_s")
    return K.Sequential([K.Input(shape=(6, 3)), L.Masking(0.0), inner, L.Dense(2)])


@case("masked_global_average_pool", padded(3, 7, 3, "post"), "GlobalAveragePooling1D averages unmasked steps")
def _(K):
    L = K.layers
    return seq(
        K, (7, 3), L.Masking(0.0), L.LSTM(4, return_sequences=True), L.GlobalAveragePooling1D(), L.Dense(2)
    )


@case("masked_timedistributed_then_gru", padded(3, 7, 3, "mid"), "mask passes through TimeDistributed(Dense)")
def _(K):
    L = K.layers
    return seq(K, (7, 3), L.Masking(0.0), L.TimeDistributed(L.Dense(4, activation="relu")), L.GRU(3))


@case("masked_conv_drops_mask", padded(3, 8, 3, "post"), "Conv1D drops the mask (LSTM after it sees none)")
def _(K):
    L = K.layers
    return seq(K, (8, 3), L.Masking(0.0), L.Conv1D(4, 3, padding="same"), L.LSTM(3))


@case(
    "embedding_mask_bidi", ids(3, 7, 11, "post"), "Embedding(mask_zero) -> Bidirectional(LSTM) -> TD(Dense)"
)
def _(K):
    L = K.layers
    return seq(
        K,
        (7,),
        L.Embedding(11, 4, mask_zero=True),
        L.Bidirectional(L.LSTM(3, return_sequences=True, recurrent_activation="hard_sigmoid")),
        L.TimeDistributed(L.Dense(2)),
        dtype="int32",
    )


@case("bidi_backward_layer_gru", floats(2, 6, 3), "Bidirectional(LSTM, backward_layer=GRU): different halves")
def _(K):
    L = K.layers
    fwd = L.LSTM(4, return_sequences=True)
    bwd = L.GRU(4, return_sequences=True, go_backwards=True, reset_after=False)
    return seq(K, (6, 3), L.Bidirectional(fwd, backward_layer=bwd), L.Dense(2))


@case(
    "bidi_initial_state",
    multi(floats(2, 6, 3), floats(2, 5, 3)),
    "Bidirectional decoder with 4 initial states",
)
def _(K):
    L = K.layers
    enc_in = K.Input(shape=(6, 3), name="enc_in")
    dec_in = K.Input(shape=(5, 3), name="dec_in")
    _, hf, cf, hb, cb = L.Bidirectional(L.LSTM(3, return_state=True), name="enc")(enc_in)
    y = L.Bidirectional(L.LSTM(3, return_sequences=True), name="dec")(dec_in, initial_state=[hf, cf, hb, cb])
    return K.Model([enc_in, dec_in], y)


@case(
    "masked_encoder_decoder", multi(padded(3, 6, 3, "post"), padded(3, 5, 2, "pre")), "masks + initial_state"
)
def _(K):
    L = K.layers
    enc_in = K.Input(shape=(6, 3), name="enc_in")
    dec_in = K.Input(shape=(5, 2), name="dec_in")
    _, h, c = L.LSTM(4, return_state=True, name="encoder")(L.Masking(0.0)(enc_in))
    y = L.LSTM(4, return_sequences=True, name="decoder")(L.Masking(0.0)(dec_in), initial_state=[h, c])
    return K.Model([enc_in, dec_in], y)


@case("unrolled_masked_gru", padded(3, 6, 3, "mid"), "unroll=True with a mask")
def _(K):
    L = K.layers
    return seq(
        K, (6, 3), L.Masking(0.0), L.GRU(4, unroll=True, return_sequences=True), L.LSTM(3, unroll=True)
    )


@case("simple_rnn_return_state", floats(2, 6, 3))
def _(K):
    L = K.layers
    inp = K.Input(shape=(6, 3))
    out, h = L.SimpleRNN(4, return_state=True, return_sequences=True, go_backwards=True)(inp)
    return K.Model(inp, [out, h])


# ---- seeded random recurrent stacks ---------------------------------------------------------------

_RANDOM_DONE = False


def _register_random_stacks(n: int = 20) -> None:
    """~20 seeded random stacks of recurrent layers (hypothesis cannot drive the subprocess cheaply)."""
    global _RANDOM_DONE
    if _RANDOM_DONE:
        return
    _RANDOM_DONE = True
    rng = np.random.default_rng(1234)
    for k in range(n):
        depth = int(rng.integers(1, 4))
        T = int(rng.integers(5, 10))
        d = int(rng.integers(2, 6))
        masked = bool(rng.random() < 0.35)
        pad = str(rng.choice(["pre", "mid", "post"]))
        specs = []
        for i in range(depth):
            last = i == depth - 1
            specs.append(
                {
                    "kind": str(rng.choice(["LSTM", "GRU", "SimpleRNN"])),
                    "units": int(rng.integers(3, 9)),
                    "activation": str(rng.choice(["tanh", "tanh", "relu", "softsign", "sigmoid"])),
                    "recurrent_activation": str(rng.choice(["sigmoid", "hard_sigmoid", "tanh"])),
                    "go_backwards": bool(rng.random() < 0.3),
                    "use_bias": bool(rng.random() < 0.8),
                    "reset_after": bool(rng.random() < 0.5),
                    "return_sequences": (not last) or bool(rng.random() < 0.5),
                    "bidi": str(rng.choice(["", "", "concat", "sum", "ave", "mul"])),
                }
            )
            if specs[-1]["bidi"]:  # Keras 3.15 refuses Bidirectional(layer with go_backwards=True)
                specs[-1]["go_backwards"] = False
        inputs = padded(3, T, d, pad) if masked else floats(2, T, d)
        desc = ", ".join(
            f"{'Bi-' + s['bidi'] + ' ' if s['bidi'] else ''}{s['kind']}({s['units']}"
            f"{',bw' if s['go_backwards'] else ''}{',rs' if s['return_sequences'] else ''})"
            for s in specs
        )
        CASES.append(
            Case(
                f"random_{k:02d}",
                _random_builder(specs, T, d, masked),
                inputs,
                ("masked: " + pad + "; " if masked else "") + desc,
            )
        )


def _random_builder(specs: list[dict[str, Any]], T: int, d: int, masked: bool) -> Callable[[Any], Any]:
    def build(K):
        L = K.layers
        layers: list[Any] = [L.Masking(0.0)] if masked else []
        for s in specs:
            kw = dict(
                units=s["units"],
                activation=s["activation"],
                go_backwards=s["go_backwards"],
                use_bias=s["use_bias"],
                return_sequences=s["return_sequences"],
            )
            if s["kind"] != "SimpleRNN":
                kw["recurrent_activation"] = s["recurrent_activation"]
            if s["kind"] == "GRU":
                kw["reset_after"] = s["reset_after"]
            lay = getattr(L, s["kind"])(**kw)
            layers.append(L.Bidirectional(lay, merge_mode=s["bidi"]) if s["bidi"] else lay)
        layers.append(L.Dense(2))
        return seq(K, (T, d), *layers)

    return build


# --------------------------------------------------------------------------------------------------
# Corpus cases: real third-party files, referenced by name inside the corpus folder
# --------------------------------------------------------------------------------------------------


@dataclass
class CorpusCase:
    name: str
    file: str  # inside the corpus folder
    flavor: str  # which Keras produces the reference
    how: str  # 'load_model' | 'k1_config' | 'fix_config' | 'rebuild'
    config_from: str | None = None  # corpus file whose architecture is used ('json' file or full .h5)
    rebuild: Callable[[Any], Any] | None = None  # K -> model with the file's layer names (for 'rebuild')
    T: int | None = None  # sequence length for inputs when the model leaves it open
    masked: bool = False
    onehot: bool = False  # char-RNNs were trained on one-hot rows: feed those (in-distribution)
    note: str = ""


def _rebuild_liweihong(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(6, 62)),
            L.LSTM(128, recurrent_activation="hard_sigmoid", name="lstm_1"),
            L.Dense(62, name="dense_1"),
            L.Activation("softmax", name="activation_1"),
        ]
    )


def _rebuild_dl4j_lstm_dense(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(7, 1)),
            L.LSTM(50, recurrent_activation="hard_sigmoid", name="lstm_1"),
            L.Dense(1, name="dense_1"),
        ]
    )


def _rebuild_dl4j_stacked(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(6, 12)),
            L.LSTM(96, recurrent_activation="hard_sigmoid", return_sequences=True, name="lstm_1"),
            L.LSTM(96, recurrent_activation="hard_sigmoid", name="lstm_2"),
            L.Dense(1, name="dense_1"),
        ]
    )


def _rebuild_theo(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(5, 112)),
            L.LSTM(256, recurrent_activation="hard_sigmoid", return_sequences=True, name="lstm_1"),
            L.Dropout(0.2, name="dropout_1"),
            L.LSTM(256, recurrent_activation="hard_sigmoid", return_sequences=True, name="lstm_2"),
            L.Dropout(0.2, name="dropout_2"),
            L.TimeDistributed(L.Dense(112, activation="softmax"), name="time_distributed_1"),
        ]
    )


def _rebuild_crnneeg(K):
    L = K.layers
    inp = K.Input(shape=(5, 640), name="input_1")
    x = inp
    for i in range(1, 5):
        x = L.Bidirectional(
            L.LSTM(64, recurrent_activation="hard_sigmoid", return_sequences=True), name=f"bidirectional_{i}"
        )(x)
    return K.Model(inp, L.TimeDistributed(L.Dense(5, activation="softmax"), name="time_distributed_1")(x))


def _rebuild_bhanu_gru(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(7, 12)),
            L.Masking(0.0, name="masking_6"),
            L.GRU(32, name="gru_6"),
            L.Dense(16, activation="relu", name="dense_12"),
            L.Dense(1, activation="sigmoid", name="dense_13"),
        ]
    )


def _rebuild_bhanu_simplernn(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(7, 12)),
            L.Masking(0.0, name="masking_5"),
            L.SimpleRNN(32, name="simple_rnn_1"),
            L.Dense(16, activation="relu", name="dense_10"),
            L.Dense(1, activation="sigmoid", name="dense_11"),
        ]
    )


def _rebuild_julitw(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(5, 1662)),
            L.LSTM(32, return_sequences=True, name="lstm"),
            L.LSTM(64, name="lstm_1"),
            L.Dense(32, activation="relu", name="dense_18"),
            L.Dense(10, activation="softmax", name="dense_19"),
        ]
    )


def _rebuild_soorya(kind: str):
    def build(K):
        L = K.layers
        rnn = getattr(L, kind)
        return K.Sequential(
            [K.Input(shape=(6, 1))]
            + [rnn(70, return_sequences=True) for _ in range(5)]
            + [L.TimeDistributed(L.Dense(1))]
        )

    return build


CORPUS_CASES: list[CorpusCase] = [
    # Keras 1 full models: tf_keras cannot read Keras 1 configs, so the generator translates the config
    # itself and lets tf_keras' own loader convert the Keras 1 weights (12 per-gate arrays -> fused).
    CorpusCase(
        "k1_beneyal_charrnn",
        "k1.0.6_beneyal_stacked_lstm_charrnn_full.hdf5",
        "tf_keras",
        "k1_config",
        onehot=True,
    ),
    CorpusCase(
        "k1_dl4j_stacked_tdd", "k1.1.0_dl4j_stacked_lstm_timedistdense_full.h5", "tf_keras", "k1_config"
    ),
    CorpusCase(
        "k1_dl4j_bidi_theano", "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5", "tf_keras", "k1_config"
    ),
    CorpusCase("k1_dl4j_dense", "k1.2.2_dl4j_dense_tf_full.h5", "tf_keras", "k1_config"),
    CorpusCase("k1_dl4j_embedding_lstm", "k1.2.2_dl4j_embedding_lstm_tf_full.h5", "tf_keras", "k1_config"),
    CorpusCase("k1_dl4j_simple_rnn", "k1.2.2_dl4j_simple_rnn_tf_full.h5", "tf_keras", "k1_config"),
    CorpusCase(
        "k1_eco_saveweights",
        "k1_eco_charlstm_saveweights.h5",
        "tf_keras",
        "k1_config",
        config_from="k1_eco_charlstm_saveweights.arch.json",
        onehot=True,
    ),
    CorpusCase(
        "k1_liweihong_saveweights",
        "k1_liweihong_charlstm_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_liweihong,
        onehot=True,
        note="architecture rebuilt from the weight shapes",
    ),
    CorpusCase(
        "k1_dl4j_lstm_dense_theano_saveweights",
        "k1.2.2_dl4j_lstm_dense_theano_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_dl4j_lstm_dense,
    ),
    # multi-backend Keras 2
    CorpusCase(
        "k2_katshun_full",
        "k2.0.5_katshun_lstm_full.h5",
        "tf_keras",
        "fix_config",
        T=9,
        note="custom initializer 'weight_variable' replaced (irrelevant at inference)",
    ),
    CorpusCase(
        "k2_katshun_saveweights",
        "k2.0.5_katshun_lstm_saveweights.h5",
        "tf_keras",
        "fix_config",
        config_from="k2.0.5_katshun_lstm_full.h5",
        T=9,
    ),
    CorpusCase(
        "k2_dl4j_stacked_theano_saveweights",
        "k2.0.8_dl4j_stacked_lstm_theano_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_dl4j_stacked,
    ),
    CorpusCase(
        "k2_medaka_bigru",
        "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5",
        "tf_keras",
        "fix_config",
        T=6,
        note="GRU reset_after=False added (Keras 2.1 default)",
    ),
    CorpusCase(
        "k2_neil621_charrnn",
        "k2.1.6_neil621_stacked_lstm_charrnn_full.hdf5",
        "tf_keras",
        "load_model",
        onehot=True,
    ),
    CorpusCase("k2_hemanth_mlp", "k2.2.0_hemanth_dense_mlp_full.hdf5", "tf_keras", "load_model"),
    CorpusCase(
        "k2_theo_saveweights",
        "k2.2.0_theo_stacked_lstm_timedist_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_theo,
    ),
    CorpusCase(
        "k2_crnneeg_saveweights",
        "k2.2.4_crnneeg_4x_bilstm_timedist_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_crnneeg,
    ),
    CorpusCase(
        "k2_hiv_functional",
        "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5",
        "tf_keras",
        "load_model",
        T=40,
        note="input lengths 312/1575 are fixed by the file",
    ),
    # tf.keras
    CorpusCase(
        "tfk_bhanu_masking_gru",
        "tfk2.4.0_bhanu_masking_gru_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_bhanu_gru,
        masked=True,
    ),
    CorpusCase(
        "tfk_bhanu_masking_simplernn",
        "tfk2.4.0_bhanu_masking_simplernn_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_bhanu_simplernn,
        masked=True,
    ),
    CorpusCase("tfk_dibin_full", "tfk2.10.0_dibin_stacked_lstm_full.h5", "tf_keras", "load_model"),
    CorpusCase(
        "tfk_dibin_saveweights",
        "tfk2.10.0_dibin_stacked_lstm_saveweights.h5",
        "tf_keras",
        "fix_config",
        config_from="tfk2.10.0_dibin_stacked_lstm_full.h5",
    ),
    CorpusCase(
        "tfk_julitw_saveweights",
        "tfk2.14.0_julitw_stacked_lstm_saveweights.h5",
        "tf_keras",
        "rebuild",
        rebuild=_rebuild_julitw,
    ),
    # Keras 3
    CorpusCase("k3_komei_keras", "k3.3.3_komei_stacked_lstm.keras", "keras3", "load_model"),
    CorpusCase("k3_tekuv_gru_keras", "k3.9.2_tekuv_gru.keras", "keras3", "load_model", T=60),
    CorpusCase("k3_tekuv_gru_legacy_h5", "k3.9.2_tekuv_gru_legacy.h5", "keras3", "load_model", T=60),
    CorpusCase(
        "k3_soorya_gru_weights",
        "k3_soorya_5x_gru_timedist.weights.h5",
        "keras3",
        "rebuild",
        rebuild=_rebuild_soorya("GRU"),
    ),
    CorpusCase(
        "k3_soorya_lstm_weights",
        "k3_soorya_5x_lstm_timedist.weights.h5",
        "keras3",
        "rebuild",
        rebuild=_rebuild_soorya("LSTM"),
    ),
]


def corpus_case_names(flavor: str) -> list[str]:
    return [c.name for c in CORPUS_CASES if c.flavor == flavor]


def generator_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# Everything below needs Keras
# --------------------------------------------------------------------------------------------------


def import_keras(flavor: str):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # deterministic summation order
    warnings.filterwarnings("ignore")
    if flavor == "tf_keras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as K  # noqa: N812
    else:
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
        import keras as K  # noqa: N812

        K.config.disable_interactive_logging()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    return K, tf


def randomize_weights(model, rng: np.random.Generator) -> None:
    """Set every variable (biases and BN statistics included) to a random non-trivial value."""
    for layer in _all_layers(model):
        current = layer.get_weights()
        if not current:
            continue
        new = []
        for var, cur in zip(layer.weights, current):
            name = _var_name(var)
            shape = cur.shape
            if "moving_variance" in name:
                v = 0.5 + np.abs(rng.normal(0.0, 0.5, shape))
            elif "moving_mean" in name:
                v = rng.normal(0.0, 0.3, shape)
            elif "gamma" in name:
                v = 1.0 + rng.normal(0.0, 0.3, shape)
            elif "bias" in name or "beta" in name or "embeddings" in name or len(shape) < 2:
                v = rng.normal(0.0, 0.5, shape)
            else:  # kernels: scale by fan-in so pre-activations are O(1), neither trivial nor saturated
                fan_in = int(np.prod(shape[:-1]))
                v = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
            new.append(v.astype(cur.dtype))
        layer.set_weights(new)


def _var_name(var) -> str:
    return str(getattr(var, "path", None) or var.name)


def _all_layers(model):
    """Leaf layers with weights, recursing into nested models (wrappers handled as one layer)."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.__class__.__name__ in ("Sequential", "Functional", "Model"):
            out.extend(_all_layers(layer))
        else:
            out.append(layer)
    return out


def _is_model(layer) -> bool:
    return hasattr(layer, "layers") and layer.__class__.__name__ in ("Sequential", "Functional", "Model")


def _cell_kind(cell) -> str | None:
    return {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}.get(type(cell).__name__)


def recurrent_layers(K, model, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(trace key, layer, role) for every recurrent layer, role 'rnn' or 'bidi'. Keys follow the contract."""
    out = []
    for layer in model.layers:
        key = prefix + layer.name
        if isinstance(layer, K.layers.Bidirectional):
            out.append((key, layer, "bidi"))
        elif isinstance(layer, K.layers.RNN) and _cell_kind(layer.cell):
            out.append((key, layer, "rnn"))
        elif _is_model(layer):
            out.extend(recurrent_layers(K, layer, key + "/"))
    return out


def _np(t):
    return None if t is None else np.asarray(t)


def capture_calls(K, tf, model, inputs):
    """Run `model` with every recurrent layer's call() wrapped; return what each call received.

    The forward pass runs inside one tf.function (graph mode), so long sequences stay fast; the
    wrapper records the tensors each layer is given and the function returns them as values.
    Returns a list of dicts: key, layer, role, x, mask (or None), init (list or None), out.
    """
    meta: list[dict[str, Any]] = []
    tensors: list[tuple[Any, ...]] = []
    targets = recurrent_layers(K, model)
    for key, layer, role in targets:
        orig = layer.call

        def wrapped(*args, __orig=orig, __key=key, __layer=layer, __role=role, **kwargs):
            out = __orig(*args, **kwargs)
            x, mask, init = _split_call(args, kwargs)
            first = out[0] if isinstance(out, (list, tuple)) else out
            meta.append(
                {
                    "key": __key,
                    "layer": __layer,
                    "role": __role,
                    "has_mask": mask is not None,
                    "n_init": len(init or ()),
                }
            )
            tensors.append((x, mask if mask is not None else tf.zeros((0,)), list(init or []), first))
            return out

        object.__setattr__(layer, "call", wrapped)

    def run(*xs):
        meta.clear()
        tensors.clear()
        model(list(xs) if len(xs) > 1 else xs[0], training=False)
        return list(tensors)

    long = any(a.ndim >= 2 and a.shape[1] > EAGER_MAX_T for a in inputs)
    try:
        values = (tf.function(run, autograph=False) if long else run)(
            *[tf.convert_to_tensor(a) for a in inputs]
        )
    finally:
        for _, layer, _ in targets:
            object.__delattr__(layer, "call")
    log = []
    for m, (x, mask, init, out) in zip(meta, values):
        log.append(
            dict(
                m,
                x=np.asarray(x),
                mask=np.asarray(mask) if m["has_mask"] else None,
                init=[np.asarray(v) for v in init] if m["n_init"] else None,
                out=np.asarray(out),
            )
        )
    return log


def _split_call(args, kw):
    """(x, mask, initial_state list or None) of one RNN/Bidirectional call()."""
    x = args[0]
    init = kw.get("initial_state")
    if isinstance(x, (list, tuple)):  # tf_keras: [x, *states] as one input list
        x, extra = x[0], list(x[1:])
        if extra and init is None:
            init = extra
    mask = kw.get("mask")
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    if init is not None and not isinstance(init, (list, tuple)):
        init = [init]
    return x, mask, (list(init) if init else None)


def _run_built(tf, layer, x, mask, init, weights_to):
    """Build `layer` on a 1-step slice, copy the weights in, then run it in graph mode on the full input."""
    kw_full, kw_one = {}, {}
    if mask is not None:
        kw_full["mask"] = tf.convert_to_tensor(mask)
        kw_one["mask"] = tf.convert_to_tensor(mask[:, :1])
    if init is not None:
        kw_full["initial_state"] = kw_one["initial_state"] = [tf.convert_to_tensor(s) for s in init]
    layer(tf.convert_to_tensor(x[:, :1]), **kw_one)
    weights_to()
    xt = tf.convert_to_tensor(x)
    if x.shape[1] <= EAGER_MAX_T:
        return np.asarray(layer(xt, **kw_full, training=False))
    return np.asarray(tf.function(lambda: layer(xt, **kw_full, training=False), autograph=False)())


def _probe_layer(K, tf, layer, x, mask, init):
    """Keras' own sequence of outputs of `layer` (return_sequences=True) on the captured input."""
    cfg = layer.get_config()
    cfg.update(return_sequences=True, return_state=False, stateful=False)
    cfg.pop("name", None)
    probe = type(layer).from_config(cfg)
    return _run_built(tf, probe, x, mask, init, lambda: probe.set_weights(layer.get_weights()))


def _cell_state_probe(K, tf, layer, x, mask, init):
    """Per-step LSTM cell state, computed by a Keras RNN loop around a copy of the layer's own cell.

    The wrapper cell emits concat(h, c) as its output; with zero_output_for_mask=False Keras carries the
    previous output at masked steps, which is exactly the carried state.
    """
    inner = type(layer.cell).from_config(layer.cell.get_config())
    units = int(layer.cell.units)

    class HC(K.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.inner = inner
            self.units = units

        @property
        def state_size(self):
            return [self.units, self.units]

        @property
        def output_size(self):
            return 2 * self.units

        def build(self, input_shape):
            if not self.inner.built:
                self.inner.build(input_shape)
            self.built = True

        def call(self, inputs, states, training=None):
            h, new = self.inner(inputs, list(states), training=False)
            return tf.concat([h, new[1]], axis=-1), list(new)

    rnn = K.layers.RNN(
        HC(), return_sequences=True, go_backwards=layer.go_backwards, zero_output_for_mask=False
    )
    hc = _run_built(tf, rnn, x, mask, init, lambda: inner.set_weights(layer.cell.get_weights()))
    h, c = hc[..., :units], hc[..., units:]
    if mask is not None and init is not None and not np.asarray(mask, bool).all():
        # Keras' *output* carry starts from zeros, its *state* carry from the initial state: they
        # differ before the first unmasked step.  Then take c from Keras' own return_state instead.
        c = _cell_state_by_prefixes(tf, layer, x, mask, init)
    return h, c


def _cell_state_by_prefixes(tf, layer, x, mask, init) -> np.ndarray:
    """c after each processing step s = Keras' final cell state on the first s+1 processed steps."""
    cfg = layer.get_config()
    cfg.update(return_sequences=False, return_state=True, stateful=False)
    cfg.pop("name", None)
    probe = type(layer).from_config(cfg)
    T = x.shape[1]
    init_t = [tf.convert_to_tensor(v) for v in init]
    cs = []
    for s in range(T):
        sl = slice(T - 1 - s, T) if layer.go_backwards else slice(0, s + 1)
        out = probe(
            tf.convert_to_tensor(x[:, sl]), mask=tf.convert_to_tensor(mask[:, sl]), initial_state=init_t
        )
        if s == 0:
            probe.set_weights(layer.get_weights())
            out = probe(
                tf.convert_to_tensor(x[:, sl]), mask=tf.convert_to_tensor(mask[:, sl]), initial_state=init_t
            )
        cs.append(np.asarray(out[2]))
    return np.stack(cs, axis=1)


def record_states(
    K, tf, model, inputs, dtype=np.float32
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], list[str]]:
    """Per recurrent layer: Keras' per-step h (and c). Returns (trace entries, arrays, sanity warnings)."""
    log = capture_calls(K, tf, model, inputs)
    entries: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    warn: list[str] = []
    seen: dict[str, int] = {}
    for rec in log:
        key, layer = rec["key"], rec["layer"]
        call_no = seen.get(key, 0)
        seen[key] = call_no + 1
        x, mask, init = rec["x"], rec["mask"], rec["init"]
        if rec["role"] == "bidi":
            half = None if init is None else len(init) // 2
            parts = [
                (key + "/forward", layer.forward_layer, None if init is None else init[:half]),
                (key + "/backward", layer.backward_layer, None if init is None else init[half:]),
            ]
        else:
            parts = [(key, layer, init)]
        hs = []
        for k2, lay, st in parts:
            kind = _cell_kind(lay.cell)
            h = _probe_layer(K, tf, lay, x, mask, st)
            hs.append(h)
            j = len(entries)
            entry = {
                "key": k2,
                "call": call_no,
                "kind": kind,
                "units": int(lay.cell.units),
                "go_backwards": bool(lay.go_backwards),
                "h": f"h_{j}",
                "c": None,
                "masked": mask is not None,
            }
            arrays[f"h_{j}"] = h.astype(dtype)
            if kind == "LSTM":
                h2, c = _cell_state_probe(K, tf, lay, x, mask, st)
                entry["c"] = f"c_{j}"
                arrays[f"c_{j}"] = c.astype(dtype)
                # sanity: the state probe's h must equal the layer probe's h at unmasked steps
                ok = np.ones(h.shape[:2], bool) if mask is None else _processing_mask(mask, lay.go_backwards)
                err = float(np.max(np.abs(h2 - h)[ok])) if ok.any() else 0.0
                if err > 1e-5:
                    warn.append(f"{k2}: cell-state probe h differs from layer probe by {err:.2e}")
            entries.append(entry)
        warn += _check_against_layer_output(rec, hs)
    return entries, arrays, warn


def _processing_mask(mask, go_backwards):
    m = np.asarray(mask, bool)
    return m[:, ::-1] if go_backwards else m


def _check_against_layer_output(rec, hs) -> list[str]:
    """Cross-check the probes against what the real layer returned inside the model."""
    layer, out = rec["layer"], rec["out"]
    if isinstance(out, (list, tuple)):
        out = out[0]
    out = np.asarray(out)
    if rec["role"] == "bidi":
        if layer.merge_mode != "concat":
            return []
        u = hs[0].shape[-1]
        if layer.return_sequences:
            ref = np.concatenate([hs[0], hs[1][:, ::-1]], -1)
        else:
            ref = np.concatenate([hs[0][:, -1], hs[1][:, -1]], -1)
        del u
    else:
        ref = hs[0] if layer.return_sequences else hs[0][:, -1]
    if ref.shape != out.shape:
        return [f"{rec['key']}: probe shape {ref.shape} != layer output {out.shape}"]
    err = float(np.max(np.abs(ref - out))) if out.size else 0.0
    return [f"{rec['key']}: probe differs from the layer's own output by {err:.2e}"] if err > 1e-5 else []


def _is_sequence(a: np.ndarray) -> bool:
    """Which inputs have a time axis in these cases: (B,T,d) floats and (B,T) integer token ids."""
    return a.ndim == 3 or (a.ndim == 2 and np.issubdtype(a.dtype, np.integer))


def _free_time_axis(cfg: Any, seq_names: set[str] | None = None) -> Any:
    """A model config with the time axis of every InputLayer set to None (so prefixes can be fed).

    Keras 3 Functional models refuse inputs shorter than their Input shape; build info is dropped.
    """
    if isinstance(cfg, list):
        return [_free_time_axis(v, seq_names) for v in cfg]
    if not isinstance(cfg, dict):
        return cfg
    out = {
        k: _free_time_axis(v, seq_names)
        for k, v in cfg.items()
        if k not in ("build_config", "build_input_shape")
    }
    if cfg.get("class_name") == "InputLayer":
        c = dict(out["config"])
        for key in ("batch_shape", "batch_input_shape"):
            shp = c.get(key)
            is_ids = "int" in str(c.get("dtype", "float32"))
            if shp is not None and (len(shp) == 3 or (len(shp) == 2 and is_ids)):
                c[key] = [shp[0], None, *shp[2:]]
        out["config"] = c
    elif isinstance(out.get("config"), dict) and "batch_input_shape" in out["config"]:
        c = dict(out["config"])
        shp = c["batch_input_shape"]
        if shp is not None and len(shp) == 3:
            c["batch_input_shape"] = [shp[0], None, shp[2]]
        out["config"] = c
    return out


def record_prefixes(K, model, inputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Keras' outputs for the input cut after every timestep t (the oracle for Stepper.outputs_at).

    The model is rebuilt from its config with free time axes and the same weights, then called
    eagerly on x[:, :t+1] for every sequence input.  A t where Keras itself refuses the cut input
    (e.g. Flatten -> Dense) is left out.
    """
    seq = [_is_sequence(a) for a in inputs]
    lengths = {a.shape[1] for a, s in zip(inputs, seq) if s}
    if len(lengths) != 1:
        return {}, {"skipped": "sequence inputs of different lengths"}
    T = lengths.pop()
    try:
        clone = K.models.model_from_json(json.dumps(_free_time_axis(json.loads(model.to_json()))))
        clone.set_weights(model.get_weights())
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {}, {"skipped": f"cannot rebuild with a free time axis: {type(e).__name__}: {first}"[:300]}
    arrays: dict[str, np.ndarray] = {}
    steps, refused = [], {}
    for t in range(T):
        cut = [a[:, : t + 1] if s else a for a, s in zip(inputs, seq)]
        try:
            y = clone(cut if len(cut) > 1 else cut[0], training=False)
        except Exception as e:
            refused[t] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
            continue
        ys = list(y.values()) if isinstance(y, dict) else list(y) if isinstance(y, (list, tuple)) else [y]
        for k, v in enumerate(ys):
            arrays[f"pre_{t}_{k}"] = np.asarray(v, dtype=np.float32)
        steps.append(t)
    return arrays, {"steps": steps, "refused": refused, "sequence_inputs": seq}


def predict(model, inputs, dtype=np.float32) -> list[np.ndarray]:
    y = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0, batch_size=len(inputs[0]))
    if isinstance(y, dict):
        y = list(y.values())
    if not isinstance(y, (list, tuple)):
        y = [y]
    return [np.asarray(a, dtype=dtype) for a in y]


def _to_float64(cfg: Any) -> Any:
    """A model config with every float32 dtype (plain string or Keras 3 DTypePolicy) made float64."""
    if isinstance(cfg, list):
        return [_to_float64(v) for v in cfg]
    if isinstance(cfg, dict):
        out = {}
        for k, v in cfg.items():
            if k == "dtype" and v == "float32":
                v = "float64"
            elif k == "dtype" and isinstance(v, dict) and v.get("config", {}).get("name") == "float32":
                v = dict(v, config=dict(v["config"], name="float64"))
            out[k] = _to_float64(v)
        return out
    return cfg


def float64_reference(K, tf, model, inputs) -> dict[str, np.ndarray]:
    """The same model run by Keras in float64: `out64_k`, `h64_j`, `c64_j` (the 'exact' result).

    Over long sequences float32 rounding in Keras itself grows past 1e-5 (e.g. an LSTM cell state of
    magnitude ~40 after 100 steps), so the tests use this to tell an engine bug from the float32
    noise floor that Keras shares.
    """
    prev = K.backend.floatx()
    K.backend.set_floatx("float64")
    try:
        m64 = K.models.model_from_json(json.dumps(_to_float64(json.loads(model.to_json()))))
        m64.set_weights([w.astype(np.float64) for w in model.get_weights()])
        in64 = [a.astype(np.float64) if a.dtype == np.float32 else a for a in inputs]
        outs = predict(m64, in64, dtype=np.float64)
        _, arrays, _ = record_states(K, tf, m64, in64, dtype=np.float64)
    finally:
        K.backend.set_floatx(prev)
    res = {f"out64_{k}": a for k, a in enumerate(outs)}
    res |= {k[0] + "64" + k[1:]: v for k, v in arrays.items()}
    return res


def save_all(K, flavor: str, model, out: Path, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    files: dict[str, Any] = {}
    errors: dict[str, str] = {}
    cfg_name = f"{name}.json"
    for fmt, (suffix, weights_only) in FORMATS[flavor].items():
        path = out / f"{name}{suffix}"
        try:
            if weights_only:
                model.save_weights(str(path))
                (out / cfg_name).write_text(model.to_json())
                files[fmt] = {"file": path.name, "config": cfg_name}
            else:
                model.save(str(path))
                files[fmt] = {"file": path.name, "config": None}
        except Exception as e:  # Keras itself cannot write this model in this format
            errors[fmt] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    return files, errors


def run_case(K, tf, flavor: str, c: Case, out: Path) -> dict[str, Any]:
    K.backend.clear_session()
    rng = np.random.default_rng([SEED, _stable(c.name)])
    tf.random.set_seed(SEED)
    model = c.build(K)
    randomize_weights(model, rng)
    inputs = c.inputs(rng)
    expected = predict(model, inputs)
    entries, arrays, warn = record_states(K, tf, model, inputs)
    pre_arrays, prefixes = record_prefixes(K, model, inputs)
    arrays |= pre_arrays
    if prefixes.get("steps") and prefixes["steps"][-1] == inputs[0].shape[1] - 1:
        last = prefixes["steps"][-1]  # sanity: the full-length cut must equal predict()
        err = max(float(np.max(np.abs(pre_arrays[f"pre_{last}_{k}"] - e))) for k, e in enumerate(expected))
        if err > 1e-5:
            warn.append(f"prefix oracle at full length differs from predict() by {err:.2e}")
    files, errors = save_all(K, flavor, model, out, c.name)
    np.savez(out / f"{c.name}.inputs.npz", **{f"in_{i}": a for i, a in enumerate(inputs)})
    np.savez(out / f"{c.name}.expected.npz", **{f"out_{i}": a for i, a in enumerate(expected)}, **arrays)
    return {
        "name": c.name,
        "note": c.note,
        "files": files,
        "save_errors": errors,
        "inputs": f"{c.name}.inputs.npz",
        "expected": f"{c.name}.expected.npz",
        "n_outputs": len(expected),
        "traces": entries,
        "prefixes": prefixes,
        "warnings": warn,
    }


def _stable(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


# ---- corpus ---------------------------------------------------------------------------------------


def _read_model_config(path: Path) -> dict[str, Any]:
    import h5py

    if path.suffix == ".json":
        return json.loads(path.read_text())
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


_K1_DROP = {
    "init",
    "inner_init",
    "forget_bias_init",
    "W_regularizer",
    "U_regularizer",
    "b_regularizer",
    "W_constraint",
    "U_constraint",
    "b_constraint",
    "activity_regularizer",
    "dropout_W",
    "dropout_U",
    "consume_less",
    "input_dim",
    "input_length",
    "input_dtype",
    "batch_input_shape",
    "trainable",
}


def k1_to_tf_keras_config(mc: dict[str, Any]) -> dict[str, Any]:
    """Keras 1 Sequential model_config -> tf_keras Sequential config (names as in K@2.2.4 legacy/interfaces).

    Written here, independently of inspector.io, and only for the layer classes the corpus uses.
    """
    layers = mc["config"] if isinstance(mc["config"], list) else mc["config"]["layers"]
    out = []
    first = layers[0]["config"]
    bis = first.get("batch_input_shape")
    if bis is None and first.get("input_dim") is not None:
        bis = [None, first.get("input_length"), first["input_dim"]]
    dtype = first.get("input_dtype", "float32")
    out.append(
        {"class_name": "InputLayer", "config": {"batch_input_shape": bis, "dtype": dtype, "name": "input_k1"}}
    )
    for lay in layers:
        out.append(_k1_layer(lay))
    return {"class_name": "Sequential", "config": {"name": "k1_model", "layers": out}}


def _k1_layer(lay: dict[str, Any]) -> dict[str, Any]:
    cls, c = lay["class_name"], dict(lay["config"])
    name = c.get("name")
    if cls in ("LSTM", "GRU", "SimpleRNN"):
        new = {
            "name": name,
            "units": c["output_dim"],
            "activation": c.get("activation", "tanh"),
            "return_sequences": c.get("return_sequences", False),
            "go_backwards": c.get("go_backwards", False),
            "stateful": c.get("stateful", False),
            "unroll": c.get("unroll", False),
        }
        if cls != "SimpleRNN":
            new["recurrent_activation"] = c.get("inner_activation", "hard_sigmoid")
        if cls == "GRU":
            new["reset_after"] = False
        return {"class_name": cls, "config": new}
    if cls in ("Dense", "TimeDistributedDense"):
        d = {
            "class_name": "Dense",
            "config": {
                "name": name,
                "units": c["output_dim"],
                "activation": c.get("activation", "linear"),
                "use_bias": c.get("bias", True),
            },
        }
        if cls == "TimeDistributedDense":
            d["config"]["name"] = name + "_inner"
            return {"class_name": "TimeDistributed", "config": {"name": name, "layer": d}}
        return d
    if cls == "Embedding":
        return {
            "class_name": "Embedding",
            "config": {
                "name": name,
                "input_dim": c["input_dim"],
                "output_dim": c["output_dim"],
                "mask_zero": c.get("mask_zero", False),
            },
        }
    if cls == "Dropout":
        return {"class_name": "Dropout", "config": {"name": name, "rate": c.get("p", 0.0)}}
    if cls == "Activation":
        return {"class_name": "Activation", "config": {"name": name, "activation": c["activation"]}}
    if cls == "Bidirectional":
        return {
            "class_name": "Bidirectional",
            "config": {
                "name": name,
                "layer": _k1_layer(c["layer"]),
                "merge_mode": c.get("merge_mode", "concat"),
            },
        }
    raise ValueError(f"generator: no Keras 1 translation for {cls}")


def k1_weights_via_h5py(path: Path) -> dict[str, list[np.ndarray]]:
    """Keras 1 file -> Keras 2 layout with plain h5py + the documented conversion.

    The conversion is docs/formats.md, "Gate orders".

    Independent of both inspector.io and tf_keras; only for top-level LSTM/GRU/SimpleRNN/Dense/Embedding.
    """
    import h5py

    def names(attr) -> list[str]:
        return [n.decode() if isinstance(n, bytes) else str(n) for n in attr]

    out: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        g = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        for lname in names(g.attrs["layer_names"]):
            wn = names(g[lname].attrs["weight_names"])
            arrs = {n.split(":")[0][len(lname) + 1 :]: g[lname][n][()] for n in wn}
            if len(wn) == 12:  # LSTM, stored W_i,U_i,b_i, W_c,U_c,b_c, W_f,U_f,b_f, W_o,U_o,b_o
                out[lname] = [np.concatenate([arrs[f"{k}_{gate}"] for gate in "ifco"], -1) for k in "WUb"]
            elif len(wn) == 9:  # GRU z, r, h
                out[lname] = [np.concatenate([arrs[f"{k}_{gate}"] for gate in "zrh"], -1) for k in "WUb"]
            elif wn and all(k in ("W", "U", "b") for k in arrs):
                out[lname] = [arrs[k] for k in ("W", "U", "b") if k in arrs]
    return out


def check_k1_conversion(model, path: Path) -> list[str]:
    """tf_keras' own Keras 1 weight conversion must agree with the documented one (else: warn)."""
    warn = []
    for lname, ws in k1_weights_via_h5py(path).items():
        try:
            layer = model.get_layer(lname)
        except ValueError:
            continue
        got = layer.get_weights()
        if len(got) != len(ws) or any(
            a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(got, ws)
        ):
            warn.append(
                f'{lname}: tf_keras\' Keras 1 weight conversion differs from docs/formats.md, "Gate orders"'
            )
    return warn


def fix_keras2_config(mc: Any) -> Any:
    """Multi-backend Keras 2 config -> loadable by tf_keras: defaults that changed, custom initializers."""
    if isinstance(mc, dict):
        out = {}
        for k, v in mc.items():
            if (
                k.endswith("_initializer")
                and isinstance(v, str)
                and v not in ("zeros", "ones", "orthogonal", "glorot_uniform")
            ):
                v = "zeros"
            out[k] = fix_keras2_config(v)
        if mc.get("class_name") == "GRU" and "reset_after" not in mc.get("config", {}):
            out["config"] = dict(out["config"], reset_after=False)
        return out
    if isinstance(mc, list):
        return [fix_keras2_config(v) for v in mc]
    return mc


def _corpus_inputs(model, cc: CorpusCase, rng) -> list[np.ndarray]:
    xs = []
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    for i, shp in enumerate(shapes):
        shp = [2] + [cc.T or 6 if s is None else s for s in shp[1:]]
        emb = _feeds_embedding(model, i)
        if emb is not None:
            xs.append(
                rng.integers(0, emb, shp).astype(np.float32 if model.inputs[i].dtype != "int32" else np.int32)
            )
            continue
        if cc.onehot:
            x = np.eye(shp[-1], dtype=np.float32)[rng.integers(0, shp[-1], shp[:-1])]
        else:
            x = rng.normal(0.0, 1.0, shp).astype(np.float32)
        if cc.masked and len(shp) == 3:
            x[1, shp[1] - 3 :] = 0.0  # post-padding on the second sample
        xs.append(x)
    return xs


def _feeds_embedding(model, i) -> int | None:
    """input_dim of the Embedding fed by model input i, if any."""
    t = model.inputs[i]
    for layer in model.layers:
        if layer.__class__.__name__ != "Embedding":
            continue
        try:
            nodes = layer._inbound_nodes
            for n in nodes:
                srcs = n.input_tensors if hasattr(n, "input_tensors") else []
                srcs = srcs if isinstance(srcs, (list, tuple)) else [srcs]
                if any(s is t for s in srcs):
                    return int(layer.input_dim)
        except Exception:
            pass
    if i == 0 and model.layers and model.layers[0].__class__.__name__ == "Embedding":
        return int(model.layers[0].input_dim)
    return None


def run_corpus_case(K, tf, cc: CorpusCase, corpus: Path, out: Path) -> dict[str, Any]:
    K.backend.clear_session()
    rng = np.random.default_rng([SEED, _stable(cc.name)])
    path = corpus / cc.file
    config_file = None
    if cc.how == "load_model":
        model = K.models.load_model(str(path), compile=False)
    elif cc.how == "k1_config":
        src = corpus / (cc.config_from or cc.file)
        model = K.models.model_from_json(json.dumps(k1_to_tf_keras_config(_read_model_config(src))))
        model.load_weights(str(path))
        if cc.config_from:
            config_file = "corpus:" + cc.config_from  # a file of the corpus itself
    elif cc.how == "fix_config":
        src = corpus / (cc.config_from or cc.file)
        mc = _read_model_config(src)
        model = K.models.model_from_json(json.dumps(fix_keras2_config(mc)))
        model.load_weights(str(path))
        if cc.config_from:  # the original architecture, as a to_json() file for the reader
            config_file = f"corpus_{cc.name}.json"
            (out / config_file).write_text(json.dumps(mc))
    else:  # rebuild
        model = cc.rebuild(K)
        model.load_weights(str(path))
        config_file = f"corpus_{cc.name}.json"
        (out / config_file).write_text(model.to_json())
    inputs = _corpus_inputs(model, cc, rng)
    expected = predict(model, inputs)
    entries, arrays, warn = record_states(K, tf, model, inputs)
    if cc.file.startswith("k1"):
        warn += check_k1_conversion(model, path)
    try:
        arrays |= float64_reference(K, tf, model, inputs)
    except Exception as e:
        warn.append(f"no float64 reference: {type(e).__name__}: {e}"[:300])
    np.savez(out / f"corpus_{cc.name}.inputs.npz", **{f"in_{i}": a for i, a in enumerate(inputs)})
    np.savez(
        out / f"corpus_{cc.name}.expected.npz", **{f"out_{i}": a for i, a in enumerate(expected)}, **arrays
    )
    return {
        "name": cc.name,
        "file": cc.file,
        "how": cc.how,
        "note": cc.note,
        "config": config_file,
        "inputs": f"corpus_{cc.name}.inputs.npz",
        "expected": f"corpus_{cc.name}.expected.npz",
        "n_outputs": len(expected),
        "traces": entries,
        "warnings": warn,
    }


# ---- main -----------------------------------------------------------------------------------------


def manifest_key(flavor: str, corpus: Path | None) -> str:
    h = hashlib.sha256(generator_hash().encode() + flavor.encode())
    if corpus is not None and corpus.is_dir():
        for p in sorted(corpus.iterdir()):
            h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flavor", choices=FLAVORS, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated case names (debugging; no manifest cache)")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    key = manifest_key(args.flavor, args.corpus)
    if not args.force and not args.only and manifest_path.is_file():
        try:
            if json.loads(manifest_path.read_text()).get("key") == key:
                print(f"parity[{args.flavor}]: cached ({manifest_path})")
                return 0
        except ValueError:
            pass
    t0 = time.perf_counter()
    K, tf = import_keras(args.flavor)
    t_import = time.perf_counter() - t0
    only = set(args.only.split(",")) if args.only else None
    _register_random_stacks()
    cases, failures = [], {}
    for c in CASES:
        if args.flavor not in c.flavors or (only and c.name not in only):
            continue
        try:
            t1, c1 = time.perf_counter(), time.process_time()
            cases.append(run_case(K, tf, args.flavor, c, out))
            cases[-1]["seconds"] = round(time.perf_counter() - t1, 2)
            cases[-1]["cpu_seconds"] = round(time.process_time() - c1, 2)
        except Exception:
            failures[c.name] = traceback.format_exc(limit=3)
            print(
                f"parity[{args.flavor}]: case {c.name} FAILED in Keras:\n{failures[c.name]}", file=sys.stderr
            )
    corpus_cases, corpus_failures = [], {}
    if args.corpus is not None and args.corpus.is_dir():
        for cc in CORPUS_CASES:
            if cc.flavor != args.flavor or (only and cc.name not in only):
                continue
            try:
                t1, c1 = time.perf_counter(), time.process_time()
                corpus_cases.append(run_corpus_case(K, tf, cc, args.corpus, out))
                corpus_cases[-1]["seconds"] = round(time.perf_counter() - t1, 2)
                corpus_cases[-1]["cpu_seconds"] = round(time.process_time() - c1, 2)
            except Exception:
                corpus_failures[cc.name] = traceback.format_exc(limit=3)
                print(
                    f"parity[{args.flavor}]: corpus {cc.name} FAILED in Keras:\n{corpus_failures[cc.name]}",
                    file=sys.stderr,
                )
    import tensorflow as tfm

    manifest = {
        "key": key if not only else None,
        "generator_hash": generator_hash(),
        "flavor": args.flavor,
        "keras_version": K.__version__,
        "tensorflow_version": tfm.__version__,
        "formats": {f: list(v) for f, v in FORMATS[args.flavor].items()},
        "cases": cases,
        "case_failures": failures,
        "corpus": str(args.corpus) if args.corpus else None,
        "corpus_cases": corpus_cases,
        "corpus_failures": corpus_failures,
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time(), 1),
        "import_seconds": round(t_import, 1),
    }
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(manifest_path)
    n_warn = sum(len(c["warnings"]) for c in cases + corpus_cases)
    print(
        f"parity[{args.flavor}]: {len(cases)} cases, {len(corpus_cases)} corpus cases, "
        f"{len(failures) + len(corpus_failures)} failures, {n_warn} probe warnings, {manifest['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
