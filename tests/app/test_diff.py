"""Checkpoint comparison: weight changes per gate against numpy on the raw weights (h5py / Keras
get_weights()), outputs against Keras' own predictions, checkpoint folders, the CLI `diff` verb."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from inspector import cli
from inspector.app import checkpoints, diff
from inspector.io import load

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"


@pytest.fixture(scope="session")
def models(health_models: Path) -> Path:
    return health_models


def _h5_weights(path: Path) -> dict[str, np.ndarray]:
    """'layer/kernel' -> array, read with h5py straight from a tf_keras .h5 (model_weights group)."""
    out = {}
    with h5py.File(path, "r") as f:
        g = f["model_weights"]
        for layer in g.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            for name in g[layer].attrs["weight_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                short = name.split("/")[-1].split(":")[0]
                out[f"{layer}/{short}"] = np.asarray(g[layer][name])
    return out


def test_checkpoint_pair_changes_match_numpy_on_h5py_weights(models: Path) -> None:
    pa, pb = models / "ckpt" / "weights.01.h5", models / "ckpt" / "weights.03.h5"
    wa, wb = _h5_weights(pa), _h5_weights(pb)
    changes = diff.weight_changes(load(pa), load(pb))
    assert [c.rel_change for c in changes] == sorted((c.rel_change for c in changes), reverse=True)
    got = {(c.path, c.gate): c for c in changes}
    assert len(got) == 3 * 4 + 2  # LSTM kernel/recurrent/bias per gate + Dense kernel, bias
    u = 8
    for path in ("rnn/kernel", "rnn/recurrent_kernel", "rnn/bias"):
        for k, gate in enumerate("ifco"):
            a = wa[path][..., k * u : (k + 1) * u].astype(np.float64)
            b = wb[path][..., k * u : (k + 1) * u].astype(np.float64)
            c = got[(path, gate)]
            assert c.rel_change == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a), rel=1e-9)
            assert c.max_abs_change == pytest.approx(np.abs(b - a).max(), rel=1e-9)
    a, b = wa["out/kernel"].astype(np.float64), wb["out/kernel"].astype(np.float64)
    assert got[("out/kernel", None)].rel_change == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a))
    assert all(c.rel_change > 0 for c in changes)  # three epochs of Adam(0.05) moved everything


def test_outputs_of_both_checkpoints_match_keras_predict(models: Path) -> None:
    p = np.load(models / "preds.npz")
    a, b = load(models / "ckpt" / "weights.01.h5"), load(models / "ckpt" / "weights.03.h5")
    run = diff.run_both(a, b, p["x"])
    np.testing.assert_allclose(run.outputs_a[0], p["y1"], atol=2e-5)
    np.testing.assert_allclose(run.outputs_b[0], p["y3"], atol=2e-5)
    per_step = np.abs(p["y3"].astype(np.float64) - p["y1"]).max(axis=(0, 2))
    np.testing.assert_allclose(run.output_step_diff[0], per_step, atol=5e-5)
    assert run.max_abs == pytest.approx(per_step.max(), abs=5e-5)
    assert run.divergence["rnn"].shape == (9,)
    top = run.top_units["rnn"]
    assert [v for _, v in top] == sorted((v for _, v in top), reverse=True)


def test_keras2_h5_and_keras3_resave_are_identical() -> None:
    a, b = load(SAMPLES / "classic.h5"), load(SAMPLES / "classic.keras")
    assert diff.first_difference(a, b) is None
    changes = diff.weight_changes(a, b)
    assert changes and all(c.rel_change == 0.0 and c.max_abs_change == 0.0 for c in changes)
    x = np.eye(36, dtype=np.float32)[None, :20]
    assert diff.run_both(a, b, x).max_abs == 0.0


def test_different_architectures_name_the_first_difference(models: Path) -> None:
    a, b = load(models / "healthy.h5"), load(models / "other_arch.h5")
    assert diff.first_difference(a, b) == "layer 1: A has 'rnn' (LSTM), B has 'rnn' (GRU)"
    with pytest.raises(diff.ArchitectureMismatchError, match="different architectures: layer 1"):
        diff.weight_changes(a, b)
    why = diff.first_difference(load(SAMPLES / "classic.h5"), load(SAMPLES / "explainer.keras"))
    assert why == "layer 1 'lstm': units is 128 in A, 8 in B"


def test_checkpoint_folder_sorted_by_epoch_with_norm_curves(models: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    for e in (1, 2, 3):  # out of lexical order on purpose: epoch 10 sorts after epoch 2
        shutil.copy(models / "ckpt" / f"weights.{e:02d}.h5", folder / f"weights.{e if e < 3 else 10}.h5")
    (folder / "notes.txt").write_text("not a checkpoint")
    assert [e for e, _ in checkpoints.find_checkpoints(folder)] == [1, 2, 10]
    series = checkpoints.load_series(folder, load)
    w = np.load(models / "weights.npz")
    expected = [np.linalg.norm(w[f"ckpt/weights.0{e}.h5/1"][:, 8:16].astype(np.float64)) for e in (1, 2, 3)]
    np.testing.assert_allclose(series.norms[("rnn/recurrent_kernel", "f")], expected, rtol=1e-9)
    assert list(series.epochs) == [1, 2, 10]


def test_epoch_numbers_from_names() -> None:
    assert checkpoints.epoch_of("weights.07.h5") == 7
    assert checkpoints.epoch_of("model-epoch_12-loss_0.31.keras") == 12
    assert checkpoints.epoch_of("final.h5") is None


def test_cli_diff_json(models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = np.load(models / "preds.npz")
    x = tmp_path / "x.npy"
    np.save(x, p["x"])
    a, b = str(models / "ckpt" / "weights.01.h5"), str(models / "ckpt" / "weights.03.h5")
    assert cli.main(["diff", a, b, "--input", str(x), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rels = [w["rel_change"] for w in out["weights"]]
    assert rels == sorted(rels, reverse=True)
    assert {w["gate"] for w in out["weights"] if w["path"].startswith("out/")} == {None}
    assert out["outputs"]["max_abs"] == pytest.approx(np.abs(p["y3"] - p["y1"]).max(), abs=5e-5)
    assert cli.main(["diff", str(models / "ckpt"), "--json"]) == 0
    curves = json.loads(capsys.readouterr().out)
    assert curves["epochs"] == [1, 2, 3]
    assert cli.main(["diff", str(models / "healthy.h5"), str(models / "other_arch.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different architecture" in err[0] and "GRU" in err[0]
