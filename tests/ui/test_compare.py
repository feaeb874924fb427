"""Compare mode offscreen: A, B and B-A heatmaps with a shared scale, the change table, outputs and
divergence of two checkpoints of a real training run, the epoch slider over a checkpoint folder;
screenshots to /tmp/shots/compare_*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.app.checkpoints import load_series
from inspector.io import load
from inspector.ui.compare_view import CompareView

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def view(qtbot) -> CompareView:
    w = CompareView(sync=True)
    qtbot.addWidget(w)
    return w


def test_pair_of_checkpoints(qtbot, view: CompareView, health_models: Path, save_shot) -> None:
    a, b = load(health_models / "ckpt" / "weights.01.h5"), load(health_models / "ckpt" / "weights.03.h5")
    assert view.set_pair(a, b)
    assert view.table.rowCount() == len(view.changes) == 14
    view.select_weight("rnn/recurrent_kernel")
    va, vb, vd = (v.matrix.value for v in view.views)
    np.testing.assert_array_equal(vd, vb - va)
    assert view.views[0].levels == view.views[1].levels  # A and B share one diverging scale
    assert view.views[0].levels[1] == pytest.approx(max(np.abs(va).max(), np.abs(vb).max()))
    assert view.views[2].levels[1] == pytest.approx(np.abs(vd).max())
    assert [p.title.split(" ")[0] for p in view.views[2].panels] == ["i", "f", "c\u0303", "o"]
    with qtbot.waitSignal(view.weight_selected) as sig:
        view.table.cellClicked.emit(view.table.rowCount() - 1, 0)
    assert sig.args == [view.changes[-1].path]
    preds = np.load(health_models / "preds.npz")
    view.set_input(preds["x"])
    assert view.run is not None
    assert view.run.max_abs == pytest.approx(np.abs(preds["y3"] - preds["y1"]).max(), abs=5e-5)
    assert len(view.div_plot.listDataItems()) == 1
    view.select_weight("rnn/kernel")
    for size in ((1024, 700), (1280, 800)):
        view.tabs.setCurrentIndex(0)
        save_shot(view, "compare_checkpoints_weights", size)
        view.tabs.setCurrentIndex(1)
        save_shot(view, "compare_checkpoints_outputs", size)


def test_checkpoint_folder_epoch_slider(qtbot, view: CompareView, health_models: Path, save_shot) -> None:
    view.set_series(load_series(health_models / "ckpt", load))
    view.select_weight("rnn/recurrent_kernel")
    assert len(view.norm_plot.listDataItems()) == 4  # one curve per LSTM gate
    with qtbot.waitSignal(view.epoch_changed) as sig:
        view.slider.setValue(1)
    assert sig.args == [2]
    assert view.path == "rnn/recurrent_kernel"
    assert Path(view.b.path).name == "weights.02.h5"
    for size in ((1024, 700), (1280, 800)):
        save_shot(view, "compare_training", size)


def test_different_architectures_show_the_first_difference(view: CompareView) -> None:
    assert not view.set_pair(load(SAMPLES / "classic.h5"), load(SAMPLES / "explainer.keras"))
    assert not view.banner.isHidden()
    assert "units is 128 in A, 8 in B" in view.banner.text()


def test_keras2_and_keras3_sample_compare_equal(view: CompareView) -> None:
    assert view.set_pair(load(SAMPLES / "explainer.h5"), load(SAMPLES / "explainer.keras"))
    assert all(c.rel_change == 0.0 for c in view.changes)
    assert not np.any(view.views[2].matrix.value)
