"""Stepper polish: cell-state scale, selected unit's numbers, output labels, random example, trace
layout, masked steps.  Real files (the bundled samples, tiny generated models, the corpus when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool

from inspector.ui import step_common as ta
from inspector.ui.session import Session
from inspector.ui.step_common import model_inputs
from inspector.ui.stepper_panel import StepperPanel

REPO = Path(__file__).resolve().parents[2]
EXPLAINER = REPO / "resources" / "samples" / "explainer.keras"
DEPTH_UNIT = 7  # resources/samples/PROVENANCE.md: unit 7's cell state tracks the nesting depth


@pytest.fixture(autouse=True)
def _wait_for_workers():
    yield
    QThreadPool.globalInstance().waitForDone(10_000)


def _panel(qtbot, path: Path, config: Path | None = None) -> tuple[Session, StepperPanel]:
    session = Session(sync=True)
    panel = StepperPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    session.open(str(path), None if config is None else str(config))
    return session, panel


# ------------------------------------------------------------------------------------ 1. cell scale
def test_cell_state_scale_is_robust_fixed_and_shows_the_depth_unit(qtbot):
    session, panel = _panel(qtbot, EXPLAINER)
    panel.input_panel.set_text("((a)(b(c)))")
    traj = session.stepper.trace.layers["lstm"]
    strips = panel.gate_strips
    levels = strips.strip_levels("lstm")
    # gates keep 0..1, the tanh candidate and h keep -1..+1
    assert levels["gate/i"] == levels["gate/f"] == levels["gate/o"] == (0.0, 1.0)
    assert levels["gate/c"] == (-1.0, 1.0)
    assert levels["hidden"] == (-1.0, 1.0)
    # c: symmetric, from the whole trajectory, robust to the drifting accumulator unit (|c| > 5)
    lo, hi = levels["cell"]
    expected, clipped, units = ta.robust_state_levels(traj.c)
    assert (lo, hi) == pytest.approx(expected) and lo == -hi
    assert np.abs(traj.c).max() > 5 and hi < 3 and clipped >= 1 and units == 8
    assert f"{hi:.3g}" in strips.title("lstm") and f"{clipped} of 8 units" in strips.title_tip("lstm")
    assert f"\u00b1{hi:.3g}" in strips.legend.cell_label.full_text()
    # fixed over the trajectory: stepping never rescales
    for t in range(session.n_steps):
        session.set_step(t)
        assert strips.strip_levels("lstm") == levels
    # the depth unit: at depth 3 ('c', t=7) its c uses a clearly visible part of the colour scale
    session.set_step(7)
    c7 = float(traj.c[0, 7, DEPTH_UNIT])
    assert abs(c7) / hi > 0.35
    # ... and the selected unit's values are shown as numbers, equal to the engine's
    session.select_unit("lstm", DEPTH_UNIT)
    values = strips.unit_values()
    assert values["cell"] == c7
    assert values["hidden"] == float(traj.h[0, 7, DEPTH_UNIT])
    assert f"{c7:+.3f}" in strips.unit_text.text() and "unit 7" in strips.unit_text.text()
    session.set_step(3)  # updated on every step
    assert f"{float(traj.c[0, 3, DEPTH_UNIT]):+.3f}" in strips.unit_text.text()
    # the time view labels its c scale too
    hm = next(h for h in panel.timeline._heatmaps if h.quantity.qid == "cell")
    assert tuple(hm.image.levels) == pytest.approx((lo, hi))


def test_candidate_gate_is_signed_even_when_all_positive():
    cmap, levels, _note = ta._scale("gate/c", np.array([[[0.1, 0.4]]], np.float32))
    assert (cmap, levels) == (ta.DIVERGING, (-1.0, 1.0))
    cmap, levels, _note = ta._scale("gate/i", np.array([[[0.1, 0.4]]], np.float32))
    assert (cmap, levels) == (ta.SEQUENTIAL, (0.0, 1.0))
    # a runaway unit does not set the scale
    c = np.zeros((1, 5, 8), np.float32)
    c[0, :, :7] = np.linspace(-1, 1, 5)[:, None]
    c[0, :, 7] = 40.0
    (lo, hi), clipped, units = ta.robust_state_levels(c)
    assert hi == pytest.approx(1.0) and clipped == 1 and units == 8


# ------------------------------------------------------------------------------------ 2. output labels
def test_output_labels_cleared_and_placeholder(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    panel.resize(1280, 1600)  # room for one labelled bar per symbol
    qtbot.wait(50)
    out = panel.output
    vocab_labels = [ta.visible(v) for v in session.vocabulary]
    assert out.labels() == vocab_labels and out.axis_labels() == vocab_labels
    assert not out.plot_widget.isHidden() and out.placeholder.isHidden()
    # the vocabulary goes away while the same input stays: numbered symbols (the model still predicts its
    # own next input), on the axis too
    session.set_vocabulary(None)
    n = len(vocab_labels)
    assert out.labels() == [f"symbol {k}" for k in range(n)]
    assert out.axis_labels() == [f"symbol {k}" for k in range(n)]
    # a file that cannot run (weights only): no stale labels, a placeholder instead of an empty plot
    session.open(str(ui_models["char_lstm_weights"]))
    assert session.stepper is None
    assert out.labels() == [] and out.axis_labels() == []
    assert out.plot_widget.isHidden() and not out.placeholder.isHidden()
    assert "weights only" in out.placeholder.text()
    # an input arrives again: the chart comes back
    session.open(str(ui_models["char_lstm"]))
    assert not out.plot_widget.isHidden() and out.placeholder.isHidden()


# ------------------------------------------------------------------------------------ 3. random example
def test_model_without_vocabulary_opens_on_a_random_example(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["gru"])  # (6, 5) float input
    assert session.stepper is not None
    x = model_inputs(session)[0]
    assert x.shape == (1, 6, 5) and x.dtype == np.float32
    expected = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_array_equal(x[0], expected)
    note = panel.input_panel.note_text
    assert "random example" in note and "standard normal" in note and "T = 6" in note
    assert panel.input_panel.note_label.isVisibleTo(panel)
    assert session.step == session.n_steps - 1
    assert panel.gate_strips.layer_keys() == ["gru"] and panel.output.probabilities().size == 3
    # the user's own input replaces the note
    assert panel.input_panel.apply_random()
    assert panel.input_panel.note_text == ""
    # token ids for an Embedding input
    session.open(str(ui_models["embed_rnn"]))
    ids = model_inputs(session)[0]
    assert ids.shape == (1, 9) and np.issubdtype(ids.dtype, np.integer)
    assert ids.min() >= 1 and ids.max() < 50
    assert "token ids" in panel.input_panel.note_text


def test_corpus_models_without_vocabulary_are_not_empty(qtbot, corpus_dir):
    gru = corpus_dir / "k3.9.2_tekuv_gru.keras"
    lstm = corpus_dir / "k1_eco_charlstm_saveweights.h5"
    arch = corpus_dir / "k1_eco_charlstm_saveweights.arch.json"
    if not (gru.exists() and lstm.exists() and arch.exists()):
        pytest.skip("corpus files missing")
    session, panel = _panel(qtbot, gru)
    x = model_inputs(session)[0]
    assert x.shape == (1, 60, 1) and "standard normal" in panel.input_panel.note_text
    assert panel.gate_strips.layer_keys() and panel.timeline.image_data()
    session.open(str(lstm), str(arch))
    x = model_inputs(session)[0]
    assert x.shape == (1, 100, 40)
    np.testing.assert_array_equal(x.sum(axis=2), 1.0)  # looks one-hot: one-hot rows
    assert "one-hot" in panel.input_panel.note_text
    assert panel.output.probabilities().size > 0


# ------------------------------------------------------------------------------------ 4. trace layout
def test_unit_traces_gates_on_0_1_states_apart_with_distinct_colours(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    tl = panel.timeline
    assert "click a unit" in tl.legend_text()  # the hint is a label outside the plots
    session.select_unit("lstm", 3)
    traj = session.stepper.trace.layers["lstm"]
    curves = tl._curves
    for g in "ifo":
        assert curves[f"gate/{g}"].getViewBox() is tl.gate_plot.getViewBox()
    for qid in ("cell", "hidden", "gate/c"):
        assert curves[qid].getViewBox() is tl.trace_plot.getViewBox()
    y0, y1 = tl.gate_plot.getViewBox().viewRange()[1]
    assert y0 == pytest.approx(-0.04, abs=0.02) and y1 == pytest.approx(1.04, abs=0.02)
    np.testing.assert_array_equal(tl.trace_data()["cell"], traj.c[0, :, 3])
    colours = {qid: c.opts["pen"].color().name() for qid, c in curves.items()}
    assert colours["cell"] != colours["hidden"]
    assert len({colours[q] for q in ("gate/i", "gate/f", "gate/o", "gate/c", "cell", "hidden")}) == 6
    assert colours["cell"].lower() == "#0072b2" and colours["hidden"].lower() == "#d55e00"
    assert "unit 3" in tl.legend_text() and "click a unit" not in tl.legend_text()
    # the hint and legend never sit inside a plot
    assert all(not hasattr(p, "legend") or p.legend is None for p in (tl.gate_plot, tl.trace_plot))


# ------------------------------------------------------------------------------------ 5. masked steps
@pytest.fixture(scope="module")
def masked_model(generated_dir: Path) -> Path:
    from tests.ui.conftest import write_sequential

    path = generated_dir / "ui" / "masked_lstm.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_sequential(
        path,
        [
            {"kind": "Embedding", "name": "emb", "input_dim": 20, "output_dim": 4, "mask_zero": True},
            {"kind": "LSTM", "name": "lstm", "units": 5},
            {"kind": "Dense", "name": "out", "units": 3, "activation": "softmax"},
        ],
        (8,),
        seed=4,
        input_dtype="int32",
    )
    return path


def test_masked_steps_are_marked(qtbot, masked_model):
    session, panel = _panel(qtbot, masked_model)
    panel.input_panel.ids_edit.setText("0 0 3 4 0 5 6 0")
    assert panel.input_panel.apply_ids()
    traj = session.stepper.trace.layers["lstm"]
    np.testing.assert_array_equal(traj.mask[0], [False, False, True, True, False, True, True, False])
    assert panel.timeline.masked_runs() == [(0, 1), (4, 4), (7, 7)]
    hm = panel.timeline._heatmaps[0]
    shown = [item for item in hm.mask.items if item.isVisible()]
    assert len(shown) == 3 and shown[0].rect().left() == -0.5 and shown[0].rect().width() == 2.0
    session.set_step(4)
    assert "masked step" in panel.gate_strips.step_text.full_text()
    session.set_step(3)
    assert "masked" not in panel.gate_strips.step_text.full_text()
    # an unmasked input hides the bands again (items kept, not recreated)
    panel.input_panel.ids_edit.setText("1 2 3 4 5 6 7 8")
    assert panel.input_panel.apply_ids()
    assert panel.timeline.masked_runs() == []
    assert not any(item.isVisible() for item in hm.mask.items)
