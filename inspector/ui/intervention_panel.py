"""What if? Active interventions (ablate, clamp, edit input) and the counterfactual run beside the original.

Wiring and drawing only: the list and undo live in `inspector.app.interventions.InterventionList`, the
runs in `run_counterfactual()` and `inspector.app.attribution.occlusion()`.  The panel takes plain
inputs (`set_model`, `set_step`, `set_selection`) so the main window can feed it from its app state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from inspector.app.attribution import occlusion
from inspector.app.interventions import (
    Counterfactual,
    EditInput,
    InterventionList,
    describe,
    recurrent_units,
    run_counterfactual,
    sequence_length,
)
from inspector.core.network import GATES_BY_KIND, ModelFile

Runner = Callable[[Callable[[], Any], Callable[[Any], None]], None]
TITLE_SIZE = "9pt"
_ORIG = QColor(90, 130, 190)
_CF = QColor(230, 120, 30)
_LAYER_COLORS = [QColor(c) for c in ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")]


def _sync(job: Callable[[], Any], done: Callable[[Any], None]) -> None:
    done(job())


class InterventionPanel(QWidget):
    """Interventions with add / remove / undo, and original vs counterfactual outputs and states.

    Signals
    -------
    interventions_changed(tuple) : the active interventions after every change.
    counterfactual_ready(object) : the new `Counterfactual` (None when there is nothing to run).
    step_requested(int) : the user clicked a step in one of the plots.
    """

    interventions_changed = Signal(tuple)
    counterfactual_ready = Signal(object)
    step_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None, runner: Runner | None = None) -> None:
        super().__init__(parent)
        self.interventions = InterventionList()
        self._runner = runner or _sync
        self._mf: ModelFile | None = None
        self._inputs: list[np.ndarray] = []
        self._sample = 0
        self._step = 0
        self._cf: Counterfactual | None = None
        self._request = 0
        self._build()
        self.interventions.changed.connect(self._on_list_changed)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        controls = QWidget()
        grid = QGridLayout(controls)
        grid.setContentsMargins(4, 4, 4, 4)
        self.kind = QComboBox()
        self.kind.addItems(["Ablate unit", "Clamp gate", "Edit input"])
        self.layer = QComboBox()
        self.unit = QSpinBox()
        self.gate = QComboBox()
        self.value = QDoubleSpinBox()
        self.value.setRange(-1e6, 1e6)
        self.value.setDecimals(3)
        self.feature = QSpinBox()
        self.from_step = QSpinBox()
        rows: list[tuple[str, QWidget]] = [
            ("Intervention", self.kind),
            ("Layer", self.layer),
            ("Unit", self.unit),
            ("Gate", self.gate),
            ("Feature / id", self.feature),
            ("Value", self.value),
            ("From step", self.from_step),
        ]
        for r, (label, w) in enumerate(rows):
            grid.addWidget(QLabel(label), r, 0)
            grid.addWidget(w, r, 1)
        buttons = QGridLayout()  # two rows of two: the controls stay narrow next to the plots
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.undo_button = QPushButton("Undo")
        self.clear_button = QPushButton("Clear")
        for k, b in enumerate((self.add_button, self.remove_button, self.undo_button, self.clear_button)):
            buttons.addWidget(b, k // 2, k % 2)
        grid.addLayout(buttons, len(rows), 0, 1, 2)
        self.list = QListWidget()
        self.list.setMinimumWidth(180)
        # long entries wrap inside the column (no sideways scrolling); the tooltip has each in full
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        grid.addWidget(QLabel("Active interventions"), len(rows) + 1, 0, 1, 2)
        grid.addWidget(self.list, len(rows) + 2, 0, 1, 2)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        grid.addWidget(self.status, len(rows) + 3, 0, 1, 2)

        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.out_plot = self.plots.addPlot(row=0, col=0)
        self.diff_plot = self.plots.addPlot(row=1, col=0)
        self.div_plot = self.plots.addPlot(row=2, col=0)
        self.occ_plot = self.plots.addPlot(row=3, col=0)
        # short titles at 9pt: the plots keep them whole in a 1024-pixel-wide window
        self.out_plot.setTitle("output", size=TITLE_SIZE)
        self.diff_plot.setTitle("changed − original", size=TITLE_SIZE)
        self.div_plot.setTitle("where the states diverge: ‖Δh‖ per layer", size=TITLE_SIZE)
        self.occ_plot.setTitle("occlusion", size=TITLE_SIZE)
        self.occ_plot.setMaximumHeight(90)
        self.occ_label = QLabel("")
        self.occ_label.setWordWrap(True)
        self.occ_plot.getAxis("left").setTicks([[]])  # kept (empty) so the x axes line up
        self.occ_img = pg.ImageItem(axisOrder="row-major")
        self.occ_img.setColorMap(pg.colormap.get("CET-D1"))
        self.occ_plot.addItem(self.occ_img)
        self.div_plot.addLegend(offset=(-5, 5))
        self._cursors = []
        for p in (self.out_plot, self.diff_plot, self.div_plot, self.occ_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.getAxis("bottom").enableAutoSIPrefix(False)
            p.getAxis("left").setWidth(48)
            cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DashLine))
            p.addItem(cursor)
            self._cursors.append(cursor)
            p.scene().sigMouseClicked.connect(self._on_plot_clicked)
        for p in (self.diff_plot, self.div_plot, self.occ_plot):
            p.setXLink(self.out_plot)
        self.occ_plot.setLabel("bottom", "input step")

        right = QWidget()
        rlay = QVBoxLayout(right)
        rlay.setContentsMargins(0, 0, 4, 4)
        rlay.addWidget(self.plots, 1)
        rlay.addWidget(self.occ_label)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(controls)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 740])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

        self.kind.currentIndexChanged.connect(self._on_kind)
        self.layer.currentIndexChanged.connect(self._on_layer)
        self.add_button.clicked.connect(self._on_add)
        self.remove_button.clicked.connect(self._on_remove)
        self.undo_button.clicked.connect(self.interventions.undo)
        self.clear_button.clicked.connect(self.interventions.clear)
        self._on_kind()

    # ------------------------------------------------------------------ inputs from the app state

    def set_model(self, mf: ModelFile | None, inputs: Sequence[np.ndarray], sample: int = 0) -> None:
        """A new model / input: interventions that no longer fit are dropped, the runs redone."""
        self._mf, self._inputs, self._sample = mf, [np.asarray(a) for a in inputs], int(sample)
        self.layer.blockSignals(True)
        self.layer.clear()
        self._units = recurrent_units(mf.network) if mf is not None and mf.network is not None else {}
        self.layer.addItems(list(self._units))
        self.layer.blockSignals(False)
        T = self._n_steps()
        self.from_step.setRange(0, max(0, T - 1))
        self._on_layer()
        self._recompute()

    def set_step(self, t: int) -> None:
        self._step = max(0, int(t))
        for c in self._cursors:
            c.setValue(self._step)
        self._draw_occlusion()

    def set_selection(self, layer: str | None, unit: int | None) -> None:
        """Preselect the layer / unit the user is looking at elsewhere."""
        if layer is not None and self.layer.findText(layer) >= 0:
            self.layer.setCurrentIndex(self.layer.findText(layer))
        if unit is not None:
            self.unit.setValue(int(unit))

    # ------------------------------------------------------------------ controls

    def _n_steps(self) -> int:
        mf = self._mf
        if mf is None or mf.network is None or not self._inputs:
            return 1
        return sequence_length(mf.network, self._inputs)  # the longest sequence input

    def _on_kind(self) -> None:
        k = self.kind.currentIndex()
        self.layer.setEnabled(k < 2)
        self.unit.setEnabled(k < 2)
        self.gate.setEnabled(k == 1)
        self.feature.setEnabled(k == 2)
        self.value.setEnabled(k >= 1)

    def _on_layer(self) -> None:
        name = self.layer.currentText()
        units = getattr(self, "_units", {}).get(name, 1)
        self.unit.setRange(0, max(0, units - 1))
        kind = self._layer_kind(name)
        self.gate.clear()
        self.gate.addItems([key for key, _, _ in GATES_BY_KIND.get(kind, ())])
        x = self._inputs[0] if self._inputs else np.zeros((1, 1))
        top = (
            (int(x.max()) if x.size else 0) + 100
            if x.dtype.kind in "iu"
            else (x.shape[-1] - 1 if x.ndim >= 3 else 0)
        )
        self.feature.setRange(0, max(0, top))

    def _layer_kind(self, key: str) -> str:
        if self._mf is None or self._mf.network is None:
            return ""
        top = key.split("/")[0]
        for lay in self._mf.network.layers:
            if lay.name == top:
                if lay.kind == "Bidirectional" and len(lay.children) == 2:
                    return lay.children[0 if key.endswith("/forward") else 1].kind
                return lay.kind
        return ""

    def make_intervention(self) -> Any:
        """The intervention the controls describe."""
        k = self.kind.currentIndex()
        start = self.from_step.value()
        if k < 2:  # ablate / clamp run inside the engine
            from inspector.core import interventions as core_iv  # type: ignore[attr-defined,unused-ignore]
        if k == 0:
            return core_iv.Ablate(self.layer.currentText(), self.unit.value(), start)
        if k == 1:
            gate = self.gate.currentText()
            return core_iv.ClampGate(
                self.layer.currentText(), gate, self.unit.value(), self.value.value(), start
            )
        x = self._inputs[0]
        if x.dtype.kind in "iu" or x.ndim == 2:
            value: Any = int(self.feature.value())
        else:
            row = np.asarray(x[self._sample, start], dtype=np.float32)
            one_hot = bool(np.all((row == 0) | (row == 1)) and row.sum() == 1)
            value = np.zeros_like(row) if one_hot else row.copy()
            value[self.feature.value()] = 1.0 if one_hot else self.value.value()
        return EditInput(step=start, value=value, sample=self._sample)

    def _on_add(self) -> None:
        try:
            self.interventions.add(self.make_intervention())
        except (ImportError, AttributeError):
            self.status.setText("This engine does not support ablation / clamping yet.")

    def _on_remove(self) -> None:
        row = self.list.currentRow()
        self.interventions.remove(row if row >= 0 else len(self.interventions) - 1)

    def _on_list_changed(self, items: tuple) -> None:
        self.list.clear()
        for iv in items:
            text = describe(iv)
            self.list.addItem(text)
            self.list.item(self.list.count() - 1).setToolTip(text)
        self.undo_button.setEnabled(self.interventions.can_undo)
        self.interventions_changed.emit(items)
        self._recompute()

    def _on_plot_clicked(self, event: Any) -> None:
        pos = self.out_plot.vb.mapSceneToView(event.scenePos())
        if 0 <= pos.x() < self._n_steps():
            self.step_requested.emit(round(pos.x()))

    # ------------------------------------------------------------------ runs and drawing

    def _recompute(self) -> None:
        self._request += 1
        request = self._request
        mf, xs, items = self._mf, self._inputs, self.interventions.items
        if mf is None or mf.network is None or not xs:
            self._show(request, None)
            return
        net, sem = mf.network, mf.semantics
        rows = [a[self._sample : self._sample + 1] for a in xs]

        def job() -> Any:
            try:
                return run_counterfactual(net, rows if len(rows) > 1 else rows[0], sem, items)
            except Exception as exc:  # noqa: BLE001 - shown in the panel, one line
                return exc

        self._runner(job, lambda result: self._show(request, result))

    def _show(self, request: int, result: Any) -> None:
        if request != self._request:  # a newer run was started: drop this one
            return
        if isinstance(result, Exception):
            self.status.setText(f"cannot run: {result}")
            result = None
        self._cf = result
        for p in (self.out_plot, self.diff_plot, self.div_plot):
            for item in list(p.listDataItems()):
                p.removeItem(item)
        if self.div_plot.legend is not None:
            self.div_plot.legend.clear()
        if result is not None:
            self._draw(result)
        self.counterfactual_ready.emit(result)
        self._draw_occlusion()

    def _draw(self, cf: Counterfactual) -> None:
        o, c = cf.outputs_original[0], cf.outputs_changed[0]  # (S, K) for the shown sample
        k = int(np.argmax(o[-1])) if o.shape[-1] > 1 else 0
        steps = cf.steps  # every input step, or evenly spaced ones on a long non-causal run
        self.out_plot.plot(steps, o[:, k], pen=pg.mkPen(_ORIG, width=2), symbol="o", symbolSize=4)
        self.out_plot.plot(steps, c[:, k], pen=pg.mkPen(_CF, width=2, style=Qt.PenStyle.DashLine))
        self.out_plot.setTitle(f"output {k}: original (solid), changed (dashed)", size=TITLE_SIZE)
        self.out_plot.setXRange(-0.5, self._n_steps() - 0.5, padding=0.02)
        self.diff_plot.plot(
            steps, c[:, k] - o[:, k], pen=pg.mkPen(_CF, width=2), fillLevel=0, brush=(230, 120, 30, 60)
        )
        for i, (name, d) in enumerate(cf.divergence.items()):
            pen = pg.mkPen(_LAYER_COLORS[i % len(_LAYER_COLORS)], width=2)
            self.div_plot.plot(np.arange(d.shape[1]), d[0], pen=pen, name=name)
        n = len(self.interventions)
        moved = float(np.abs(cf.difference[0]).max()) if cf.difference.size else 0.0
        self.status.setText(
            f"{n} intervention(s); largest output change {moved:.4g}" if n else "No intervention: add one."
        )

    def _draw_occlusion(self) -> None:
        mf, xs = self._mf, self._inputs
        T = self._n_steps()
        if mf is None or mf.network is None or not xs:
            self.occ_img.clear()
            return
        t = min(self._step, T - 1)
        rows = [a[self._sample : self._sample + 1, : t + 1] for a in xs]
        try:
            occ = occlusion(mf.network, rows if len(rows) > 1 else rows[0], mf.semantics)
        except Exception as exc:  # noqa: BLE001 - e.g. a model with two sequence inputs
            self.occ_label.setText(f"Occlusion not available: {exc}")
            self.occ_img.clear()
            return
        k = int(np.argmax(occ.output[0])) if occ.output.shape[1] > 1 else 0
        strip = np.full((1, T), np.nan, np.float32)
        strip[0, : t + 1] = occ.scores[0, :, k]
        lim = float(np.nanmax(np.abs(strip))) or 1.0
        self.occ_img.setImage(np.nan_to_num(strip), autoLevels=False, levels=(-lim, lim))
        self.occ_img.setRect(-0.5, -0.5, T, 1)
        self.occ_plot.setTitle(f"occlusion: the steps behind output {k} at step {t}", size=TITLE_SIZE)
        self.occ_label.setText(
            f"Occlusion strip - red: the step raised output {k}, blue: it lowered it. "
            f"An occluded step is {occ.counterfactual}."
        )
