"""StepperPanel: real files through the real Session/Stepper; the views hold the engine's arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QThreadPool
from PySide6.QtGui import QFontMetrics

from inspector.ui.session import Session
from inspector.ui.stepper_panel import StepperPanel


@pytest.fixture(autouse=True)
def _wait_for_workers():
    yield
    QThreadPool.globalInstance().waitForDone(10_000)


def _panel(qtbot, path: Path, sync: bool = True) -> tuple[Session, StepperPanel]:
    session = Session(sync=sync)
    panel = StepperPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    if sync:
        session.open(str(path))
    else:
        with qtbot.waitSignal(session.file_loaded, timeout=20_000):
            session.open(str(path))
    return session, panel


def _focus(qtbot, widget) -> None:
    """Shortcuts need an active window and focus inside the panel."""
    widget.window().activateWindow()
    qtbot.waitUntil(widget.window().isActiveWindow, timeout=5_000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=5_000)


def _traj(session: Session, key: str):
    return session.stepper.trace.layers[key]


def _click_view(qtbot, graphics, vb, x: float, y: float) -> None:
    """Left-click the pyqtgraph scene at view coordinates (x, y) of view box `vb`."""
    scene_pt = vb.mapViewToScene(QPointF(x, y))
    widget_pt = graphics.mapFromScene(scene_pt)
    qtbot.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_pt)


# ---------------------------------------------------------------------------------------- text model
def test_open_async_runs_default_text_and_strips_hold_engine_values(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"], sync=False)
    qtbot.waitUntil(lambda: session.stepper is not None, timeout=20_000)
    assert session.vocabulary is not None
    assert panel.input_panel.text()  # prefilled with a sentence in the vocabulary
    n = session.n_steps
    assert n == len(panel.input_panel.text())  # the whole text, not padded or cut to the 12-step window
    assert session.step == n - 1  # typed text shows its last symbol
    assert panel.gate_strips.layer_keys() == ["lstm"]
    for t in (n - 1, 0, 5):
        session.set_step(t)
        state = session.stepper.state(t)["lstm"]
        shown = panel.gate_strips.strip_values("lstm")
        for g in "ifco":
            np.testing.assert_array_equal(shown[f"gate/{g}"], state.gates[g][0])
        np.testing.assert_array_equal(shown["cell"], state.c[0])
        np.testing.assert_array_equal(shown["hidden"], state.h[0])
    # gates are sigmoid: fixed 0..1 scale; levels never change while stepping
    levels = panel.gate_strips.strip_levels("lstm")
    assert levels["gate/f"] == (0.0, 1.0)
    session.set_step(3)
    assert panel.gate_strips.strip_levels("lstm") == levels


def test_transport_buttons_slider_and_shortcuts(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    n = session.n_steps
    panel.go_start()
    assert session.step == 0 and panel.slider.value() == 0
    _focus(qtbot, panel)
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    assert session.step == 2
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert session.step == 1
    qtbot.keyClick(panel, Qt.Key.Key_End)
    assert session.step == n - 1 and panel.slider.value() == n - 1
    qtbot.keyClick(panel, Qt.Key.Key_Right)  # stays at the end
    assert session.step == n - 1
    qtbot.keyClick(panel, Qt.Key.Key_Home)
    assert session.step == 0
    # scrub
    panel.slider.setValue(7)
    assert session.step == 7
    assert f"step 7 / {n - 1}" in panel.step_label.text()
    np.testing.assert_array_equal(
        panel.gate_strips.strip_values("lstm")["hidden"], session.stepper.state(7)["lstm"].h[0]
    )
    # play / pause with Space, playback reaches the end and stops
    panel.speed.setValue(60)
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert panel.playing
    qtbot.waitUntil(lambda: session.step == n - 1 and not panel.playing, timeout=5_000)
    qtbot.keyClick(panel, Qt.Key.Key_Space)  # at the end: plays again from the start
    assert panel.playing
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert not panel.playing


def test_arrow_keys_in_text_box_edit_text_not_steps(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    session.set_step(4)
    edit = panel.input_panel.text_edit
    _focus(qtbot, edit)
    qtbot.keyClick(edit, Qt.Key.Key_Left)
    assert session.step == 4


def test_timeline_holds_whole_trajectory_and_marks_step(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    tl = panel.timeline
    traj = _traj(session, "lstm")
    assert tl.layer == "lstm"
    data = tl.image_data()
    np.testing.assert_array_equal(data["hidden"], traj.h[0].T)
    np.testing.assert_array_equal(data["cell"], traj.c[0].T)
    # x axis labelled with the input symbols (the whole text, ␣ for space)
    expected = [("\u2423" if ch == " " else ch) for ch in panel.input_panel.text()]
    assert tl.time_labels() == expected
    session.set_step(4)
    assert tl.step_marker() == 4.0
    # every gate can be shown; its image is that gate over time
    tl._checks["gate/f"].setChecked(True)
    np.testing.assert_array_equal(tl.image_data()["gate/f"], traj.gates["f"][0].T)


def test_click_strip_selects_unit_everywhere(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    strips = panel.gate_strips
    plot = strips._layers["lstm"].plot
    qtbot.waitUntil(lambda: plot.getViewBox().sceneBoundingRect().width() > 100)
    _click_view(qtbot, strips.graphics, plot.getViewBox(), 3.0, 1.0)
    assert session.unit == ("lstm", 3)
    assert strips.highlighted_unit("lstm") == 3
    traj = _traj(session, "lstm")
    traces = panel.timeline.trace_data()
    np.testing.assert_array_equal(traces["hidden"], traj.h[0, :, 3])
    np.testing.assert_array_equal(traces["gate/o"], traj.gates["o"][0, :, 3])
    # selection from elsewhere (e.g. the weights view) propagates too
    session.select_unit("lstm", 9)
    assert strips.highlighted_unit("lstm") == 9
    np.testing.assert_array_equal(panel.timeline.trace_data()["cell"], traj.c[0, :, 9])
    session.select_unit("", -1)
    assert strips.highlighted_unit("lstm") == -1
    assert panel.timeline.trace_data() == {}


def test_click_timeline_selects_unit_and_step(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    tl = panel.timeline
    hm = tl._heatmaps[0]
    qtbot.waitUntil(lambda: hm.plot.getViewBox().sceneBoundingRect().height() > 40)
    _click_view(qtbot, tl.graphics, hm.plot.getViewBox(), 2.0, 5.0)
    assert session.unit == ("lstm", 5)
    assert session.step == 2


def test_output_bars_equal_outputs_at_and_next_symbol(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    panel.resize(1280, 1600)  # room for one labelled bar per symbol
    qtbot.wait(50)
    out = panel.output
    vocab = session.vocabulary
    text = panel.input_panel.text()
    last = len(text) - 1
    assert out.kind is not None and out.kind.kind == "next_symbol" and out.generate_row.isVisibleTo(panel)
    for t in (2, last):
        session.set_step(t)
        expected = session.stepper.outputs_at(t)[0][0]
        np.testing.assert_array_equal(out.probabilities(), expected)
        idx, widths = out.bar_values()
        np.testing.assert_array_equal(idx, np.arange(len(vocab)))
        np.testing.assert_array_equal(widths, expected)
        top = vocab[int(np.argmax(expected))]
        assert ("\u2423" if top == " " else top) in out.topk_label.text()
    session.set_step(2)
    assert out.highlighted_class() == vocab.index(text[3])  # the symbol read at step 3
    assert "next input" in out.next_label.text()
    session.set_step(last)
    assert out.highlighted_class() == -1  # nothing follows the last symbol
    assert out.labels()[vocab.index(" ")] == "\u2423"


def test_output_bars_that_do_not_fit_are_the_top_ones(qtbot, ui_models):
    """A short plot shows the most likely symbols, sorted, one readable label per bar, and says so."""
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    panel.resize(1024, 700)
    qtbot.wait(50)
    out = panel.output
    session.set_step(2)
    expected = session.stepper.outputs_at(2)[0][0]
    idx, widths = out.bar_values()
    assert 5 <= len(idx) < len(session.vocabulary)
    np.testing.assert_array_equal(idx, np.argsort(-expected, kind="stable")[: len(idx)])
    np.testing.assert_array_equal(widths, expected[idx])
    row = out.plot.getViewBox().height() / len(idx)
    assert row >= QFontMetrics(out.plot.getAxis("left").font()).height() - 1  # labels do not overlap
    assert f"top {len(idx)} of {len(session.vocabulary)}" in out.header.full_text()


def test_generate_appends_sampled_symbols(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    out = panel.output
    vocab = session.vocabulary
    panel.input_panel.set_text("hello world")
    out.temperature.setValue(0.0)  # greedy: the arg-max symbol
    expected = vocab[int(np.argmax(session.stepper.outputs_at(session.n_steps - 1)[0][0]))]
    token = out.generate_once()
    assert token == expected
    assert panel.input_panel.text() == "hello world" + expected
    assert session.step == session.n_steps - 1
    # seeded sampling is reproducible
    out.temperature.setValue(1.0)
    runs = []
    for _ in range(2):
        panel.input_panel.set_text("hello world")
        out.reseed(123)
        runs.append("".join(out.generate_once() for _ in range(4)))
        assert panel.input_panel.text() == "hello world" + runs[-1]
    assert runs[0] == runs[1]
    # the timer-driven mode keeps going until stopped
    panel.input_panel.set_text("abc")
    out.generate_button.setChecked(True)
    qtbot.waitUntil(lambda: len(panel.input_panel.text()) >= 6, timeout=10_000)
    out.generate_button.setChecked(False)
    assert not out.timer.isActive()
    assert session.step == session.n_steps - 1


# ---------------------------------------------------------------------------------------- other models
def test_bidirectional_halves_and_stacked_layer(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["bidi"])
    assert panel.input_panel.tabs.currentIndex() == 1  # no vocabulary: the sequence tab
    assert panel.input_panel.apply_random()
    assert panel.gate_strips.layer_keys() == ["bidi/forward", "bidi/backward", "lstm_b"]
    n = session.n_steps
    assert n == 7
    for t in (0, 3, 6):
        session.set_step(t)
        states = session.stepper.state(t)
        for key in ("bidi/forward", "bidi/backward", "lstm_b"):
            shown = panel.gate_strips.strip_values(key)
            np.testing.assert_array_equal(shown["hidden"], states[key].h[0])
            np.testing.assert_array_equal(shown["gate/f"], states[key].gates["f"][0])
    assert "backward" in panel.gate_strips.title("bidi/backward")
    assert "reads the input backwards" in panel.gate_strips.title_tip("bidi/backward")
    # the units x time view of the backward half is in input-time order
    session.select_unit("bidi/backward", 2)
    assert panel.timeline.layer == "bidi/backward"
    traj = _traj(session, "bidi/backward")
    order = np.argsort(traj.time_index)
    np.testing.assert_array_equal(panel.timeline.image_data()["hidden"], traj.h[0][order].T)
    np.testing.assert_array_equal(panel.timeline.trace_data()["hidden"], traj.h[0][order][:, 2])
    # no vocabulary and 2 classes: labelled classes, no generate mode (hidden: not a next-symbol model)
    assert panel.output.labels() == ["class 0", "class 1"]
    assert not panel.output.generate_button.isEnabled()
    assert not panel.output.generate_row.isVisibleTo(panel)


def test_gru_gate_names(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["gru"])
    assert panel.input_panel.apply_random()
    shown = panel.gate_strips.strip_values("gru")
    assert list(shown) == ["gate/z", "gate/r", "gate/h", "hidden"]
    state = session.stepper.state(session.step)["gru"]
    np.testing.assert_array_equal(shown["gate/h"], state.gates["h"][0])
    np.testing.assert_array_equal(
        panel.output.probabilities(), session.stepper.outputs_at(session.step)[0][0]
    )


def test_token_ids_model(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["embed_rnn"])
    ip = panel.input_panel
    ip.ids_edit.setText("1 2 3 4 5 6 7 8 9")
    assert ip.apply_ids()
    assert session.n_steps == 9
    shown = panel.gate_strips.strip_values("rnn")
    assert list(shown) == ["hidden"]
    np.testing.assert_array_equal(shown["hidden"], session.stepper.state(0)["rnn"].h[0])


def test_weights_only_file_explains_and_disables_input(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm_weights"])
    assert session.model_file is not None and session.network is None
    assert "weights only" in panel.input_panel.shape_label.text()
    assert not panel.input_panel.tabs.isEnabled()
    assert not panel.slider.isEnabled()
    assert panel.gate_strips.layer_keys() == []


def test_new_file_resets_views(qtbot, ui_models, tmp_path):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    assert panel.gate_strips.layer_keys() == ["lstm"]
    session.open(str(ui_models["gru"]))
    # no vocabulary: a seeded random example runs at once, labelled as such (never the old model's views)
    assert session.stepper is not None
    assert panel.gate_strips.layer_keys() == ["gru"]
    assert "random example" in panel.input_panel.note_text
    # a linear Dense head: values with sign, not classes (issue 15.1)
    assert panel.output.kind is not None and panel.output.kind.kind == "values"
    assert panel.output.labels() == ["output 0", "output 1", "output 2"]
    assert "top" not in panel.output.topk_label.text() and "probab" not in panel.output.header.text()
    # a vocabulary chosen later switches on the text box
    vocab_file = tmp_path / "v.json"
    vocab_file.write_text(json.dumps(list("abcde")))
    session.set_vocabulary(list("abcde"))
    assert panel.input_panel.tabs.isTabEnabled(0)


def test_output_falls_back_to_whole_sequence_when_model_cannot_be_cut(qtbot, ui_models, monkeypatch):
    session, panel = _panel(qtbot, ui_models["gru"])
    assert panel.input_panel.apply_random()
    stepper = session.stepper
    full = stepper.outputs_at(stepper.n_steps - 1)
    real = stepper.outputs_at

    def outputs_at(t=None):
        if t is not None and t < stepper.n_steps - 1:
            raise ValueError("flatten: needs all 6 timesteps")
        return real(t)

    monkeypatch.setattr(stepper, "outputs_at", outputs_at)
    session.set_step(2)
    np.testing.assert_array_equal(panel.output.probabilities(), full[0][0])
    assert panel.output.header.text() == "Output of the whole sequence"
    assert "needs all 6 timesteps" in panel.output.header.toolTip()


def test_hover_readouts(qtbot, ui_models):
    session, panel = _panel(qtbot, ui_models["char_lstm"])
    session.set_step(4)
    strips = panel.gate_strips
    vb = strips._layers["lstm"].plot.getViewBox()
    qtbot.waitUntil(lambda: vb.sceneBoundingRect().width() > 100)
    strips._on_hover(vb.mapViewToScene(QPointF(5.0, 1.0)))  # row 1 = forget gate, unit 5
    value = session.stepper.state(4)["lstm"].gates["f"][0, 5]
    assert strips.readout.text() == f"lstm · f (forget gate) · unit 5 · {value:.6g}"
    tl = panel.timeline
    hm = tl._heatmaps[-1]  # hidden state
    tl._on_hover(hm.plot.getViewBox().mapViewToScene(QPointF(3.0, 2.0)))
    h = session.stepper.trace.layers["lstm"].h[0, 3, 2]
    assert tl.readout.text().startswith("lstm · h (hidden state) · unit 2 · step 3 ")
    assert tl.readout.text().endswith(f"{h:.6g}")


def _ui_conftest():
    """tests/ui/conftest.py as a module, for its h5 writer (conftests are not importable by name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_ui_conftest", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sequence_output_shows_the_row_of_the_current_step(qtbot, generated_dir):
    path = generated_dir / "ui" / "seq_tagger.h5"
    _ui_conftest().write_sequential(
        path,
        [
            {"kind": "LSTM", "name": "tagger", "units": 5, "return_sequences": True},
            {"kind": "Dense", "name": "tags", "units": 3, "activation": "softmax"},
        ],
        (None, 4),
        seed=7,
    )
    session, panel = _panel(qtbot, path)
    panel.input_panel.length_box.setValue(9)
    assert panel.input_panel.apply_random()
    assert session.n_steps == 9
    full = session.stepper.trace.outputs[0]
    assert full.shape == (1, 9, 3)
    for t in (0, 4, 8):
        session.set_step(t)
        np.testing.assert_array_equal(panel.output.probabilities(), full[0, t])
    assert "whole sequence" in panel.output.header.toolTip()


def test_arrow_keys_step_right_after_switching_to_the_stepper_tab(qtbot, ui_models, ui_settings):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from inspector.ui.main_window import MainWindow

    session = Session(sync=True)
    window = MainWindow(session, settings=QSettings())
    qtbot.addWidget(window)
    window.show()
    session.open(str(ui_models["char_lstm"]))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    window.tabs.tabBar().setFocus()
    window.tabs.setCurrentIndex(1)
    panel = window.stepper
    qtbot.waitUntil(lambda: panel.isAncestorOf(QApplication.focusWidget()) or panel.hasFocus(), timeout=5_000)
    session.set_step(3)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
    assert session.step == 4
    assert window.tabs.currentIndex() == 1
