"""Figures out of the app: any plot, heatmap or widget to PNG (chosen size and DPI) or SVG, or the clipboard.

Targets are of two kinds.  A pyqtgraph view (`pg.GraphicsView`: PlotWidget, GraphicsLayoutWidget),
its scene, or one of its items goes through pyqtgraph's own exporters (`ImageExporter`, `SVGExporter`):
the scene is re-rendered at the requested size, so lines and text stay sharp, and heatmap cells are
drawn with nearest-neighbour sampling (no SmoothPixmapTransform), so neighbouring cells never blend.
Any other QWidget (the cell diagram, a whole page, the window) is re-rendered through
`QWidget.render` onto a scaled painter for PNG and onto a `QSvgGenerator` for SVG.

Signals: none.  `ExportDialog` is the GUI for one target (format, size, DPI, file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QPoint, QRect, QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter, QRegion
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

MAX_SIDE = 16384  # pixels: larger images are refused (a typo must not allocate gigabytes)
INCH_M = 0.0254


class FigureExportError(ValueError):
    """A figure cannot be exported (one line, names the file)."""


def _pg_item(target: Any) -> Any | None:
    """What pyqtgraph's exporters take for `target` (a scene or graphics item), or None for plain widgets."""
    if isinstance(target, pg.GraphicsView):
        return target.scene()
    if isinstance(target, (pg.GraphicsScene, pg.GraphicsItem)) or hasattr(target, "sceneBoundingRect"):
        return target
    return None


def natural_size(target: Any) -> QSize:
    """The size the target has on screen, in pixels."""
    item = _pg_item(target)
    if item is None:
        return QSize(target.width(), target.height())
    rect = pg_exporters.ImageExporter(item).getTargetRect()
    return QSize(max(1, round(rect.width())), max(1, round(rect.height())))


def _size(target: Any, width: int | None, height: int | None) -> tuple[int, int]:
    """Requested pixels; a missing side follows the target's aspect ratio."""
    nat = natural_size(target)
    if width is None and height is None:
        width, height = nat.width(), nat.height()
    elif height is None:
        height = round(width * nat.height() / max(1, nat.width()))
    elif width is None:
        width = round(height * nat.width() / max(1, nat.height()))
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise FigureExportError(f"image size {width}x{height} is outside 1..{MAX_SIDE} pixels")
    return int(width), int(height)


def _background(target: Any) -> QColor:
    view = target if isinstance(target, QWidget) else None
    if view is None:
        item = _pg_item(target)
        scene = item if isinstance(item, pg.GraphicsScene) else (item.scene() if item is not None else None)
        view = scene.views()[0] if scene is not None and scene.views() else None
    if isinstance(view, pg.GraphicsView):
        return view.backgroundBrush().color()
    return view.palette().color(view.backgroundRole()) if view is not None else QColor("white")


def render_image(
    target: Any, *, width: int | None = None, height: int | None = None, dpi: float | None = None
) -> QImage:
    """The target drawn into a new image of width x height pixels (default: its size on screen).

    With both sides given and another aspect ratio than the target's, the figure is scaled uniformly
    and centred on its background.  `dpi` is stored in the image (PNG pHYs), it does not resize.
    """
    w, h = _size(target, width, height)
    item = _pg_item(target)
    if item is not None:
        exporter = pg_exporters.ImageExporter(item)
        params = exporter.parameters()
        # set both sides without pyqtgraph's aspect-ratio coupling of the two parameters
        params.param("width").setValue(w, blockSignal=exporter.widthChanged)
        params.param("height").setValue(h, blockSignal=exporter.heightChanged)
        params["background"] = _background(target)
        image = exporter.export(toBytes=True)
        if not isinstance(image, QImage):  # pragma: no cover - pyqtgraph API change
            raise FigureExportError("pyqtgraph's ImageExporter returned no image")
    else:
        image = QImage(w, h, QImage.Format.Format_ARGB32)
        image.fill(_background(target))
        painter = QPainter(image)
        scale = min(w / max(1, target.width()), h / max(1, target.height()))
        painter.translate((w - target.width() * scale) / 2, (h - target.height() * scale) / 2)
        painter.scale(scale, scale)
        try:
            _render_widget(target, painter)
        finally:
            painter.end()
    if dpi is not None:
        if not 1 <= dpi <= 10000:
            raise FigureExportError(f"DPI {dpi} is outside 1..10000")
        image.setDotsPerMeterX(round(dpi / INCH_M))
        image.setDotsPerMeterY(round(dpi / INCH_M))
    return image


