"""The real window at the sizes people have (1024x700, 1280x800) on very different real files.

Every page (and every tab inside a page) is shown with an input the model runs on; the test fails
when a visible label, button, check box, radio button, tool button, group-box title or tab text needs
more width than it has (unless it word-wraps or elides with the full text in its tooltip), when a
tree cell is cut without a tooltip, or when a widget is cut by its parent without a scroll bar.
Screenshots of each page go to /tmp/shots/sizes_<file>_<size>_<page>.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QGroupBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStyle,
    QTabBar,
    QTabWidget,
    QToolButton,
    QTreeView,
    QWidget,
)

from inspector.app.inputs import random_inputs
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Session
from tests.conftest import CORPUS

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
SHOTS = Path("/tmp/shots")
SIZES = [(1024, 700), (1280, 800)]
FILES = [
    SAMPLES / "classic.h5",
    SAMPLES / "explainer.h5",
    SAMPLES / "sentiment.h5",
    CORPUS / "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5",
    CORPUS / "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5",
    CORPUS / "k3.9.2_tekuv_gru.keras",
    CORPUS / "k2.2.4_crnneeg_4x_bilstm_timedist_saveweights.h5",
    CORPUS / "k2.1.2_medaka_stacked_bigru_full_extra_root_datasets.hdf5",
]
# every page of the window is visited (tabs inside a page too)
PAGES = ("Weights", "Stepper", "Units", "Health", "Cell", "What if", "Compare")
SLACK = 2  # px of rounding between font metrics and layout

# Failures in widgets owned by other helpers, fixed by the lead after merging: (line regex, reason).
# Each is an xfail (strict=False) only while every failure of a case matches one of these.
KNOWN: list[tuple[str, str]] = []  # none left: every case passes at both sizes


def _full_text(w: QWidget) -> str:
    if isinstance(w, QLabel):
        return w.text()
    if isinstance(w, QAbstractButton):
        return w.text()
    if isinstance(w, QGroupBox):
        return w.title()
    return ""


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).replace("&nbsp;", " ").replace("&amp;", "&")


def _elides_with_tooltip(w: QWidget) -> bool:
    full = getattr(w, "full_text", None)
    return callable(full) and (w.toolTip() == full() or not full())


def _needed_width(w: QWidget) -> int:
    """Width the widget's text needs (plus its indicator/icon and margins); 0 when not checked."""
    fm = w.fontMetrics()
    style = w.style()
    if isinstance(w, QLabel):
        if w.wordWrap() or w.pixmap() is not None and not w.pixmap().isNull() or _elides_with_tooltip(w):
            return 0
        if not w.text().strip():
            return 0
        return (
            w.minimumSizeHint().width()
            if w.textFormat() != Qt.TextFormat.PlainText
            else (
                max(fm.horizontalAdvance(line) for line in w.text().split("\n"))
                + 2 * w.margin()
                + 2 * w.frameWidth()
                + (w.indent() if w.indent() > 0 else 0)
            )
        )
    if isinstance(w, QAbstractButton):
        text = w.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        if not text or _elides_with_tooltip(w):
            return 0
        icon = w.iconSize().width() + 4 if not w.icon().isNull() else 0
        if isinstance(w, QCheckBox | QRadioButton):
            pm = QStyle.PixelMetric
            ind = style.pixelMetric(
                pm.PM_IndicatorWidth if isinstance(w, QCheckBox) else pm.PM_ExclusiveIndicatorWidth
            )
            return fm.horizontalAdvance(text) + ind + style.pixelMetric(pm.PM_CheckBoxLabelSpacing) + icon
        if isinstance(w, QToolButton):
            if w.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly and not w.icon().isNull():
                return 0
            return fm.horizontalAdvance(text) + icon + 4
        if isinstance(w, QPushButton):
            return (
                fm.horizontalAdvance(text) + icon + 2 * style.pixelMetric(QStyle.PixelMetric.PM_ButtonMargin)
            )
    if isinstance(w, QGroupBox) and w.title():
        return fm.horizontalAdvance(w.title()) + (20 if w.isCheckable() else 8)
    return 0


def _overflow(w: QWidget) -> str:
    """Content wider than a scroll area or graphics view shows, with no scroll bar to reach it."""
    if isinstance(w, pg.GraphicsView) and hasattr(w, "ci"):
        inner = int(w.ci.size().width())
        if inner > w.viewport().width() + SLACK and not _scrolls(w):
            return f"graphics {type(w).__name__}: content {inner} px wide in a {w.viewport().width()} px view"
    if isinstance(w, QScrollArea) and w.widget() is not None and w.widget().isVisible():
        inner = w.widget().width()
        if inner > w.viewport().width() + SLACK and not w.horizontalScrollBar().isVisible():
            return f"scroll area: content {inner} px wide in {w.viewport().width()} px, no scroll bar"
    return ""


def _scrolls(w: QWidget) -> bool:
    """True when an ancestor scroll area shows a scroll bar (cut content can be reached)."""
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QAbstractScrollArea) and (
            p.horizontalScrollBar().isVisible() or p.verticalScrollBar().isVisible()
        ):
            return True
        p = p.parentWidget()
    return False


