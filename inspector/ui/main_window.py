"""The main window: menus, recent files, drag & drop, busy state, error banner, docks and tabs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.app.state import AppState
from inspector.core.network import RECURRENT_KINDS, Layer, ModelFile
from inspector.io.sidecar import read_vocabulary
from inspector.ui.session import Session
from inspector.ui.structure_panel import StructurePanel

APP_NAME = "Keras Weight Inspector"
SETTINGS_ORG = SETTINGS_APP = "keras-inspector"
MAX_RECENT = 10
MODEL_FILTER = "Keras models and weights (*.h5 *.hdf5 *.keras *.weights.h5 *.hd5);;All files (*)"

# shown in the status bar once a model has run its first input, while the Weights tab is in front:
# the first thing a new user needs to know is that the Stepper tab is already live
STEPPER_HINT = "Try the Stepper tab (Ctrl+2): {what} is already run \u2014 \u2190/\u2192 step, Space plays."

_BANNER_STYLES = {
    "error": "background:#fde2e1; border:1px solid #e0a09c; color:#5c0f0b;",
    "info": "background:#fff4d6; border:1px solid #e5c76b; color:#4a3800;",
}


def read_vocabulary_file(path: str) -> list[str]:
    """A vocabulary file chosen by the user (the sidecar format, docs/formats.md); ValueError if malformed."""
    return read_vocabulary(path)


DOCK_WIDTH = 380  # the Model dock's width in a large window (px)
DOCK_MIN_WIDTH = 260
DOCK_SHARE = 0.27  # its share of a small window's width (1024 px -> 276 px)


def default_pages() -> list[tuple[str, Callable[[AppState], QWidget]]]:
    """The central tabs, in order: (title, factory taking the AppState).  A new page is one entry here."""
    from inspector.ui.pages import CellTab, CompareTab, HealthTab, UnitsTab, WhatIfTab
    from inspector.ui.stepper_panel import StepperPanel
    from inspector.ui.weight_panel import WeightPanel

    return [
        ("Weights", WeightPanel),
        ("Stepper", StepperPanel),
        ("Units", UnitsTab),
        ("Health", HealthTab),
        ("Cell", CellTab),
        ("What if", WhatIfTab),
        ("Compare", CompareTab),
    ]


class Banner(QFrame):
    """A dismissible one-line message above the views (errors, weights-only notice); never modal."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.setVisible(False)
        self.close_button = QToolButton()
        self.close_button.setText("\u2715")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 4, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.action_button)
        lay.addWidget(self.close_button)
        self.level = ""
        self._action = None
        self.action_button.clicked.connect(self._run_action)
        self.hide()

    def show_message(self, text: str, level: str = "error", action: tuple[str, object] | None = None) -> None:
        self.level = level
        self.setStyleSheet(f"QFrame#banner {{{_BANNER_STYLES[level]}}}")
        prefix = "\u26a0 " if level == "error" else ""
        self.label.setText(prefix + text)
        self._action = action[1] if action else None
        self.action_button.setVisible(action is not None)
        if action:
            self.action_button.setText(action[0])
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()

    def _run_action(self) -> None:
        if callable(self._action):
            self._action()


