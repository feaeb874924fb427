"""InputPanel: text, files, index field and table reach the engine; wrong inputs get an inline message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool

from inspector.app.inputs import fit_to_shape
from inspector.app.inputs import read_input_file as read_sequence_file
from inspector.ui.input_panel import InputPanel
from inspector.ui.session import Session
from inspector.ui.step_common import model_inputs


@pytest.fixture(autouse=True)
def _wait_for_workers():
    yield
    QThreadPool.globalInstance().waitForDone(10_000)


def _input_panel(qtbot, path: Path) -> tuple[Session, InputPanel]:
    session = Session(sync=True)
    panel = InputPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    session.open(str(path))
    return session, panel


def test_shape_is_shown(qtbot, ui_models):
    _, panel = _input_panel(qtbot, ui_models["char_lstm"])
    text = panel.shape_label.text()
    assert "(batch, 12, 29)" in text and "one-hot" in text and "29-symbol" in text
    _, panel = _input_panel(qtbot, ui_models["embed_rnn"])
    assert "(batch, 9) int32" in panel.shape_label.text()


def test_typed_text_runs_after_debounce(qtbot, ui_models):
    session, panel = _input_panel(qtbot, ui_models["char_lstm"])
    panel.text_edit.setPlainText("")
    panel.text_edit.insertPlainText("abc abc")
    with qtbot.waitSignal(session.input_changed, timeout=3_000):
        pass
    x = model_inputs(session)[0]
    np.testing.assert_array_equal(x, session.encode_text("abc abc"))
    assert session.step == session.n_steps - 1
    assert not panel.error_label.isVisible()


def test_text_outside_vocabulary_is_refused_inline(qtbot, ui_models):
    session, panel = _input_panel(qtbot, ui_models["char_lstm"])
    before = session.stepper
    assert before is not None
    with qtbot.waitSignal(panel.rejected) as blocker:
        panel.set_text("abc#")
    assert "'#'" in blocker.args[0]
    assert panel.error_label.isVisible() and "'#'" in panel.error_label.text()
    assert session.stepper is None  # the views are cleared: the last run is not shown as this text
    panel.set_text("abc")
    assert not panel.error_label.isVisible()
    assert session.stepper is not before


def test_npy_and_csv_files(qtbot, ui_models, tmp_path):
    session, panel = _input_panel(qtbot, ui_models["gru"])
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert panel.load_file(str(tmp_path / "x.npy"))
    np.testing.assert_array_equal(model_inputs(session)[0], x[None])
    assert session.step == 0  # sequences start at the beginning
    assert panel.table.rowCount() == 6 and panel.table.columnCount() == 5
    # csv with a header row, rows = timesteps
    csv = tmp_path / "x.csv"
    csv.write_text("a,b,c,d,e\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in x))
    assert panel.load_file(str(csv))
    np.testing.assert_allclose(model_inputs(session)[0], x[None], atol=1e-6)
    # a batch of two
    np.save(tmp_path / "b.npy", np.stack([x, -x]))
    assert panel.load_file(str(tmp_path / "b.npy"))
    assert session.stepper.trace.layers["gru"].h.shape[0] == 2


def test_wrong_shapes_and_bad_files_get_clear_messages(qtbot, ui_models, tmp_path):
    session, panel = _input_panel(qtbot, ui_models["gru"])
    example = session.stepper  # the random example run on load
    np.save(tmp_path / "short.npy", np.zeros((5, 5), np.float32))
    assert not panel.load_file(str(tmp_path / "short.npy"))
    assert "(batch, 6, 5)" in panel.error_text and "axis 1 must be 6, not 5" in panel.error_text
    np.save(tmp_path / "rank.npy", np.zeros((1, 2, 6, 5), np.float32))
    assert not panel.load_file(str(tmp_path / "rank.npy"))
    assert "(1, 2, 6, 5)" in panel.error_text
    (tmp_path / "junk.csv").write_text("x,y\nfoo,bar\n")
    assert not panel.load_file(str(tmp_path / "junk.csv"))
    assert "junk.csv" in panel.error_text
    np.save(tmp_path / "nan.npy", np.full((6, 5), np.nan, np.float32))
    assert not panel.load_file(str(tmp_path / "nan.npy"))
    assert "NaN" in panel.error_text
    assert example is not None and session.stepper is None  # nothing ran: the views are cleared
    assert panel.error_label.isVisible()


def test_index_field(qtbot, ui_models):
    session, panel = _input_panel(qtbot, ui_models["embed_rnn"])
    panel.ids_edit.setText("3, 1, 4, 1, 5, 9, 2, 6, 5")
    assert panel.apply_ids()
    np.testing.assert_array_equal(model_inputs(session)[0], [[3, 1, 4, 1, 5, 9, 2, 6, 5]])
    panel.ids_edit.setText("1 2 x")
    assert not panel.apply_ids()
    assert "whole numbers" in panel.error_text
    panel.ids_edit.setText("1 2 3")  # typed ids are not padded unless asked, like typed text
    assert panel.apply_ids()
    np.testing.assert_array_equal(model_inputs(session)[0], [[1, 2, 3]])
    assert session.tokens == ["1", "2", "3"]
    session.set_padding("pre")  # pad_sequences(padding='pre') to the model's 9 steps: re-runs
    np.testing.assert_array_equal(model_inputs(session)[0], [[0] * 6 + [1, 2, 3]])
    assert session.padding_mask().tolist() == [True] * 6 + [False] * 3
    session.set_padding("post")
    np.testing.assert_array_equal(model_inputs(session)[0], [[1, 2, 3] + [0] * 6])
    session.set_padding("none")
    # one-hot positions for a one-hot model
    session, panel = _input_panel(qtbot, ui_models["char_lstm"])
    panel.ids_edit.setText(" ".join(["0", "1", "2"] * 4))
    assert panel.apply_ids()
    x = model_inputs(session)[0]
    assert x.shape == (1, 12, 29) and np.array_equal(np.argmax(x[0], axis=1), [0, 1, 2] * 4)
    panel.ids_edit.setText("29 " * 12)
    assert not panel.apply_ids()
    assert "outside the one-hot width 29" in panel.error_text


def test_table_edit_reruns(qtbot, ui_models):
    session, panel = _input_panel(qtbot, ui_models["gru"])
    assert panel.apply_random()
    x0 = model_inputs(session)[0].copy()
    panel.table.item(2, 3).setText("7.5")
    assert panel.apply_table()
    x1 = model_inputs(session)[0]
    assert x1[0, 2, 3] == np.float32(7.5)
    x0[0, 2, 3] = 7.5
    np.testing.assert_array_equal(x1, x0)  # untouched cells round-trip exactly through the table text
    panel.table.item(0, 0).setText("abc")
    assert not panel.apply_table()
    assert "not a number" in panel.error_text


def test_engine_errors_are_shown_inline(qtbot, ui_models):
    session, panel = _input_panel(qtbot, ui_models["gru"])
    session.input_failed.emit("gru: something the engine refused")
    assert panel.error_label.isVisible()
    assert panel.error_text == "gru: something the engine refused"


def test_helpers_without_qt():
    assert fit_to_shape(np.arange(4), (None, None), "int32").shape == (1, 4)
    assert fit_to_shape(np.zeros((4, 1)), (None, 4), "int32").shape == (1, 4)  # one-column csv of ids
    with pytest.raises(ValueError, match="empty"):
        fit_to_shape(np.zeros((1, 0, 3)), (None, None, 3), "float32")
    with pytest.raises(ValueError, match="cannot read"):
        read_sequence_file("/nonexistent/file.npy")


def test_input_set_elsewhere_is_mirrored_in_the_text_box(qtbot, ui_models):
    session, panel = _input_panel(qtbot, ui_models["char_lstm"])
    session.set_input(session.encode_text("the lazy dog"))  # e.g. the snapshot renderer
    assert panel.text() == "the lazy dog"
    assert panel.tabs.currentIndex() == 0
    session.set_input(session.encode_text("a longer text than twelve"))
    assert panel.text() == "a longer text than twelve"  # no silent cut to the model's 12-symbol window
