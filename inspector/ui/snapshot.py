"""Headless rendering: the main window in the state a person would see, saved as a PNG.

`keras-inspector snapshot MODEL [--text ".." | --input X.npy] [--step T] [--select LAYER/WEIGHT]
--output FILE.png` opens MODEL with a synchronous Session, enters the input, steps to T (default:
the last step) and grabs the window offscreen.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _ensure_app():
    """The running QApplication, or a new one (offscreen when there is no display)."""
    if "QT_QPA_PLATFORM" not in os.environ and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "keras-inspector"])


def _load_input(input_npy: str) -> np.ndarray | list[np.ndarray]:
    """One .npy array, or the arrays of a .npz in order (multi-input models).  Never unpickles."""
    try:
        data = np.load(input_npy, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{input_npy}: cannot read the input array ({' '.join(str(exc).split())})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            return [data[k] for k in data.files]
    return data


def _add_batch_axis(x: np.ndarray, shape: Sequence[int | None] | None) -> np.ndarray:
    """Accept an input without its batch axis (e.g. (T, V) for a (None, T, V) model)."""
    if shape is not None and x.ndim == len(shape) - 1:
        return x[None]
    return x


def render_snapshot(
    model: str,
    text: str | None = None,
    input_npy: str | None = None,
    step: int | None = None,
    select: str | None = None,
    output: str = "snapshot.png",
    size: tuple[int, int] = (1280, 800),
    config: str | None = None,
    steps: str | None = None,
    fps: float = 4.0,
) -> str:
    """Render the main window for `model` to `output` (PNG), offscreen.

    Parameters
    ----------
    model : model or weights file.
    text : input text (models with a vocabulary).   input_npy : .npy (or .npz) input array.
    step : time step to show (default: the last one); clipped to the sequence.
    select : weight display path to show (e.g. 'lstm_1/kernel'); default: the first recurrent kernel.
    output : PNG path.   size : window size (width, height).
    config : architecture JSON for a weights-only file.
    steps : 'A:B' records steps A..B (both included) to `output` (.gif / .mp4 / a folder of PNG frames)
        at `fps` frames per second instead of one PNG (inspector.ui.recorder).

    Returns
    -------
    a note for the user ('' normally; says so when a GIF became PNG frames because imageio is missing).

    Raises
    ------
    inspector.io.errors.ModelFileError : MODEL cannot be read.
    ValueError : bad input, step, selection or output (one line).
    """
    if text is not None and input_npy is not None:
        raise ValueError("give either --text or --input, not both")
    if steps is not None and (step is not None or (text is None and input_npy is None)):
        raise ValueError("--steps needs an input (--text or --input) and no --step")
    app = _ensure_app()
    from PySide6.QtCore import QSettings

    from inspector.io.errors import ModelFileError
    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    session = Session(sync=True)
    failures: list[str] = []
    session.load_failed.connect(failures.append)
    session.input_failed.connect(failures.append)
    # a snapshot must not depend on (or touch) the user's recent-files list
    tmp = tempfile.TemporaryDirectory(prefix="keras-inspector-snapshot-")
    settings = QSettings(os.path.join(tmp.name, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(session, settings=settings)
    window.resize(*size)
    try:
        session.open(model, config)
        if session.model_file is None:
            message = failures[-1] if failures else f"{model}: cannot be opened"
            raise ModelFileError(None, message)
        has_input = text is not None or input_npy is not None
        if has_input:
            if session.network is None:
                raise ValueError(f"{model}: holds weights only; pass --config model.json to run an input")
            if text is not None:
                x = session.encode_text(text)
            else:
                x = _load_input(input_npy)
                shapes = session.network.input_shapes
                if isinstance(x, list):
                    x = [_add_batch_axis(a, shapes[k] if k < len(shapes) else None) for k, a in enumerate(x)]
                else:
                    x = _add_batch_axis(x, shapes[0] if shapes else None)
            failures.clear()
            before = session.stepper  # the stepper panel may already have run a default input
            session.set_input(x)
            if failures or session.stepper is None or session.stepper is before:
                raise ValueError(failures[-1] if failures else "the input cannot be run")
            last = session.n_steps - 1
            if step is not None and not -session.n_steps <= step <= last:
                raise ValueError(f"--step {step} is outside 0..{last}")
            target = last if step is None else (step if step >= 0 else session.n_steps + step)
            session.set_step(target)
        elif step is not None:
            raise ValueError("--step needs an input (--text or --input)")
        if select:
            if session.find_weight(select) is None:
                raise ValueError(f"--select {select}: no such weight (try `keras-inspector info {model}`)")
            session.select_weight(select)
        # what a person would look at: the stepper once an input is entered, unless a weight was asked for
        window.tabs.setCurrentIndex(1 if has_input and not select else 0)
        window.show()
        for _ in range(3):
            app.processEvents()
        out = Path(output)
        if out.parent and not out.parent.exists():
            raise ValueError(f"{output}: folder does not exist")
        if steps is not None:
            from inspector.ui.recorder import parse_steps, record

            return record(window, session.set_step, parse_steps(steps, session.n_steps), out, fps).note
        if not window.grab().save(str(out), "PNG"):
            raise ValueError(f"{output}: cannot write the PNG")
        return ""
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
        tmp.cleanup()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="keras-inspector snapshot", description="Render the main window to a PNG."
    )
    p.add_argument("model")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--text")
    g.add_argument("--input", metavar="X.npy")
    p.add_argument("--step", type=int)
    p.add_argument("--select", metavar="LAYER/WEIGHT")
    p.add_argument("--config")
    p.add_argument("--size", default="1280x800")
    p.add_argument("--output", required=True, metavar="FILE.png")
    return p


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Run from parsed CLI args (the lead's `snapshot` verb) or an argv list; returns the exit code."""
    if args is None or not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(list(args) if args is not None else None)
    size = getattr(args, "size", "1280x800")
    if isinstance(size, str):
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise ValueError(f"--size {size!r}: expected WxH, e.g. 1280x800") from None
    else:
        w, h = size
    render_snapshot(
        args.model,
        text=getattr(args, "text", None),
        input_npy=getattr(args, "input", None),
        step=getattr(args, "step", None),
        select=getattr(args, "select", None),
        output=args.output,
        size=(w, h),
        config=getattr(args, "config", None),
    )
    return 0
