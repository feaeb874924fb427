"""The Health panel offscreen: findings listed with severity icons, a click names the weight/gate/unit,
"Run on data" adds the data findings; screenshots to /tmp/shots/health_*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool

from inspector.app import health
from inspector.io import load
from inspector.ui.health_panel import HealthPanel


@pytest.fixture
def panel(qtbot) -> HealthPanel:
    w = HealthPanel(sync=True)
    qtbot.addWidget(w)
    return w


def test_findings_listed_and_clickable(qtbot, panel: HealthPanel, health_models: Path) -> None:
    panel.set_model(load(health_models / "nan.h5"))
    assert panel.tree.topLevelItemCount() == len(panel.findings) >= 2
    first = panel.tree.topLevelItem(0)
    assert first.text(panel.SEVERITY) == "error" and not first.icon(panel.SEVERITY).isNull()
    assert "forget gate of unit 3" in first.text(panel.MESSAGE)
    assert panel.summary.text().startswith("1 error (")
    assert "forget gate of unit 3" in panel.detail.text()
    with qtbot.waitSignal(panel.finding_activated) as sig:
        panel.tree.itemClicked.emit(first, panel.MESSAGE)
    assert sig.args == ["rnn", "rnn/recurrent_kernel", "f", (3,)]
    assert not panel.run_button.isEnabled()  # no input yet


def test_run_on_data_adds_the_saturated_gate(
    qtbot, panel: HealthPanel, health_models: Path, save_shot
) -> None:
    panel.set_model(load(health_models / "shut.h5"))
    assert not any(f.code == "saturated-gate" for f in panel.findings)
    panel.set_input(np.random.default_rng(1).normal(size=(4, 60, 5)).astype(np.float32))
    assert panel.run_button.isEnabled()
    panel.run_button.click()
    codes = [(f.code, f.gate, f.units) for f in panel.findings if f.severity == "warning"]
    assert ("saturated-gate", "i", (2,)) in codes and ("constant-unit", None, (2,)) in codes
    for size in ((1024, 700), (1280, 800)):
        save_shot(panel, "health_shut_with_data", size)


def test_healthy_sample_and_threaded_run(qtbot, health_models: Path, save_shot) -> None:
    samples = Path(__file__).resolve().parents[2] / "resources" / "samples"
    w = HealthPanel()  # threaded: the result arrives on the GUI thread
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.findings_changed, timeout=20000):
        w.set_model(load(samples / "classic.h5"))
    assert w.findings and all(f.severity == "info" for f in w.findings)
    x = health.text_input(w.model, (samples / "shakespeare.txt").read_text(encoding="utf8")[:3000])
    w.set_input(x)
    with qtbot.waitSignal(w.findings_changed, timeout=60000):
        w.run_on_data()
    assert all(f.severity == "info" for f in w.findings)
    for size in ((1024, 700), (1280, 800)):
        save_shot(w, "health_classic_sample", size)
    QThreadPool.globalInstance().waitForDone(5000)