def _render_widget(widget: QWidget, painter: QPainter) -> None:
    """QWidget.render with its children (QGraphicsView overrides render() with a scene signature)."""
    if isinstance(widget, pg.GraphicsView):
        widget.scene().prepareForPaint()
    flags = QWidget.RenderFlag.DrawChildren | QWidget.RenderFlag.DrawWindowBackground
    QWidget.render(widget, painter, QPoint(), QRegion(), flags)


def export_png(
    target: Any,
    path: str | Path,
    *,
    width: int | None = None,
    height: int | None = None,
    dpi: float | None = 96,
) -> Path:
    """Write `target` as a PNG of width x height pixels at `dpi`; returns the path."""
    out = Path(path)
    if not out.parent.is_dir():
        raise FigureExportError(f"{out}: folder does not exist")
    if not render_image(target, width=width, height=height, dpi=dpi).save(str(out), "PNG"):
        raise FigureExportError(f"{out}: cannot write the PNG")
    return out


def export_svg(target: Any, path: str | Path, *, title: str = "") -> Path:
    """Write `target` as SVG (vector lines and text; heatmaps as embedded images); returns the path."""
    out = Path(path)
    if not out.parent.is_dir():
        raise FigureExportError(f"{out}: folder does not exist")
    item = _pg_item(target)
    done = False
    if item is not None:
        exporter = pg_exporters.SVGExporter(item)
        exporter.parameters()["background"] = _background(target)
        try:
            exporter.export(fileName=str(out))
            done = True
        except ValueError:
            # pyqtgraph 0.14's SVG clean-up cannot parse the path data Qt >= 6.8 writes for curves
            # ('x,y' pairs expected); fall back to Qt's own SVG painter, which draws the same scene.
            done = False
    if not done:
        _render_svg(target, item, out, title)
    if not out.is_file() or out.stat().st_size == 0:
        raise FigureExportError(f"{out}: cannot write the SVG")
    return out


def _render_svg(target: Any, item: Any, out: Path, title: str) -> None:
    """SVG through QSvgGenerator: a widget via render(), a pyqtgraph item via its scene."""
    from PySide6.QtSvg import QSvgGenerator

    if isinstance(target, QWidget):
        size = target.size()
    else:
        rect = item.sceneBoundingRect() if not isinstance(item, pg.GraphicsScene) else item.sceneRect()
        size = QSize(max(1, round(rect.width())), max(1, round(rect.height())))
    gen = QSvgGenerator()
    gen.setFileName(str(out))
    gen.setSize(size)
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setTitle(
        title or (target.windowTitle() if isinstance(target, QWidget) else "") or type(target).__name__
    )
    painter = QPainter(gen)
    painter.fillRect(QRectF(0, 0, size.width(), size.height()), _background(target))
    try:
        if isinstance(target, QWidget):
            _render_widget(target, painter)
        else:
            source = item.sceneBoundingRect() if not isinstance(item, pg.GraphicsScene) else item.sceneRect()
            scene = item if isinstance(item, pg.GraphicsScene) else item.scene()
            scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
    finally:
        painter.end()


def export_figure(target: Any, path: str | Path, **kwargs: Any) -> Path:
    """PNG or SVG by the file's extension (.png, .svg)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".svg":
        return export_svg(target, path)
    if suffix == ".png":
        return export_png(target, path, **kwargs)
    raise FigureExportError(f"{path}: choose a .png or .svg file name")


def copy_image(target: Any, *, width: int | None = None, height: int | None = None) -> QImage:
    """Put the target's image on the clipboard (and return it)."""
    image = render_image(target, width=width, height=height)
    QApplication.clipboard().setImage(image)
    return image


