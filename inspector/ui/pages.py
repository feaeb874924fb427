"""The main window's analysis pages: each feature widget bound to the app state (wiring only).

Every page here is a `StatePage`: it observes an `AppState`, refreshes when it is on screen (a
hidden page only marks itself stale, so stepping stays fast while the Stepper is in front), and
asks the window for things through signals: `show_page(title)` to bring another page to the front,
`notice(str)` for a status-bar line and `failed(str)` for a one-line error.  The feature widgets
(`UnitsPage`, `HealthPanel`, `CellDiagram`, `InterventionPanel`) stay usable without a state.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.app import units
from inspector.app.cell import explain
from inspector.app.checkpoints import CheckpointSeries, load_series
from inspector.app.state import AppState, trace_key_of
from inspector.app.text import VocabularyEncoder
from inspector.core.network import ModelFile
from inspector.ui.cell_diagram import CellDiagram
from inspector.ui.compare_view import CompareView
from inspector.ui.health_panel import HealthPanel
from inspector.ui.intervention_panel import InterventionPanel
from inspector.ui.step_common import input_ids, input_symbols
from inspector.ui.units_page import UnitsPage
from inspector.ui.widgets import WhenShown
from inspector.ui.workers import QtRunner

# Open in Stepper: the corpus window run in the Stepper around a unit's best position
STEPPER_BEFORE, STEPPER_AFTER = 200, 40
CORPUS_FILTER = "Text (*.txt *.md *.csv *.json *.py);;All files (*)"
MAX_CORPUS_BYTES = 64 * 1024 * 1024
NO_RUN = "Run an input in the Stepper (Ctrl+2) to see this page."


def worker_runner() -> Callable[[Callable[[], Any], Callable[[Any], None]], None]:
    """A `runner(job, done)` for widgets with an injectable runner: the job runs on Qt's thread pool."""
    runner = QtRunner()

    def run(job: Callable[[], Any], done: Callable[[Any], None]) -> None:
        runner.submit(job, on_done=done, on_error=lambda message: done(RuntimeError(message)))

    return run


def stepper_inputs(state: AppState) -> list[np.ndarray] | None:
    """The arrays the current run was made from (batch axis first), or None without a run."""
    return list(state.stepper.inputs) if state.stepper is not None else None


class StatePage(QWidget):
    """A page observing `state`; `refresh()` runs when the page is shown after something changed.

    Signals
    -------
    show_page(str) : bring the page with this title to the front.
    notice(str) : a one-line status message.  failed(str) : a one-line error.
    """

    show_page = Signal(str)
    notice = Signal(str)
    failed = Signal(str)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._when_shown = WhenShown(self, ("refresh",), lambda _what: self.refresh())
        self._when_shown.pending.add("refresh")  # first shown: show the state as it is then
        self._links: list[tuple[Any, Callable[..., Any]]] = []
        links = self._links
        # psygnal does not know when this widget dies: drop the connections with it
        self.destroyed.connect(lambda *_: [sig.disconnect(slot) for sig, slot in links])

    def observe(self, signal: Any, slot: Callable[..., Any]) -> None:
        signal.connect(slot)
        self._links.append((signal, slot))

    def mark_stale(self, *_args: Any) -> None:
        """Something the page shows changed: refresh now if visible, else when shown."""
        self._when_shown.request("refresh")

    def refresh(self) -> None:  # pragma: no cover - overridden
        pass

    def figure_target(self) -> Any:
        """What File > Export > Figure exports for this page."""
        return self

    def hasHeightForWidth(self) -> bool:
        # A word-wrapped label makes a layout height-for-width, and the window's scroll area then
        # sizes the page by its preferred height (taller than the window): fill the viewport instead.
        return False


