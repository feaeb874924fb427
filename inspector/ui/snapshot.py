"""Headless rendering: the main window in the state a person would see, saved as a PNG.

`keras-inspector snapshot MODEL [--text ".." | --input X.npy] [--step T] [--select LAYER/WEIGHT]
--output FILE.png` opens MODEL with a synchronous Session, enters the input, steps to T (default:
the last step) and grabs the window offscreen.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMessageLogContext, QSettings, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from inspector.app.inputs import check_inputs, read_input_file
from inspector.io.errors import ModelFileError
from inspector.io.sidecar import read_vocabulary
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Session

# Qt's offscreen platform says this for every top-level window it shows; it is not about our window.
_NOISE = ("This plugin does not support propagateSizeHints()",)


def _ensure_app() -> QApplication:
    """The running QApplication, or a new one (offscreen when there is no display)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    if "QT_QPA_PLATFORM" not in os.environ and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return QApplication([sys.argv[0] if sys.argv else "keras-inspector"])


@contextmanager
def _quiet_platform() -> Iterator[None]:
    """Drop the offscreen platform's notices (see _NOISE); every other Qt message goes on as before."""
    previous: Callable[[QtMsgType, QMessageLogContext, str], None] | None = None

    def handler(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if message in _NOISE:
            return
        if previous is not None:
            previous(kind, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)


def _input(session: Session, text: str | None, input_file: str | None) -> tuple[Any, dict[str, Any]]:
    """(model input, set_input keywords): typed text with its tokens, or a file with its target and
    feature names (the GUI's own readers)."""
    if text is not None:
        encoded, x = session.encode(text)
        return x, {"encoded": encoded}
    assert input_file is not None
    data = read_input_file(input_file)
    run = session.run_network or session.network
    assert run is not None
    arrays = check_inputs(run, data.arrays)
    return (arrays if len(arrays) > 1 else arrays[0]), {"target": data.target, "feature_names": data.columns}


def render_snapshot(
    model: str,
    text: str | None = None,
    input_file: str | None = None,
    vocab: str | None = None,
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
    text : input text (models with a vocabulary).   input_file : .npy, .npz or .csv input.
    vocab : vocabulary file for `text` when none sits next to the model.
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
    if text is not None and input_file is not None:
        raise ValueError("give either --text or --input, not both")
    if steps is not None and (step is not None or (text is None and input_file is None)):
        raise ValueError("--steps needs an input (--text or --input) and no --step")
    app = _ensure_app()
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
        if vocab is not None:
            session.set_vocabulary(read_vocabulary(vocab))
        has_input = text is not None or input_file is not None
        if has_input:
            if session.network is None:
                raise ValueError(f"{model}: holds weights only; pass --config model.json to run an input")
            x, meta = _input(session, text, input_file)
            failures.clear()
            before = session.stepper  # the stepper panel may already have run a default input
            session.set_input(x, **meta)
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
        with _quiet_platform():
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
