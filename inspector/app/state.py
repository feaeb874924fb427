"""App layer: what is open and what the user is looking at, as a plain object with change events.

`AppState` holds the open file, the selected weight, the selected unit, the current input (a
`Stepper`) and the step.  Every setter emits its event only when the value changes, so widgets that
mirror the state cannot loop.  Long work (reading a file, tracing an input) goes through one
injectable `Runner` (`inspector.app.runner`): `SyncRunner` for tests, the CLI and notebooks, a Qt
thread-pool runner in the GUI.  Each request carries an id; a result that is no longer the newest
is dropped.  No Qt: importable and testable with PySide6 absent.

Events (psygnal; connect with ``state.step_changed.connect(fn)``)
-----------------------------------------------------------------
file_loaded(ModelFile) : a file was read (also on reload).
load_failed(str) : one-line message; the previous model stays loaded.
preview_loaded(str, str, ModelFile, vocabulary) : while a big file is still being read, only the
    named weight holds its values; `file_loaded` or `load_failed` follows.
busy_changed(bool) : a file is being read or a trace computed.
selection_changed(str) : weight display path ('lstm_1/kernel'), '' = none.
unit_changed(str, int) : (recurrent layer trace key, unit); ('', -1) = none.
input_changed(Stepper | None) : a new input was run (or cleared).
input_failed(str) : one-line message about an input that cannot be run.
step_changed(int) : the current step t.
vocabulary_changed(list[str] | None) : the symbols typed text is encoded with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from inspector.app.encoding import Encoder, VocabularyEncoder, text_to_input
from inspector.app.inputs import check_inputs
from inspector.app.runner import Runner, SyncRunner, error_message
from inspector.core import engine
from inspector.core.network import Layer, ModelFile, Network, Weight, default_weight, find_weight
from inspector.core.stepper import Stepper

# Above this many multiply-adds a trace goes to the runner (off the GUI thread); below it, it runs
# inline (~50 ms of numpy: a 200-character input to an LSTM(128) char model, with no busy flicker).
INLINE_TRACE_FLOPS = 2e7
# Architecture files looked for next to a weights-only file (`<stem>` as in inspector.io.sidecar).
ARCHITECTURE_NAMES = ("{stem}.arch.json", "{stem}.json", "model.json")

Inputs = np.ndarray | Sequence[np.ndarray]


@dataclass(frozen=True)
class WeightInfo:
    """One weight as listed by `AppState.weights()`.

    Attributes
    ----------
    path : display path, e.g. 'lstm_1/kernel', 'bidi/forward/recurrent_kernel'.
    layer : the owning layer's name; kind : its class ('LSTM', ...).
    shape : the array's shape; dtype : the dtype stored in the file.
    gates : (key, label, start, stop) column slices of the last axis, Keras order ('i', 'f', 'c', 'o').
    """

    path: str
    layer: str
    kind: str
    shape: tuple[int, ...]
    dtype: str
    gates: tuple[tuple[str, str, int, int], ...]


def trace_key_of(weight_path: str) -> str:
    """The trace key of the layer owning a weight display path: 'bidi/forward/kernel' -> 'bidi/forward'."""
    return weight_path.rsplit("/", 1)[0] if "/" in weight_path else ""


def sibling_architecture(path: str) -> str | None:
    """An architecture JSON next to a weights file: `<stem>.arch.json`, `<stem>.json` or `model.json`."""
    p = Path(path)
    stems = [p.name.split(".", 1)[0], p.name.rsplit(".", 1)[0]]
    for pattern in ARCHITECTURE_NAMES:
        for stem in dict.fromkeys(stems):
            candidate = p.with_name(pattern.format(stem=stem))
            if candidate != p and candidate.is_file():
                return os.fspath(candidate)
    return None


def load_model(
    path: str, config: str | None = None, preview: str = "", report: Callable[[Any], None] | None = None
) -> tuple[str, str | None, ModelFile, list[str] | None]:
    """Read `path` and its sidecar vocabulary (runs on a worker thread; no state touched).

    The file is read in a child process (`inspector.io.sandbox`): a corrupted HDF5 file can make
    libhdf5 crash or spin holding the GIL.  A weights-only file without `config` gets a sibling
    architecture JSON (`sibling_architecture`) when there is one.  Before the whole file is read,
    ``report((path, weight path, ModelFile, vocabulary))`` gets a preview in which only that weight
    (`preview` if the file has it, else the default one) holds its values.

    Returns
    -------
    (path, config used or None, ModelFile, vocabulary or None)
    """
    from inspector.io.sandbox import load_isolated
    from inspector.io.sidecar import find_vocabulary

    found = find_vocabulary(path)
    vocab = list(found) if found is not None else None

    def on_preview(weight: str, mf: ModelFile) -> None:
        if report is not None:
            report((path, weight, mf, vocab))

    model_file = load_isolated(path, config=config, preview=preview, on_preview=on_preview)
    if config is None and model_file.network is None and not model_file.damage:
        sibling = sibling_architecture(path)
        if sibling is not None:
            try:
                return path, sibling, load_isolated(path, config=sibling), vocab
            except Exception:  # noqa: BLE001 - a sibling that does not fit is ignored, the file stays open
                pass
    return path, config, model_file, vocab


def build_stepper(model_file: ModelFile, inputs: Inputs) -> Stepper:
    """Run the engine once over `inputs` (batch axis first) and wrap the trace in a Stepper."""
    if model_file.network is None:
        raise ValueError(
            model_file.damage or "this file holds weights only: open its architecture (model.json) to run it"
        )
    return Stepper(model_file.network, inputs, model_file.semantics)


class AppState:
    """What is open and what the user is looking at (see the module docstring for the events).

    Parameters
    ----------
    runner : runs file reads and big traces; `SyncRunner()` (inline) when omitted.
    """

    file_loaded = Signal(object)
    load_failed = Signal(str)
    preview_loaded = Signal(str, str, object, object)
    busy_changed = Signal(bool)
    selection_changed = Signal(str)
    unit_changed = Signal(str, int)
    input_changed = Signal(object)
    input_failed = Signal(str)
    step_changed = Signal(int)
    vocabulary_changed = Signal(object)

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner: Runner = runner if runner is not None else SyncRunner()
        self.model_file: ModelFile | None = None
        self.path: str | None = None
        self.config_path: str | None = None
        self.vocabulary: list[str] | None = None
        self.encoder: Encoder | None = None
        self.stepper: Stepper | None = None
        self.step: int = 0
        self.selection: str = ""
        self.unit: tuple[str, int] = ("", -1)
        self.loading_path: str | None = None
        # architecture files chosen for weights-only files (the GUI keeps them with its recent files)
        self.architectures: dict[str, str] = {}
        self._load_id = 0
        self._trace_id = 0
        self._loading = False
        self._tracing = False
        self._busy = False

    # ------------------------------------------------------------------ state
    @property
    def sync(self) -> bool:
        """Work runs inline (no worker threads)."""
        return isinstance(self.runner, SyncRunner)

    @property
    def n_steps(self) -> int:
        return int(self.stepper.n_steps) if self.stepper is not None else 0

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def network(self) -> Network | None:
        return self.model_file.network if self.model_file is not None else None

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Block until the runner has delivered every result (the GUI runner needs its event loop)."""
        return self.runner.wait_until_idle(timeout)

    def _update_busy(self) -> None:
        busy = self._loading or self._tracing
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    # ------------------------------------------------------------------ files
    def open(self, path: str | os.PathLike[str], config: str | os.PathLike[str] | None = None) -> None:
        """Read `path` through the runner; `config` is a model.to_json() file for a weights-only file.

        Without `config`, the architecture chosen for this file before (`architectures`) is used.
        """
        path = os.fspath(path)
        if config is None:
            config = self.architectures.get(os.path.abspath(path))
        config = os.fspath(config) if config is not None else None
        self.loading_path = path
        self._load_id += 1
        req = self._load_id
        self._loading = True
        self._update_busy()
        self.runner.submit(
            load_model,
            path,
            config,
            self.selection if self._is_open(path) else "",
            on_done=lambda result: self._on_loaded(req, result),
            on_error=lambda message: self._on_load_failed(req, message),
            on_progress=lambda result: self._on_preview(req, result),
        )

    def reload(self) -> None:
        """Read the current file again (keeps the architecture file chosen for it)."""
        if self.path is not None:
            self.open(self.path, self.config_path)

    def open_config(self, config: str | os.PathLike[str]) -> None:
        """Re-read the current (weights-only) file with the architecture in `config`."""
        if self.path is not None:
            self.open(self.path, config)

    def _on_loaded(self, req: int, result: tuple[str, str | None, ModelFile, list[str] | None]) -> None:
        if req != self._load_id:
            return  # a newer open() superseded this one
        self._loading = False
        path, config, model_file, vocab = result
        same_file = self._is_open(path)
        keep_vocab = same_file and vocab is None
        self.model_file = model_file
        self.path = path
        self.config_path = config
        if config is not None:
            self.architectures[os.path.abspath(path)] = os.path.abspath(config)
        self.loading_path = None
        # A new file invalidates every derived state; emit the resets before file_loaded so views
        # rebuilding on file_loaded never see a stale selection.
        self._trace_id += 1
        self._tracing = False
        self._set_stepper(None)
        if not same_file:
            self.select_unit("", -1)
        if find_weight(model_file, self.selection) is None if self.selection else True:
            self.select_weight(default_weight(model_file))
        if not keep_vocab:
            self.set_vocabulary(vocab)
        self._update_busy()
        self.file_loaded.emit(model_file)

    def _is_open(self, path: str) -> bool:
        """`path` names the file that is open now."""
        return self.path is not None and os.path.abspath(self.path) == os.path.abspath(path)

    def _on_preview(self, req: int, result: tuple[str, str, ModelFile, list[str] | None]) -> None:
        if req == self._load_id and self.loading_path is not None and result[0] == self.loading_path:
            self.preview_loaded.emit(*result)

    def _on_load_failed(self, req: int, message: str) -> None:
        if req != self._load_id:
            return
        self._loading = False
        self.loading_path = None
        self._update_busy()
        self.load_failed.emit(message)

    def find_weight(self, path: str) -> tuple[Layer, Weight] | None:
        """(Layer, Weight) for a weight display path, or None."""
        if self.model_file is None or not path:
            return None
        return find_weight(self.model_file, path)

    # ------------------------------------------------------------------ vocabulary / input
    def set_vocabulary(self, vocab: Sequence[str] | None) -> None:
        """The symbols typed text is encoded with (one-hot column / token id order); None = none."""
        vocab = list(vocab) if vocab is not None else None
        if vocab != self.vocabulary:
            self.vocabulary = vocab
            self.encoder = VocabularyEncoder(vocab) if vocab else None
            self.vocabulary_changed.emit(vocab)

    def set_encoder(self, encoder: Encoder | None) -> None:
        """Use `encoder` for typed text (e.g. a word tokenizer found by `inspector.app.text`)."""
        self.encoder = encoder

    def encode_text(self, text: str) -> np.ndarray:
        """Text -> model input with batch axis 1 (see `inspector.app.encoding.text_to_input`).

        Raises ValueError with one line (no vocabulary, unknown symbol, wrong width).
        """
        if self.network is None:
            raise ValueError("no architecture is loaded, so text cannot be encoded")
        if self.encoder is None:
            raise NoVocabularyError("this model has no vocabulary: open one (File > Open vocabulary)")
        encoded = self.encoder.encode(text)
        n_symbols = len(self.vocabulary) if self.vocabulary else int(encoded.ids.max(initial=0)) + 1
        return text_to_input(self.network, encoded, n_symbols)

    def set_input(self, x: Inputs) -> None:
        """Run the model over `x` (batch axis included; a list for several inputs) as a Stepper."""
        if self.model_file is None:
            self.input_failed.emit("no model is open")
            return
        is_list = isinstance(x, list | tuple)
        arrays = [np.asarray(a) for a in x] if is_list else [np.asarray(x)]
        inputs: Inputs = arrays if is_list else arrays[0]
        # about one multiply-add per parameter per sample and timestep
        steps = sum(int(np.prod(a.shape[:2])) if a.ndim >= 2 else a.size for a in arrays)
        self._trace_id += 1
        req = self._trace_id
        if self.sync or steps * max(1, self._n_params()) < INLINE_TRACE_FLOPS:
            try:
                stepper = build_stepper(self.model_file, inputs)
            except Exception as exc:  # noqa: BLE001 - shown to the user as one line
                self._clear_after_failure(error_message(exc))
                return
            self._tracing = False
            self._update_busy()
            self._set_stepper(stepper)
            return
        self._tracing = True
        self._update_busy()
        self.runner.submit(
            build_stepper,
            self.model_file,
            inputs,
            on_done=lambda stepper: self._on_stepper(req, stepper),
            on_error=lambda message: self._on_trace_failed(req, message),
        )

    def _clear_after_failure(self, message: str) -> None:
        """A rejected input: views must not keep showing the previous run as if it were this one."""
        self._set_stepper(None)
        self.input_failed.emit(message)

    def reject_input(self, message: str) -> None:
        """An input refused before reaching the engine (a bad file, unknown text): clear and report."""
        self._trace_id += 1
        self._tracing = False
        self._update_busy()
        self._clear_after_failure(message)

    def clear_input(self) -> None:
        """Forget the current input (views go empty)."""
        self._trace_id += 1
        self._tracing = False
        self._update_busy()
        self._set_stepper(None)

    def _on_stepper(self, req: int, stepper: Stepper) -> None:
        if req == self._trace_id:
            self._tracing = False
            self._update_busy()
            self._set_stepper(stepper)

    def _on_trace_failed(self, req: int, message: str) -> None:
        if req == self._trace_id:
            self._tracing = False
            self._update_busy()
            self._clear_after_failure(message)

    def _n_params(self) -> int:
        net = self.network
        return sum(lay.n_params for lay in net.layers) if net is not None else 0

    def _set_stepper(self, stepper: Stepper | None) -> None:
        if stepper is None and self.stepper is None:
            return
        self.stepper = stepper
        self.input_changed.emit(stepper)
        t = int(stepper.t) if stepper is not None else 0
        if t != self.step:
            self.step = t
            self.step_changed.emit(t)

    def set_step(self, t: int) -> None:
        """Move to step `t` (clipped to the sequence); emits only on change."""
        if self.stepper is None:
            return
        t = int(min(max(int(t), 0), max(self.n_steps - 1, 0)))
        if t == self.step and int(self.stepper.t) == t:
            return
        self.stepper.seek(t)
        self.step = t
        self.step_changed.emit(t)

    # ------------------------------------------------------------------ headless use (CLI, notebooks)
    def require_network(self) -> Network:
        """The open model's network; ValueError naming the file when it cannot run."""
        mf = self.model_file
        if mf is None:
            raise ValueError("no model is open")
        if mf.damage:
            raise ValueError(f"{mf.path}: {mf.damage}")
        if mf.network is None:
            raise ValueError(
                f"{mf.path}: weights-only file (no architecture); pass its architecture "
                "(config=model.json, the output of model.to_json())"
            )
        return mf.network

    def weights(self) -> list[WeightInfo]:
        """Every weight of the open file with its gate slices, layers in file order."""
        mf = self.model_file
        if mf is None:
            return []
        layers = mf.network.layers if mf.network is not None else mf.weight_layers
        return [
            WeightInfo(
                path,
                layer.name,
                layer.kind,
                tuple(int(d) for d in w.shape),
                str(w.stored_dtype),
                tuple((g.key, g.label, int(g.start), int(g.stop)) for g in w.gates),
            )
            for layer in layers
            for path, w in layer.all_weights()
        ]

    def prepare(self, x: Inputs) -> list[np.ndarray]:
        """Fit arrays to the model's inputs (`check_inputs`: adds a missing batch axis, any length)."""
        arrays = [np.asarray(a) for a in x] if isinstance(x, list | tuple) else [np.asarray(x)]
        return check_inputs(self.require_network(), arrays, free_time=True)

    def predict(self, x: Inputs) -> list[np.ndarray]:
        """What `model.predict(x)` returns: one float32 array per model output."""
        assert self.model_file is not None  # require_network (in prepare) checked it
        xs = self.prepare(x)
        return engine.predict(self.require_network(), xs, self.model_file.semantics)

    def trace(self, x: Inputs) -> engine.Trace:
        """A forward pass with every recurrent layer's Trajectory (h, c, gates per step)."""
        xs = self.prepare(x)
        assert self.model_file is not None
        return engine.trace(self.require_network(), xs, self.model_file.semantics)

    # ------------------------------------------------------------------ selection
    def select_weight(self, path: str) -> None:
        """Select a weight by display path ('lstm_1/kernel'); '' = none."""
        if path != self.selection:
            self.selection = path
            self.selection_changed.emit(path)

    def select_unit(self, layer: str, unit: int) -> None:
        """Select unit `unit` of recurrent layer `layer` (trace key); ('', -1) = none."""
        value = (layer, int(unit)) if layer and unit >= 0 else ("", -1)
        if value != self.unit:
            self.unit = value
            self.unit_changed.emit(*value)


