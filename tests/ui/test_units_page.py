"""The Units page driven offscreen on the classic sample; screenshots in /tmp/shots/units_*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool

from inspector.io import load
from inspector.ui.units_page import UnitsPage
from tests.conftest import REPO

SAMPLES = REPO / "resources" / "samples"
SHOTS = Path("/tmp/shots")


@pytest.fixture(scope="module")
def classic():
    return load(SAMPLES / "classic.keras")


@pytest.fixture
def page(qtbot, classic):
    p = UnitsPage(sync=True)
    qtbot.addWidget(p)
    p.set_model(classic)
    p.set_corpus_text((SAMPLES / "shakespeare.txt").read_text()[:6000])
    return p


def _shot(widget, name: str, size: tuple[int, int]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.resize(*size)
    widget.show()
    widget.grab().save(str(SHOTS / f"units_{name}_{size[0]}x{size[1]}.png"))


def test_run_select_rank_match(qtbot, page):
    page.run()
    res = page.result
    assert res is not None and list(res.layers) == ["lstm"]
    assert set(page._plots) == {"i", "f", "o"}
    with qtbot.waitSignal(page.unit_selected) as sig:
        page.select_unit("lstm", 17)
    assert sig.args == ["lstm", 17]
    html = page.contexts.toHtml()
    assert "unit 17" in html and "background" in html
    start, stop = page.text_view.shown_range
    assert start == 0 and stop > 200
    # the text view's colours come from the exact values of unit 17
    vals = page._values("lstm", 17, 0, 50)
    np.testing.assert_allclose(
        vals, res.values(page.model_file.network, page.model_file.semantics, "lstm", 0, 50)[:, 17]
    )
    # a dot click selects the unit
    pts = page._plots["f"].listDataItems()[1].points()
    page._on_dot_clicked(None, [pts[5]])
    assert page.selected == ("lstm", 5)
    page.regex_edit.setText(r"\n")
    page.rank()
    assert page.result.hypotheses == [r"\n"]
    first = page.ranking.item(1)
    layer, unit, r = first.data(0x0100)
    assert abs(r) == pytest.approx(max(abs(x) for _, x in page.result.layers["lstm"].ranking(0)))
    page._on_rank_clicked(first)
    assert page.selected == ("lstm", unit)
    with qtbot.waitSignal(page.open_in_stepper) as sig:
        page._on_rank_double_clicked(first)
    assert sig.args[:2] == ["lstm", unit] and 0 <= sig.args[2] < 6000
    _shot(page, "hypothesis", (1280, 800))
    _shot(page, "hypothesis", (1024, 700))
    page.match_selection((40, 44))
    assert page.ranking.count() >= 1 and "on (>" in page.ranking.item(0).text()
    page.text_view.scroll_to(3000)
    assert page.text_view.shown_range[0] <= 3000 < page.text_view.shown_range[1]


def test_background_run_progress_and_cancel(qtbot, classic):
    p = UnitsPage()
    qtbot.addWidget(p)
    p.set_model(classic)
    p.set_corpus_text((SAMPLES / "shakespeare.txt").read_text()[:3000])
    seen = []
    p.runner.progress.connect(seen.append)
    with qtbot.waitSignal(p.runner.finished, timeout=60_000):
        p.run()
    assert p.result is not None and seen and seen[-1] == (3000, 3000)
    assert p.run_button.isEnabled()
    p.set_corpus_text((SAMPLES / "shakespeare.txt").read_text()[:200_000])
    with qtbot.waitSignal(p.runner.failed, timeout=60_000):
        p.run()
        p.cancel()
    QThreadPool.globalInstance().waitForDone()
    assert "Cancelled" in p.status.text()
    _shot(p, "empty", (1024, 700))


def test_without_vocabulary_run_is_disabled(qtbot, classic, tmp_path):
    p = UnitsPage(sync=True)
    qtbot.addWidget(p)
    p.set_model(classic, encoder=None)
    p.set_encoder(None)
    p.set_corpus_text("hello")
    assert not p.run_button.isEnabled()
    p.run()
    assert "vocabulary" in p.status.text()
