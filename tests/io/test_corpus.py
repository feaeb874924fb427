"""Every file of the shared third-party corpus opens (or is refused with a sensible one-line reason)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from inspector.io import ModelFileError, load

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("KERAS_CORPUS", REPO / ".." / "shared" / "keras-corpus"))


def _files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.suffix != ".md")


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"keras corpus not present at {CORPUS}")
    return CORPUS


# file -> (format_id, network built?, top-level layer kinds with weights) ; or an error substring
EXPECTED: dict[str, tuple[str, bool, list[str]] | str] = {
    "k1.0.6_beneyal_stacked_lstm_charrnn_full.hdf5": ("legacy-h5-model", True, ["LSTM", "LSTM", "Dense"]),
    "k1.1.0_dl4j_stacked_lstm_timedistdense_full.h5": (
        "legacy-h5-model",
        True,
        ["LSTM", "LSTM", "TimeDistributed"],
    ),
    "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5": ("legacy-h5-model", True, ["Bidirectional"]),
    "k1.2.2_dl4j_dense_tf_full.h5": ("legacy-h5-model", True, ["Dense"]),
    "k1.2.2_dl4j_embedding_lstm_tf_full.h5": ("legacy-h5-model", True, ["Embedding", "LSTM"]),
    "k1.2.2_dl4j_lstm_dense_theano_saveweights.h5": ("legacy-h5-weights", False, ["LSTM", "Dense"]),
    "k1.2.2_dl4j_simple_rnn_tf_full.h5": ("legacy-h5-model", True, ["SimpleRNN"]),
    "k1_eco_charlstm_saveweights.arch.json": "JSON",
    "k1_eco_charlstm_saveweights.h5": ("legacy-h5-weights", False, ["LSTM", "Dense"]),
    "k1_liweihong_charlstm_saveweights.h5": ("legacy-h5-weights", False, ["LSTM", "Dense"]),
    "k2.0.5_katshun_lstm_full.h5": ("legacy-h5-model", True, ["LSTM", "Dense"]),
    "k2.0.5_katshun_lstm_saveweights.h5": ("legacy-h5-weights", False, ["LSTM", "Dense"]),
    "k2.0.8_dl4j_stacked_lstm_theano_saveweights.h5": ("legacy-h5-weights", False, ["LSTM", "LSTM", "Dense"]),
    "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5": (
        "legacy-h5-model",
        True,
        ["Bidirectional", "Bidirectional", "Dense"],
    ),
    "k2.1.5_textgenrnn_cudnnlstm_embedding_attention_saveweights.hdf5": (
        "legacy-h5-weights",
        False,
        ["Embedding", "LSTM", "LSTM", "?", "Dense"],
    ),
    "k2.1.6_neil621_stacked_lstm_charrnn_full.hdf5": ("legacy-h5-model", True, ["LSTM", "LSTM", "Dense"]),
    "k2.2.0_hemanth_dense_mlp_full.hdf5": ("legacy-h5-model", True, ["Dense"] * 5),
    "k2.2.0_theo_stacked_lstm_timedist_saveweights.h5": (
        "legacy-h5-weights",
        False,
        ["LSTM", "LSTM", "TimeDistributed"],
    ),
    "k2.2.4_carnd_lambda_conv2d_full.h5": ("legacy-h5-model", True, ["Conv2D"] * 5 + ["Dense"] * 4),
    "k2.2.4_crnneeg_4x_bilstm_timedist_saveweights.h5": (
        "legacy-h5-weights",
        False,
        ["Bidirectional"] * 4 + ["TimeDistributed"],
    ),
    "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5": (
        "legacy-h5-model",
        True,
        ["Embedding", "Embedding", "LSTM", "LSTM", "Dense", "Dense", "Dense"],
    ),
    "k3.3.3_komei_stacked_lstm.keras": ("keras3-archive", True, ["LSTM", "LSTM", "Dense", "Dense"]),
    "k3.9.2_tekuv_gru.keras": ("keras3-archive", True, ["GRU", "Dense"]),
    "k3.9.2_tekuv_gru_legacy.h5": ("legacy-h5-model", True, ["GRU", "Dense"]),
    "k3_soorya_5x_gru_timedist.weights.h5": ("keras3-weights-h5", False, ["GRU"] * 5 + ["TimeDistributed"]),
    "k3_soorya_5x_lstm_timedist.weights.h5": ("keras3-weights-h5", False, ["LSTM"] * 5 + ["TimeDistributed"]),
    "nonkeras_caffe_cifar10_arm.caffemodel.h5": "without Keras metadata",
    "nonkeras_medaka_training_features.hdf5": "without Keras metadata",
    "notkeras_gitlfs_pointer_named_gru_model.h5": "Git LFS pointer",
    "tfk2.10.0_dibin_stacked_lstm_full.h5": ("legacy-h5-model", True, ["LSTM", "LSTM", "Dense"]),
    "tfk2.10.0_dibin_stacked_lstm_saveweights.h5": ("legacy-h5-weights", False, ["LSTM", "LSTM", "Dense"]),
    "tfk2.14.0_julitw_stacked_lstm_saveweights.h5": (
        "legacy-h5-weights",
        False,
        ["LSTM", "LSTM", "Dense", "Dense"],
    ),
    "tfk2.4.0_bhanu_masking_gru_saveweights.h5": ("legacy-h5-weights", False, ["GRU", "Dense", "Dense"]),
    "tfk2.4.0_bhanu_masking_simplernn_saveweights.h5": (
        "legacy-h5-weights",
        False,
        ["SimpleRNN", "Dense", "Dense"],
    ),
}


@pytest.mark.parametrize("name", _files() or ["<no corpus>"])
def test_corpus_file(corpus: Path, name: str) -> None:
    path = corpus / name
    expected = EXPECTED.get(name)
    if isinstance(expected, str):
        with pytest.raises(ModelFileError) as info:
            load(path)
        assert expected in info.value.reason
        assert "\n" not in str(info.value) and str(info.value).startswith(str(path))
        return
    try:
        mf = load(path)
    except ModelFileError as exc:  # a file added to the corpus later: a clean refusal is acceptable
        assert expected is None, f"{name} refused: {exc.reason}"
        return
    assert mf.weight_layers
    for lay in mf.weight_layers:
        for wpath, w in lay.all_weights():
            assert w.value.dtype == np.float32, wpath
            if lay.kind in ("LSTM", "GRU", "SimpleRNN") or "/forward/" in wpath or "/backward/" in wpath:
                assert w.gates, f"{wpath} not gate-sliced"
                assert w.gates[-1].stop == w.value.shape[-1]
    if expected is None:
        return
    fid, has_net, kinds = expected
    assert mf.format_id == fid
    assert (mf.network is not None) == has_net
    assert [lay.kind for lay in mf.weight_layers] == kinds


def test_eco_with_arch_json_builds_network(corpus: Path) -> None:
    mf = load(
        corpus / "k1_eco_charlstm_saveweights.h5", config=corpus / "k1_eco_charlstm_saveweights.arch.json"
    )
    net = mf.network
    assert net is not None and net.kind == "Sequential"
    assert [lay.kind for lay in net.layers] == ["LSTM", "Dense", "Activation"]
    assert net.input_shapes == ((None, 100, 40),)
    lstm = net.layers[0]
    assert lstm.config["units"] == 128 and lstm.config["recurrent_activation"] == "hard_sigmoid"
    assert all(lay.runnable for lay in net.layers)
    assert mf.semantics.hard_sigmoid == "keras2"


@pytest.mark.parametrize(
    "name, wgroup",
    [
        ("k1.0.6_beneyal_stacked_lstm_charrnn_full.hdf5", "model_weights/lstm_1/lstm_1_{}"),
        ("k1_eco_charlstm_saveweights.h5", "lstm_1/lstm_1_{}:0"),
        ("k1.2.2_dl4j_lstm_dense_theano_saveweights.h5", "lstm_1/lstm_1_{}"),
    ],
)
def test_keras1_gate_slices_equal_raw_arrays(corpus: Path, name: str, wgroup: str) -> None:
    mf = load(corpus / name)
    lstm = mf.weight_layers[0]
    assert lstm.kind == "LSTM"
    with h5py.File(corpus / name, "r") as f:
        for gate in "ifco":
            np.testing.assert_array_equal(lstm.weight("kernel").gate(gate), f[wgroup.format(f"W_{gate}")][()])
            np.testing.assert_array_equal(
                lstm.weight("recurrent_kernel").gate(gate), f[wgroup.format(f"U_{gate}")][()]
            )
            np.testing.assert_array_equal(lstm.weight("bias").gate(gate), f[wgroup.format(f"b_{gate}")][()])


def test_keras1_bidirectional_halves(corpus: Path) -> None:
    name = "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5"
    mf = load(corpus / name)
    bidi = mf.network.layers[0]  # type: ignore[union-attr]
    fwd, bwd = bidi.children
    assert fwd.config["go_backwards"] is False and bwd.config["go_backwards"] is True
    with h5py.File(corpus / name, "r") as f:
        g = f["model_weights/bidirectional_1"]
        np.testing.assert_array_equal(fwd.weight("kernel").gate("f"), g["forward_lstm_1_W_f"][()])
        np.testing.assert_array_equal(bwd.weight("bias").gate("c"), g["backward_lstm_1_b_c"][()])


def test_textgenrnn_cudnn_converted(corpus: Path) -> None:
    name = "k2.1.5_textgenrnn_cudnnlstm_embedding_attention_saveweights.hdf5"
    mf = load(corpus / name)
    rnn = next(lay for lay in mf.weight_layers if lay.name == "rnn_1")
    with h5py.File(corpus / name, "r") as f:
        b = f["rnn_1/rnn_1/bias:0"][()]
        k = f["rnn_1/rnn_1/kernel:0"][()]
    np.testing.assert_allclose(rnn.weight("bias").value, b[:512] + b[512:])
    # gate i block: cuDNN reads the flat block as (units, input_dim)
    np.testing.assert_array_equal(rnn.weight("kernel").gate("i"), k[:, :128].ravel().reshape(128, 100).T)
    assert rnn.config["recurrent_activation"] == "sigmoid"


def test_functional_hiv_wiring(corpus: Path) -> None:
    net = load(corpus / "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5").network
    assert net is not None and net.kind == "Functional"
    assert len(net.inputs) == 3 and len(net.outputs) == 1
    concat = net.layer("concatenate_1")
    assert len(concat.calls) == 1 and len(concat.calls[0].inputs) == 3
    assert all(r.node == 0 for lay in net.layers for c in lay.calls for r in c.inputs)


def test_lambda_never_runnable(corpus: Path) -> None:
    mf = load(corpus / "k2.2.4_carnd_lambda_conv2d_full.h5")
    lam = mf.network.layers[0]  # type: ignore[union-attr]
    assert lam.kind == "Lambda" and not lam.runnable
    assert any("bytecode" in p for p in lam.problems)


def test_keras3_weights_only_order_and_names(corpus: Path) -> None:
    mf = load(corpus / "k3_soorya_5x_gru_timedist.weights.h5")
    assert [lay.name for lay in mf.weight_layers] == [
        "gru",
        "gru_1",
        "gru_2",
        "gru_3",
        "gru_4",
        "time_distributed",
    ]
    gru = mf.weight_layers[0]
    assert gru.weight("bias").shape == (2, 210)
    assert [g.key for g in gru.weight("kernel").gates] == ["z", "r", "h"]
