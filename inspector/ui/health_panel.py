"""The Health panel: the findings of `inspector.app.health.check` as a clickable list (wiring, drawing)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspector.app import health
from inspector.core.network import ModelFile
from inspector.ui.workers import TaskRunner

_ICONS = {
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}
_COLUMNS = ("severity", "code", "layer", "gate", "units", "message")


def _units_cell(units: Sequence[int]) -> str:
    if not units:
        return ""
    text = ", ".join(str(u) for u in units[:6])
    return text + (f" (+{len(units) - 6})" if len(units) > 6 else "")


def _summary(findings: Sequence[health.Finding]) -> str:
    counts = {s: sum(f.severity == s for f in findings) for s in health.SEVERITIES}
    problems = [f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning") if counts[s]]
    head = ", ".join(problems) if problems else "No errors or warnings"
    return f"{head} ({counts['info']} info note{'s' if counts['info'] != 1 else ''})"


class HealthPanel(QWidget):
    """Health findings of one model: weight findings on `set_model`, data findings on "Run on data".

    Signals
    -------
    finding_activated(layer: str, weight_path: str, gate: str, units: tuple) : a finding was clicked
        (gate '' and units () where they do not apply; weight_path '' when there is no weight to show).
    findings_changed(list) : the findings now shown.
    """

    finding_activated = Signal(str, str, str, object)
    findings_changed = Signal(object)
    SEVERITY, CODE, LAYER, GATE, UNITS, MESSAGE = range(6)

    def __init__(
        self, parent: QWidget | None = None, sync: bool = False, thresholds: health.Thresholds | None = None
    ) -> None:
        super().__init__(parent)
        self.thresholds = thresholds or health.Thresholds()
        self.model: ModelFile | None = None
        self.inputs: np.ndarray | list[np.ndarray] | None = None
        self.findings: list[health.Finding] = []
        self._runner = TaskRunner(self, sync=sync)
        self._runner.finished.connect(self._on_checked)
        self._runner.failed.connect(self._on_failed)
        self._runner.busy_changed.connect(self._on_busy)

        self.summary = QLabel("No model")
        self.summary.setWordWrap(True)
        self.run_button = QPushButton("Run on data")
        self.run_button.setToolTip("Run the current input through the model: saturated gates, constant units")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_on_data)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.run_button)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(_COLUMNS))
        self.tree.setHeaderLabels([c.capitalize() for c in _COLUMNS])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        for col in range(self.MESSAGE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(True)
        self.tree.itemClicked.connect(self._on_item)
        self.tree.itemActivated.connect(self._on_item)

        self.tree.currentItemChanged.connect(self._on_current)
        # long messages are elided in the table: the current one is shown whole below it
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.detail)

    # ------------------------------------------------------------------ inputs
    def set_model(self, mf: ModelFile | None) -> None:
        """Show the weight findings of `mf` (None clears); data findings wait for "Run on data"."""
        self.model = mf
        self._runner.cancel()
        if mf is None:
            self.set_findings([], "No model")
            return
        self.summary.setText("Checking the weights\u2026")
        self._runner.submit(health.check, mf, None, self.thresholds)
        self._update_button()

    def set_input(self, inputs: np.ndarray | list[np.ndarray] | None) -> None:
        """The input "Run on data" uses (batch axis first), e.g. the input panel's current array."""
        self.inputs = inputs
        self._update_button()

    def run_on_data(self) -> None:
        """Weight and data findings for the current model and input, off the GUI thread."""
        if self.model is None or self.inputs is None:
            return
        self.summary.setText("Running the model on the data\u2026")
        self._runner.submit(health.check, self.model, self.inputs, self.thresholds)

    def set_findings(self, findings: Sequence[health.Finding], note: str | None = None) -> None:
        """Show `findings` (most severe first, as `health.check` orders them)."""
        self.findings = list(findings)
        self.tree.clear()
        style = self.style()
        for f in self.findings:
            item = QTreeWidgetItem(
                [f.severity, f.code, f.layer, f.gate or "", _units_cell(f.units), f.message]
            )
            item.setIcon(self.SEVERITY, style.standardIcon(_ICONS[f.severity]))
            item.setToolTip(self.MESSAGE, f.message)
            item.setData(self.SEVERITY, Qt.ItemDataRole.UserRole, f)
            self.tree.addTopLevelItem(item)
        self.summary.setText(note or _summary(self.findings))
        self.detail.setText("")
        if self.findings:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.findings_changed.emit(self.findings)

    # ------------------------------------------------------------------ slots
    def _update_button(self) -> None:
        ok = self.model is not None and self.model.network is not None and self.inputs is not None
        self.run_button.setEnabled(ok and not self._runner.busy)

    def _on_busy(self, busy: bool) -> None:
        self._update_button()

    def _on_checked(self, findings: object) -> None:
        assert isinstance(findings, list)
        self.set_findings(findings)

    def _on_failed(self, message: str) -> None:
        self.summary.setText(f"Health check failed: {message}")

    def _on_current(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        f = item.data(self.SEVERITY, Qt.ItemDataRole.UserRole) if item is not None else None
        self.detail.setText(
            f"<b>{f.code}</b>: {html.escape(f.message)}" if isinstance(f, health.Finding) else ""
        )

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        f = item.data(self.SEVERITY, Qt.ItemDataRole.UserRole)
        if isinstance(f, health.Finding):
            self.finding_activated.emit(f.layer, f.weight or "", f.gate or "", tuple(f.units))


if __name__ == "__main__":  # pragma: no cover - manual check: python -m inspector.ui.health_panel MODEL
    import sys

    from PySide6.QtWidgets import QApplication

    from inspector.io import load

    app = QApplication(sys.argv)
    w = HealthPanel(sync=True)
    w.set_model(load(sys.argv[1]))
    w.resize(900, 400)
    w.show()
    sys.exit(app.exec())
