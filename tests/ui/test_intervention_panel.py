"""The intervention panel offscreen: add / remove / undo, the counterfactual plots, screenshots."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pytest

from inspector.app.interventions import EditInput
from inspector.core import engine
from inspector.io import load
from inspector.ui.intervention_panel import InterventionPanel

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "samples" / "classic.keras"
SHOTS = Path("/tmp/shots")
HAS_CORE_IV = importlib.util.find_spec("inspector.core.interventions") is not None and (
    "interventions" in inspect.signature(engine.trace).parameters
)


@pytest.fixture
def panel(qtbot):
    mf = load(SAMPLE)
    d = mf.network.input_shapes[0][-1]
    ids = np.random.default_rng(0).integers(0, d, 24)
    x = np.eye(d, dtype=np.float32)[ids][None]
    p = InterventionPanel()
    qtbot.addWidget(p)
    p.resize(1024, 700)
    p.set_model(mf, [x])
    p.set_step(15)
    p.show()
    qtbot.waitExposed(p)
    return p, mf, x


def _shot(p: InterventionPanel, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert p.grab().save(str(SHOTS / f"intervene_{name}.png"))


def test_edit_input_shows_counterfactual(panel, qtbot) -> None:
    p, mf, x = panel
    assert p.list.count() == 0 and p.status.text().startswith("No intervention")
    p.kind.setCurrentIndex(2)
    p.from_step.setValue(5)
    p.feature.setValue(3)
    with qtbot.waitSignal(p.counterfactual_ready) as blocker:
        p.add_button.click()
    cf = blocker.args[0]
    assert p.list.count() == 1 and "edit input 0 at step 5 of sample 0 -> one-hot 3" in p.list.item(0).text()
    assert isinstance(p.interventions.items[0], EditInput)
    assert np.abs(cf.difference[0, :5]).max() == 0 and np.abs(cf.difference[0, 5:]).max() > 0
    div = next(iter(cf.divergence.values()))
    assert div[0, 4] == 0 and div[0, 5] > 0
    assert len(p.out_plot.listDataItems()) == 2 and len(p.div_plot.listDataItems()) >= 1
    _shot(p, "edit")
    p.undo_button.click()
    assert p.list.count() == 0
    p.undo_button.click()  # nothing more to undo: harmless


@pytest.mark.skipif(not HAS_CORE_IV, reason="inspector.core.interventions not merged yet")
def test_ablate_and_remove(panel, qtbot) -> None:
    p, mf, x = panel
    p.kind.setCurrentIndex(0)
    p.unit.setValue(7)
    p.from_step.setValue(3)
    p.add_button.click()
    p.kind.setCurrentIndex(1)
    p.gate.setCurrentIndex(1)  # forget gate
    p.value.setValue(0.0)
    p.add_button.click()
    assert p.list.count() == 2
    assert "ablate lstm unit 7 from step 3" in p.list.item(0).text()
    _shot(p, "ablate_clamp")
    p.list.setCurrentRow(0)
    p.remove_button.click()
    assert p.list.count() == 1 and "clamp" in p.list.item(0).text()


def test_occlusion_strip_and_step_request(panel, qtbot) -> None:
    p, mf, x = panel
    img = p.occ_img.image
    assert img is not None and img.shape == (1, 24)
    assert np.all(img[0, 16:] == 0) and np.abs(img[0, :16]).max() > 0
    with qtbot.waitSignal(p.step_requested) as blocker:
        p._on_plot_clicked(_Click(p.out_plot.vb.mapViewToScene(pgpoint(10, 0.5))))
    assert blocker.args == [10]
    _shot(p, "plain")


class _Click:
    def __init__(self, pos) -> None:
        self._pos = pos

    def scenePos(self):  # noqa: N802 - Qt's name
        return self._pos


def pgpoint(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)