class UnitsTab(StatePage):
    """The Units page: a corpus file (or the Stepper's text) analysed unit by unit."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.page = UnitsPage(sync=state.sync)
        self.corpus_path: str | None = None
        self._pending_step: int | None = None
        self.corpus_label = QLabel()
        self.corpus_label.setWordWrap(True)
        self.open_button = QPushButton("Open corpus\u2026")
        self.open_button.setToolTip("a text file to run through the model as one long sequence")
        self.open_button.clicked.connect(lambda: self.open_corpus_dialog())
        self.typed_button = QPushButton("Use the Stepper\u2019s text")
        self.typed_button.setToolTip("analyse the text entered on the Stepper page instead of a file")
        self.typed_button.clicked.connect(self.use_stepper_text)
        row = QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 0)
        row.addWidget(self.corpus_label, 1)
        row.addWidget(self.open_button)
        row.addWidget(self.typed_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.page, 1)
        self.page.unit_selected.connect(state.select_unit)
        self.page.open_in_stepper.connect(self.open_in_stepper)
        self.observe(state.file_loaded, self._on_file_loaded)
        self.observe(state.vocabulary_changed, self._on_vocabulary)
        self.observe(state.input_changed, self._on_input_changed)
        self.observe(state.unit_changed, self._on_unit_changed)
        self._update_label()
        if state.model_file is not None:
            self._on_file_loaded(state.model_file)

    def figure_target(self) -> Any:
        return self.page.scatter

    # ------------------------------------------------------------------ corpus
    def open_corpus_dialog(self) -> None:
        start = os.path.dirname(self.state.path) if self.state.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a corpus (text file)", start, CORPUS_FILTER)
        if path:
            self.open_corpus(path)

    def open_corpus(self, path: str) -> bool:
        """Use the text file `path` as the corpus; False (and `failed`) when it cannot be read."""
        try:
            if os.path.getsize(path) > MAX_CORPUS_BYTES:
                raise ValueError(f"larger than {MAX_CORPUS_BYTES // 2**20} MB")
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self.failed.emit(f"{os.path.basename(path)}: cannot read the corpus ({exc})")
            return False
        self.corpus_path = path
        self.page.set_corpus_text(text)
        self._update_label()
        self.show_page.emit("Units")
        return True

    def use_stepper_text(self) -> None:
        self.corpus_path = None
        self.page.set_corpus_text(self._stepper_text())
        self._update_label()

    def _stepper_text(self) -> str:
        vocab, ids = self.state.vocabulary, input_ids(self.state)
        if not vocab or ids is None:
            return ""
        tokens = [vocab[int(i)] for i in ids if 0 <= i < len(vocab)]
        return ("" if all(len(t) <= 1 for t in tokens) else " ").join(tokens)

    def _update_label(self) -> None:
        n = len(self.page.text)
        if self.corpus_path:
            what = f"Corpus: <b>{os.path.basename(self.corpus_path)}</b> ({n:,} characters)"
        elif n:
            what = f"Corpus: the Stepper\u2019s text ({n:,} characters); open a text file for a real corpus"
        else:
            what = "No corpus: open a text file (File \u203a Open corpus\u2026) or enter text in the Stepper"
        self.corpus_label.setText(what)

    # ------------------------------------------------------------------ state
    def _on_file_loaded(self, mf: ModelFile) -> None:
        encoder = units.find_text_encoder(mf.path)
        if encoder is None and self.state.vocabulary:
            encoder = VocabularyEncoder(self.state.vocabulary)
        self.page.set_model(mf, encoder)
        if not self.corpus_path:  # the Stepper may already have run its text (it reacts first)
            self.page.set_corpus_text(self._stepper_text())
        self._update_label()

    def _on_vocabulary(self, vocab: list[str] | None) -> None:
        if vocab:
            self.page.set_encoder(VocabularyEncoder(vocab))

    def _on_input_changed(self, stepper: Any) -> None:
        if stepper is not None and self._pending_step is not None:
            t, self._pending_step = self._pending_step, None
            self.state.set_step(t)
        if not self.corpus_path and self.page.result is None:
            self.page.set_corpus_text(self._stepper_text())
            self._update_label()

    def _on_unit_changed(self, layer: str, unit: int) -> None:
        res = self.page.result
        if res is not None and layer in res.layers and self.page.selected != (layer, unit):
            self.page.select_unit(layer, unit)

    def open_in_stepper(self, layer: str, unit: int, position: int) -> None:
        """Run the corpus window around `position` in the Stepper, select the unit, step to it."""
        res = self.page.result
        corpus = res.corpus if res is not None else None
        if not isinstance(corpus, units.TextCorpus):
            return
        lo = max(0, position - STEPPER_BEFORE)
        hi = min(corpus.n_positions, position + 1 + STEPPER_AFTER)
        ids = corpus.ids[lo:hi]
        x = np.eye(corpus.width, dtype=np.float32)[ids] if corpus.width else ids.astype(np.int64)
        self.state.select_unit(layer, unit)
        self._pending_step = position - lo
        self.state.set_input(x[None])
        self.show_page.emit("Stepper")
        self.notice.emit(
            f"Stepper: unit {unit} of {layer} at corpus position {position:,} (step {position - lo})"
        )


class HealthTab(StatePage):
    """The Health page: weight findings when shown, data findings on the Stepper's current input."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.panel = HealthPanel(sync=state.sync)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.panel)
        self.panel.finding_activated.connect(self._on_finding)
        self.observe(state.file_loaded, self._on_file_loaded)
        self.observe(state.input_changed, lambda _s: self.panel.set_input(self._inputs()))
        self.panel.set_input(self._inputs())

    def _on_file_loaded(self, _mf: Any) -> None:
        # The weights are checked when the page is shown (a pass over every weight of the file, not
        # spent while the file opens behind another page); a hidden page lets go of the previous file.
        if not self.isVisible():
            self.panel.set_model(None)
        self.mark_stale()

    def refresh(self) -> None:
        self.panel.set_model(self.state.model_file)

    def _inputs(self) -> np.ndarray | list[np.ndarray] | None:
        xs = stepper_inputs(self.state)
        return None if xs is None else (xs[0] if len(xs) == 1 else xs)

    def _on_finding(self, layer: str, weight: str, gate: str, unit_list: Any) -> None:
        if weight:
            self.state.select_weight(weight)
        key = layer or (trace_key_of(weight) if weight else "")
        if key and unit_list:
            self.state.select_unit(key, int(unit_list[0]))
        if weight:
            self.show_page.emit("Weights")
        gate_text = f" gate {gate}" if gate else ""
        self.notice.emit(f"{weight or layer}{gate_text}" + (f", unit {unit_list[0]}" if unit_list else ""))


