"""The cell diagram on real and generated models: every gate labelled, nothing clipped or overlapping.

Screenshots go to /tmp/shots/cell_*.png (1024x700 and 1280x800) for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF

from inspector import io
from inspector.app.cell import GATE_EXPLANATIONS, explain
from inspector.core import engine
from inspector.resources import sample_model_path
from inspector.ui.cell_diagram import CellDiagram

SHOTS = Path("/tmp/shots")
SAMPLES = Path(sample_model_path()).parent
SIZES = ((1024, 700), (1280, 800))


def _one_hot(text: str, vocab: list[str]) -> np.ndarray:
    x = np.zeros((1, len(text), len(vocab)), np.float32)
    for t, ch in enumerate(text):
        x[0, t, vocab.index(ch)] = 1.0
    return x


def _cases(ui_models) -> dict:
    """name -> (explanation builder args): the classic sample, the explainer, generated GRU / bidi / RNN."""
    out = {}
    for sample, text in (("classic", "to be or not"), ("explainer", "(ab)")):
        mf = io.load(str(SAMPLES / f"{sample}.keras"))
        vocab = json.loads((SAMPLES / f"{sample}.vocab.json").read_text())
        out[sample] = (mf, _one_hot(text, vocab), None, text)
    rng = np.random.default_rng(0)
    out["gru"] = (io.load(str(ui_models["gru"])), rng.normal(0, 1, (1, 6, 5)).astype(np.float32), None, "")
    out["bidi"] = (
        io.load(str(ui_models["bidi"])),
        rng.normal(0, 1, (1, 7, 3)).astype(np.float32),
        "bidi/backward",
        "",
    )
    out["rnn"] = (io.load(str(ui_models["embed_rnn"])), rng.integers(1, 50, (1, 9)), None, "")
    return out


@pytest.fixture(scope="module")
def explanations(ui_models):
    result = {}
    for name, (mf, x, key, text) in _cases(ui_models).items():
        tr = engine.trace(mf.network, x, mf.semantics)
        traj = tr.layers[key] if key else next(iter(tr.layers.values()))
        t = min(3, traj.n_steps - 1)
        label = text[t] if text else ""
        result[name] = explain(mf.network, mf.semantics, traj, min(2, traj.units - 1), t, input_label=label)
    return result


@pytest.mark.parametrize("name", ["classic", "explainer", "gru", "bidi", "rnn"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_part_is_drawn_inside_without_overlap(qtbot, explanations, name, size) -> None:
    e = explanations[name]
    w = CellDiagram()
    qtbot.addWidget(w)
    w.resize(*size)
    w.set_state(e)
    w.show()
    qtbot.waitExposed(w)
    image = w.grab()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert image.save(str(SHOTS / f"cell_{name}_{size[0]}x{size[1]}.png"))
    assert w.elided_texts() == []  # every text fits (shrunk at most to 60 %), none cut with '…'
    spots = w.hot_spots()
    inside = QRectF(w.rect())
    for rect, _ in spots:
        assert inside.contains(rect), rect
    for a in range(len(spots)):
        for b in range(a + 1, len(spots)):
            assert not spots[a][0].intersects(spots[b][0]), (spots[a][1][:40], spots[b][1][:40])
    # one card per gate, each with its sentence in the tooltip; the state boxes and nodes have theirs
    for g in e.gates:
        assert sum(GATE_EXPLANATIONS[(e.kind, g.key)] in tip for _, tip in spots) == 1
    assert len(spots) >= {"LSTM": 12, "GRU": 10, "SimpleRNN": 4}[e.kind]
    # the figure uses the window: each gate card is at least 15 % of its width
    cards = [r for r, tip in spots if "<b>" in tip]
    assert len(cards) == len(e.gates) and min(r.width() for r in cards) > 0.15 * w.width()


def test_tooltips_by_position_and_scaling(qtbot, explanations) -> None:
    w = CellDiagram()
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.set_state(explanations["classic"])
    w.show()
    qtbot.waitExposed(w)
    w.grab()
    small = {tip: rect for rect, tip in w.hot_spots()}
    forget = next(tip for tip in small if "forget gate" in tip and "<b>" in tip)
    assert w.tooltip_at(small[forget].center()) == forget
    assert "\u03c3" in forget and "W\u00b7x + U\u00b7h\u208b\u2081 + b" in forget
    assert w.tooltip_at(QPointF(2, 2)) == ""
    # on a projector-sized widget everything grows in proportion
    w.resize(2048, 1400)
    w.grab()
    big = {tip: rect for rect, tip in w.hot_spots()}
    assert big[forget].width() == pytest.approx(2 * small[forget].width(), rel=0.02)


def test_numbers_and_empty_state(qtbot, explanations) -> None:
    e = explanations["gru"]
    w = CellDiagram()
    qtbot.addWidget(w)
    w.set_state(e)
    text = w.text()
    assert f"{e.gate('z').value:.3f}" in text and "h = z\u00b7h\u208b\u2081 + (1\u2212z)\u00b7h\u0303" in text
    w.set_state(None, "no recurrent layer")
    w.resize(800, 500)
    w.show()
    qtbot.waitExposed(w)
    w.grab()
    assert w.hot_spots() == [] and w.text() == "no recurrent layer"