class NoVocabularyError(ValueError):
    """Typed text needs a vocabulary and the model has none (the CLI names `--vocab FILE`)."""


def open_model(
    path: str | os.PathLike[str],
    config: str | os.PathLike[str] | None = None,
    vocabulary: str | os.PathLike[str] | None = None,
) -> AppState:
    """Open a Keras file for scripts and notebooks (everything runs inline).

    Parameters
    ----------
    path : a Keras model or weights file (.h5, .keras, .weights.h5 ...).
    config : the architecture JSON (model.to_json()) of a weights-only file; a sibling
        `<stem>.arch.json` / `model.json` is found without it.
    vocabulary : a vocabulary file (JSON list of tokens) when none sits next to the model.

    Returns
    -------
    AppState : `.weights()`, `.predict(x)`, `.trace(x)`, `.set_input(x)` / `.set_step(t)` / `.stepper`.

    Raises
    ------
    inspector.io.ModelFileError : the file cannot be read (one line '<file>: <reason>').
    """
    from inspector.io.errors import ModelFileError
    from inspector.io.sidecar import read_vocabulary

    state = AppState()
    failures: list[str] = []
    state.load_failed.connect(failures.append)
    state.open(path, config)
    state.load_failed.disconnect(failures.append)
    if state.model_file is None:
        raise ModelFileError(None, failures[-1] if failures else f"{os.fspath(path)}: cannot be opened")
    if vocabulary is not None:
        state.set_vocabulary(read_vocabulary(vocabulary))
    return state