class MainWindow(QMainWindow):
    """Structure dock on the left; Weights and Stepper tabs in the centre; everything via the Session."""

    def __init__(self, session: AppState | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.session: AppState = session if session is not None else Session()
        self.settings = settings or QSettings(SETTINGS_ORG, SETTINGS_APP)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        # architecture JSONs chosen for weights-only files, so Open Recent reopens them runnable
        self.session.architectures.update(self._saved_architectures())
        self._pending_vocabulary: str | None = None
        self._hint_pending = False
        self.resize(1280, 800)

        self.structure = StructurePanel(self.session)
        dock = QDockWidget("Model", self)
        dock.setObjectName("structure_dock")
        dock.setWidget(self.structure)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.structure_dock = dock
        self.structure.setMinimumWidth(DOCK_MIN_WIDTH)
        self._dock_shrunk = False

        self.pages: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        # the pages connect to the state first, so the window's own reactions below run after theirs
        for title, factory in default_pages():
            self.add_page(title, factory(self.session))
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.banner = Banner()
        self.banner.close_button.clicked.connect(self._on_banner_closed)
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self._build_status_bar()
        self._build_menus()

        s = self.session
        s.file_loaded.connect(self._on_file_loaded)
        s.load_failed.connect(self._on_load_failed)
        s.input_failed.connect(self._on_input_failed)
        s.busy_changed.connect(self._update_busy)
        s.input_changed.connect(self._on_input_changed)
        if s.model_file is not None:
            self._on_file_loaded(s.model_file)

    # ------------------------------------------------------------------ construction
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            QTimer.singleShot(0, self, self._fit_dock)  # once the dock has its laid-out width

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        QTimer.singleShot(0, self, self._fit_dock)

    def _fit_dock(self) -> None:
        """A small window gives the Model dock a smaller share (the pages need the width); a window
        made larger again gives back what this took.  A width the user dragged to is otherwise kept."""
        dock = self.structure_dock
        if dock.isFloating() or not dock.isVisible():
            return
        target = min(DOCK_WIDTH, max(DOCK_MIN_WIDTH, int(self.width() * DOCK_SHARE)))
        if dock.width() > target or (self._dock_shrunk and dock.width() < target):
            self.resizeDocks([dock], [target], Qt.Orientation.Horizontal)
            self._dock_shrunk = target < DOCK_WIDTH

    def add_page(self, title: str, page: QWidget) -> None:
        """Add a central tab (View menu: Ctrl+<its number>); `page` observes `self.session` itself."""
        self.pages[title] = page
        # pages ask for other pages and report through these signals (inspector.ui.pages.StatePage)
        for name, slot in (
            ("show_page", self.show_page),
            ("notice", self._notice),
            ("failed", self.show_error),
        ):
            signal = getattr(page, name, None)
            if signal is not None and hasattr(signal, "connect"):
                signal.connect(slot)
        # a page whose minimum size is larger than the window scrolls instead of growing the window,
        # so the window keeps the size it is given (1280x800 snapshots, small laptop screens)
        self.tabs.addTab(self._scrollable(page), title)

    @property
    def weights(self) -> QWidget:
        """The Weights page (a WeightPanel)."""
        return self.pages["Weights"]

    @property
    def stepper(self) -> QWidget:
        """The Stepper page (a StepperPanel)."""
        return self.pages["Stepper"]

    def show_page(self, title: str) -> None:
        """Bring the page `title` to the front (no-op for an unknown title)."""
        if title in self.pages:
            self.tabs.setCurrentIndex(list(self.pages).index(title))

    def _notice(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    @staticmethod
    def _scrollable(page: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidget(page)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        return area

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.busy_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setTextVisible(False)
        self.format_label = QLabel("No model open")
        self.format_label.setStyleSheet("color:#444; padding-right:6px;")
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.busy_label)
        bar.addPermanentWidget(self.format_label)
        self.busy_bar.hide()
        self.busy_label.hide()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open\u2026", self, shortcut=QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_dialog)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.reload_action = QAction("&Reload", self, shortcut=QKeySequence(Qt.Key.Key_F5))
        self.reload_action.triggered.connect(self.session.reload)
        self.reload_action.setEnabled(False)
        file_menu.addAction(self.reload_action)
        file_menu.addSeparator()
        self.config_action = QAction("Open &architecture (model.json)\u2026", self)
        self.config_action.triggered.connect(self.open_config_dialog)
        self.config_action.setEnabled(False)
        file_menu.addAction(self.config_action)
        self.vocab_action = QAction("Open &vocabulary\u2026", self)
        self.vocab_action.triggered.connect(self.open_vocabulary_dialog)
        self.vocab_action.setEnabled(False)
        file_menu.addAction(self.vocab_action)
        self.corpus_action = QAction("Open &corpus (text file)\u2026", self)
        self.corpus_action.triggered.connect(self._open_corpus)
        file_menu.addAction(self.corpus_action)
        file_menu.addSeparator()
        self.compare_action = QAction("Compare &with\u2026", self)
        self.compare_action.triggered.connect(self.compare_dialog)
        file_menu.addAction(self.compare_action)
        self.compare_folder_action = QAction("Compare with a checkpoint &folder\u2026", self)
        self.compare_folder_action.triggered.connect(lambda: self.compare_dialog(folder=True))
        file_menu.addAction(self.compare_folder_action)
        file_menu.addSeparator()
        from inspector.ui.export_menu import ExportMenu

        self.export_menu = ExportMenu(self, file_menu)
        self.export_action = self.export_menu.window_action
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for k, name in enumerate(self.pages):
            act = QAction(name, self, shortcut=QKeySequence(f"Ctrl+{k + 1}"))
            act.triggered.connect(lambda _=False, k=k: self.tabs.setCurrentIndex(k))
            view_menu.addAction(act)
        view_menu.addAction(self.structure_dock.toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)
        self._update_recent_menu()

    # ------------------------------------------------------------------ opening
    def open_path(self, path: str) -> None:
        """Open a model/weights file, or (by content) a vocabulary or architecture JSON."""
        self.open_paths([path])

    def open_paths(self, paths: list[str]) -> None:
        """Open files given together (drag & drop): a model, its architecture JSON, its vocabulary."""
        models, archs, vocabs = [], [], []
        for p in paths:
            kind = self._json_kind(p)
            (vocabs if kind == "vocabulary" else archs if kind == "architecture" else models).append(p)
        if models:
            if vocabs:
                self._pending_vocabulary = vocabs[0]  # applied once the model has loaded
            self.session.open(models[0], archs[0] if archs else None)
            return
        if archs:
            target = self.session.loading_path or self.session.path
            if target is None:
                self.show_error(
                    f"{os.path.basename(archs[0])}: an architecture needs its weights file; "
                    "open the weights first"
                )
            else:
                self.session.open(target, archs[0])
        for v in vocabs:
            self.load_vocabulary(v)

    @staticmethod
    def _json_kind(path: str) -> str | None:
        """'vocabulary' for a JSON list, 'architecture' for a JSON object, else None (sniffs content)."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(64).lstrip()
        except OSError:
            return None
        if head.startswith(b"["):
            return "vocabulary"
        if head.startswith(b"{"):
            return "architecture"
        return None

    def open_dialog(self) -> None:
        start = os.path.dirname(self.session.path) if self.session.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a Keras model or weights file", start, MODEL_FILTER)
        if path:
            self.open_path(path)  # a vocabulary or architecture JSON chosen here is used as such

    def open_config_dialog(self) -> None:
        start = os.path.dirname(self.session.path) if self.session.path else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open the architecture (model.to_json())", start, "JSON (*.json);;All files (*)"
        )
        if path:
            self.session.open_config(path)

    def open_vocabulary_dialog(self) -> None:
        start = os.path.dirname(self.session.path) if self.session.path else ""
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a vocabulary (JSON list of tokens in one-hot order)",
            start,
            "Vocabulary (*.json *.txt);;All files (*)",
        )
        if path:
            self.load_vocabulary(path)

    def load_vocabulary(self, path: str) -> None:
        try:
            vocab = read_vocabulary_file(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self.show_error(f"{os.path.basename(path)}: cannot read the vocabulary ({exc})")
            return
        self.session.set_vocabulary(vocab)
        self.statusBar().showMessage(f"Vocabulary: {len(vocab)} tokens from {os.path.basename(path)}", 8000)

    def export_dialog(self) -> None:
        self.export_menu.export_window()

    def _open_corpus(self) -> None:
        page = self.pages.get("Units")
        if page is not None and hasattr(page, "open_corpus_dialog"):
            page.open_corpus_dialog()

    def compare_dialog(self, folder: bool = False) -> None:
        """File > Compare with…: a second file (or a checkpoint folder) against the open one."""
        page = self.pages.get("Compare")
        if page is None or self.session.model_file is None:
            self.show_error("Open a model first, then compare it with another file.")
            return
        start = os.path.dirname(self.session.path) if self.session.path else ""
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Compare with a folder of checkpoints", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Compare with another file", start, MODEL_FILTER)
        if path:
            page.compare_with(path)

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _saved_architectures(self) -> dict[str, str]:
        value = self.settings.value("architectures", "{}")
        try:
            saved = json.loads(str(value))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in saved.items()} if isinstance(saved, dict) else {}

    def _remember(self, path: str) -> None:
        path = os.path.abspath(path)
        files = [p for p in self.recent_files() if p != path]
        files.insert(0, path)
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        kept = {p: a for p, a in self.session.architectures.items() if p in files[:MAX_RECENT]}
        self.settings.setValue("architectures", json.dumps(kept))
        self.settings.sync()
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for k, path in enumerate(files):
            act = self.recent_menu.addAction(f"&{k + 1 if k < 9 else 0}  {os.path.basename(path)}")
            act.setToolTip(path)
            act.setStatusTip(path)
            act.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if files:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear list")
            clear.triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self._update_recent_menu()

    # ------------------------------------------------------------------ session reactions
    def _on_file_loaded(self, mf: ModelFile) -> None:
        name = os.path.basename(mf.path)
        self.setWindowTitle(f"{name} \u2014 {APP_NAME}")
        writer = f"Keras {mf.keras_version}" if mf.keras_version else "Keras version unknown"
        self.format_label.setText(f"{mf.format} \u00b7 written by {writer}")
        self.reload_action.setEnabled(True)
        self.config_action.setEnabled(True)
        self.vocab_action.setEnabled(True)
        self.export_menu.update()
        self._remember(self.session.path or mf.path)
        self.banner.hide()
        if mf.damage:
            self._show_damage(mf)
        elif mf.network is None:
            self._show_weights_only_notice(mf)
        elif not self._has_recurrent(mf):
            self.statusBar().showMessage(
                "This model has no recurrent layer: the stepper shows its outputs only.", 8000
            )
        if self._pending_vocabulary:
            path, self._pending_vocabulary = self._pending_vocabulary, None
            self.load_vocabulary(path)
        self._hint_pending = mf.network is not None and self._has_recurrent(mf)
        self._maybe_show_stepper_hint()

    def _show_damage(self, mf: ModelFile) -> None:
        """A file readable only in part: its weights are shown, the problem stays on screen."""
        self.banner.show_message(f"{os.path.basename(mf.path)}: {mf.damage}", level="error")

    def _show_weights_only_notice(self, mf: ModelFile) -> None:
        self.banner.show_message(
            f"{os.path.basename(mf.path)} holds weights only: they can be inspected, but stepping through "
            "the model needs its architecture (the JSON written by model.to_json()).",
            level="info",
            action=("Open architecture\u2026", self.open_config_dialog),
        )

    def _on_banner_closed(self) -> None:
        """Dismissing an error over a weights-only file brings its notice (and button) back."""
        mf = self.session.model_file
        if self.banner.level == "error" and mf is not None and mf.network is None and not mf.damage:
            self._show_weights_only_notice(mf)

    def _maybe_show_stepper_hint(self) -> None:
        """Once per opened file: tell a user looking at the weights that the stepper is ready."""
        stepper = self.session.stepper
        if not self._hint_pending or stepper is None or self.tabs.currentIndex() != 0:
            return
        self._hint_pending = False
        what = self._input_description()
        self.statusBar().showMessage(STEPPER_HINT.format(what=what))

    def _input_description(self) -> str:
        """'\u201cthe quick brown fox\u2026\u201d' for a text input, else 'a 20-step input'."""
        panel = getattr(self.stepper, "input_panel", None)
        text = ""
        if panel is not None and hasattr(panel, "text"):
            try:
                text = str(panel.text()).strip()
            except (TypeError, RuntimeError):
                text = ""
        if text:
            short = text if len(text) <= 24 else text[:23].rstrip() + "\u2026"
            return f"\u201c{short}\u201d"
        return f"a {self.session.n_steps}-step input"

    def _on_tab_changed(self, index: int) -> None:
        if index == 1 and self.statusBar().currentMessage().startswith(STEPPER_HINT.split("{", 1)[0]):
            self.statusBar().clearMessage()  # the user found it

    @staticmethod
    def _has_recurrent(mf: ModelFile) -> bool:
        def walk(layers: tuple[Layer, ...]) -> bool:
            for lay in layers:
                if lay.kind in RECURRENT_KINDS:
                    return True
                if walk(lay.children) or (lay.network is not None and walk(lay.network.layers)):
                    return True
            return False

        return walk(mf.network.layers if mf.network is not None else mf.weight_layers)

    def show_error(self, message: str, short: str | None = None) -> None:
        """Non-modal: banner + status bar; the current model stays shown."""
        self.banner.show_message(message, level="error")
        self.statusBar().showMessage(short or message, 15000)

    def _on_load_failed(self, message: str) -> None:
        self._pending_vocabulary = None
        kept = f" (still showing {os.path.basename(self.session.path)})" if self.session.path else ""
        head = message.split(": ", 1)[0]
        self.show_error(f"Cannot open {message}{kept}", short=f"Could not open {os.path.basename(head)}")

    def _on_input_failed(self, message: str) -> None:
        self.show_error(f"Cannot run this input: {message}")

    def _on_input_changed(self, stepper) -> None:
        self.export_menu.update()
        if stepper is not None and self.banner.isVisible() and self.banner.level == "error":
            self.banner.hide()
        self._maybe_show_stepper_hint()

    def _update_busy(self, busy: bool) -> None:
        if busy:
            path = self.session.loading_path
            text = f"Loading {os.path.basename(path)}\u2026" if path else "Computing the trace\u2026"
            self.busy_label.setText(text)
        self.busy_label.setVisible(busy)
        self.busy_bar.setVisible(busy)

    # ------------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(QUrl(u).isLocalFile() for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_paths(paths)

    # ------------------------------------------------------------------ misc
    def _about(self) -> None:
        from inspector import __version__

        box = QMessageBox(
            QMessageBox.Icon.Information,
            APP_NAME,
            f"{APP_NAME} {__version__}\n\nOpen any Keras recurrent model, see its gates, "
            "and replay it exactly, without TensorFlow.",
            parent=self,
        )
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()

    def closeEvent(self, event: QCloseEvent) -> None:
        QThreadPool.globalInstance().waitForDone(5000)
        super().closeEvent(event)
