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
input_changed(Stepper | None) : a new input was run (or cleared); `encoded` (tokens, padding),
    `target` and `feature_names` are already set for it.
input_failed(str) : one-line message about an input that cannot be run (the views are cleared).
step_changed(int) : the current step t.
input_progress(int, int) : (done, total) steps of a long input's key frames; `cancel_input()` stops it.
vocabulary_changed(list[str] | None) : the display symbol of each input id (the text model's token
    table: characters, words, '<pad>' ...), None when the model reads no text.
padding_changed(str) : the padding typed text and ids get: 'none', 'pre' or 'post' (to `fixed_length`).
feature_names_changed(list[str] | None) : names of the input features (a CSV header), for the input
    strip rows and the kernel heatmap rows; None = unnamed.

Text: `text_model` (`inspector.app.text.find_text_model`: a character vocabulary sidecar, a Keras
Tokenizer sidecar, a TextVectorization / StringLookup inside the model) encodes typed text; the
network that runs is `run_network` (= `text_model.network`, preprocessing layers stripped).
Outputs: `output_kinds` (`inspector.app.outputs.describe_outputs`, labels from `<stem>.labels.json`
or a stored label decoding).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from inspector.app import long_stepper as longrun
from inspector.app.inputs import check_inputs
from inspector.app.loading import TextSetup, build_stepper, load_model, long_source, output_kinds
from inspector.app.outputs import OutputKind
from inspector.app.runner import Runner, SyncRunner, error_message
from inspector.app.text import (
    Encoded,
    Padding,
    TextEncoder,
    TextModel,
    encoded_ids,
    find_text_model,
    fixed_length,
    skipped_steps,
    to_model_input,
    token_table,
)
from inspector.core import engine
from inspector.core.network import Layer, ModelFile, Network, Weight, default_weight, find_weight
from inspector.core.stepper import Stepper

# Above this many multiply-adds a trace goes to the runner (off the GUI thread); below it, it runs
# inline (~50 ms of numpy: a 200-character input to an LSTM(128) char model, with no busy flicker).
INLINE_TRACE_FLOPS = 2e7

Inputs = np.ndarray | Sequence[np.ndarray]
AnyStepper = Stepper | longrun.LongStepper  # a long input gets key frames and a window (long_stepper)
PADDING_SIDES = ("none", "pre", "post")


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


