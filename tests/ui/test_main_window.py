"""Main window: real files through the worker, errors leave the app usable, recent files, drag & drop,
structure tree."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDropEvent

from inspector.app.present import format_dims as format_shape
from inspector.app.present import infer_output_shapes
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Session
from inspector.ui.structure_panel import PATH_ROLE


@pytest.fixture
def window(qtbot, ui_settings):
    session = Session()
    win = MainWindow(session, settings=QSettings())
    qtbot.addWidget(win)
    win.resize(1280, 800)
    yield win
    QThreadPool.globalInstance().waitForDone()


def _open(qtbot, win, path) -> None:
    with qtbot.waitSignal(win.session.file_loaded, timeout=20000):
        win.session.open(str(path))


def test_open_shows_busy_then_model(window, ui_models, qtbot):
    seen = []
    window.session.busy_changed.connect(
        lambda b: seen.append((b, window.busy_label.text(), window.busy_label.isVisibleTo(window)))
    )
    _open(qtbot, window, ui_models["char_lstm"])
    assert seen[0] == (True, "Loading char_lstm.h5\u2026", True)
    assert seen[-1][0] is False and not window.busy_label.isVisibleTo(window)
    assert "char_lstm.h5" in window.windowTitle()
    assert "2.15.0" in window.format_label.text()
    # the first recurrent kernel is shown straight away
    assert window.session.selection == "lstm/kernel"
    assert window.weights.matrix is not None and window.weights.matrix.path == "lstm/kernel"
    assert "Keras 2.15.0" in window.structure.header.text()


def test_failed_load_keeps_previous_model_and_window_usable(window, ui_models, qtbot, tmp_path):
    _open(qtbot, window, ui_models["char_lstm"])
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with qtbot.waitSignal(window.session.load_failed, timeout=20000):
        window.session.open(str(bad))
    assert window.banner.isVisibleTo(window)
    assert window.banner.level == "error"
    assert "broken.keras" in window.banner.text and "still showing char_lstm.h5" in window.banner.text
    assert "broken.keras" in window.statusBar().currentMessage()
    # previous model still shown and the window still works
    assert window.session.path.endswith("char_lstm.h5")
    assert window.weights.matrix.path == "lstm/kernel"
    assert window.structure.item_model.rowCount() == 3  # input, lstm, dense
    window.banner.close_button.click()
    assert not window.banner.isVisibleTo(window)
    _open(qtbot, window, ui_models["gru"])
    assert window.session.selection == "gru/kernel"


def test_recent_files_survive_a_restart(window, ui_models, qtbot):
    _open(qtbot, window, ui_models["gru"])
    _open(qtbot, window, ui_models["char_lstm"])
    expected = [os.path.abspath(ui_models["char_lstm"]), os.path.abspath(ui_models["gru"])]
    assert window.recent_files() == expected
    # a new window (a "restart") reads the same settings
    again = MainWindow(Session(), settings=QSettings())
    qtbot.addWidget(again)
    assert again.recent_files() == expected
    actions = [a for a in again.recent_menu.actions() if a.toolTip() in expected]
    assert [a.toolTip() for a in actions] == expected
    with qtbot.waitSignal(again.session.file_loaded, timeout=20000):
        actions[1].trigger()
    assert again.session.path.endswith("gru.h5")


def test_reload_action_rereads_the_file(window, ui_models, qtbot):
    _open(qtbot, window, ui_models["char_lstm"])
    window.session.select_weight("lstm/recurrent_kernel")
    window.session.select_unit("lstm", 2)
    with qtbot.waitSignal(window.session.file_loaded, timeout=20000):
        window.reload_action.trigger()
    assert window.session.selection == "lstm/recurrent_kernel"
    assert window.session.unit == ("lstm", 2)


def test_drop_a_file_opens_it(window, ui_models, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(ui_models["bidi"]))])
    event = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.session.file_loaded, timeout=20000):
        window.dropEvent(event)
    assert window.session.path.endswith("bidi.h5")
    assert window.session.selection == "bidi/forward/kernel"


def test_weights_only_file_offers_the_architecture(window, ui_models, qtbot):
    _open(qtbot, window, ui_models["char_lstm_weights"])
    assert window.banner.isVisibleTo(window) and window.banner.level == "info"
    assert window.banner.action_button.isVisibleTo(window)
    assert "weights only" in window.banner.text
    assert window.session.selection == "lstm/kernel"  # weights still inspectable
    with qtbot.waitSignal(window.session.file_loaded, timeout=20000):
        window.open_path(str(ui_models["char_lstm"].with_name("char_lstm.json")))  # sniffed as architecture
    assert window.session.network is not None
    assert not window.banner.isVisibleTo(window)


def test_vocabulary_file_by_content(window, ui_models, qtbot, tmp_path):
    _open(qtbot, window, ui_models["gru"])
    vocab = tmp_path / "tokens.txt"  # the extension says nothing: the content is a JSON list
    vocab.write_text('["x", "y", "z"]')
    window.open_path(str(vocab))
    assert window.session.vocabulary == ["x", "y", "z"]


def test_structure_tree_lists_layers_and_weights(window, ui_models, qtbot):
    _open(qtbot, window, ui_models["bidi"])
    model = window.structure.item_model
    rows = [[model.item(r, c).text() for c in range(model.columnCount())] for r in range(model.rowCount())]
    names = [r[0] for r in rows]
    assert names == ["input", "bidi", "lstm_b", "head"]
    assert rows[0][2] == "(\u00b7, 7, 3)"
    bidi = rows[1]
    assert bidi[1] == "Bidirectional(LSTM)"
    assert bidi[2] == "(\u00b7, 7, 12)"
    assert bidi[3] == f"{2 * (3 * 24 + 6 * 24 + 24):,}"
    assert bidi[4] == "tanh / sigmoid"
    assert rows[2][2] == "(\u00b7, 4)" and rows[3][2] == "(\u00b7, 2)" and rows[3][4] == "softmax"
    # halves, then their weights with shapes
    bidi_item = model.item(1, 0)
    halves = [bidi_item.child(r, 0).text() for r in range(bidi_item.rowCount())]
    assert halves == ["forward (forward_lstm_a)", "backward (backward_lstm_a)"]
    fwd = bidi_item.child(0, 0)
    kernels = [(fwd.child(r, 0).text(), fwd.child(r, 2).text()) for r in range(fwd.rowCount())]
    assert kernels == [("kernel", "3 \u00d7 24"), ("recurrent_kernel", "6 \u00d7 24"), ("bias", "24")]
    # selecting a weight row selects it in the session
    rk = fwd.child(1, 0)
    window.structure.tree.setCurrentIndex(rk.index())
    assert window.session.selection == "bidi/forward/recurrent_kernel"
    # and a selection made elsewhere moves the tree
    window.session.select_weight("head/bias")
    assert window.structure.tree.currentIndex().data(PATH_ROLE) == "head/bias"


def test_shape_inference_helpers(ui_models):
    from inspector.io import load

    mf = load(ui_models["embed_rnn"])
    shapes = infer_output_shapes(mf.network)
    assert format_shape(shapes["emb"]) == "(\u00b7, 9, 8)"
    assert format_shape(shapes["rnn"]) == "(\u00b7, 10)"
    assert format_shape(shapes["cls"]) == "(\u00b7, 4)"


def test_corpus_files_open_or_fail_cleanly(window, corpus_dir, qtbot):
    """Every corpus file either opens (tree filled) or leaves a one-line error and the window usable."""
    names = [
        "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5",
        "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5",
        "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5",
        "k3.9.2_tekuv_gru.keras",
        "k3_soorya_5x_lstm_timedist.weights.h5",
        "k2.2.4_carnd_lambda_conv2d_full.h5",
        "notkeras_gitlfs_pointer_named_gru_model.h5",
    ]
    for name in names:
        path = corpus_dir / name
        if not path.exists():
            continue
        with qtbot.waitSignals([window.session.busy_changed], timeout=30000):
            window.session.open(str(path))
        qtbot.waitUntil(lambda: not window.session.busy, timeout=30000)
        if window.session.path == str(path):
            assert window.structure.item_model.rowCount() > 0
            assert window.session.selection  # something is shown
            assert window.weights.matrix is not None
        else:
            assert window.banner.level == "error" and name in window.banner.text


def test_run_gui_opens_the_bundled_sample(qapp, ui_settings, monkeypatch):
    """`keras-inspector` without a file: the window opens the sample model off-thread; the loop runs."""
    import signal

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from inspector.ui import app as app_module

    sample = app_module._sample_model()
    if sample is None:
        pytest.skip("no bundled sample model")
    previous = signal.getsignal(signal.SIGINT)
    seen: dict[str, object] = {}

    def poll() -> None:
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if wins and wins[0].session.model_file is not None:
            seen["path"] = wins[0].session.path
            seen["selection"] = wins[0].session.selection
            seen["windows"] = wins
            QApplication.instance().quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(50)
    guard = QTimer()  # never hang the suite (stopped afterwards: a late quit() would end later tests' loops)
    guard.setSingleShot(True)
    guard.timeout.connect(QApplication.instance().quit)
    guard.start(30000)
    # closing the last window would post a quit that ends the *next* test's event loop
    qapp.setQuitOnLastWindowClosed(False)
    names = (qapp.organizationName(), qapp.applicationName(), qapp.applicationDisplayName())
    try:
        assert app_module.run_gui(None) == 0
    finally:
        timer.stop()
        guard.stop()
        for w in seen.get("windows", []):
            w.close()
        qapp.processEvents()
        qapp.setQuitOnLastWindowClosed(True)
        qapp.setOrganizationName(names[0])
        qapp.setApplicationName(names[1])
        qapp.setApplicationDisplayName(names[2])
        signal.signal(signal.SIGINT, previous)
        QThreadPool.globalInstance().waitForDone()
    assert seen.get("path") == sample
    assert seen["selection"]


def test_drop_weights_architecture_and_vocabulary_together(window, ui_models, qtbot, tmp_path):
    """Weights-only file + its model.json + a vocabulary dropped at once: all three are used."""
    vocab = tmp_path / "v.json"
    vocab.write_text('["' + '","'.join("abcdefghijklmnopqrstuvwxyz .,") + '"]')
    mime = QMimeData()
    mime.setUrls(
        [
            QUrl.fromLocalFile(str(vocab)),
            QUrl.fromLocalFile(str(ui_models["char_lstm"].with_name("char_lstm.json"))),
            QUrl.fromLocalFile(str(ui_models["char_lstm_weights"])),
        ]
    )
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.session.file_loaded, timeout=20000):
        window.dropEvent(event)
    assert window.session.path.endswith("char_lstm_weights.h5")
    assert window.session.network is not None and window.session.config_path.endswith("char_lstm.json")
    assert window.session.vocabulary is not None and len(window.session.vocabulary) == 29


# ------------------------------------------------------------------ the bundled sample, end to end


@pytest.fixture
def sample_path():
    try:
        from inspector.resources import sample_model_path

        path = sample_model_path()
    except (ImportError, OSError, LookupError, ValueError):
        pytest.skip("no bundled sample model")
    if not os.path.exists(path):
        pytest.skip("no bundled sample model")
    return str(path)


def _click_view(qtbot, graphics, scene_pt) -> None:
    """A real left click on a pyqtgraph GraphicsLayoutWidget at a scene position."""
    from PySide6.QtTest import QTest

    pos = graphics.mapFromScene(scene_pt)
    QTest.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def test_first_minute_on_the_sample_points_to_the_live_stepper(window, sample_path, qtbot):
    """A new user lands on the weights with a status-bar hint that the stepper already runs a text."""
    window.show()
    qtbot.waitExposed(window)
    _open(qtbot, window, sample_path)
    qtbot.waitUntil(lambda: window.session.stepper is not None, timeout=20000)
    assert window.tabs.currentIndex() == 0
    msg = window.statusBar().currentMessage()
    assert msg.startswith("Try the Stepper tab (Ctrl+2)"), msg
    assert "\u201cthe quick brown" in msg and window.session.n_steps > 20
    window.tabs.setCurrentIndex(1)
    assert window.statusBar().currentMessage() == ""  # found it: the hint goes away
    window.tabs.setCurrentIndex(0)
    window.session.reload()  # F5 re-arms it once for the re-read file, not on every input
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Try the Stepper"), timeout=20000)


def test_no_stepper_hint_for_a_weights_only_file(window, ui_models, qtbot):
    _open(qtbot, window, ui_models["char_lstm_weights"])
    assert not window.statusBar().currentMessage().startswith("Try the Stepper")


@pytest.mark.parametrize("width", [430, 300])
def test_structure_columns_fit_the_panel(window, ui_models, qtbot, width):
    """All five columns (name, class, shape, params, activation) visible without scrolling sideways."""
    window.show()
    window.structure_dock.setMinimumWidth(width)
    window.structure_dock.setMaximumWidth(width)
    qtbot.waitExposed(window)
    _open(qtbot, window, ui_models["bidi"])
    tree = window.structure.tree
    header = tree.header()
    qtbot.waitUntil(lambda: header.length() <= tree.viewport().width())
    assert tree.horizontalScrollBar().maximum() == 0
    sizes = [header.sectionSize(c) for c in range(5)]
    assert min(sizes) >= 20 and sizes[3] >= tree.sizeHintForColumn(3)  # params never shrunk
    if width >= 430:  # wide enough: the activation text is not cut
        assert sizes[4] >= tree.sizeHintForColumn(4)
    # a cut name keeps its full text in the tooltip
    root = window.structure.item_model.invisibleRootItem()
    names = [root.child(r, 0) for r in range(root.rowCount())]
    assert all(it.toolTip() for it in names)


def test_linked_unit_selection_between_weights_and_stepper(window, sample_path, qtbot):
    """A click on a heatmap column selects the unit in the stepper views; a click there comes back."""
    window.show()
    qtbot.waitExposed(window)
    _open(qtbot, window, sample_path)
    qtbot.waitUntil(lambda: window.session.stepper is not None, timeout=20000)
    s, hm = window.session, window.weights.heatmap
    assert s.selection == "lstm/kernel" and len(hm.panels) == 4
    # forget-gate panel, column 17 (units are numbered per gate)
    vb = hm.panels[1].plot.getViewBox()
    with qtbot.waitSignal(s.unit_changed, timeout=5000) as sig:
        _click_view(qtbot, hm.graphics, vb.mapViewToScene(QPointF(17, 5)))
    assert sig.args == ["lstm", 17] and s.unit == ("lstm", 17)
    assert hm.unit == 17 and hm.panels[3].col_marker.isVisible()  # every gate outlines column 17
    stepper = window.stepper
    assert stepper.gate_strips._follow.pending  # hidden behind the Weights tab: built when shown
    window.tabs.setCurrentIndex(1)
    assert stepper.gate_strips.highlighted_unit("lstm") == 17
    h17 = stepper.timeline.trace_data()["hidden"]
    np.testing.assert_array_equal(h17, s.stepper.trace.layers["lstm"].h[0, :, 17])
    # the recurrent kernel marks unit 17's row too
    s.select_weight("lstm/recurrent_kernel")
    assert hm.unit == 17 and hm.panels[0].row_marker.isVisible()
    # back: a click on unit 42 in the gate strips (Stepper tab) moves the heatmap outline
    qtbot.wait(50)
    strips = stepper.gate_strips._layers["lstm"]
    svb = strips.plot.getViewBox()
    with qtbot.waitSignal(s.unit_changed, timeout=5000):
        _click_view(qtbot, stepper.gate_strips.graphics, svb.mapViewToScene(QPointF(42, 1)))
    assert s.unit == ("lstm", 42) and hm.unit == 42
    assert stepper.gate_strips.highlighted_unit("lstm") == 42


def test_every_number_shown_equals_keras_inspector_trace(window, sample_path, qtbot, tmp_path):
    """Gate strips, cell/hidden states, the units x time view and the output bars, at several steps,
    hold exactly what `keras-inspector trace` / `predict` write for the same file and text."""
    from inspector.cli import main as cli_main

    window.show()
    _open(qtbot, window, sample_path)
    qtbot.waitUntil(lambda: window.session.stepper is not None, timeout=20000)
    s, stepper = window.session, window.stepper
    window.tabs.setCurrentIndex(1)  # the Stepper's views are built when shown
    stepper.input_panel.set_text("to be, or not to be")
    qtbot.waitUntil(lambda: s.n_steps == len("to be, or not to be"), timeout=20000)
    x = s.encode_text("to be, or not to be")
    np.save(tmp_path / "x.npy", x)
    assert (
        cli_main(
            ["trace", sample_path, "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "t.npz")]
        )
        == 0
    )
    ref = np.load(tmp_path / "t.npz")
    names = {
        "gate/i": "lstm/gates/i",
        "gate/f": "lstm/gates/f",
        "gate/c": "lstm/gates/c",
        "gate/o": "lstm/gates/o",
        "cell": "lstm/c",
        "hidden": "lstm/h",
    }
    for t in (0, 7, s.n_steps - 1):
        s.set_step(t)
        shown = stepper.gate_strips.strip_values("lstm")
        assert set(names) <= set(shown)
        for qid, key in names.items():
            np.testing.assert_array_equal(shown[qid], ref[key][0, t], err_msg=f"{qid} at t={t}")
        # the output bars at step t = what the model predicts for the first t+1 symbols
        np.save(tmp_path / "xt.npy", x[:, : t + 1])
        assert (
            cli_main(
                [
                    "predict",
                    sample_path,
                    "--input",
                    str(tmp_path / "xt.npy"),
                    "--output",
                    str(tmp_path / "y.npy"),
                ]
            )
            == 0
        )
        np.testing.assert_allclose(stepper.output.probabilities(), np.load(tmp_path / "y.npy")[0], atol=1e-6)
    images = stepper.timeline.image_data()
    np.testing.assert_array_equal(images["hidden"], ref["lstm/h"][0].T)
    np.testing.assert_array_equal(images["cell"], ref["lstm/c"][0].T)


def test_file_open_dialog_takes_a_vocabulary_by_content(window, ui_models, qtbot, tmp_path, monkeypatch):
    """File > Open on a JSON list sets the vocabulary instead of failing as 'not a Keras file'."""
    from PySide6.QtWidgets import QFileDialog

    _open(qtbot, window, ui_models["char_lstm"])
    vocab = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ .,")
    path = tmp_path / "upper.json"
    path.write_text(__import__("json").dumps(vocab))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    failures = []
    window.session.load_failed.connect(failures.append)
    window.open_action.trigger()
    assert window.session.vocabulary == vocab and not failures
    assert window.session.path.endswith("char_lstm.h5") and not window.banner.isVisible()


def test_dismissed_error_over_a_weights_only_file_restores_its_notice(window, ui_models, qtbot, tmp_path):
    _open(qtbot, window, ui_models["char_lstm_weights"])
    window.show()
    assert window.banner.level == "info" and window.banner.action_button.isVisibleTo(window)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"nope")
    with qtbot.waitSignal(window.session.load_failed, timeout=20000):
        window.session.open(str(bad))
    assert window.banner.level == "error" and "bad.h5" in window.banner.text
    qtbot.mouseClick(window.banner.close_button, Qt.MouseButton.LeftButton)
    assert window.banner.isVisible() and window.banner.level == "info"
    assert "weights only" in window.banner.text and window.banner.action_button.isVisible()
    qtbot.mouseClick(window.banner.close_button, Qt.MouseButton.LeftButton)  # the notice itself can go
    assert not window.banner.isVisible()