class CellTab(StatePage):
    """The textbook cell of the selected unit at the current step, with the Stepper's numbers."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.diagram = CellDiagram()
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("the recurrent layer whose cell is drawn")
        self.layer_box.setMinimumContentsLength(12)
        self.unit_box = QSpinBox()
        self.unit_box.setToolTip("the unit whose numbers are shown (click a unit anywhere to change it)")
        self.layer_label = QLabel("Layer")
        row = QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 0)
        row.addWidget(self.layer_label)
        row.addWidget(self.layer_box)
        row.addWidget(QLabel("Unit"))
        row.addWidget(self.unit_box)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.diagram, 1)
        self.layer_box.activated.connect(lambda _i: self._choose())
        self.unit_box.valueChanged.connect(lambda _v: self._choose())
        for sig in (state.input_changed, state.step_changed, state.unit_changed, state.selection_changed):
            self.observe(sig, self.mark_stale)
        self.observe(state.file_loaded, self.mark_stale)
        self._filling = False

    def figure_target(self) -> Any:
        return self.diagram

    def current(self) -> tuple[str, int] | None:
        """(trace key, unit) the diagram shows (or would show)."""
        stepper = self.state.stepper
        if stepper is None or not stepper.trace.layers:
            return None
        keys = list(stepper.trace.layers)
        layer, unit = self.state.unit
        if layer not in keys:
            sel = trace_key_of(self.state.selection)
            layer = sel if sel in keys else (self.layer_box.currentText() or keys[0])
            layer = layer if layer in keys else keys[0]
            unit = self.unit_box.value()
        return layer, max(0, min(int(unit), stepper.trace.layers[layer].units - 1))

    def refresh(self) -> None:
        stepper, net, mf = self.state.stepper, self.state.network, self.state.model_file
        self._filling = True
        try:
            where = self.current()
            keys = list(stepper.trace.layers) if stepper is not None else []
            if [self.layer_box.itemText(k) for k in range(self.layer_box.count())] != keys:
                self.layer_box.clear()
                self.layer_box.addItems(keys)
            several = len(keys) > 1
            self.layer_box.setVisible(several)
            self.layer_label.setVisible(several)
            self.layer_box.setEnabled(bool(keys))
            self.unit_box.setEnabled(bool(keys))
            if where is None or stepper is None or net is None or mf is None:
                reason = NO_RUN if mf is not None and net is not None else "Open a model to see its cell."
                if stepper is not None and not keys:
                    reason = "This model has no recurrent layer: there is no cell to draw."
                self.diagram.set_state(None, reason)
                return
            layer, unit = where
            traj = stepper.trace.layers[layer]
            self.layer_box.setCurrentText(layer)
            self.unit_box.setRange(0, traj.units - 1)
            self.unit_box.setValue(unit)
            symbols = input_symbols(self.state) or []
            t = self.state.step
            label = symbols[t] if 0 <= t < len(symbols) else ""
            try:
                e = explain(net, mf.semantics, traj, unit, t, sample=0, input_label=label)
            except (IndexError, KeyError, ValueError) as exc:
                self.diagram.set_state(None, f"No cell to draw here: {exc}")
                return
            self.diagram.set_state(e)
        finally:
            self._filling = False

    def _choose(self) -> None:
        if self._filling or not self.layer_box.currentText():
            return
        layer, unit = self.layer_box.currentText(), self.unit_box.value()
        if (layer, unit) != self.state.unit:
            self.state.select_unit(layer, unit)
        else:
            self.mark_stale()


class WhatIfTab(StatePage):
    """Interventions on the Stepper's input: ablate / clamp / edit, the counterfactual beside it."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.panel = InterventionPanel(runner=None if state.sync else worker_runner())
        self.note = QLabel(NO_RUN)
        self.note.setWordWrap(True)
        self.note.setContentsMargins(6, 4, 6, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.panel, 1)
        self.panel.step_requested.connect(state.set_step)
        self._shown: tuple[Any, ...] = ()
        for sig in (state.input_changed, state.step_changed, state.unit_changed, state.file_loaded):
            self.observe(sig, self.mark_stale)

    def figure_target(self) -> Any:
        return self.panel.plots

    def refresh(self) -> None:
        state = self.state
        key = (state.model_file, state.stepper)
        if key != self._shown:
            self._shown = key
            xs = stepper_inputs(state)
            if xs is None or state.model_file is None or state.network is None:
                self.panel.set_model(None, [], 0)
                self.note.setText(NO_RUN if state.network is not None else "Open a runnable model first.")
                self.note.show()
            else:
                self.note.hide()
                self.panel.set_model(state.model_file, xs, 0)
        self.panel.set_step(state.step)
        layer, unit = state.unit
        if layer:
            self.panel.set_selection(layer, unit)


