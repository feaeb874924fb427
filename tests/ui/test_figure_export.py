"""Figure export: PNG size and DPI honoured, heatmap cells crisp (never blended), SVG is XML with the plot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage

from inspector.ui.figure_export import (
    ExportDialog,
    FigureExportError,
    copy_image,
    export_figure,
    export_png,
    export_svg,
    render_image,
    save_window,
)

# 3 x 4 cells of clearly different colours
CELLS = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]], dtype=np.float32)
LUT = np.array([[230, 40, 40], [40, 160, 60], [40, 80, 220], [240, 200, 30]], dtype=np.uint8)


@pytest.fixture
def heatmap(qtbot):
    view = pg.PlotWidget(background="w")
    qtbot.addWidget(view)
    img = pg.ImageItem(CELLS, axisOrder="row-major", levels=(0, 3), lut=LUT)
    view.addItem(img)
    view.hideAxis("left")
    view.hideAxis("bottom")
    view.getPlotItem().getViewBox().setDefaultPadding(0)
    view.getPlotItem().getViewBox().invertY(True)
    view.resize(240, 180)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.getPlotItem().getViewBox().viewRange()[0] == [0.0, 4.0])
    return view, img


def _rgb(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(rgb.constBits(), np.uint8, rgb.bytesPerLine() * rgb.height())
    rows = arr.reshape(rgb.height(), rgb.bytesPerLine())[:, : rgb.width() * 3]
    return rows.reshape(rgb.height(), rgb.width(), 3).copy()  # copied while `rgb` still owns the buffer


def test_png_size_and_dpi(heatmap, tmp_path: Path) -> None:
    view, _ = heatmap
    out = export_png(view, tmp_path / "a.png", width=1200, height=900, dpi=300)
    back = QImage(str(out))
    assert (back.width(), back.height()) == (1200, 900)
    assert back.dotsPerMeterX() == pytest.approx(300 / 0.0254, abs=1)
    # one side given: the other follows the aspect ratio on screen
    img = render_image(view, width=480)
    assert img.width() == 480 and img.height() == pytest.approx(480 * view.height() / view.width(), abs=1)
    with pytest.raises(FigureExportError):
        render_image(view, width=100_000)
    with pytest.raises(FigureExportError, match="png or .svg"):
        export_figure(view, tmp_path / "a.bmp")


def _runs(line: np.ndarray, palette: np.ndarray) -> list[int]:
    """Palette index of each pixel run along a line of pixels; -1 for a pixel matching no cell colour."""
    dist = np.abs(line[:, None, :] - palette[None, :, :]).sum(axis=2)
    idx = np.where(dist.min(axis=1) <= 3, dist.argmin(axis=1), -1)
    return [int(v) for k, v in enumerate(idx) if k == 0 or v != idx[k - 1]]


def test_heatmap_cells_are_crisp_when_upscaled(heatmap) -> None:
    view, _ = heatmap
    image = render_image(view, width=1920, height=1440)  # 8x the view
    rgb = _rgb(image).astype(int)
    palette = LUT.astype(int)
    margin = 16  # the view's 1-px frame, scaled
    h, w = rgb.shape[:2]
    for r in range(3):
        y = int(margin + (r + 0.5) * (h - 2 * margin) / 3)
        # every pixel across the row, borders included, is exactly one of the cell colours: no blending
        assert _runs(rgb[y, margin:-margin], palette) == [int(v) for v in CELLS[r]]
    for c in range(4):
        x = int(margin + (c + 0.5) * (w - 2 * margin) / 4)
        assert _runs(rgb[margin:-margin, x], palette) == [int(v) for v in CELLS[:, c]]


def test_svg_is_xml_with_the_plot(heatmap, tmp_path: Path) -> None:
    view, _ = heatmap
    view.getPlotItem().plot([0, 1, 2, 3], [0, 1, 2, 3], pen="k")
    out = export_svg(view, tmp_path / "a.svg")
    root = ET.parse(out).getroot()
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    assert root.tag.endswith("svg") and "image" in tags and ("path" in tags or "polyline" in tags)


def test_plain_widget_png_svg_and_clipboard(qtbot, tmp_path: Path) -> None:
    from inspector.ui.cell_diagram import CellDiagram

    w = CellDiagram()
    w.set_state(None, "hello projector")
    qtbot.addWidget(w)
    w.resize(550, 350)
    w.show()
    qtbot.waitExposed(w)
    png = QImage(str(export_png(w, tmp_path / "d.png", width=2200, dpi=200)))
    assert (png.width(), png.height()) == (2200, 1400)
    # the text was re-drawn at 4x, not upscaled: dark text pixels exist and are sharp-edged
    rgb = _rgb(png)
    assert (rgb.sum(axis=2) < 300).sum() > 200
    svg = ET.parse(export_svg(w, tmp_path / "d.svg")).getroot()
    assert "hello projector" in "".join(svg.itertext())
    copied = copy_image(w)
    from PySide6.QtWidgets import QApplication

    clip = QApplication.clipboard().image()
    assert clip.width() == copied.width() == 550


def test_window_grab_and_dialog(qtbot, heatmap, tmp_path: Path) -> None:
    view, _ = heatmap
    out = save_window(view, tmp_path / "win.png")
    assert QImage(str(out)).width() == view.grab().width()
    dlg = ExportDialog(view)
    qtbot.addWidget(dlg)
    dlg.width_box.setValue(1000)
    assert dlg.height_box.value() == round(1000 * view.height() / view.width())
    dlg.dpi_box.setValue(150)
    png = QImage(str(dlg.export_to(tmp_path / "fig")))
    assert png.width() == 1000 and png.dotsPerMeterX() == pytest.approx(150 / 0.0254, abs=1)
    dlg.format.setCurrentText("SVG")
    assert not dlg.width_box.isEnabled()
    assert dlg.export_to(tmp_path / "fig").suffix == ".svg"
