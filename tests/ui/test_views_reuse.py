"""Views built once and updated in place: heatmap panels, colour bar, histograms, gate strips and the
timeline keep their pyqtgraph items across weights and inputs; big weight panels are decimated to
their size on screen, with exact hover values and faithful colours; the same weight again is cheap."""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, QThreadPool

from inspector.app.present import describe_weight
from inspector.core.network import Layer, Weight, gate_slices
from inspector.ui import heatmap_view as hv
from inspector.ui import step_common as ta
from inspector.ui.heatmap_view import HeatmapView, decimate
from inspector.ui.session import Session
from inspector.ui.stepper_panel import StepperPanel

VOCAB = list("abcdefghijklmnopqrstuvwxyz .,")


@pytest.fixture(autouse=True)
def _wait_for_workers():
    yield
    QThreadPool.globalInstance().waitForDone(10_000)


def _plot_items(view: HeatmapView) -> list[pg.PlotItem]:
    return [it for it in view.graphics.scene().items() if isinstance(it, pg.PlotItem)]


def _lstm_kernel(rows: int, units: int, value: np.ndarray | None = None, name: str = "big"):
    if value is None:
        value = np.random.default_rng(0).standard_normal((rows, 4 * units), dtype=np.float32)
    layer = Layer(name, "LSTM", weights=(Weight("kernel", value, gates=gate_slices("LSTM", units)),))
    return describe_weight(layer, f"{name}/kernel", layer.weights[0])


def _big_view(qtbot, matrix) -> HeatmapView:
    view = HeatmapView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_matrix(matrix)
    qtbot.wait(100)  # settled: any re-render after layout has happened
    return view


def _widget_pos(view: HeatmapView, k: int, row: float, col: float) -> QPoint:
    vb = view.panels[k].plot.getViewBox()
    return view.graphics.mapFromScene(vb.mapViewToScene(QPointF(col, row)))


def _pixel(view: HeatmapView, image, pos: QPoint):
    ratio = image.devicePixelRatio()
    return image.pixelColor(int(pos.x() * ratio), int(pos.y() * ratio))


# ------------------------------------------------------------------------------------------ heatmap
def test_another_weight_with_as_many_gates_reuses_every_item(panel):
    s, view = panel.session, panel.heatmap
    s.select_weight("lstm/kernel")
    plots = [p.plot for p in view.panels]
    images = [p.image for p in view.panels]
    bar = view.colorbar
    n_items = len(_plot_items(view))
    s.select_weight("lstm/recurrent_kernel")
    assert [p.plot for p in view.panels] == plots and [p.image for p in view.panels] == images
    assert view.colorbar is bar and len(_plot_items(view)) == n_items
    _, weight = s.find_weight("lstm/recurrent_kernel")
    for p, g in zip(view.panels, weight.gates):
        np.testing.assert_array_equal(p.data, weight.gate(g.key))
        np.testing.assert_array_equal(p.image.image, weight.gate(g.key))  # small: drawn exactly
        assert tuple(p.image.levels) == view.levels
    # ranges, limits and the row axis follow the new weight
    assert panel.matrix.row_title.startswith("hidden unit")
    assert view.panels[0].left.labels is None
    (x0, x1), (y0, y1) = view.panels[3].plot.getViewBox().viewRange()
    assert (x0, x1, y0, y1) == (-0.5, 15.5, -0.5, 15.5)


def test_panel_count_changes_both_ways(panel, qtbot):
    s, view = panel.session, panel.heatmap
    s.select_weight("lstm/kernel")
    pool = [p.plot for p in view.panels]
    n_items = len(_plot_items(view))
    s.select_weight("dense/kernel")  # Dense: one panel
    assert len(view.panels) == 1 and view.panels[0].plot is pool[0]
    assert [p.isVisible() for p in pool] == [True, False, False, False]
    assert len(view.colorbar.img_list) == 1
    _, dense = s.find_weight("dense/kernel")
    np.testing.assert_array_equal(view.panels[0].data, dense.value)
    assert view.panels[0].plot.titleLabel.text == "kernel"
    qtbot.waitUntil(lambda: view.panels[0].plot.width() > 0.7 * view.graphics.width(), timeout=3000)
    s.select_weight("lstm/bias")
    assert len(view.panels) == 4 and [p.plot for p in view.panels] == pool
    assert all(p.isVisible() for p in pool) and len(view.colorbar.img_list) == 4
    _, bias = s.find_weight("lstm/bias")
    for p, g in zip(view.panels, bias.gates):
        np.testing.assert_array_equal(p.data, bias.value.reshape(1, -1)[:, g.start : g.stop])
        assert p.plot.titleLabel.text.startswith(g.label)
    qtbot.waitUntil(
        lambda: min(p.plot.width() for p in view.panels) > 0.15 * view.graphics.width(), timeout=3000
    )
    assert len(_plot_items(view)) == n_items  # nothing made, nothing thrown away
    s.select_weight("")
    assert view.panels == [] and not any(p.isVisible() for p in pool)