class CompareTab(StatePage):
    """File > Compare with…: the open file against a second file, or a folder of checkpoints."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.view = CompareView(sync=state.sync)
        self.placeholder = QLabel()
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.view)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self.other: str | None = None
        self._request = 0
        self.view.weight_selected.connect(self._on_weight)
        self.observe(state.file_loaded, lambda _mf: self.reset())
        self.observe(state.input_changed, self._on_input_changed)
        self.reset()

    def figure_target(self) -> Any:
        return self.view

    @property
    def comparing(self) -> bool:
        return self.stack.currentWidget() is self.view

    def reset(self, message: str | None = None) -> None:
        """Back to the placeholder (a new file was opened: the old comparison no longer applies)."""
        self._request += 1
        self.other = None
        name = os.path.basename(self.state.path) if self.state.path else ""
        self.placeholder.setText(
            message
            or (
                f"File \u203a Compare with\u2026 compares {name} with another checkpoint of the same model "
                "(weights per gate, outputs on the Stepper\u2019s input) or with a folder of checkpoints."
                if name
                else "Open a model, then File \u203a Compare with\u2026 another checkpoint or a folder."
            )
        )
        self.stack.setCurrentWidget(self.placeholder)

    def compare_with(self, path: str) -> None:
        """Load `path` (a file, or a folder of checkpoints) off the GUI thread and compare."""
        current = self.state.model_file
        if current is None:
            self.failed.emit("Open a model first, then compare it with another file.")
            return
        self._request += 1
        req = self._request
        name = os.path.basename(os.path.normpath(path))
        self.notice.emit(f"Loading {name} to compare\u2026")
        job: Callable[..., Any] = _load_series if os.path.isdir(path) else _load_other
        self.state.runner.submit(
            job,
            path,
            on_done=lambda result: self._on_loaded(req, path, result),
            on_error=lambda message: self._on_failed(req, message),
        )

    def _on_loaded(self, req: int, path: str, result: Any) -> None:
        current = self.state.model_file
        if req != self._request or current is None:
            return
        self.other = path
        keep = self.state.selection  # set_pair shows its own first weight; the user's one wins below
        self.stack.setCurrentWidget(self.view)
        self.show_page.emit("Compare")
        if isinstance(result, CheckpointSeries):
            self.view.set_series(result)
            self.notice.emit(f"Comparing {len(result.files)} checkpoints of {os.path.basename(path)}")
        else:
            if not self.view.set_pair(current, result):
                return  # the view's banner names the first difference
            self.notice.emit(f"Comparing {os.path.basename(current.path)} with {os.path.basename(path)}")
        if keep and self.view.weight_box.findText(keep) >= 0:
            self.view.select_weight(keep)  # the weight the user was looking at
        self._on_input_changed(self.state.stepper)

    def _on_failed(self, req: int, message: str) -> None:
        if req == self._request:
            self.failed.emit(f"Cannot compare: {message}")

    def _on_input_changed(self, stepper: Any) -> None:
        if self.comparing and stepper is not None and self.view.a is not None:
            xs = list(stepper.inputs)
            self.view.set_input(xs[0] if len(xs) == 1 else xs)

    def _on_weight(self, path: str) -> None:
        if self.state.find_weight(path) is not None:
            self.state.select_weight(path)


def _load_other(path: str) -> ModelFile:
    """The second file of a comparison, read like the state reads the first (sandboxed, sidecars)."""
    from inspector.app.state import load_model

    mf = load_model(path)[2]
    if mf.damage:
        raise ValueError(f"{os.path.basename(path)}: {mf.damage}")
    return mf


def _load_series(folder: str) -> CheckpointSeries:
    return load_series(folder, _load_other)