def problems(root: QWidget) -> list[str]:
    """One line per clipped text or cut widget among the widgets visible in `root`."""
    out: list[str] = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0 or w.window() is not root.window():
            continue
        if isinstance(w, QLabel | QAbstractButton | QGroupBox):
            need = _needed_width(w)
            if need and need > w.width() + SLACK:
                out.append(
                    f"{type(w).__name__} {_plain(_full_text(w))[:70]!r}: needs {need} px, has {w.width()}"
                )
                continue
            visible = w.visibleRegion().boundingRect()
            if need and not visible.isEmpty() and visible.width() + SLACK < min(need, w.width()):
                if not _scrolls(w):
                    out.append(
                        f"{type(w).__name__} {_plain(_full_text(w))[:70]!r}: cut by its parent "
                        f"({visible.width()} of {min(need, w.width())} px shown, no scroll bar)"
                    )
        if isinstance(w, QTabBar):
            for i in range(w.count()):
                need = w.fontMetrics().horizontalAdvance(w.tabText(i)) + 8
                if w.tabRect(i).width() < need and w.tabToolTip(i) != w.tabText(i):
                    out.append(f"tab {w.tabText(i)!r}: needs {need} px, has {w.tabRect(i).width()}")
        if isinstance(w, QTreeView):
            out.extend(_tree_problems(w))
        cut = _overflow(w)
        if cut:
            out.append(cut)
    return out


def _tree_problems(tree: QTreeView) -> list[str]:
    model = tree.model()
    if model is None:
        return []
    out: list[str] = []
    fm = tree.fontMetrics()
    viewport = tree.viewport().rect()

    def walk(parent) -> None:  # noqa: ANN001 - QModelIndex
        for row in range(model.rowCount(parent)):
            for col in range(model.columnCount(parent)):
                idx = model.index(row, col, parent)
                rect = tree.visualRect(idx)
                if rect.isEmpty() or not viewport.intersects(rect):
                    continue
                text = str(idx.data(Qt.ItemDataRole.DisplayRole) or "")
                need = fm.horizontalAdvance(text) + 8
                tip = idx.data(Qt.ItemDataRole.ToolTipRole)
                if text and need > rect.width() + SLACK and not (tip and text in str(tip)):
                    out.append(f"tree cell {text[:60]!r}: needs {need} px, has {rect.width()}, no tooltip")
            first = model.index(row, 0, parent)
            if tree.isExpanded(first):
                walk(first)

    from PySide6.QtCore import QModelIndex

    walk(QModelIndex())
    return out


def _wait(qtbot, session) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: not session.busy, timeout=60000)
    QApplication.processEvents()


def _give_input(qtbot, session) -> None:  # noqa: ANN001
    """The input the app chose, or a seeded random one the model runs on."""
    if session.network is None or session.stepper is not None:
        return
    arrays, _kinds = random_inputs(session.network, session.vocabulary, 0, 24)
    session.set_input([a[None] for a in arrays] if len(arrays) > 1 else arrays[0][None])
    _wait(qtbot, session)


def _pages(win: MainWindow):  # noqa: ANN202 - a generator of (name, ) after showing each tab
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
        QApplication.processEvents()
        name = win.tabs.tabText(i)
        page = win.tabs.widget(i)
        inner = [t for t in page.findChildren(QTabWidget) if t.isVisible()]
        if not inner:
            yield name
            continue
        for tabs in inner[:1]:
            for j in range(tabs.count()):
                tabs.setCurrentIndex(j)
                QApplication.processEvents()
                yield f"{name}-{tabs.tabText(j)}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:40])
def test_every_page_fits(qtbot, ui_settings, path: Path, size: tuple[int, int]) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not present")
    session = Session()
    win = MainWindow(session, settings=QSettings())
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(session.file_loaded, timeout=60000):
        session.open(str(path))
    _wait(qtbot, session)
    _give_input(qtbot, session)
    SHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    for page in _pages(win):
        win.resize(*size)
        qtbot.wait(30)
        QApplication.processEvents()
        assert (win.width(), win.height()) == size, f"{page}: the window grew to {win.width()}x{win.height()}"
        shot = SHOTS / f"sizes_{path.stem[:30]}_{size[0]}x{size[1]}_{re.sub(r'[^A-Za-z0-9]+', '_', page)}.png"
        win.grab().save(str(shot))
        lines = problems(win)
        area = win.tabs.currentWidget()
        if isinstance(area, QScrollArea) and area.horizontalScrollBar().isVisible():
            lines.append(
                f"page {page}: {area.widget().minimumSizeHint().width()} px wide at least, "
                f"{area.viewport().width()} px shown (scrolls sideways)"
            )
        if lines:
            found[page] = lines
    QThreadPool.globalInstance().waitForDone()
    seen = {win.tabs.tabText(i) for i in range(win.tabs.count())}
    assert set(PAGES) <= seen, f"pages not checked: {set(PAGES) - seen}"
    if found:
        report = "\n".join(f"[{page}] {line}" for page, lines in found.items() for line in lines)
        unknown = [
            x for lines in found.values() for x in lines if not any(re.search(rx, x) for rx, _ in KNOWN)
        ]
        if not unknown:
            pytest.xfail("only known cases on other helpers' pages:\n" + report)
        pytest.fail(f"clipped at {size[0]}x{size[1]}:\n" + report)