def test_same_weight_again_does_not_redraw(panel, monkeypatch):
    s, view = panel.session, panel.heatmap
    s.select_weight("lstm/kernel")
    summary = panel.summary
    view.panels[0].plot.setXRange(2, 9, padding=0)  # the user's zoom survives a relabel
    calls: list[int] = []
    original = hv._Panel._set
    monkeypatch.setattr(hv._Panel, "_set", lambda *a, **k: (calls.append(1), original(*a, **k)))
    # a new vocabulary relabels the rows, nothing else
    s.set_vocabulary([c.upper() for c in VOCAB])
    assert calls == [] and panel.summary is summary
    assert view.panels[0].left.labels[:2] == ("A", "B")
    x0, x1 = view.panels[1].plot.getViewBox().viewRange()[0]
    assert (round(x0), round(x1)) == (2, 9)
    # equal values in another array are the same weight; different values are not
    m = panel.matrix
    copy = hv.WeightMatrix(**{**m.__dict__, "value": m.value.copy()})
    view.set_matrix(copy)
    assert calls == []
    changed = m.value.copy()
    changed[0, 0] += 1.0
    view.set_matrix(hv.WeightMatrix(**{**m.__dict__, "value": changed}))
    assert len(calls) == 4
    assert view.panels[0].image.image[0, 0] == changed[0, 0]


