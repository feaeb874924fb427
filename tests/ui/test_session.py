"""Session: loading through the worker, stale results, busy state, echo-guarded setters, text encoding."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool

from inspector.ui.session import Session, trace_key_of


@pytest.fixture
def session(qtbot):
    s = Session()
    yield s
    QThreadPool.globalInstance().waitForDone()


@pytest.fixture
def sync_session(ui_models):
    s = Session(sync=True)
    s.open(str(ui_models["char_lstm"]))
    assert s.model_file is not None
    return s


def test_open_runs_off_thread_and_reports_busy(session, ui_models, qtbot):
    busy: list[bool] = []
    session.busy_changed.connect(busy.append)
    with qtbot.waitSignal(session.file_loaded, timeout=20000) as blocker:
        session.open(str(ui_models["char_lstm"]))
        assert session.busy  # returned immediately, work pending
    mf = blocker.args[0]
    assert mf is session.model_file
    assert session.path == str(ui_models["char_lstm"])
    assert [lay.name for lay in mf.network.layers if lay.kind != "InputLayer"] == ["lstm", "dense"]
    assert busy == [True, False]
    assert not session.busy


def test_sidecar_vocabulary_is_loaded(session, ui_models, qtbot):
    pytest.importorskip("inspector.io.sidecar")
    with qtbot.waitSignal(session.vocabulary_changed, timeout=20000) as blocker:
        session.open(str(ui_models["char_lstm"]))
    assert blocker.args[0] == session.vocabulary
    assert len(session.vocabulary) == 29 and session.vocabulary[0] == "a"


def test_failed_load_keeps_previous_model(session, ui_models, qtbot, tmp_path):
    with qtbot.waitSignal(session.file_loaded, timeout=20000):
        session.open(str(ui_models["char_lstm"]))
    before = session.model_file
    bogus = tmp_path / "notes.h5"
    bogus.write_text("this is not HDF5\n")
    with qtbot.waitSignal(session.load_failed, timeout=20000) as blocker:
        session.open(str(bogus))
    message = blocker.args[0]
    assert "notes.h5" in message and "\n" not in message
    assert session.model_file is before
    assert session.path == str(ui_models["char_lstm"])
    assert not session.busy


def test_stale_result_is_dropped(session, ui_models, qtbot):
    loaded = []
    session.file_loaded.connect(loaded.append)
    session.open(str(ui_models["char_lstm"]))
    session.open(str(ui_models["gru"]))  # supersedes the first request
    QThreadPool.globalInstance().waitForDone()
    qtbot.waitUntil(lambda: len(loaded) >= 1, timeout=20000)
    qtbot.wait(50)
    assert len(loaded) == 1
    assert loaded[0].path.endswith("gru.h5")
    assert session.path.endswith("gru.h5")


def test_setters_emit_only_on_change(sync_session, qtbot):
    s = sync_session
    assert s.selection == "lstm/kernel"  # a freshly opened file selects its first recurrent kernel
    seen = []
    s.selection_changed.connect(lambda p: seen.append(("sel", p)))
    s.unit_changed.connect(lambda layer, u: seen.append(("unit", layer, u)))
    s.select_weight("lstm/recurrent_kernel")
    s.select_weight("lstm/recurrent_kernel")
    s.select_unit("lstm", 3)
    s.select_unit("lstm", 3)
    s.select_unit("", 7)  # no layer -> none
    assert seen == [("sel", "lstm/recurrent_kernel"), ("unit", "lstm", 3), ("unit", "", -1)]


def test_set_input_builds_stepper_and_steps_are_clipped(sync_session, qtbot):
    s = sync_session
    s.set_vocabulary(list("abcdefghijklmnopqrstuvwxyz .,"))
    changed = []
    s.input_changed.connect(changed.append)
    x = s.encode_text("hello world.")
    s.set_input(x)
    assert len(changed) == 1 and changed[0] is s.stepper
    assert s.n_steps == 12 and s.step == 0
    steps = []
    s.step_changed.connect(steps.append)
    s.set_step(5)
    s.set_step(5)
    s.set_step(99)
    s.set_step(-3)
    assert steps == [5, 11, 0]
    assert s.stepper.t == 0


def test_bad_input_reports_input_failed(sync_session, qtbot):
    with qtbot.waitSignal(sync_session.input_failed) as blocker:
        sync_session.set_input(np.zeros((1, 12, 7), np.float32))  # 7 features, model wants 29
    assert "\n" not in blocker.args[0]
    assert sync_session.stepper is None


def test_encode_text_one_hot_and_ids(sync_session, ui_models):
    s = sync_session
    vocab = list("abcdefghijklmnopqrstuvwxyz .,")
    s.set_vocabulary(vocab)
    x = s.encode_text("Cab")  # upper case folds to the lower-case vocabulary; no padding by default
    assert x.shape == (1, 3, 29) and x.dtype == np.float32
    assert [int(np.argmax(r)) for r in x[0]] == [2, 0, 1]
    s.set_padding("pre")  # pad_sequences(padding='pre') to the model's 12 steps
    x = s.encode_text("Cab")
    assert x.shape == (1, 12, 29) and x[0, :9].sum() == 0  # left-padded with all-zero rows
    assert [int(np.argmax(r)) for r in x[0, 9:]] == [2, 0, 1]
    long = s.encode_text("abcdefghijklmnopq")  # longer than the window: keeps the end
    assert long.shape[1] == 12 and int(np.argmax(long[0, -1])) == vocab.index("q")
    s.set_padding("none")
    with pytest.raises(ValueError, match="vocabulary"):
        s.encode_text("a#b")
    ids = Session(sync=True)
    ids.open(str(ui_models["embed_rnn"]))
    ids.set_vocabulary([f"w{k}" for k in range(50)])
    tokens = ids.encode_text("w3 w4 w49")
    assert tokens.tolist() == [[3, 4, 49]]
    ids.set_padding("pre")
    assert ids.encode_text("w3 w4 w49").tolist() == [[0] * 6 + [3, 4, 49]]


def test_weights_only_then_architecture(ui_models, qtbot):
    s = Session(sync=True)
    s.open(str(ui_models["char_lstm_weights"]))
    assert s.model_file.network is None
    assert s.find_weight("lstm/kernel") is not None
    s.set_input(np.zeros((1, 12, 29), np.float32))
    assert s.stepper is None
    s.open_config(str(ui_models["char_lstm"].with_name("char_lstm.json")))
    assert s.model_file.network is not None
    assert s.config_path.endswith("char_lstm.json")
    s.set_input(np.zeros((1, 12, 29), np.float32))
    assert s.stepper is not None


def test_trace_key_of():
    assert trace_key_of("lstm_1/kernel") == "lstm_1"
    assert trace_key_of("bidi/forward/recurrent_kernel") == "bidi/forward"
    assert trace_key_of("") == ""


def test_long_input_is_traced_off_thread(session, ui_models, qtbot):
    with qtbot.waitSignal(session.file_loaded, timeout=20000):
        session.open(str(ui_models["embed_rnn"]))
    ids = np.random.default_rng(0).integers(1, 50, size=(64, 9)).astype(np.int32)  # 64 x 9 steps x ~1k params
    busy = []
    session.busy_changed.connect(busy.append)
    big = np.repeat(ids, 200, axis=0)  # 12800 sequences: well above the inline budget
    with qtbot.waitSignal(session.input_changed, timeout=30000) as blocker:
        session.set_input(big)
        assert session.busy
    assert blocker.args[0] is session.stepper and session.n_steps == 9
    assert busy == [True, False]