@dataclass(frozen=True)
class InputMeta:
    """What the views show alongside an input: `encoded` (tokens, padding of typed text / ids), the
    `target` series of an input file, the feature names of a CSV header (None: keep the current ones)."""

    encoded: Encoded | None = None
    target: np.ndarray | None = None
    feature_names: list[str] | None = None


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
    input_progress = Signal(int, int)
    vocabulary_changed = Signal(object)
    padding_changed = Signal(str)
    feature_names_changed = Signal(object)

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner: Runner = runner if runner is not None else SyncRunner()
        self.model_file: ModelFile | None = None
        self.path: str | None = None
        self.config_path: str | None = None
        self.vocabulary: list[str] | None = None
        self.text_model: TextModel | None = None
        self.text_error = ""
        self.labels: dict[str, list[str]] = {}
        self.output_kinds: list[OutputKind] = []
        self.padding_side = "none"
        self._user_vocabulary: list[str] | None = None
        self._last_encoded: tuple[Encoded, np.ndarray] | None = None
        self.stepper: AnyStepper | None = None
        # what the current input is (set together with `stepper`, before input_changed)
        self.encoded: Encoded | None = None
        self.target: np.ndarray | None = None
        self.feature_names: list[str] | None = None
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
        self._long = longrun.LongJobs()  # a long input's key frames / windows on the runner

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

    @property
    def run_network(self) -> Network | None:
        """The network inputs run through: the text model's (lookup layer stripped), else the file's."""
        return self.text_model.network if self.text_model is not None else self.network

    @property
    def encoder(self) -> TextEncoder | None:
        """The typed-text encoder, None when the model reads no text."""
        return self.text_model.encoder if self.text_model is not None else None

    @property
    def tokens(self) -> list[str] | None:
        """One display string per step of the current input (typed text / ids), None otherwise."""
        if self.encoded is None or self.encoded.n_steps != self.n_steps:
            return None
        return list(self.encoded.tokens)

    def padding_mask(self) -> np.ndarray | None:
        """(T,) bool, True on the padded steps of the current typed input (None when not typed)."""
        return self.encoded.padding if self.tokens is not None and self.encoded is not None else None

    def skipped_mask(self) -> np.ndarray | None:
        """(T,) bool, True on the steps an Embedding(mask_zero=True) makes the model skip (id 0)."""
        net = self.run_network
        if self.tokens is None or self.encoded is None or net is None:
            return None
        return skipped_steps(net, self.encoded)

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

    def _on_loaded(
        self, req: int, result: tuple[str, str | None, ModelFile, list[str] | None, TextSetup]
    ) -> None:
        if req != self._load_id:
            return  # a newer open() superseded this one
        self._loading = False
        path, config, model_file, vocab, setup = result
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
        self.labels = dict(setup.labels or {})
        self.text_error = setup.error
        self._set_feature_names(None)
        user = self._user_vocabulary if keep_vocab else None
        if user is not None:
            self.set_vocabulary(user)  # the vocabulary the user chose, on the re-read network
        else:
            self._user_vocabulary = None
            self._set_text_model(setup.text_model, setup.output_kinds)
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
        """Encode typed text with this vocabulary (one symbol per id, File > Open vocabulary); None = no
        text encoding (ids and sequences only; reopen the file for the encoding found beside it)."""
        vocab = list(vocab) if vocab is not None else None
        self._user_vocabulary = vocab
        tm = None
        if vocab is not None and self.model_file is not None and self.model_file.network is not None:
            try:
                tm = find_text_model(self.model_file, self.path, vocab=vocab)
            except Exception as exc:  # noqa: BLE001 - said when text is typed; no encoder until then
                self.text_error = error_message(exc)
        self._set_text_model(tm)

    def _set_text_model(self, tm: TextModel | None, kinds: list[OutputKind] | None = None) -> None:
        """`kinds`: the output kinds `load_model` worked out for `tm` (else they are worked out here)."""
        self.text_model = tm
        vocab = token_table(tm.encoder, tm.encoder.vocab_size) if tm is not None else None
        if kinds is None:
            kinds = output_kinds(self.model_file, tm, self.labels) if self.model_file is not None else []
        self.output_kinds = kinds
        if vocab != self.vocabulary:
            self.vocabulary = vocab
            self.vocabulary_changed.emit(vocab)

    def output_kind(self, i: int = 0) -> OutputKind | None:
        """What model output `i` is (None when unknown)."""
        return self.output_kinds[i] if 0 <= i < len(self.output_kinds) else None

    def set_padding(self, side: str) -> None:
        """Padding for typed text and ids: 'none', 'pre' or 'post' (to the model's fixed length)."""
        if side not in PADDING_SIDES:
            raise ValueError(f"padding must be one of {', '.join(PADDING_SIDES)}, not {side!r}")
        if side != self.padding_side:
            self.padding_side = side
            self.padding_changed.emit(side)

    def padding(self) -> Padding:
        """The `Padding` typed input gets: none, or pre/post to `fixed_length(run_network)`."""
        net = self.run_network
        maxlen = fixed_length(net) if net is not None else None
        if self.padding_side == "none" or maxlen is None:
            return self.text_model.padding if self.text_model is not None else Padding()
        return Padding(self.padding_side, maxlen)

    def encode(self, text: str) -> tuple[Encoded, np.ndarray]:
        """Text -> (Encoded steps, model input with batch axis 1), padded as `padding()` says.

        Raises ValueError with one line (no text encoding, unknown symbol without OOV id, wrong width).
        """
        if self.run_network is None:
            raise ValueError("no architecture is loaded, so text cannot be encoded")
        if self.text_model is None:
            raise NoVocabularyError(
                self.text_error or "this model has no vocabulary: open one (File > Open vocabulary)"
            )
        enc, x = self.text_model.encode(text, self.padding())
        self._last_encoded = (enc, x)
        return enc, x

    def encode_text(self, text: str) -> np.ndarray:
        """Text -> model input with batch axis 1 (`encode`; `set_input` of this array keeps its tokens)."""
        return self.encode(text)[1]

    def encode_ids(self, ids: Sequence[int]) -> tuple[Encoded, np.ndarray]:
        """Typed ids -> (Encoded, model input (1, T) ids or (1, T, V) one-hot), padded like text."""
        net = self.run_network
        if net is None:
            raise ValueError("no architecture is loaded, so ids cannot be run")
        enc = self.padding().apply(encoded_ids(ids, self.encoder))
        if enc.n_steps == 0:
            raise ValueError("type at least one index")
        x = to_model_input(net, enc)
        self._last_encoded = (enc, x)
        return enc, x

    def _set_feature_names(self, names: list[str] | None) -> None:
        if names != self.feature_names:
            self.feature_names = names
            self.feature_names_changed.emit(names)

    def set_input(
        self,
        x: Inputs,
        *,
        encoded: Encoded | None = None,
        target: np.ndarray | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        """Run the model over `x` (batch axis included; a list for several inputs) as a Stepper.

        `encoded` : the tokens of typed text / ids (an array from `encode` / `encode_ids` brings its own);
        `target` : a target series of an input file; `feature_names` : its feature names (a CSV header).
        """
        if self.model_file is None:
            self.input_failed.emit("no model is open")
            return
        last = self._last_encoded
        if encoded is None and last is not None and last[1] is x:
            encoded = last[0]
        names = list(feature_names) if feature_names is not None else None
        meta = InputMeta(encoded, None if target is None else np.asarray(target), names)
        is_list = isinstance(x, list | tuple)
        arrays = [np.asarray(a) for a in x] if is_list else [np.asarray(x)]
        inputs: Inputs = arrays if is_list else arrays[0]
        # about one multiply-add per parameter per sample and timestep
        steps = sum(int(np.prod(a.shape[:2])) if a.ndim >= 2 else a.size for a in arrays)
        self._trace_id += 1
        req = self._trace_id
        net = self.run_network
        self._long.cancel.set()
        source = (
            long_source(net, arrays, None if encoded is None else encoded.ids) if net is not None else None
        )
        if source is not None and net is not None:  # long: key frames on the runner (progress, cancel)
            self._tracing = True
            self._update_busy()
            self._long.build(
                self.runner,
                net,
                self.model_file.semantics,
                source,
                on_done=lambda stepper: self._on_stepper(req, stepper, meta),
                on_error=lambda message: self._on_trace_failed(req, message),
                on_progress=lambda done, total: (
                    self.input_progress.emit(done, total) if req == self._trace_id else None
                ),
            )
            return
        if self.sync or steps * max(1, self._n_params()) < INLINE_TRACE_FLOPS:
            try:
                stepper = build_stepper(self.model_file, inputs, net)
            except Exception as exc:  # noqa: BLE001 - shown to the user as one line
                self._clear_after_failure(error_message(exc))
                return
            self._tracing = False
            self._update_busy()
            self._set_stepper(stepper, meta)
            return
        self._tracing = True
        self._update_busy()
        self.runner.submit(
            build_stepper,
            self.model_file,
            inputs,
            net,
            on_done=lambda stepper: self._on_stepper(req, stepper, meta),
            on_error=lambda message: self._on_trace_failed(req, message),
        )

    def cancel_input(self) -> None:
        """Stop building a long input's key frames (the previous run, if any, stays shown)."""
        if self._tracing:
            self._long.cancel.set()
            self._trace_id += 1
            self._tracing = False
            self._update_busy()

    def _clear_after_failure(self, message: str) -> None:
        """A rejected input: views must not keep showing the previous run as if it were this one."""
        self._set_stepper(None)
        self.input_failed.emit(message)

    def reject_input(self, message: str) -> None:
        """An input refused before reaching the engine (a bad file, unknown text): clear and report."""
        self._trace_id += 1
        self._long.cancel.set()
        self._tracing = False
        self._update_busy()
        self._clear_after_failure(message)

    def clear_input(self) -> None:
        """Forget the current input (views go empty)."""
        self._trace_id += 1
        self._long.cancel.set()
        self._tracing = False
        self._update_busy()
        self._set_stepper(None)

    def _on_stepper(self, req: int, stepper: AnyStepper, meta: InputMeta) -> None:
        if req == self._trace_id:
            self._tracing = False
            self._update_busy()
            self._set_stepper(stepper, meta)

    def _on_trace_failed(self, req: int, message: str) -> None:
        if req == self._trace_id:
            self._tracing = False
            self._update_busy()
            self._clear_after_failure(message)

    def _n_params(self) -> int:
        net = self.network
        return sum(lay.n_params for lay in net.layers) if net is not None else 0

    def _set_stepper(self, stepper: AnyStepper | None, meta: InputMeta | None = None) -> None:
        if stepper is None and self.stepper is None:
            return
        self.encoded = meta.encoded if meta is not None else None
        self.target = meta.target if meta is not None else None
        if meta is not None and meta.feature_names is not None:
            self._set_feature_names(meta.feature_names)
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
        stepper = self.stepper
        if isinstance(stepper, longrun.LongStepper) and not self.sync and not stepper.has_window(t):
            arrived = lambda s, t: self.set_step(t) if self.stepper is s else None  # noqa: E731 - if still shown
            self._long.seek(self.runner, stepper, t, arrived, self.input_failed.emit)
            return
        self._long.want = -1
        stepper.seek(t)
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