def test_big_panel_is_decimated_and_hover_reads_the_exact_value(qtbot):
    matrix = _lstm_kernel(3000, 1024)
    view = _big_view(qtbot, matrix)
    readouts: list[str] = []
    view.hovered.connect(readouts.append)
    p = view.panels[2]
    h, w = p.image.image.shape
    assert h < 3000 and w < 1024  # decimated to the panel's size, not 3000 x 1024
    rect = p.image.mapRectToParent(p.image.boundingRect())  # in data coordinates: true rows / columns
    assert (rect.left(), rect.top()) == (-0.5, -0.5)
    assert rect.right() >= 1023.5 and rect.bottom() >= 2999.5
    full = matrix.value[:, 2048:3072]
    shown_differs = 0
    for k, (row, col) in enumerate(((300, 100), (1500, 511), (2700, 900), (777, 50))):
        pos = _widget_pos(view, 2, row, col)
        if k == 0:  # a real mouse move (offscreen Qt delivers only the first one of a test) ...
            qtbot.mouseMove(view.graphics.viewport(), pos)
            qtbot.waitUntil(lambda: bool(readouts) and "value" in readouts[-1], timeout=3000)
        else:  # ... then the scene's signal for the same screen pixel
            view.graphics.scene().sigMouseMoved.emit(view.graphics.mapToScene(pos))
        text = readouts[-1]
        got_row = int(re.search(r"input feature (\d+)", text).group(1))
        got_col = int(re.search(r"unit (\d+)", text).group(1))
        sr, sc = p.shown[2], p.shown[3]
        assert abs(got_row - row) <= sr and abs(got_col - col) <= sc, (row, col, text)
        assert f"value <b>{full[got_row, got_col]:.7g}</b>" in text
        shown_differs += p.image.image[got_row // sr, got_col // sc] != full[got_row, got_col]
        readouts.clear()
    assert shown_differs  # the readout is the cell's own value, not the block's shown value


def test_decimated_colours_keep_sign_and_outliers(qtbot):
    """Blocks of 125 x 128 cells of one sign (random magnitudes), one positive outlier inside a
    negative block: blue where negative, red where positive, and the outlier still shows red (the
    mean of its pixel's cells would be blue)."""
    rng = np.random.default_rng(3)
    rows, units = 2000, 1024
    signs = np.where(rng.random((16, 32)) < 0.5, -1.0, 1.0).astype(np.float32)
    value = np.kron(signs, np.ones((125, 128), np.float32)) * rng.uniform(0.5, 1.0, (rows, 4 * units))
    value = value.astype(np.float32)
    neg = np.argwhere(signs[:, 8:16] < 0)[0]  # a negative block of gate f
    out_r, out_c = int(neg[0]) * 125 + 60, int(neg[1]) * 128 + 70
    value[out_r, 1024 + out_c] = 1.2
    view = _big_view(qtbot, _lstm_kernel(rows, units, value))
    assert view.panels[1].image.image.shape[0] < rows  # decimated
    qtbot.wait(80)
    image = view.graphics.grab().toImage()
    for k in range(4):
        for bi, bj in ((2, 1), (7, 5), (12, 3), (15, 6)):
            row, col = bi * 125 + 62, bj * 128 + 64
            if k == 1 and (row, col) == (out_r, out_c):
                continue
            c = _pixel(view, image, _widget_pos(view, k, row, col))
            if signs[bi, k * 8 + bj] < 0:
                assert c.blue() > c.red() + 60, (k, bi, bj, c.getRgb())
            else:
                assert c.red() > c.blue() + 60, (k, bi, bj, c.getRgb())
    # its pixel is about one screen pixel: one of the screen pixels around its position is red
    pos = _widget_pos(view, 1, out_r, out_c)
    around = [_pixel(view, image, pos + QPoint(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    assert any(c.red() > c.blue() + 60 for c in around), [c.getRgb() for c in around]
    sr, sc = view.panels[1].shown[2:]
    assert sr * sc > 1 and view.panels[1].image.image[out_r // sr, out_c // sc] == np.float32(1.2)
    # the colour scale is the weight's own (largest |w|)
    assert view.levels == pytest.approx((-1.2, 1.2))


def test_zooming_in_shows_exact_cells_and_resizing_refines(qtbot):
    matrix = _lstm_kernel(3000, 1024)
    view = _big_view(qtbot, matrix)
    p = view.panels[0]
    assert p.shown[2:] != (1, 1) and not any(q.detail.isVisible() for q in view.panels)
    p.plot.getViewBox().setRange(xRange=(100, 140), yRange=(2000, 2050), padding=0)
    qtbot.waitUntil(lambda: view.panels[3].detail.isVisible(), timeout=3000)
    for k, q in enumerate(view.panels):
        r0, c0, sr, sc, r1, c1 = q.detail_shown
        assert (sr, sc) == (1, 1) and r0 <= 2000 and r1 >= 2050 and c0 <= 100 and c1 >= 140
        np.testing.assert_array_equal(q.detail.image, matrix.value[r0:r1, 1024 * k + c0 : 1024 * k + c1])
        rect = q.detail.mapRectToParent(q.detail.boundingRect())
        assert (rect.left(), rect.top()) == (c0 - 0.5, r0 - 0.5)
    # back out: the whole-panel image suffices again
    p.plot.getViewBox().setRange(xRange=(-0.5, 1023.5), yRange=(-0.5, 2999.5), padding=0)
    qtbot.waitUntil(lambda: not p.detail.isVisible(), timeout=3000)
    # a bigger window: a finer whole-panel image
    before = p.image.image.shape
    view.resize(1600, 1100)
    qtbot.waitUntil(lambda: p.image.image.shape[0] > before[0], timeout=3000)


def test_small_matrices_stay_exact(qtbot):
    matrix = _lstm_kernel(400, 128)  # 400 x 128 per panel
    view = _big_view(qtbot, matrix)
    for k, p in enumerate(view.panels):
        assert p.shown == (0, 0, 1, 1)
        np.testing.assert_array_equal(p.image.image, matrix.value[:, 128 * k : 128 * (k + 1)])


@pytest.mark.parametrize(
    ("shape", "sr", "sc"),
    [((37, 45), 4, 6), ((40, 48), 4, 6), ((5, 7), 1, 3), ((9, 4), 4, 1), ((3, 3), 5, 5)],
)
def test_decimate_takes_the_signed_value_of_largest_magnitude(shape, sr, sc):
    base = np.random.default_rng(1).standard_normal((shape[0], shape[1] + 10), dtype=np.float32)
    block = base[:, 5 : 5 + shape[1]]  # a strided view, like a gate's column block
    out = decimate(block, sr, sc)
    assert out.shape == (-(-shape[0] // sr), -(-shape[1] // sc)) and out.flags.c_contiguous
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            cells = block[i * sr : (i + 1) * sr, j * sc : (j + 1) * sc]
            assert out[i, j] == cells.flat[np.argmax(np.abs(cells))]


def test_decimate_shows_nan_blocks():
    v = np.ones((6, 6), np.float32)
    v[4, 1] = np.nan
    out = decimate(v, 3, 3)
    assert np.isnan(out[1, 0]) and np.isfinite(out[[0, 0, 1], [0, 1, 1]]).all()


# ------------------------------------------------------------------------------------------ histograms
def test_histograms_reuse_their_plots(panel):
    s, hist = panel.session, panel.histograms
    s.select_weight("lstm/kernel")
    plots, curves = list(hist.plots), list(hist.curves)
    assert len(plots) == 4
    s.select_weight("lstm/recurrent_kernel")
    assert hist.plots == plots and hist.curves == curves
    for curve, counts in zip(hist.curves, panel.summary.counts):
        x, y = curve.getData()
        np.testing.assert_array_equal(y, counts)
        assert len(x) == len(counts) + 1  # bin edges: a step histogram
    s.select_weight("dense/kernel")
    assert hist.plots == plots[:1] and [p.isVisible() for p in plots] == [True, False, False, False]
    s.select_weight("lstm/bias")
    assert hist.plots == plots and all(p.isVisible() for p in plots)
    assert [p.titleLabel.text for p in plots] == ["i", "f", "c\u0303", "o"]


# ------------------------------------------------------------------------------------------ stepper views
def test_strips_and_timeline_keep_their_items_across_inputs(qtbot, ui_models):
    session = Session(sync=True)
    panel = StepperPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    session.open(str(ui_models["char_lstm"]))
    panel.input_panel.set_text("hello world")
    strips, timeline = panel.gate_strips, panel.timeline
    plot = strips._layers["lstm"].plot
    images = list(strips._layers["lstm"].images)
    heatmaps = list(timeline._heatmaps)
    panel.input_panel.set_text("abc")
    assert strips._layers["lstm"].plot is plot and strips._layers["lstm"].images == images
    assert timeline._heatmaps == heatmaps
    traj = session.stepper.trace.layers["lstm"]
    got = strips.strip_values("lstm")
    np.testing.assert_array_equal(got["hidden"], traj.h[0, session.step])
    # a file opened again (the views see "no input", then the new one) keeps them too
    session.open(str(ui_models["char_lstm"]))
    panel.input_panel.set_text("hello")
    assert strips._layers["lstm"].plot is plot and timeline._heatmaps == heatmaps
    # another layout: the pool hands out its items again
    session.open(str(ui_models["bidi"]))
    session.set_input(np.zeros((1, 7, 3), np.float32))
    assert strips.layer_keys() == ["bidi/forward", "bidi/backward", "lstm_b"]
    assert strips._layers["bidi/forward"].plot is plot
    assert strips.title("lstm_b").startswith("<b>lstm_b</b>")


def test_quantities_computed_once_per_trajectory(qtbot, ui_models):
    session = Session(sync=True)
    session.open(str(ui_models["char_lstm"]))
    session.set_input(np.eye(29, dtype=np.float32)[None, :12])
    traj = session.stepper.trace.layers["lstm"]
    a, b = ta.quantities(traj), ta.quantities(traj)
    assert a == b and all(x is y for x, y in zip(a, b)) and a is not b


def test_robust_state_levels_percentile_matches_numpy():
    rng = np.random.default_rng(5)
    for units in (4, 5, 7, 64, 1024):
        c = rng.standard_normal((2, 9, units)).astype(np.float32) * rng.uniform(0.1, 6, units)
        c[0, 3, 0] = np.nan
        (lo, hi), clipped, n = ta.robust_state_levels(c)
        peaks = np.nanmax(np.abs(c).reshape(-1, units), axis=0)
        assert hi == pytest.approx(float(np.percentile(peaks, ta.STATE_PEAK_PERCENTILE)), rel=1e-6)
        assert lo == -hi and n == units and clipped == int(np.sum(peaks > hi * (1 + 1e-6)))


def test_decimate_several_equal_panels_at_once():
    """Gate panels are decimated in one pass: the same as one panel at a time."""
    v = np.random.default_rng(2).standard_normal((101, 4 * 37), dtype=np.float32)
    together = decimate(v.reshape(101, 4, 37), 3, 5)
    for k in range(4):
        np.testing.assert_array_equal(together[:, k], decimate(v[:, 37 * k : 37 * (k + 1)], 3, 5))


def test_gate_panels_share_one_block_size(qtbot):
    view = _big_view(qtbot, _lstm_kernel(3000, 1024))
    shown = {p.shown for p in view.panels}
    assert len(shown) == 1 and next(iter(shown))[2:] != (1, 1)
    sr, sc = next(iter(shown))[2:]
    assert all(p.wanted()[0] <= sr and p.wanted()[1] <= sc for p in view.panels)


def test_panels_are_made_right_after_start_up_and_then_used(qtbot):
    view = HeatmapView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: len(view._pool) == HeatmapView.PREWARM_PANELS, timeout=3000)
    made = [p.plot for p in view._pool]
    assert not any(p.isVisible() for p in made) and not view.colorbar.isVisible()
    view.set_matrix(_lstm_kernel(40, 16))
    assert [p.plot for p in view.panels] == made and view.colorbar.isVisible()
