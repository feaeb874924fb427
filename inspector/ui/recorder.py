"""Record stepping through a sequence: a widget (one panel, the Stepper page, the window) to GIF / MP4 / PNGs.

`record(widget, set_step, steps, output, fps=...)` calls `set_step(t)` for every t of `steps`, lets
Qt repaint, grabs the widget and writes the frames:

* ``*.gif``  with imageio (the optional `anim` extra; Pillow writes the GIF),
* ``*.mp4``  with imageio and imageio-ffmpeg (refused with a clear message when that is missing),
* a folder of numbered PNG frames (``frame_0000.png`` ...) when OUTPUT has no extension, or when a
  GIF was asked for and imageio is not installed (the result's `note` says so).

Signals: none.  `RecordDialog` is the GUI: step range, frames per second, what to record, the file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QComboBox, QSpinBox, QWidget

from inspector.ui.figure_export import SaveDialog

MAX_FRAMES = 2000


class RecorderError(ValueError):
    """A recording cannot be made (one line)."""


@dataclass(frozen=True)
class RecordResult:
    """What was written: `path` (file or frame folder), `frames` (count), `kind` ('gif' | 'mp4' |
    'png-frames') and a `note` for the user ('' unless something was substituted)."""

    path: Path
    frames: int
    kind: str
    note: str = ""


def parse_steps(text: str, n_steps: int) -> range:
    """'A:B' -> the steps A..B, both included ('A:' to the end, ':B' from 0, 'A' alone one step).

    Raises RecorderError for a malformed range or one outside 0..n_steps-1.
    """
    parts = text.split(":")
    try:
        if len(parts) == 1:
            a = b = int(parts[0])
        elif len(parts) == 2:
            a = int(parts[0]) if parts[0].strip() else 0
            b = int(parts[1]) if parts[1].strip() else n_steps - 1
        else:
            raise ValueError
    except ValueError:
        raise RecorderError(f"--steps {text!r}: expected A:B, e.g. 0:{max(0, n_steps - 1)}") from None
    if not (0 <= a <= b < n_steps):
        raise RecorderError(f"--steps {text} is outside 0..{n_steps - 1} (or A > B)")
    if b - a + 1 > MAX_FRAMES:
        raise RecorderError(f"--steps {text}: at most {MAX_FRAMES} frames")
    return range(a, b + 1)


def ffmpeg_available() -> bool:
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def _imageio() -> Any | None:
    try:
        import imageio.v3 as iio
    except ImportError:
        return None
    return iio


def grab_frames(
    widget: QWidget, set_step: Callable[[int], Any], steps: Sequence[int], *, max_width: int | None = None
) -> list[QImage]:
    """Step through `steps` and grab `widget` after each (repainted first); all frames one size."""
    app = QApplication.instance()
    frames: list[QImage] = []
    for t in steps:
        set_step(int(t))
        if app is not None:
            for _ in range(2):  # the step's signal handlers queue repaints; let them run
                app.processEvents()
        image = widget.grab().toImage()
        if max_width is not None and image.width() > max_width:
            image = image.scaledToWidth(max_width, Qt.TransformationMode.SmoothTransformation)
        frames.append(image.convertToFormat(QImage.Format.Format_RGB888))
    return frames


def _to_array(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    buf = np.frombuffer(rgb.constBits(), np.uint8, rgb.bytesPerLine() * rgb.height())
    rows = buf.reshape(rgb.height(), rgb.bytesPerLine())[:, : rgb.width() * 3]
    return rows.reshape(rgb.height(), rgb.width(), 3).copy()  # copied while `rgb` owns the buffer


def _write_pngs(frames: Sequence[QImage], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, image in enumerate(frames):
        if not image.save(str(folder / f"frame_{n:04d}.png"), "PNG"):
            raise RecorderError(f"{folder}: cannot write frame {n}")


def write_frames(frames: Sequence[QImage], output: str | Path, fps: float) -> RecordResult:
    """Write grabbed frames to OUTPUT (.gif, .mp4, or a folder of PNGs); see the module docstring."""
    out = Path(output)
    if not frames:
        raise RecorderError("no frames to write")
    if not 0.1 <= fps <= 60:
        raise RecorderError(f"--fps {fps} is outside 0.1..60")
    if not out.parent.is_dir():
        raise RecorderError(f"{out}: folder does not exist")
    suffix = out.suffix.lower()
    if suffix not in ("", ".gif", ".mp4"):
        raise RecorderError(f"{out}: record to a .gif, an .mp4 or a folder (a name without extension)")
    iio = _imageio() if suffix else None
    if suffix == ".mp4" and (iio is None or not ffmpeg_available()):
        raise RecorderError(
            f"{out}: MP4 needs the imageio-ffmpeg package, which is not installed "
            "(pip install imageio imageio-ffmpeg); record to a .gif or a folder of PNG frames instead"
        )
    if suffix == ".gif" and iio is None:
        folder = out.with_name(out.stem + "_frames")
        _write_pngs(frames, folder)
        note = (
            f"imageio is not installed: wrote {len(frames)} numbered PNG frames to {folder} instead of a GIF"
        )
        return RecordResult(folder, len(frames), "png-frames", note)
    if not suffix:
        _write_pngs(frames, out)
        return RecordResult(out, len(frames), "png-frames")
    arrays = [_to_array(f) for f in frames]
    try:
        if suffix == ".gif":
            # duration per frame in ms; loop=0 repeats forever (Pillow writes only what changed)
            iio.imwrite(out, arrays, extension=".gif", duration=round(1000 / fps), loop=0)
        else:
            iio.imwrite(out, arrays, extension=".mp4", fps=fps, macro_block_size=1)
    except (OSError, ValueError, RuntimeError) as exc:
        raise RecorderError(f"{out}: cannot write ({' '.join(str(exc).split())[:200]})") from None
    return RecordResult(out, len(frames), suffix[1:])


def record(
    widget: QWidget,
    set_step: Callable[[int], Any],
    steps: Sequence[int],
    output: str | Path,
    fps: float = 4,
    *,
    max_width: int | None = None,
) -> RecordResult:
    """Step through `steps` (e.g. range(3, 11)), grab `widget` each time and write OUTPUT at `fps`."""
    if len(steps) == 0:
        raise RecorderError("the step range is empty")
    return write_frames(grab_frames(widget, set_step, steps, max_width=max_width), output, fps)


class RecordDialog(SaveDialog):
    """Choose what to record (a panel or the whole page), the steps, the frame rate and the file.

    Signals: none (`accept()` records; `result_info` holds the RecordResult).
    """

    def __init__(
        self,
        targets: Mapping[str, QWidget],
        set_step: Callable[[int], Any],
        n_steps: int,
        current: int = 0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Record animation", parent)
        self.targets = dict(targets)
        self.set_step = set_step
        self.result_info: RecordResult | None = None
        self.target = QComboBox()
        self.target.addItems(list(self.targets))
        self.first, self.last, self.fps = QSpinBox(), QSpinBox(), QSpinBox()
        for box in (self.first, self.last):
            box.setRange(0, max(0, n_steps - 1))
        self.first.setValue(0)
        self.last.setValue(max(0, n_steps - 1))
        self.fps.setRange(1, 60)
        self.fps.setValue(4)
        self.fps.setSuffix(" frames/s")
        self._current = current
        kinds = "GIF" + (", MP4" if ffmpeg_available() else "") if _imageio() else "numbered PNG frames"
        for label, widget in (
            ("Record", self.target),
            ("From step", self.first),
            ("To step", self.last),
            ("Speed", self.fps),
        ):
            self.form.addRow(label, widget)
        mp4 = "" if ffmpeg_available() else " MP4 needs imageio-ffmpeg, which is not installed."
        self.finish(f"Writes {kinds}.{mp4}")

    def record_to(self, path: str | Path) -> RecordResult:
        """Record with the dialog's settings to `path`; the view returns to the step it showed before."""
        a, b = sorted((self.first.value(), self.last.value()))
        try:
            self.result_info = record(
                self.targets[self.target.currentText()],
                self.set_step,
                range(a, b + 1),
                path,
                self.fps.value(),
            )
        finally:
            self.set_step(self._current)
        return self.result_info

    def save_to(self, path: str | Path) -> RecordResult:
        return self.record_to(path)

    def default_name(self) -> str:
        return "stepping.gif" if _imageio() else "stepping_frames"

    def filters(self) -> str:
        frames = "Folder of PNG frames (*)"
        return f"GIF (*.gif);;MP4 (*.mp4);;{frames}" if _imageio() else frames
