"""app/present.py without Qt: weight descriptions, output shapes against the engine, one glyph rule,
problem vs note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector import io
from inspector.app.present import (
    MARKS,
    blocking_problems,
    describe_weight,
    format_dims,
    infer_output_shapes,
    layer_notes,
    stored_class_names,
    visible,
)
from inspector.core import engine
from inspector.core.network import Layer
from tests.conftest import CORPUS

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_visible_makes_every_invisible_character_a_glyph() -> None:
    assert [visible(t) for t in (" ", "\n", "\t", "\r", "")] == [
        "\u2423",
        "\u23ce",
        "\u21e5",
        "\u240d",
        "\u2205",
    ]
    assert visible("a b\n") == "a\u2423b\u23ce"
    assert visible("word") == "word"


def test_describe_weight_splits_gates_and_labels_rows_by_vocabulary() -> None:
    mf = io.load(SAMPLES / "classic.h5")
    net = mf.network
    vocab = [chr(97 + k % 26) if k else " " for k in range(net.layers[0].weights[0].shape[0])]
    lstm = next(lay for lay in net.layers if lay.kind == "LSTM")
    kernel, rec = lstm.weights[0], lstm.weights[1]
    m = describe_weight(lstm, f"{lstm.name}/kernel", kernel, net, vocab)
    assert m.value.shape == kernel.shape and m.value.dtype == np.float32
    np.testing.assert_array_equal(m.value, kernel.value)
    assert [g.label for g in m.gates] == ["i", "f", "c\u0303", "o"]
    assert [s for _t, _a, s in m.panels()] == [kernel.shape[1] // 4 * k for k in (1, 2, 3, 4)]
    assert m.row_labels is not None and m.row_labels[0] == "\u2423" and m.row_title == "input symbol"
    r = describe_weight(lstm, f"{lstm.name}/recurrent_kernel", rec, net, vocab)
    assert r.rows_are_units and r.trace_key == lstm.name and r.row_labels is None


def test_describe_weight_names_the_first_kernel_rows_by_the_csv_header() -> None:
    """A CSV header names the input features: the first layer's kernel rows take the names (a vocabulary
    still wins); other weights and a header of the wrong length are left alone."""
    path = CORPUS / "k3.9.2_tekuv_gru.keras"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    mf = io.load(path)
    net = mf.network
    gru = next(lay for lay in net.layers if lay.kind == "GRU")
    dense = next(lay for lay in net.layers if lay.kind == "Dense")
    kernel = gru.weight("kernel")
    n = kernel.shape[0]
    names = [f"sensor {k}" for k in range(n)]
    m = describe_weight(gru, f"{gru.name}/kernel", kernel, net, None, names)
    assert m.row_labels == tuple(names) and m.row_title == "input feature"
    assert describe_weight(gru, f"{gru.name}/kernel", kernel, net, None, [*names, "extra"]).row_labels is None
    rec_w = gru.weight("recurrent_kernel")
    rec = describe_weight(gru, f"{gru.name}/recurrent_kernel", rec_w, net, None, names)
    assert rec.row_labels is None
    dk = dense.weight("kernel")
    later = describe_weight(dense, f"{dense.name}/kernel", dk, net, None, names[:1] * dk.shape[0])
    assert later.row_labels is None  # not the first layer


def test_output_shapes_match_what_the_engine_returns() -> None:
    for path in (SAMPLES / "classic.h5", CORPUS / "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5"):
        if not path.exists():
            pytest.skip(f"{path} is not present")
        mf = io.load(path)
        net = mf.network
        shapes = infer_output_shapes(net)
        rng = np.random.default_rng(0)
        # small whole numbers: valid token ids for an Embedding, plain values for anything else
        xs = [
            rng.integers(1, 5, [2] + [d if d is not None else 7 for d in shape[1:]]).astype(np.float32)
            for shape in net.input_shapes
        ]
        outs = engine.predict(net, xs, mf.semantics)
        names = [t.layer for t in net.outputs] or [net.layers[-1].name]
        for name, out in zip(names, outs):
            want = shapes[name]
            assert len(want) == out.ndim
            assert all(w is None or w == o for w, o in zip(want[1:], out.shape[1:])), (name, want, out.shape)


def test_format_dims() -> None:
    assert format_dims((None, 40, 57)) == "(\u00b7, 40, 57)"
    assert format_dims([(None, 3), (None, None, 2)]) == "(\u00b7, 3) + (\u00b7, ?, 2)"
    assert format_dims(None) == ""


def test_a_problem_stops_the_layer_a_note_does_not() -> None:
    note = Layer("cu", "LSTM", problems=("CuDNNLSTM read as LSTM",))
    stop = Layer("lam", "Lambda", runnable=False)
    assert layer_notes(note) == ("note", ["CuDNNLSTM read as LSTM"])
    assert layer_notes(stop) == ("problem", ["the engine cannot run this layer"])
    assert layer_notes(stop, has_network=False) == ("", [])
    assert MARKS["note"] == "\u2139" and MARKS["problem"] == "\u26a0"
    assert blocking_problems(None) == set()


def test_stored_class_names_are_read_from_the_file() -> None:
    path = CORPUS / "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    import h5py

    with h5py.File(path, "r") as f:  # the attribute or dataset as stored, read independently
        raw = f.attrs.get("medaka_label_decoding", None)
        raw = raw if raw is not None else f["medaka_label_decoding"][()]
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    names = stored_class_names(str(path)).split(", ")
    assert len(names) == 5 and all(n.strip("'*") in text for n in names)
    assert stored_class_names(str(SAMPLES / "classic.h5")) == ""
