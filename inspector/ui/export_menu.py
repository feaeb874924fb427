"""File > Export: the model as a numpy program, the trace as data, figures, the window, recordings.

Wiring only: the work is done by `inspector.app.export_numpy`, `inspector.app.trace_export`,
`inspector.ui.figure_export` and `inspector.ui.recorder`.  Every action takes an optional path so
tests (and scripts) can drive it without a file dialog; failures are one line in the window's
banner and status bar, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QScrollArea, QWidget

from inspector.app.runner import error_message
from inspector.ui.figure_export import ExportDialog, copy_image, save_window
from inspector.ui.recorder import RecordDialog

if TYPE_CHECKING:
    from inspector.ui.main_window import MainWindow

TRACE_FILTER = "NumPy arrays (*.npz);;CSV, one row per number (*.csv)"


def figure_target(page: QWidget) -> Any:
    """The plot, heatmap or drawing File > Export > Figure takes from `page`."""
    target = getattr(page, "figure_target", None)
    if callable(target):
        return target()
    for name in ("heatmap", "splitter"):  # the Weights page's heatmap; the Stepper's views
        widget = getattr(page, name, None)
        if isinstance(widget, QWidget):
            return widget
    return page


class ExportMenu:
    """Builds File > Export on `window` and runs its actions.

    Attributes: one QAction per entry (`model_action`, `trace_action`, `figure_action`,
    `window_action`, `copy_action`, `record_action`).
    """

    def __init__(self, window: MainWindow, menu: QMenu) -> None:
        self.window = window
        self.menu = menu.addMenu("&Export")

        def action(text: str, slot: Any, shortcut: str | None = None) -> QAction:
            act = QAction(text, window)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(lambda _=False: slot())
            self.menu.addAction(act)
            return act

        self.model_action = action("Model as &numpy program\u2026", self.export_model)
        self.trace_action = action("&Trace data (.npz / .csv)\u2026", self.export_trace)
        self.menu.addSeparator()
        self.figure_action = action("&Figure\u2026", self.export_figure)
        self.window_action = action("&Window image\u2026", self.export_window, "Ctrl+E")
        self.copy_action = action("&Copy image", self.copy_figure, "Ctrl+Shift+C")
        self.menu.addSeparator()
        self.record_action = action("&Record stepping\u2026", self.record_stepping)
        self.update()

    # ------------------------------------------------------------------ state
    def update(self) -> None:
        """Enable what the open file and the current run allow."""
        state = self.window.session
        self.model_action.setEnabled(state.network is not None)
        self.trace_action.setEnabled(state.stepper is not None)
        self.record_action.setEnabled(state.stepper is not None and state.n_steps > 1)

    def current_page(self) -> QWidget:
        area = self.window.tabs.currentWidget()
        page = area.widget() if isinstance(area, QScrollArea) else area
        return page if page is not None else self.window

    def _fail(self, message: str) -> None:
        self.window.show_error(message)

    def _done(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 10000)

    def _start_dir(self) -> str:
        path = self.window.session.path
        return os.path.dirname(path) if path else ""

    # ------------------------------------------------------------------ actions
    def export_model(self, folder: str | None = None) -> Path | None:
        """Write model.py + weights.npz (a standalone numpy replay) into `folder`."""
        from inspector.app.export_numpy import export_numpy

        mf = self.window.session.model_file
        if mf is None or mf.network is None:
            self._fail("Export: open a model with its architecture first")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(
                self.window, "Export the model as a numpy program into a folder", self._start_dir()
            )
            if not folder:
                return None
        try:
            result = export_numpy(mf, folder)
        except Exception as exc:  # noqa: BLE001 - ExportError, OSError: one line for the user
            self._fail(f"{os.path.basename(mf.path)}: cannot export ({error_message(exc)})")
            return None
        self._done(f"Exported {result.program} (run: python {result.program} X.npy Y.npy)")
        return Path(result.program)

    def export_trace(self, path: str | None = None) -> Path | None:
        """The current run's gates, c, h and outputs to .npz (arrays) or .csv (one row per number)."""
        from inspector.app.trace_export import write_trace_csv, write_trace_npz

        stepper = self.window.session.stepper
        if stepper is None:
            self._fail("Export: there is no run to export; enter an input in the Stepper first")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Export the trace", "trace.npz", TRACE_FILTER)
            if not path:
                return None
        try:
            write = write_trace_csv if path.lower().endswith(".csv") else write_trace_npz
            out = write(stepper.trace, path)
        except OSError as exc:
            self._fail(f"{path}: cannot write the trace ({error_message(exc)})")
            return None
        self._done(f"Trace written to {out}")
        return Path(out)

    def figure_dialog(self) -> ExportDialog:
        """The export dialog for the current page's figure (not shown)."""
        page = self.current_page()
        name = self.window.tabs.tabText(self.window.tabs.currentIndex()).lower().replace(" ", "_")
        return ExportDialog(figure_target(page), self.window, name=name or "figure")

    def export_figure(self) -> None:
        self.figure_dialog().open()

    def export_window(self, path: str | None = None) -> Path | None:
        """The whole window, as on screen, to a PNG."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Save the window as PNG", "inspector.png", "PNG (*.png)"
            )
            if not path:
                return None
        try:
            out = save_window(self.window, path)
        except ValueError as exc:
            self._fail(str(exc))
            return None
        self._done(f"Window saved to {out}")
        return out

    def copy_figure(self) -> None:
        """The current page's figure to the clipboard."""
        image = copy_image(figure_target(self.current_page()))
        self._done(f"Image copied ({image.width()}\u00d7{image.height()} px)")

    def record_dialog(self) -> RecordDialog | None:
        """The recording dialog for the Stepper page (which is brought to the front), or None."""
        window, state = self.window, self.window.session
        if state.stepper is None:
            self._fail("Record: there is no run to step through; enter an input in the Stepper first")
            return None
        window.show_page("Stepper")
        stepper = window.stepper
        targets: dict[str, QWidget] = {"Stepper page": stepper}
        for label, name in (
            ("Gate strips", "gate_strips"),
            ("Units \u00d7 time", "timeline"),
            ("Output", "output"),
        ):
            widget = getattr(stepper, name, None)
            if isinstance(widget, QWidget):
                targets[label] = widget
        targets["Whole window"] = window
        return RecordDialog(targets, state.set_step, state.n_steps, state.step, window)

    def record_stepping(self) -> None:
        dialog = self.record_dialog()
        if dialog is not None:
            dialog.open()
