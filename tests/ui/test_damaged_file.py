"""A file readable only in part (its architecture is broken): weights shown, the problem on screen."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from PySide6.QtCore import QSettings, QThreadPool

from inspector.io import load
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Session


@pytest.fixture
def damaged(ui_models, tmp_path):
    """The char LSTM with its model_config attribute cut in half (malformed JSON)."""
    p = tmp_path / "damaged.h5"
    shutil.copy(ui_models["char_lstm"], p)
    with h5py.File(p, "r+") as f:
        cfg = f.attrs["model_config"]
        cfg = cfg if isinstance(cfg, str) else cfg.decode()
        f.attrs["model_config"] = cfg[: len(cfg) // 2]
    return p


def test_load_keeps_the_weights(damaged, ui_models):
    mf = load(damaged)
    good = load(ui_models["char_lstm"])
    assert mf.network is None and "model config" in mf.damage
    got = {p: w.value for lay in mf.weight_layers for p, w in lay.all_weights()}
    want = {p: w.value for lay in good.weight_layers for p, w in lay.all_weights()}
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    kernel = next(w for lay in mf.weight_layers for p, w in lay.all_weights() if p == "lstm/kernel")
    assert [g.key for g in kernel.gates] == ["i", "f", "c", "o"]  # still gate-sliced


def test_window_shows_weights_and_the_problem(qtbot, ui_settings, ui_models, damaged):
    win = MainWindow(Session(), settings=QSettings())
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.session.file_loaded, timeout=20000):
        win.session.open(str(ui_models["char_lstm"]))
    with qtbot.waitSignal(win.session.file_loaded, timeout=20000):
        win.session.open(str(damaged))
    assert win.session.model_file.damage
    assert win.session.find_weight("lstm/kernel")
    assert win.banner.isVisibleTo(win) and win.banner.level == "error"
    assert "damaged.h5" in win.banner.label.text() and "model config" in win.banner.label.text()
    QThreadPool.globalInstance().waitForDone()


def test_cli_prints_what_it_can_then_fails(damaged, capsys, tmp_path):
    from inspector.cli import main

    assert main(["info", str(damaged)]) == 2
    out = capsys.readouterr()
    assert "lstm/kernel" in out.out
    assert len(out.err.strip().splitlines()) == 1 and str(damaged) in out.err
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 12, 29), np.float32))
    assert main(["predict", str(damaged), "--input", str(x), "--output", str(tmp_path / "y.npy")]) == 2
    assert "model config" in capsys.readouterr().err
