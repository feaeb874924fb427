"""Weights view: gate panels hold the weight's gate blocks, labels, hover readout, unit selection,
colours, statistics, large matrices."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QThreadPool

from inspector.app.present import describe_weight
from inspector.core.network import Layer, Weight, gate_slices
from inspector.ui.heatmap_view import HeatmapView
from inspector.ui.session import Session
from inspector.ui.weight_panel import WeightPanel, matrix_stats

VOCAB = list("abcdefghijklmnopqrstuvwxyz .,")


def _cell_widget_pos(view: HeatmapView, k: int, row: int, col: int) -> QPoint:
    """Widget (viewport) position of the centre of cell (row, col) of panel k."""
    vb = view.panels[k].plot.getViewBox()
    scene = vb.mapViewToScene(QPointF(col, row))
    return view.graphics.mapFromScene(scene)


def test_lstm_kernel_is_split_into_four_labelled_gates(panel):
    s = panel.session
    s.select_weight("lstm/kernel")
    view = panel.heatmap
    titles = [p.title for p in view.panels]
    assert titles == [
        "i \u2013 input gate",
        "f \u2013 forget gate",
        "c\u0303 \u2013 candidate",
        "o \u2013 output gate",
    ]
    _, weight = s.find_weight("lstm/kernel")
    for p, g in zip(view.panels, weight.gates):
        np.testing.assert_array_equal(p.data, weight.gate(g.key))
        # a small panel is drawn exactly: the image is the gate block itself, float32 C-contiguous
        np.testing.assert_array_equal(p.image.image, weight.gate(g.key))
        assert p.image.image.dtype == np.float32 and p.image.image.flags.c_contiguous
        assert p.image.axisOrder == "row-major"
        assert tuple(p.image.levels) == view.levels
        assert p.plot.titleLabel.text.startswith(g.label)
    lo, hi = view.levels
    assert lo == -hi and hi >= float(np.abs(weight.value).max()) - 1e-6
    # one colour bar drives every gate image
    assert view.colorbar is not None and len(view.colorbar.img_list) == 4
    # rows are the one-hot input: labelled with the vocabulary; columns are units
    left = view.panels[0].plot.getAxis("left")
    assert left.labels[:3] == ("a", "b", "c") and left.labels[26] == "\u2423"
    assert panel.matrix.row_title == "input symbol" and panel.matrix.col_title == "unit"
    # synchronised zoom/pan
    view.panels[2].plot.setXRange(3, 9, padding=0)
    x0, x1 = view.panels[0].plot.getViewBox().viewRange()[0]
    assert (round(x0), round(x1)) == (3, 9)


def test_recurrent_kernel_gru_bias_and_dense(qtbot, ui_models):
    s = Session(sync=True)
    s.open(str(ui_models["gru"]))
    w = WeightPanel(s)
    qtbot.addWidget(w)
    s.select_weight("gru/recurrent_kernel")
    assert [p.title for p in w.heatmap.panels] == [
        "z \u2013 update gate",
        "r \u2013 reset gate",
        "h\u0303 \u2013 candidate",
    ]
    assert w.matrix.rows_are_units
    s.select_weight("gru/bias")  # reset_after: (2, 3u)
    _, bias = s.find_weight("gru/bias")
    assert bias.shape == (2, 24)
    assert w.heatmap.panels[0].data.shape == (2, 8)
    assert w.matrix.row_labels == ("input", "recurrent")
    np.testing.assert_array_equal(w.heatmap.panels[1].data, bias.value[:, 8:16])
    s.select_weight("out/kernel")  # Dense: one panel, no gate slicing
    assert len(w.heatmap.panels) == 1 and not w.matrix.gates
    assert w.heatmap.panels[0].data.shape == (8, 3)
    s.select_weight("out/bias")
    assert w.heatmap.panels[0].data.shape == (1, 3)


def test_csv_header_names_the_kernel_rows(qtbot, ui_models):
    """An input with feature names (a CSV header) relabels the shown first kernel's input rows; a new
    file forgets them."""
    s = Session(sync=True)
    s.open(str(ui_models["gru"]))
    w = WeightPanel(s)
    qtbot.addWidget(w)
    s.select_weight("gru/kernel")
    assert w.matrix.row_labels is None and w.matrix.row_title == "input feature"
    names = ["temp", "wind", "rain", "sun", "load"]
    x = np.random.default_rng(0).standard_normal((1, 6, 5)).astype(np.float32)
    s.set_input(x, feature_names=names)
    assert s.feature_names == names
    assert w.matrix.row_labels == tuple(names)
    s.open(str(ui_models["gru"]))
    assert w.matrix.row_labels is None


def test_embedding_and_simple_rnn(qtbot, ui_models):
    s = Session(sync=True)
    s.open(str(ui_models["embed_rnn"]))
    w = WeightPanel(s)
    qtbot.addWidget(w)
    s.select_weight("emb/embeddings")
    assert len(w.heatmap.panels) == 1 and w.heatmap.panels[0].data.shape == (50, 8)
    assert w.matrix.row_title == "token id"
    s.select_weight("rnn/kernel")
    assert [p.title for p in w.heatmap.panels] == ["h \u2013 hidden pre-activation"]


def test_bidirectional_halves_are_separate(qtbot, ui_models):
    s = Session(sync=True)
    s.open(str(ui_models["bidi"]))
    w = WeightPanel(s)
    qtbot.addWidget(w)
    s.select_weight("bidi/backward/kernel")
    _, weight = s.find_weight("bidi/backward/kernel")
    assert w.matrix.trace_key == "bidi/backward"
    np.testing.assert_array_equal(w.heatmap.panels[3].data, weight.gate("o"))


def test_hover_readout(panel, qtbot):
    panel.session.select_weight("lstm/kernel")
    view = panel.heatmap
    _, weight = panel.session.find_weight("lstm/kernel")
    row, col = 4, 5  # symbol 'e', forget-gate unit 5
    pos = _cell_widget_pos(view, 1, row, col)
    qtbot.mouseMove(view.graphics.viewport(), pos)
    qtbot.waitUntil(lambda: "value" in panel.readout.text(), timeout=3000)
    text = panel.readout.text()
    value = float(weight.gate("f")[row, col])
    for part in (
        "lstm",
        "kernel",
        "f \u2013 forget gate",
        "input symbol \u2018e\u2019 (#4)",
        "unit 5",
        f"{value:.7g}",
    ):
        assert part in text, (part, text)


def test_click_selects_unit_and_highlights_everywhere(panel, qtbot):
    s = panel.session
    s.select_weight("lstm/kernel")
    view = panel.heatmap
    pos = _cell_widget_pos(view, 2, 10, 7)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert s.unit == ("lstm", 7)
    for p in view.panels:
        assert p.col_marker.isVisible()
        r = p.col_marker.rect()
        assert (r.left(), r.width(), r.height()) == (6.5, 1.0, 29.0)
        assert not p.row_marker.isVisible()  # kernel rows are inputs, not units
    # the recurrent kernel highlights the unit's column in every gate and its row
    s.select_weight("lstm/recurrent_kernel")
    for p in view.panels:
        assert p.col_marker.isVisible() and p.row_marker.isVisible()
        assert p.row_marker.rect().top() == 6.5
    # a unit of another layer clears the highlight; none clears it too
    s.select_unit("dense", 1)
    assert not any(p.col_marker.isVisible() for p in view.panels)
    s.select_unit("lstm", 3)
    assert all(p.col_marker.isVisible() for p in view.panels)
    s.select_unit("", -1)
    assert not any(p.col_marker.isVisible() or p.row_marker.isVisible() for p in view.panels)


def test_diverging_colours_blue_negative_red_positive(panel, qtbot):
    panel.session.select_weight("lstm/kernel")
    view = panel.heatmap
    qtbot.wait(50)
    image = view.graphics.grab().toImage()
    for k, p in enumerate(view.panels):
        data = p.data
        for row, col in (
            np.unravel_index(np.argmin(data), data.shape),
            np.unravel_index(np.argmax(data), data.shape),
        ):
            pos = _cell_widget_pos(view, k, int(row), int(col))
            ratio = image.devicePixelRatio()
            c = image.pixelColor(int(pos.x() * ratio), int(pos.y() * ratio))
            if data[row, col] < 0:
                assert c.blue() > c.red() + 60, (k, row, col, c.getRgb())
            else:
                assert c.red() > c.blue() + 60, (k, row, col, c.getRgb())


def test_statistics_table_matches_numpy(panel):
    panel.session.select_weight("lstm/recurrent_kernel")
    _, weight = panel.session.find_weight("lstm/recurrent_kernel")
    stats = matrix_stats(panel.matrix)
    for st, g in zip(stats, weight.gates):
        block = weight.gate(g.key).astype(np.float64)
        assert st.mean == pytest.approx(block.mean(), abs=1e-7)
        assert st.std == pytest.approx(block.std(), rel=1e-6)
        assert st.min == pytest.approx(block.min()) and st.max == pytest.approx(block.max())
        assert st.norm == pytest.approx(np.linalg.norm(block), rel=1e-6)
        assert st.n_nonfinite == 0
    table = panel.stats
    assert table.rowCount() == 4
    assert [table.item(r, 0).text() for r in range(4)] == ["i", "f", "c\u0303", "o"]
    assert table.item(1, 4).text() == f"{stats[1].max:+.4g}"
    assert len(panel.histograms.plots) == 4


def test_nan_and_inf_are_flagged():
    g = gate_slices("LSTM", 2)
    value = np.arange(24, dtype=np.float32).reshape(3, 8) - 12
    value[0, 0] = np.nan
    value[1, 7] = np.inf
    layer = Layer("l", "LSTM", weights=(Weight("kernel", value, gates=g),))
    m = describe_weight(layer, "l/kernel", layer.weights[0])
    stats = matrix_stats(m)
    assert [s.n_nonfinite for s in stats] == [1, 0, 0, 1]
    assert np.isfinite(stats[0].mean)


def test_large_kernel_stays_smooth(qtbot):
    """A 10,000 x 1,024 LSTM kernel (4 gates x 256): built once, rendered downsampled, levels fixed."""
    rng = np.random.default_rng(0)
    value = rng.standard_normal((10_000, 1024), dtype=np.float32)
    layer = Layer("big", "LSTM", weights=(Weight("kernel", value, gates=gate_slices("LSTM", 256)),))
    view = HeatmapView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    qtbot.waitExposed(view)
    t0 = time.perf_counter()
    view.set_matrix(describe_weight(layer, "big/kernel", layer.weights[0]))
    view.graphics.grab()
    build = time.perf_counter() - t0
    assert all(p.image.autoDownsample for p in view.panels)
    levels = view.levels
    # zooming and panning repaint without touching levels or data
    t0 = time.perf_counter()
    for k in range(5):
        view.panels[0].plot.setYRange(k * 1000, k * 1000 + 3000, padding=0)
        view.graphics.grab()
    per_frame = (time.perf_counter() - t0) / 5
    assert view.levels == levels and all(tuple(p.image.levels) == levels for p in view.panels)
    assert build < 5.0 and per_frame < 0.5, (build, per_frame)


def test_big_weight_summary_arrives_from_the_worker(qtbot):
    """Statistics of a > 1M-element weight are computed off the GUI thread and then shown."""
    from inspector.core.network import ModelFile, Network

    value = np.random.default_rng(1).standard_normal((3000, 1024), dtype=np.float32)
    layer = Layer("big", "LSTM", weights=(Weight("kernel", value, gates=gate_slices("LSTM", 256)),))
    net = Network("n", "Sequential", (layer,), input_shapes=((None, 4, 3000),))
    session = Session()  # asynchronous
    session.model_file = ModelFile("big.h5", "test", "legacy-h5-model", "2.15.0", None, net, (layer,))
    w = WeightPanel(session)
    qtbot.addWidget(w)
    session.select_weight("big/kernel")
    assert len(w.heatmap.panels) == 4  # the heatmaps do not wait for the statistics
    qtbot.waitUntil(lambda: w.stats.rowCount() == 4, timeout=20000)
    QThreadPool.globalInstance().waitForDone()
    assert w.summary.stats[3].max == pytest.approx(float(value[:, 768:].max()))
    assert sum(int(c.sum()) for c in w.summary.counts) == value.size
