"""The structure panel: the model's layers as a tree (class, output shape, parameters, activations),
expanding to their weights; selecting a weight selects it in the Session."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from inspector.app.present import (
    MARKS,
    blocking_problems,
    infer_output_shapes,
    layer_notes,
    stored_class_names,
)
from inspector.app.present import format_dims as format_shape
from inspector.app.state import AppState
from inspector.ui.widgets import ElidedLabel

if TYPE_CHECKING:  # core (numpy) is imported with the first file: the window shows before it
    from inspector.core.network import Layer, ModelFile

PATH_ROLE = Qt.ItemDataRole.UserRole + 1  # weight display path (weights) or first weight path (layers)
KIND_ROLE = Qt.ItemDataRole.UserRole + 2  # 'layer' | 'weight' | 'group'
SEVERITY_ROLE = Qt.ItemDataRole.UserRole + 3  # 'problem' (will not run) | 'note' (informational)
PROBLEM_COLOR = QColor(190, 30, 30)
NOTE_COLOR = QColor(160, 90, 0)
DIM_COLOR = QColor(110, 110, 110)

Shape = tuple[int | None, ...]

_HIDDEN_CONFIG = frozenset({"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "dtype_policy"})


def _note_html(severity: str, text: str) -> str:
    """A problem (red ⚠) or a note (amber ℹ), as in the tree."""
    colour = "#be1e1e" if severity == "problem" else "#a05a00"
    return f"<span style='color:{colour}'>{MARKS[severity]} {html.escape(text)}</span>"


def _activation_text(layer: Layer) -> str:
    lay = layer
    while lay.kind in ("Bidirectional", "TimeDistributed") and lay.children:
        lay = lay.children[0]
    act = lay.config.get("activation")
    rec = lay.config.get("recurrent_activation")
    act_s = act if isinstance(act, str) else (None if act is None else str(act))
    if lay.kind in ("LSTM", "GRU") and rec is not None:
        return f"{act_s or 'tanh'} / {rec}"
    return act_s or ""


def _item(text: str, tooltip: str | None = None) -> QStandardItem:
    it = QStandardItem(text)
    it.setEditable(False)
    if tooltip or text:
        it.setToolTip(tooltip or text)  # the column may be elided when the panel is narrow
    return it


class StructureItemModel(QStandardItemModel):
    """Layers -> (halves / inner / sub-layers) -> weights, five columns."""

    COLUMNS = ("Layer / weight", "Class", "Shape", "Params", "Activation")
    COLUMN_TIPS = (
        "layer name; expand a layer to list its weights",
        "layer class (a weight's storage dtype when it is not float32)",
        "a layer's output shape (\u00b7 = batch), a weight's shape",
        "number of parameters",
        "activation / recurrent activation (a weight's gates)",
    )

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        for c, tip in enumerate(self.COLUMN_TIPS):
            self.horizontalHeaderItem(c).setToolTip(tip)
        self.path_items: dict[str, QStandardItem] = {}
        self.has_network = False

    def set_model_file(self, mf: ModelFile | None) -> None:
        self.removeRows(0, self.rowCount())
        self.path_items = {}
        self.has_network = mf is not None and mf.network is not None
        if mf is None:
            return
        from inspector.core.network import Layer

        root = self.invisibleRootItem()
        if mf.network is not None:
            shapes = infer_output_shapes(mf.network)
            if mf.network.kind == "Sequential":  # its InputLayer is implicit: show the input shape anyway
                for shape in mf.network.input_shapes[:1]:
                    self._add_input(root, Layer("input", "InputLayer"), shape)
            for lay in mf.network.layers:
                if lay.kind == "InputLayer":
                    self._add_input(root, lay, shapes.get(lay.name))
                    continue
                self._add_layer(root, lay, lay.name, shapes.get(lay.name))
        else:
            for lay in mf.weight_layers:
                self._add_layer(root, lay, lay.name, None)

    def _add_input(self, parent: QStandardItem, lay: Layer, shape) -> None:
        row = [_item(lay.name), _item("InputLayer"), _item(format_shape(shape)), _item(""), _item("")]
        for it in row:
            it.setForeground(QBrush(DIM_COLOR))
        parent.appendRow(row)

    def _add_layer(
        self, parent: QStandardItem, lay: Layer, prefix: str, shape, label: str | None = None
    ) -> None:
        weights = lay.all_weights()
        kind = lay.kind if lay.kind != "?" else "? (unknown class)"
        if lay.kind in ("Bidirectional", "TimeDistributed") and lay.children:
            kind = f"{lay.kind}({lay.children[0].kind})"
        name_item = _item(label or lay.name)
        name_item.setData("layer", KIND_ROLE)
        if weights:
            # the layer row stands for its first weight (usually the kernel)
            name_item.setData(f"{prefix}/{weights[0][0].split('/', 1)[1]}", PATH_ROLE)
        params = lay.n_params
        row = [
            name_item,
            _item(kind),
            _item(format_shape(shape)),
            _item(f"{params:,}" if params else ""),
            _item(_activation_text(lay)),
        ]
        row[3].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # in a weights-only file nothing runs until an architecture is given: not a problem per layer
        severity, problems = layer_notes(lay, self.has_network)
        if problems:
            tip = "\n".join(problems)
            color = PROBLEM_COLOR if severity == "problem" else NOTE_COLOR
            name_item.setText(f"{MARKS[severity]} {name_item.text()}")
            name_item.setData(severity, SEVERITY_ROLE)
            for it in row:
                it.setForeground(QBrush(color))
                # the cell's own text first: a narrow column elides it
                it.setToolTip(f"{it.text()}\n{tip}" if it.text() else tip)
        parent.appendRow(row)
        # children: Bidirectional halves, TimeDistributed inner, nested layers, own weights
        for w in lay.weights:
            self._add_weight(name_item, f"{prefix}/{w.name}", w)
        if lay.kind == "Bidirectional" and len(lay.children) == 2:
            for side, child in zip(("forward", "backward"), lay.children):
                self._add_layer(name_item, child, f"{prefix}/{side}", None, label=f"{side} ({child.name})")
        elif lay.children:
            for child in lay.children:
                self._add_layer(name_item, child, prefix, None, label=child.name)
        if lay.network is not None:
            sub_shapes = infer_output_shapes(lay.network)
            for sub in lay.network.layers:
                if sub.kind == "InputLayer":
                    continue
                self._add_layer(name_item, sub, f"{prefix}/{sub.name}", sub_shapes.get(sub.name))

    def _add_weight(self, parent: QStandardItem, path: str, w) -> None:
        tip = f"{path}\nstored as {w.stored_dtype}" + (f"\n{w.source}" if w.source else "")
        name_item = _item(w.name, tip)
        name_item.setData(path, PATH_ROLE)
        name_item.setData("weight", KIND_ROLE)
        gates = " ".join(g.label for g in w.gates)
        row = [
            name_item,
            _item("" if w.stored_dtype == "float32" else w.stored_dtype),
            _item(" \u00d7 ".join(str(d) for d in w.shape) or "scalar"),
            _item(f"{w.value.size:,}"),
            _item(gates),
        ]
        row[3].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for it in row[1:]:
            it.setForeground(QBrush(DIM_COLOR))
        if gates:
            f = row[4].font()
            f.setBold(True)  # DejaVu Sans regular mis-places combining tildes
            row[4].setFont(f)
        parent.appendRow(row)
        self.path_items[path] = name_item


_COLUMN_MIN = (56, 36, 44, 40, 44)  # narrowest useful width per column (px) when space is short


class StructurePanel(QWidget):
    """Header (file, format, writer version, problems) over the layer tree."""

    def sizeHint(self) -> QSize:
        # room for name, class, shape, params and activations without taking half of a 1024 px window
        # (narrower, the columns share the room and elide, with the full text in the tooltips)
        return QSize(380, 600)

    def __init__(self, session: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        # the file name on a line of its own, elided with the full path in the tooltip (medaka's is long)
        self.file_label = ElidedLabel(minimum_width=40)
        bold = self.file_label.font()
        bold.setBold(True)
        self.file_label.setFont(bold)
        self.file_label.setContentsMargins(4, 4, 4, 0)
        self.file_label.hide()
        self.header = QLabel("No model open.")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setContentsMargins(4, 0, 4, 4)
        # a long file name must not widen the dock (it is clipped; the full path is in the tooltip)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.header.setMinimumWidth(50)
        self.item_model = StructureItemModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.item_model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.tree.header()
        header.setStretchLastSection(False)
        # columns are fitted to the panel's width (fit_columns), never wider: no horizontal scrolling
        # hides the activation column; the user can still drag the section borders
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setIndentation(14)
        self.tree.expanded.connect(lambda _i: self.fit_columns())
        self.tree.collapsed.connect(lambda _i: self.fit_columns())
        self.tree.viewport().installEventFilter(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.file_label)
        lay.addWidget(self.header)
        self.details = QLabel()
        self.details.setObjectName("layer_details")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setContentsMargins(6, 4, 6, 4)
        details_area = QScrollArea()
        details_area.setWidget(self.details)
        details_area.setWidgetResizable(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(details_area)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([400, 260])
        lay.addWidget(split, 1)
        self.tree.selectionModel().currentRowChanged.connect(self._on_current_changed)
        session.file_loaded.connect(self._update_model_file)
        session.selection_changed.connect(self._update_selection)
        if session.model_file is not None:
            self._update_model_file(session.model_file)

    def _update_model_file(self, mf: ModelFile) -> None:
        from inspector.core.network import RECURRENT_KINDS

        self.file_label.setText(os.path.basename(mf.path))
        self.file_label.setToolTip(mf.path)
        self.file_label.show()
        self.header.setText(self.header_html(mf))
        self.header.setToolTip(mf.path)
        self.item_model.set_model_file(mf)
        # recurrent layers open by default: their weights are what people come for
        root = self.item_model.invisibleRootItem()
        for r in range(root.rowCount()):
            it = root.child(r, 0)
            cls = root.child(r, 1).text()
            if any(k in cls for k in RECURRENT_KINDS):
                self.tree.expand(it.index())
        self.fit_columns()
        self._update_selection(self.session.selection)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def fit_columns(self) -> None:
        """Give every column its content width when the panel is wide enough; otherwise shrink the
        text columns (names, class, shape first, then activation; elided, full text in the tooltip)
        so that all five columns stay visible.  The parameter count is never shrunk."""
        tree, header = self.tree, self.tree.header()
        n = self.item_model.columnCount()
        avail = tree.viewport().width()
        if avail <= 0 or n == 0:
            return
        want = [max(tree.sizeHintForColumn(c), header.sectionSizeHint(c)) + 6 for c in range(n)]
        excess = sum(want) - avail
        # names, class and shape give way first (proportionally), the activation column only after them
        for flexible in ([0, 1, 2], [4]):
            if excess <= 0:
                break
            slack = {c: max(0, want[c] - _COLUMN_MIN[c]) for c in flexible if c < n}
            total = sum(slack.values())
            if total > 0:
                take = min(excess, total)
                for c, sl in slack.items():
                    cut = int(math.ceil(take * sl / total))
                    want[c] -= cut
                    excess -= cut
        want = [max(wc, 20) for wc in want]
        want[-1] = max(20, want[-1] + avail - sum(want))  # the last column takes what is left
        for c in range(n):
            header.resizeSection(c, want[c])

    @staticmethod
    def header_html(mf: ModelFile) -> str:
        """Format, writer, parameters, notes (the file name is the elided line above it)."""
        writer = f"Keras {mf.keras_version}" if mf.keras_version else "unknown Keras version"
        backend = f" ({mf.backend})" if mf.backend else ""
        layers = mf.network.layers if mf.network is not None else mf.weight_layers
        n_params = sum(lay.n_params for lay in layers)
        lines = [
            f"{mf.format}<br>written by <b>{writer}</b>{backend} \u00b7 {n_params:,} parameters",
        ]
        if mf.network is None:
            lines.append(
                "<span style='color:#a05a00'>weights only: open the architecture "
                "(File \u2192 Open architecture) to run it</span>"
            )
        classes = stored_class_names(mf.path) if mf.path else ""
        if classes:
            lines.append(f"class names stored in the file: {html.escape(classes)}")
        blocking = blocking_problems(mf.network)
        for p in mf.problems:
            severity = "problem" if p in blocking else "note"
            lines.append(_note_html(severity, p))
        return "<br>".join(lines)

    def details_html(self, path: str) -> str:
        """The selected weight's layer: its settings (initialisers etc. left out), problems, the weight."""
        found = self.session.find_weight(path)
        if found is None:
            return "<span style='color:#777'>Select a layer or weight to see its settings.</span>"
        top, weight = found
        owner = top
        for part in path.split("/")[1:-1]:
            if owner.kind == "Bidirectional" and part in ("forward", "backward") and len(owner.children) == 2:
                owner = owner.children[0 if part == "forward" else 1]
            elif owner.network is not None:
                owner = next((x for x in owner.network.layers if x.name == part), owner)
        while owner.kind == "TimeDistributed" and owner.children:
            owner = owner.children[0]
        rows = []
        for key, value in owner.config.items():
            if key in _HIDDEN_CONFIG or key.endswith(("_initializer", "_regularizer", "_constraint")):
                continue
            if isinstance(value, Mapping | list | tuple) and len(str(value)) > 60:
                continue
            rows.append(f"<tr><td style='color:#555;padding-right:8px'>{key}</td><td>{value}</td></tr>")
        severity, texts = layer_notes(owner, self.session.network is not None)
        problems = "".join(f"<br>{_note_html(severity, p)}" for p in texts)
        shape = " \u00d7 ".join(str(d) for d in weight.shape) or "scalar"
        # zero-width spaces after '/' let a long dataset path wrap
        wrapped = html.escape(weight.source).replace("/", "/\u200b")
        src = f"<br><span style='color:#777'>{wrapped}</span>" if weight.source else ""
        return (
            f"<b>{owner.name}</b> &nbsp;{owner.kind}{problems}"
            f"<table cellspacing='0' style='margin-top:4px'>{''.join(rows)}</table>"
            f"<br><b>{weight.name}</b> {shape}, stored as {weight.stored_dtype}{src}"
        )

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        first = current.siblingAtColumn(0)
        path = first.data(PATH_ROLE)
        if path:
            self.session.select_weight(path)

    def _update_selection(self, path: str) -> None:
        self.details.setText(self.details_html(path))
        cur = self.tree.currentIndex().siblingAtColumn(0)
        if cur.isValid() and cur.data(PATH_ROLE) == path:
            return  # already showing it (e.g. a layer row standing for its kernel)
        item = self.item_model.path_items.get(path)
        sel = self.tree.selectionModel()
        if item is None:
            sel.clearSelection()
            return
        idx = item.index()
        self.tree.scrollTo(idx)
        sel.setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
