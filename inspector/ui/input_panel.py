"""The input the model is stepped through: typed text (vocabulary models) or a sequence (file / editor).

Every accepted input goes to `Session.set_input`; problems (text outside a vocabulary without OOV id,
a file of the wrong shape, an engine error) are shown inline under the editor and clear the views
(`AppState.reject_input`): the previous run is never shown as if it were this input.  Typed text and
typed ids get the padding chosen in the padding box (none by default; pre / post to the model's length).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.app.inputs import (
    check_inputs,
    format_shape,
    parse_indices,
    random_inputs,
    read_input_file,
)
from inspector.app.state import AppState
from inspector.app.text import example_text, fixed_length, is_word_level
from inspector.core.stepper import Stepper
from inspector.ui.widgets import ElidedLabel

_TABLE_MAX_CELLS = 200_000  # beyond this the table editor is not filled (files still load)
DEFAULT_RANDOM_T = 20  # length of the example input run on load when the model accepts any length
DEFAULT_RANDOM_SEED = 0
PADDING_CHOICES = (
    ("none", "no padding", "run the typed tokens as they are"),
    ("pre", "pad before", "pad_sequences(padding='pre'): zeros before the tokens up to the model's length"),
    ("post", "pad after", "pad_sequences(padding='post'): zeros after the tokens up to the model's length"),
)


class InputPanel(QWidget):
    """Text box (models with a vocabulary) or sequence loader/editor; feeds `Session.set_input`.

    Signals
    -------
    rejected(str) : an input was refused before reaching the engine (one-line reason, also shown inline).
    """

    rejected = Signal(str)

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._jump_to_end = False
        self._last_error = ""
        self._table_integer = False
        self._table_1d = False
        self._own_request = False  # the next input_changed answers this panel's own set_input
        self._applied: tuple[Any, ...] | None = None  # (model file, text model, padding, text) last run
        self._typed_ids = False  # the current input came from the index field (re-padded on change)

        self.shape_label = ElidedLabel("No model is open.")
        self.shape_label.setStyleSheet("color: #333;")
        self.shape_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # One line, elided if too long (full text in the tooltip): a word-wrapped label would give the
        # panel height-for-width, and the main window's scroll area would then grow it past the window.
        self.error_label = ElidedLabel("")
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setVisible(False)
        # Says when the views show a made-up example (a model without vocabulary, right after loading).
        self.note_label = ElidedLabel("")
        self.note_label.setStyleSheet("color: #7a5a00; background: #fff6d8; padding: 1px 4px;")
        self.note_label.setVisible(False)

        self.padding_box = QComboBox()
        for key, label, tip in PADDING_CHOICES:
            self.padding_box.addItem(label, key)
            self.padding_box.setItemData(self.padding_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.padding_box.setToolTip("padding of typed text and ids (to the model's fixed input length)")
        self.padding_box.currentIndexChanged.connect(self._on_padding_chosen)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.shape_label, 1)
        head.addWidget(self.padding_box)

        # --- text tab
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("type text to run the model on it, symbol by symbol")
        line = QFontMetrics(self.text_edit.font()).lineSpacing()
        self.text_edit.setFixedHeight(int(line * 2.6) + 10)
        self.text_edit.textChanged.connect(self._on_text_edited)
        self._file: Any = None  # the file whose first input ran (or waits for its turn)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.apply_text)
        text_tab = QWidget()
        tl = QVBoxLayout(text_tab)
        tl.setContentsMargins(2, 2, 2, 2)
        tl.addWidget(self.text_edit)

        seq_tab = self._build_sequence_tab()

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.tabs.addTab(text_tab, "Text")
        self.tabs.addTab(seq_tab, "Sequence")
        self.tabs.currentChanged.connect(lambda _i: self._update_table_visibility())

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.tabs)
        lay.addWidget(self.table_box)
        lay.addWidget(self.note_label)
        lay.addWidget(self.error_label)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        session.file_loaded.connect(self._on_file_loaded)
        session.vocabulary_changed.connect(self._on_vocabulary_changed)
        session.input_changed.connect(self._on_input_changed)
        session.input_failed.connect(self.show_error)
        session.padding_changed.connect(self._on_padding_changed)
        session.feature_names_changed.connect(lambda _names: self._set_description())
        self._on_file_loaded(session.model_file)

    def _build_sequence_tab(self) -> QWidget:
        """The Sequence tab (load / indices / random / table editor); the table box sits below the tabs."""
        self.load_button = QPushButton("Load .npy / .csv\u2026")
        self.load_button.clicked.connect(self._on_load_clicked)
        self.ids_edit = QLineEdit()
        self.ids_edit.setPlaceholderText("indices, e.g. 3 1 4 1 5 (token ids, or one-hot positions)")
        self.ids_edit.returnPressed.connect(self.apply_ids)
        self.ids_button = QPushButton("Run indices")
        self.ids_button.clicked.connect(self.apply_ids)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("a random input of the right shape")
        self.random_button.clicked.connect(self.apply_random)
        self.length_box = QSpinBox()
        self.length_box.setRange(1, 100_000)
        self.length_box.setValue(20)
        self.length_box.setPrefix("T = ")
        self.length_box.setToolTip("length of random sequences (when the model accepts any length)")
        self.table = QTableWidget()
        self.table.setFixedHeight(150)
        self.table_button = QPushButton("Run table")
        self.table_button.setToolTip("run the model on the values in the table (batch row 0)")
        self.table_button.clicked.connect(self.apply_table)
        self.edit_button = QPushButton("Edit table")
        self.edit_button.setCheckable(True)
        self.edit_button.setToolTip("show the sequence as an editable table (rows = timesteps)")
        self.edit_button.toggled.connect(self._update_table_visibility)
        # The table sits below the tabs and only takes room while it is being edited.
        self.table_box = QWidget()
        tb = QHBoxLayout(self.table_box)
        tb.setContentsMargins(2, 0, 2, 0)
        tb.addWidget(self.table, 1)
        tb.addWidget(self.table_button, 0, Qt.AlignmentFlag.AlignTop)
        self.table_box.setVisible(False)
        seq_tab = QWidget()
        sl = QVBoxLayout(seq_tab)
        sl.setContentsMargins(2, 2, 2, 2)
        row1 = QHBoxLayout()
        row1.addWidget(self.load_button)
        row1.addWidget(self.ids_edit, 1)
        row1.addWidget(self.ids_button)
        row1.addWidget(self.random_button)
        row1.addWidget(self.length_box)
        row1.addWidget(self.edit_button)
        sl.addLayout(row1)
        return seq_tab

    # ------------------------------------------------------------------ model description
    def _input_spec(self) -> tuple[tuple[int | None, ...], str] | None:
        net = self.session.run_network
        if net is None or not net.input_shapes:
            return None
        dtypes = tuple(net.input_dtypes) or ("float32",)
        return tuple(net.input_shapes[0]), str(dtypes[0] or "float32")

    def _describe(self) -> str:
        mf = self.session.model_file
        if mf is None:
            return "No model is open."
        net = self.session.network
        if net is None:
            return (
                "This file holds weights only: open its architecture (model.json) to run it "
                "(File \u25b8 Open architecture\u2026)."
            )
        if not net.input_shapes:
            return "The model's input shape is unknown."
        parts = []
        for k, shape in enumerate(net.input_shapes):
            dt = net.input_dtypes[k] if k < len(net.input_dtypes) else "float32"
            parts.append(f"{format_shape(tuple(shape), time_axis=len(shape) <= 3)} {dt}")
        text = "Model input: " + ", ".join(parts)
        vocab = self.session.vocabulary
        run = self.session.run_network or net
        shape = tuple(run.input_shapes[0]) if run.input_shapes else tuple(net.input_shapes[0])
        tm = self.session.text_model
        if tm is not None:
            kind = "one-hot" if len(shape) == 3 else "token ids"
            text += f" \u2014 {kind} over a {tm.encoder.vocab_size}-symbol vocabulary ({tm.encoder.kind})"
        elif vocab:
            kind = "one-hot" if len(shape) == 3 else "token ids"
            text += f" \u2014 {kind} over a {len(vocab)}-symbol vocabulary"
        elif len(shape) == 2:
            text += " \u2014 token ids per step"
        elif len(shape) == 3:
            names = self.session.feature_names
            if names and len(names) == shape[2]:
                text += f" \u2014 features per step: {', '.join(names)}"
            else:
                text += f" \u2014 {shape[2]} feature{'' if shape[2] == 1 else 's'} per step"
        elif len(shape) >= 4:
            text += " \u2014 image-like input (no time axis)"
        if self.session.text_error:
            text += f" \u2014 text cannot be read: {self.session.text_error}"
        if len(net.input_shapes) > 1:
            text += " \u2014 several inputs: load a .npz with one array per input"
        return text

    def _on_file_loaded(self, model_file: Any) -> None:
        self._file = model_file
        self._set_description()
        self._update_padding_box()
        self.clear_error()
        runnable = self.session.network is not None
        self.tabs.setEnabled(runnable)
        self._update_tabs()
        if runnable:
            shape = self._input_spec()
            fixed_t = shape is not None and len(shape[0]) >= 2 and shape[0][1] is not None
            self.length_box.setEnabled(not fixed_t)
            if fixed_t:
                self.length_box.setValue(int(shape[0][1]))
        self._fill_table(None)
        self._set_note("")
        if not runnable:
            return
        if self.session.sync:
            self._run_first_input(model_file)
        else:
            # once this event-loop pass (and the paint of the new file it posted) is over: a worker
            # running the model while the GUI thread paints makes every GIL hand-back cost the GUI
            # thread (the same rule as the weight statistics)
            QTimer.singleShot(0, self, lambda: self._run_first_input(model_file))

    def _run_first_input(self, model_file: Any) -> None:
        """The input a newly opened file shows: the text box's text, else a seeded random example
        (not when another file was opened or an input was given meanwhile)."""
        s = self.session
        if s.model_file is not model_file or s.network is None or s.stepper is not None or s.busy:
            return
        if self.session.vocabulary:
            self._apply_starter_text()
        elif self.session.network.input_shapes:
            self.apply_default_example()

    def _apply_starter_text(self) -> None:
        """Run the text box's text (the model's starter text when the box is empty)."""
        if not self.text_edit.toPlainText():
            self._set_text(self._default_text())
        self.apply_text()

    def _set_description(self) -> None:
        text = self._describe()
        self.shape_label.setText(text)
        self.shape_label.setToolTip(text)

    def _update_padding_box(self) -> None:
        """The padding box only where there is a model length to pad to (and typed input to pad)."""
        net = self.session.run_network
        length = fixed_length(net) if net is not None else None
        self.padding_box.setVisible(length is not None)
        if length is not None:
            self.padding_box.setToolTip(f"padding of typed text and ids to the model's length ({length})")
        self._show_padding(self.session.padding_side)

    def _on_padding_chosen(self, index: int) -> None:
        self.session.set_padding(str(self.padding_box.itemData(index)))

    def _show_padding(self, side: str) -> None:
        index = self.padding_box.findData(side)
        if index >= 0 and index != self.padding_box.currentIndex():
            self.padding_box.blockSignals(True)
            self.padding_box.setCurrentIndex(index)
            self.padding_box.blockSignals(False)

    def _on_padding_changed(self, side: str) -> None:
        """The padding changed: re-run what was typed (text or ids) with it."""
        self._show_padding(side)
        if self.session.network is None or self.session.stepper is None:
            return
        if self.tabs.currentIndex() == 0 and self.text():
            self._applied = None
            self.apply_text()
        elif self._typed_ids:
            self.apply_ids()

    def _on_vocabulary_changed(self, _vocab: Any) -> None:
        self._set_description()
        self._update_padding_box()
        self._update_tabs()
        if self.session.model_file is not self._file:
            return  # a new file: its first input runs after file_loaded
        if self.session.vocabulary and self.session.network is not None:
            self._apply_starter_text()

    def _update_tabs(self) -> None:
        net = self.session.network
        text_ok = bool(self.session.vocabulary) and net is not None and len(net.input_shapes) == 1
        self.tabs.setTabEnabled(0, text_ok)
        self.tabs.setCurrentIndex(0 if text_ok else 1)

    def _default_text(self) -> str:
        """A starter text the vocabulary can spell, so the first view is never empty."""
        return example_text(self.session.vocabulary or [])

    # ------------------------------------------------------------------ messages
    def show_error(self, message: str) -> None:
        self._last_error = message
        self.error_label.setText(message)
        self.error_label.setToolTip(message)
        self.error_label.setVisible(bool(message))

    def clear_error(self) -> None:
        self.show_error("")

    @property
    def error_text(self) -> str:
        return self._last_error

    def _reject(self, message: str) -> None:
        """Refuse an input: say why and clear the views (they must not keep the previous run)."""
        reject = getattr(self.session, "reject_input", None)
        if reject is not None:
            reject(message)  # emits input_failed -> show_error
        self.show_error(message)
        self.rejected.emit(message)

    # ------------------------------------------------------------------ text
    def text(self) -> str:
        return self.text_edit.toPlainText()

    def _set_text(self, text: str) -> None:
        self.text_edit.blockSignals(True)
        self.text_edit.setPlainText(text)
        self.text_edit.moveCursor(self.text_edit.textCursor().MoveOperation.End)
        self.text_edit.blockSignals(False)

    def set_text(self, text: str) -> None:
        """Replace the text and run it now (no typing delay)."""
        self._set_text(text)
        self.apply_text()

    def append_text(self, token: str) -> None:
        """Append a generated token (with a space between word-level tokens) and run the new text."""
        text = self.text()
        if len(token) > 1 and text and not text.endswith(" "):
            text += " "
        self.set_text(text + token)

    def _on_text_edited(self) -> None:
        self._debounce.start()

    def apply_text(self) -> None:
        """Encode the text with the vocabulary and run it; the view jumps to its last symbol."""
        self._debounce.stop()
        text = self.text()
        if not text:
            self.clear_error()
            clear = getattr(self.session, "clear_input", None)
            if clear is not None:
                clear()
            return
        key = (id(self.session.model_file), id(self.session.text_model), self.session.padding_side, text)
        if key == self._applied and self.session.stepper is not None:
            return  # already running exactly this (file_loaded and vocabulary_changed both ask)
        try:
            enc, x = self.session.encode(text)
        except ValueError as exc:
            self._reject(str(exc))
            return
        self.clear_error()
        self._set_note("")
        self._typed_ids = False
        self._jump_to_end = True
        self._own_request = True
        self._applied = key
        self.session.set_input(x, encoded=enc)

    # ------------------------------------------------------------------ sequences
    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load an input sequence", "", "Sequences (*.npy *.npz *.csv *.txt);;All files (*)"
        )
        if path:
            self.load_file(path)

    def load_file(self, path: str) -> bool:
        """Read a sequence file and run it; False (with an inline message) when it does not fit."""
        try:
            data = read_input_file(path)
        except ValueError as exc:
            self._reject(str(exc))
            return False
        ok = self.apply_arrays(data.arrays, target=data.target, feature_names=data.columns)
        if ok and data.notes:
            self._set_note("; ".join(data.notes))
        return ok

    def apply_arrays(
        self,
        arrays: list[np.ndarray],
        *,
        jump_to_end: bool = False,
        target: np.ndarray | None = None,
        feature_names: list[str] | None = None,
        encoded: Any = None,
    ) -> bool:
        """Check arrays against the model's inputs and run them (from step 0 unless `jump_to_end`).

        Typed input (`encoded` given) may have any length on the time axis (it was padded as chosen;
        Keras runs a fixed-length recurrent model on other lengths); files must fit the model's shape.
        """
        net = self.session.run_network
        if net is None:
            self._reject("this file holds weights only: open its architecture (model.json) to run it")
            return False
        try:
            fitted = check_inputs(net, arrays, free_time=encoded is not None)
        except ValueError as exc:
            self._reject(str(exc))
            return False
        self.clear_error()
        self._set_note("")
        self._typed_ids = encoded is not None
        self._jump_to_end = jump_to_end
        self._own_request = True
        self._fill_table(fitted[0])
        self.session.set_input(
            fitted if len(fitted) > 1 else fitted[0],
            encoded=encoded,
            target=target,
            feature_names=feature_names,
        )
        return True

    def apply_ids(self) -> bool:
        """Run the indices typed in the index field (token ids, or one-hot positions for one-hot inputs)."""
        spec = self._input_spec()
        if spec is None:
            self._reject("no runnable model is open")
            return False
        try:
            x = parse_indices(self.ids_edit.text(), spec[0])
            ids = np.argmax(x, axis=1) if x.ndim == 2 else x
            enc, padded = self.session.encode_ids([int(i) for i in ids])
        except ValueError as exc:
            self._reject(str(exc))
            return False
        return self.apply_arrays([padded[0]], encoded=enc)

    def apply_random(self) -> bool:
        """A random input of the right shape (seeded by the length, so it is reproducible)."""
        net = self.session.run_network
        if net is None or not net.input_shapes:
            self._reject("no runnable model is open")
            return False
        arrays, _kinds = self.random_inputs(self.length_box.value(), self.length_box.value())
        return self.apply_arrays(arrays)

    def random_inputs(self, seed: int, length: int) -> tuple[list[np.ndarray], list[str]]:
        """Seeded random arrays of the model's input shapes (`inspector.app.inputs.random_inputs`)."""
        net = self.session.run_network
        assert net is not None
        return random_inputs(net, self.session.vocabulary, seed, length)

    def apply_default_example(self) -> bool:
        """Run a seeded random example so a model without vocabulary does not open on empty views."""
        arrays, kinds = self.random_inputs(DEFAULT_RANDOM_SEED, DEFAULT_RANDOM_T)
        if not self.apply_arrays(arrays, jump_to_end=True):
            return False
        shape = self.session.run_network.input_shapes[0]  # type: ignore[union-attr]
        size = f"T = {arrays[0].shape[0]}" if len(shape) <= 3 else f"shape {arrays[0].shape}"
        self._set_note(
            f"Showing a random example input ({kinds[0]}, {size}, seed {DEFAULT_RANDOM_SEED}), not real "
            "data: load a sequence, type indices or edit the table to run your own."
        )
        return True

    @property
    def note_text(self) -> str:
        return self.note_label.text()

    def _set_note(self, text: str) -> None:
        self.note_label.setText(text)
        self.note_label.setToolTip(text)
        self.note_label.setVisible(bool(text))

    # ------------------------------------------------------------------ table editor
    def _fill_table(self, x: np.ndarray | None) -> None:
        """Show batch row 0 of `x` (T rows; one column per feature, or one 'id' column)."""
        self.table.clear()
        if x is None or x.ndim < 2:
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.table_button.setEnabled(False)
            return
        row = x[0]
        grid = row[:, None] if row.ndim == 1 else row.reshape(row.shape[0], -1)
        if grid.size > _TABLE_MAX_CELLS:
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.table_button.setEnabled(False)
            return
        self.table.setRowCount(grid.shape[0])
        self.table.setColumnCount(grid.shape[1])
        if row.ndim == 1:
            self.table.setHorizontalHeaderLabels(["id"])
        self.table.setVerticalHeaderLabels([f"t={t}" for t in range(grid.shape[0])])
        integer = np.issubdtype(grid.dtype, np.integer)
        for t in range(grid.shape[0]):
            for f in range(grid.shape[1]):
                v = grid[t, f]
                # shortest text that reads back to the same float32, so untouched cells round-trip
                txt = str(int(v)) if integer else np.format_float_positional(np.float32(v), trim="-")
                self.table.setItem(t, f, QTableWidgetItem(txt))
        self.table.resizeColumnsToContents()
        self._table_integer = integer
        self._table_1d = row.ndim == 1
        self.table_button.setEnabled(True)

    def _update_table_visibility(self, _checked: bool = False) -> None:
        self.table_box.setVisible(self.edit_button.isChecked() and self.tabs.currentIndex() == 1)

    def apply_table(self) -> bool:
        """Run the (edited) table as batch row 0."""
        rows, cols = self.table.rowCount(), self.table.columnCount()
        if rows == 0:
            self._reject("the table is empty: load or generate a sequence first")
            return False
        grid = np.zeros((rows, cols), dtype=np.float32)
        for t in range(rows):
            for f in range(cols):
                item = self.table.item(t, f)
                try:
                    grid[t, f] = float(item.text()) if item is not None and item.text().strip() else 0.0
                except ValueError:
                    self._reject(f"table cell (t={t}, column {f}) is not a number: {item.text()!r}")
                    return False
        x = grid[:, 0] if self._table_1d else grid
        if self._table_integer:
            x = x.astype(np.int64)
        return self.apply_arrays([x])

    # ------------------------------------------------------------------ stepper arrived
    def _on_input_changed(self, stepper: Stepper | None) -> None:
        own, self._own_request = self._own_request, False
        if not own:
            self._applied = None
            self._set_note("")
        if stepper is None:
            return
        if not own:
            self._mirror_external_input()
        if self._jump_to_end:
            self._jump_to_end = False
            self.session.set_step(self.session.n_steps - 1)

    def _mirror_external_input(self) -> None:
        """An input set elsewhere (snapshot, another tool): show it in the text box / table."""
        from inspector.ui.step_common import input_ids, model_inputs

        xs = model_inputs(self.session)
        if not xs:
            return
        self._fill_table(xs[0])
        vocab = self.session.vocabulary
        ids = input_ids(self.session)
        tokens = self.session.tokens
        if vocab and tokens is not None and self.session.encoded is not None:
            pad = self.session.encoded.padding
            words = [
                t.split(":", 1)[1] if t.startswith("<oov>:") else t for t, p in zip(tokens, pad) if not p
            ]
            self._set_text((" " if is_word_level(vocab) else "").join(words))
            self.tabs.setCurrentIndex(0)
        elif vocab and ids is not None:
            pad = self.session.padding_mask()
            tokens = [
                vocab[int(i)]
                for t, i in enumerate(ids)
                if 0 <= i < len(vocab) and not (pad is not None and pad[t])
            ]
            self._set_text((" " if is_word_level(vocab) else "").join(tokens))
            self.tabs.setCurrentIndex(0)
        else:
            self.tabs.setCurrentIndex(1)