def save_window(window: QWidget, path: str | Path, dpi: float | None = 96) -> Path:
    """The whole window exactly as on screen (grab()), as a PNG."""
    out = Path(path)
    image = window.grab().toImage()
    if dpi is not None:
        image.setDotsPerMeterX(round(dpi / INCH_M))
        image.setDotsPerMeterY(round(dpi / INCH_M))
    if not out.parent.is_dir() or not image.save(str(out), "PNG"):
        raise FigureExportError(f"{out}: cannot write the PNG")
    return out


class SaveDialog(QDialog):
    """A form of settings with Save / Cancel: Save asks for a file and calls `save_to(path)`.

    Subclasses fill `self.form`, call `finish(note)` and implement `save_to`, `default_name`, `filters`.
    A ValueError from `save_to` (the export and recorder errors are ValueErrors) is shown, the dialog stays.
    Signals: none.
    """

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout(self)

    def finish(self, note: str) -> None:
        label = QLabel(note)
        label.setWordWrap(True)
        self.form.addRow(label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._choose_file)
        buttons.rejected.connect(self.reject)
        self.form.addRow(buttons)

    def save_to(self, path: str | Path) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def default_name(self) -> str:
        return "figure.png"

    def filters(self) -> str:
        return "All files (*)"

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.default_name(), self.filters())
        if not path:
            return
        try:
            self.save_to(path)
        except ValueError as exc:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(self, self.windowTitle(), str(exc))
            return
        self.accept()


class ExportDialog(SaveDialog):
    """Export one figure: format, pixel size (aspect kept unless both are edited) and DPI, then a file.

    Signals: none (`accept()` writes the file; `last_path` says where).
    """

    def __init__(self, target: Any, parent: QWidget | None = None, name: str = "figure") -> None:
        super().__init__("Export figure", parent)
        self.target = target
        self.name = name
        self.last_path: Path | None = None
        nat = natural_size(target)
        self.format = QComboBox()
        self.format.addItems(["PNG", "SVG"])
        self.width_box, self.height_box, self.dpi_box = QSpinBox(), QSpinBox(), QSpinBox()
        for box, value in ((self.width_box, nat.width()), (self.height_box, nat.height())):
            box.setRange(1, MAX_SIDE)
            box.setValue(value)
            box.setSuffix(" px")
        self.dpi_box.setRange(30, 1200)
        self.dpi_box.setValue(96)
        self._aspect = nat.height() / max(1, nat.width())
        self.width_box.valueChanged.connect(self._on_width)
        self.format.currentTextChanged.connect(self._on_format)
        for label, widget in (
            ("Format", self.format),
            ("Width", self.width_box),
            ("Height", self.height_box),
            ("DPI", self.dpi_box),
        ):
            self.form.addRow(label, widget)
        self.finish("Heatmap cells are drawn sharp (no smoothing) at any size.")

    def _on_width(self, w: int) -> None:
        self.height_box.setValue(max(1, round(w * self._aspect)))

    def _on_format(self, fmt: str) -> None:
        for box in (self.width_box, self.height_box, self.dpi_box):
            box.setEnabled(fmt == "PNG")  # an SVG has the figure's own size and no resolution

    def export_to(self, path: str | Path) -> Path:
        """Write the figure with the dialog's settings to `path` (extension from the format)."""
        suffix = "." + self.format.currentText().lower()
        out = Path(path).with_suffix(suffix)
        if suffix == ".svg":
            self.last_path = export_svg(self.target, out)
        else:
            self.last_path = export_png(
                self.target,
                out,
                width=self.width_box.value(),
                height=self.height_box.value(),
                dpi=self.dpi_box.value(),
            )
        return self.last_path

    def save_to(self, path: str | Path) -> Path:
        return self.export_to(path)

    def default_name(self) -> str:
        return f"{self.name}.{self.format.currentText().lower()}"

    def filters(self) -> str:
        fmt = self.format.currentText()
        return f"{fmt} (*.{fmt.lower()})"


__all__ = [
    "ExportDialog",
    "SaveDialog",
    "FigureExportError",
    "copy_image",
    "export_figure",
    "export_png",
    "export_svg",
    "natural_size",
    "render_image",
    "save_window",
]
