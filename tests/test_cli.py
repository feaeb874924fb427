"""The command line contract: info / predict / trace, exit codes and one-line errors.

The model is a hand-written tf.keras-style legacy .h5 (h5py only) whose LSTM has zero kernels and a
known bias, so every gate is a constant we can compute by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from inspector.cli import main

U = 2  # units
D = 3  # input features
T = 4  # steps
BIAS = np.array([0.5, -0.3, 0.8, 1.1, -0.2, 0.4, 0.3, -0.7], dtype=np.float32)  # i i f f c c o o
DENSE_W = np.array([[1.0, -2.0, 0.5], [0.25, 1.5, -1.0]], dtype=np.float32)
DENSE_B = np.array([0.1, 0.0, -0.1], dtype=np.float32)


def _config(return_sequences: bool = False) -> dict:
    return {
        "class_name": "Sequential",
        "config": {
            "name": "seq",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, T, D], "dtype": "float32", "name": "inp"},
                },
                {
                    "class_name": "LSTM",
                    "config": {
                        "name": "lstm",
                        "units": U,
                        "activation": "tanh",
                        "recurrent_activation": "sigmoid",
                        "use_bias": True,
                        "return_sequences": return_sequences,
                        "go_backwards": False,
                        "return_state": False,
                        "stateful": False,
                        "unroll": False,
                        "time_major": False,
                    },
                },
                {
                    "class_name": "Dense",
                    "config": {"name": "dense", "units": 3, "activation": "softmax", "use_bias": True},
                },
            ],
        },
    }


def write_model(path: Path) -> Path:
    """A minimal tf.keras 2.x legacy full-model HDF5 file."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.10.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(_config())
        g = f.create_group("model_weights")
        g.attrs["keras_version"] = "2.10.0"
        g.attrs["backend"] = "tensorflow"
        g.attrs["layer_names"] = [b"lstm", b"dense"]
        lg = g.create_group("lstm")
        names = [b"lstm/lstm_cell/kernel:0", b"lstm/lstm_cell/recurrent_kernel:0", b"lstm/lstm_cell/bias:0"]
        lg.attrs["weight_names"] = names
        lg[names[0].decode()] = np.zeros((D, 4 * U), np.float32)
        lg[names[1].decode()] = np.zeros((U, 4 * U), np.float32)
        lg[names[2].decode()] = BIAS
        dg = g.create_group("dense")
        dg.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        dg["dense/kernel:0"] = DENSE_W
        dg["dense/bias:0"] = DENSE_B
    return path


