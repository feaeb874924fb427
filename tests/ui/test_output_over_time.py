"""The output-over-time widget: curves are exactly the arrays given, axes follow the output kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.app.outputs import OutputKind

SHOTS = Path("/tmp/shots")


def _shot(w, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(SHOTS / name))


def test_sentiment_sample_word_by_word(qtbot) -> None:
    from inspector import io, resources
    from inspector.app.outputs import describe_outputs, output_over_time
    from inspector.app.text import find_text_model
    from inspector.io.labels import find_labels
    from inspector.ui.output_over_time import OutputOverTimeView

    path = resources.samples_dir() / "sentiment.h5"
    mf = io.load(path)
    tm = find_text_model(mf, path)
    assert tm is not None
    (kind,) = describe_outputs(tm.network, labels=find_labels(path))
    from inspector.app.text import Padding

    enc, x = tm.encode("a wonderful film , but the ending is ridiculous and boring", Padding("pre", 14))
    s = output_over_time(tm.network, x, mf.semantics)
    w = OutputOverTimeView()
    qtbot.addWidget(w)
    w.resize(720, 320)
    w.set_series(s.steps, s.values, kind, tokens=enc.tokens, padding=enc.padding)
    w.set_step(9)
    w.show()
    qtbot.waitExposed(w)
    (curve,) = w.curves.values()
    xd, yd = curve.getData()
    assert np.array_equal(yd, s.values[:, 0]) and np.array_equal(xd, s.steps)
    assert w.plot.getPlotItem().getAxis("left").labelText == "P(positive)"
    lo, hi = w.plot.getPlotItem().viewRange()[1]
    assert lo <= 0.0 and hi >= 1.0
    assert "P(positive)" in w.title.text()
    _shot(w, "output_over_time_sentiment.png")


def test_regression_with_target_and_signed_axis(qtbot) -> None:
    from inspector.ui.output_over_time import OutputOverTimeView

    kind = OutputKind("dense", "values", ("output 0",), "value", 1, "linear")
    steps = np.arange(30)
    values = np.sin(steps / 4.0)[:, None].astype(np.float32) - 0.3
    target = np.sin((steps + 1) / 4.0).astype(np.float32)
    w = OutputOverTimeView()
    qtbot.addWidget(w)
    w.resize(720, 320)
    w.set_series(steps, values, kind, target=target)
    w.show()
    qtbot.waitExposed(w)
    assert w.target_curve is not None
    assert np.allclose(w.target_curve.getData()[1], target)
    lo, _ = w.plot.getPlotItem().viewRange()[1]
    assert lo < -1.0  # signed values: not clipped to a probability axis
    _shot(w, "output_over_time_regression.png")


def test_many_classes_draw_the_top_ones(qtbot) -> None:
    from inspector.ui.output_over_time import MAX_CURVES, OutputOverTimeView

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(20), size=10)
    p[:, 7] += 2.0
    p /= p.sum(axis=1, keepdims=True)
    kind = OutputKind(
        "out", "class_probabilities", tuple(f"c{k}" for k in range(20)), "probability", 20, "softmax"
    )
    w = OutputOverTimeView()
    qtbot.addWidget(w)
    w.set_series(np.arange(10), p, kind)
    assert len(w.curves) == MAX_CURVES and 7 in w.curves and "(top 6)" in w.title.text()
    w.clear()
    assert not w.curves and w.kind is None


@pytest.mark.parametrize("n", [1, 200])
def test_tick_labels_are_thinned(qtbot, n: int) -> None:
    from inspector.ui.output_over_time import MAX_TICKS, OutputOverTimeView

    kind = OutputKind("o", "values", ("v",), "value", 1)
    w = OutputOverTimeView()
    qtbot.addWidget(w)
    w.set_series(np.arange(n), np.zeros((n, 1)), kind, tokens=[f"word{k}" for k in range(n)])
    ticks = w.plot.getPlotItem().getAxis("bottom")._tickLevels
    assert ticks is not None and 1 <= len(ticks[0]) <= MAX_TICKS