def hand_lstm() -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """h and c over T steps when kernels are zero: every gate is a constant of the bias."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    b = BIAS.astype(np.float64)
    i, f, g, o = sig(b[0:2]), sig(b[2:4]), np.tanh(b[4:6]), sig(b[6:8])
    c = np.zeros(U)
    hs, cs = [], []
    for _ in range(T):
        c = f * c + i * g
        hs.append(o * np.tanh(c))
        cs.append(c.copy())
    return np.array(hs), np.array(cs), {"i": i, "f": f, "c": g, "o": o}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_model(tmp_path / "m.h5")


@pytest.fixture
def x(tmp_path: Path) -> Path:
    p = tmp_path / "x.npy"
    np.save(p, np.random.default_rng(0).normal(size=(2, T, D)).astype(np.float32))
    return p


def test_predict_matches_hand_computation(model, x, tmp_path):
    out = tmp_path / "y.npy"
    assert main(["predict", str(model), "--input", str(x), "--output", str(out)]) == 0
    y = np.load(out)
    assert y.dtype == np.float32 and y.shape == (2, 3)
    h, _, _ = hand_lstm()
    logits = h[-1] @ DENSE_W + DENSE_B
    expect = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(y, np.stack([expect, expect]), atol=1e-6)


def test_trace_writes_h_c_and_named_gates(model, x, tmp_path):
    out = tmp_path / "t.npz"
    assert main(["trace", str(model), "--input", str(x), "--output", str(out)]) == 0
    with np.load(out) as t:
        expected = {"lstm/h", "lstm/c"} | {f"lstm/gates/{g}" for g in "ifco"}
        assert expected <= set(t.files)
        h, c, gates = hand_lstm()
        assert t["lstm/h"].shape == (2, T, U)
        np.testing.assert_allclose(t["lstm/h"][1], h, atol=1e-6)
        np.testing.assert_allclose(t["lstm/c"][0], c, atol=1e-6)
        for k, v in gates.items():
            np.testing.assert_allclose(t[f"lstm/gates/{k}"][0], np.broadcast_to(v, (T, U)), atol=1e-6)


def test_info_json_names_gate_slices(model, capsys):
    assert main(["info", str(model), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["keras_version"] == "2.10.0"
    lstm = next(lay for lay in d["layers"] if lay["name"] == "lstm")
    kernel = next(w for w in lstm["weights"] if w["path"].endswith("/kernel"))
    assert kernel["shape"] == [D, 4 * U]
    assert [(g["key"], g["columns"]) for g in kernel["gates"]] == [
        ("i", [0, 2]),
        ("f", [2, 4]),
        ("c", [4, 6]),
        ("o", [6, 8]),
    ]


def test_info_text(model, capsys):
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "LSTM" in out and "2.10.0" in out and "recurrent_kernel" in out


@pytest.mark.parametrize("content", [b"", b"not a model at all\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_bad_file_is_one_line_exit_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(content)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "Traceback" not in err


def test_wrong_input_shape_is_one_line(model, tmp_path, capsys):
    xbad = tmp_path / "xbad.npy"
    np.save(xbad, np.zeros((2, T, D + 5), np.float32))
    assert main(["predict", str(model), "--input", str(xbad), "--output", str(tmp_path / "y.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_pickled_input_is_refused(model, tmp_path, capsys):
    evil = tmp_path / "evil.npy"
    np.save(evil, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert main(["predict", str(model), "--input", str(evil), "--output", str(tmp_path / "y.npy")]) == 2
    assert str(evil) in capsys.readouterr().err


def test_python_dash_m_behaves_the_same(model, x, tmp_path):
    out = tmp_path / "y.npy"
    r = subprocess.run(
        [sys.executable, "-m", "inspector", "predict", str(model), "--input", str(x), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert np.load(out).shape == (2, 3)
    r = subprocess.run(
        [sys.executable, "-m", "inspector", "info", str(tmp_path / "missing.h5")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """The test model with its model_config cut in half: architecture unusable, weights fine."""
    p = write_model(tmp_path / "damaged.h5")
    with h5py.File(p, "r+") as f:
        text = json.dumps(_config())
        f.attrs["model_config"] = text[: len(text) // 2]
    return p


def test_info_on_a_damaged_file_prints_the_weights_then_fails(damaged, capsys):
    assert main(["info", str(damaged)]) == 2
    cap = capsys.readouterr()
    assert "lstm/recurrent_kernel" in cap.out and "dense/kernel" in cap.out  # what could be read
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"keras-inspector: {damaged}: ") and "model config" in err[0]
    assert "Traceback" not in cap.err

    assert main(["info", "--json", str(damaged)]) == 2
    d = json.loads(capsys.readouterr().out)
    assert d["damage"] and "JSON" in d["damage"] and d["model_class"] is None
    assert [lay["name"] for lay in d["layers"]] == ["lstm", "dense"]


@pytest.mark.parametrize("verb", ["predict", "trace"])
def test_run_verbs_on_a_damaged_file_fail_with_the_damage(damaged, x, tmp_path, capsys, verb):
    out = tmp_path / ("y.npy" if verb == "predict" else "t.npz")
    assert main([verb, str(damaged), "--input", str(x), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{damaged}: model config unusable" in err[0], err
    assert "weights-only" not in err[0] and not out.exists()


def test_config_layer_without_weights_is_damage_not_a_run(tmp_path, x, capsys):
    """A config naming a layer the weights do not have: weights shown, nothing runs."""
    p = write_model(tmp_path / "extra.h5")
    cfg = _config()
    cfg["config"]["layers"].append(
        {"class_name": "Dense", "config": {"name": "extra", "units": 3, "activation": "linear"}}
    )
    with h5py.File(p, "r+") as f:
        f.attrs["model_config"] = json.dumps(cfg)
    assert main(["predict", str(p), "--input", str(x), "--output", str(tmp_path / "y.npy")]) == 2
    assert "'extra'" in capsys.readouterr().err


def test_info_json_into_a_closed_pipe_is_quiet(model):
    """`info --json | head -1`: the reader leaves early; no BrokenPipeError traceback, exit 0."""
    cmd = f"{sys.executable} -m inspector info --json {model} | head -1"
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "{" and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr


def test_info_names_hard_sigmoid_only_when_used(model, capsys):
    assert main(["info", str(model)]) == 0
    assert "hard_sigmoid:" not in capsys.readouterr().out  # the test model uses sigmoid


def test_2d_input_gets_its_batch_axis(model, tmp_path):
    x2 = tmp_path / "x2.npy"
    np.save(x2, np.zeros((T, D), np.float32))
    assert main(["predict", str(model), "--input", str(x2), "--output", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (1, 3)


def test_text_without_vocabulary_names_the_cli_option(model, tmp_path, capsys):
    args = ["snapshot", str(model), "--text", "abc", "--output", str(tmp_path / "s.png")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--vocab FILE" in err and "File >" not in err and len(err.strip().splitlines()) == 1
