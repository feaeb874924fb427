"""The single QObject holding the app state for one open file; widgets talk only to it.

Every setter emits only when the value changes (so widgets that mirror the state cannot loop),
and heavy work (reading a file, computing a trace) runs through `inspector.ui.workers`.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from inspector.ui.workers import TaskRunner

if TYPE_CHECKING:  # numpy comes in with the first file: the main window shows before it (bench/NOTES.md)
    import numpy as np

    from inspector.core.network import ModelFile, Network

# Above this many multiply-adds the trace is computed off the GUI thread (~50 ms of numpy: a
# 200-character input to an LSTM(128) char model still runs inline, with no busy flicker).
_INLINE_TRACE_FLOPS = 2e7


def trace_key_of(weight_path: str) -> str:
    """The trace key of the layer owning a weight display path: 'bidi/forward/kernel' -> 'bidi/forward'."""
    return weight_path.rsplit("/", 1)[0] if "/" in weight_path else ""


def _load(
    path: str, config: str | None, wanted: str, report: Any = None
) -> tuple[str, str | None, ModelFile, list[str] | None]:
    """Worker function: read the file and its sidecar vocabulary (no Qt).

    The file is read in a child process (inspector.io.sandbox): a corrupted HDF5 file can make
    libhdf5 segfault or loop forever holding the GIL, which in-process would kill or freeze the app.
    Before the whole file is read, `report((path, weight path, ModelFile, vocabulary))` gets a preview
    in which only that weight (`wanted` if the file has it, else the default one) holds its values.
    """
    from inspector.io.sandbox import load_isolated
    from inspector.io.sidecar import find_vocabulary

    found = find_vocabulary(path)
    vocab = list(found) if found is not None else None

    def on_preview(weight: str, mf: ModelFile) -> None:
        if report is not None:
            report((path, weight, mf, vocab))

    model_file = load_isolated(path, config=config, preview=wanted, on_preview=on_preview)
    return path, config, model_file, vocab


def _prestart_reader() -> None:
    """Start the reader process in the background (inspector.io.sandbox.prestart), so that opening a
    file does not wait for an interpreter start; on a thread, as importing the sandbox brings numpy."""
    from inspector.io.sandbox import prestart

    prestart()


def _build_stepper(model_file: ModelFile, inputs: Any) -> Any:
    """Worker function: run the engine once over `inputs` and wrap it in a Stepper."""
    from inspector.core.stepper import Stepper

    if model_file.network is None:
        raise ValueError(
            model_file.damage or "this file holds weights only: open its architecture (model.json) to run it"
        )
    return Stepper(model_file.network, inputs, model_file.semantics)


class Session(QObject):
    """App state for one open file.

    Signals
    -------
    file_loaded(ModelFile) : a file was read (also on reload).
    load_failed(str) : one-line message; the previous model stays loaded.
    busy_changed(bool) : a file is being read or a trace computed.
    selection_changed(str) : weight display path from `Layer.all_weights()`, '' = none.
    unit_changed(str, int) : (recurrent layer trace key, unit); ('', -1) = none.
    input_changed(object) : the new `Stepper`, or None.
    input_failed(str) : one-line message about an input that cannot be run.
    step_changed(int) : the current step t.
    vocabulary_changed(object) : list[str] | None.
    preview_loaded(str, str, object, object) : (file, weight path, ModelFile, vocabulary or None) while
        a file is still being read: only that weight holds its values (every other array is a zero
        placeholder); `file_loaded` or `load_failed` follows.  Not emitted for files read in one go.
    """

    file_loaded = Signal(object)
    load_failed = Signal(str)
    busy_changed = Signal(bool)
    selection_changed = Signal(str)
    unit_changed = Signal(str, int)
    input_changed = Signal(object)
    input_failed = Signal(str)
    step_changed = Signal(int)
    vocabulary_changed = Signal(object)
    preview_loaded = Signal(str, str, object, object)

    def __init__(self, sync: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sync = sync
        self.model_file: ModelFile | None = None
        self.path: str | None = None
        self.config_path: str | None = None
        self.vocabulary: list[str] | None = None
        self.stepper: Any = None
        self.step: int = 0
        self.selection: str = ""
        self.unit: tuple[str, int] = ("", -1)
        self.loading_path: str | None = None
        self._busy = False
        self._loader = TaskRunner(self, sync=sync)
        self._loader.finished.connect(self._on_loaded)
        self._loader.progress.connect(self._on_preview)
        self._loader.failed.connect(self._on_load_failed)
        self._loader.busy_changed.connect(self._update_busy)
        self._tracer = TaskRunner(self, sync=sync)
        self._tracer.finished.connect(self._on_stepper)
        self._tracer.failed.connect(self.input_failed)
        self._tracer.busy_changed.connect(self._update_busy)
        threading.Thread(target=_prestart_reader, name="reader-prestart", daemon=True).start()

    # ------------------------------------------------------------------ state
    @property
    def n_steps(self) -> int:
        return int(self.stepper.n_steps) if self.stepper is not None else 0

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def network(self) -> Network | None:
        return self.model_file.network if self.model_file is not None else None

    def _update_busy(self, _: bool = False) -> None:
        busy = self._loader.busy or self._tracer.busy
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    # ------------------------------------------------------------------ files
    def open(self, path: str, config: str | None = None) -> None:
        """Read `path` (off-thread unless sync); `config` is a model.to_json() file for weights-only files."""
        path = os.fspath(path)
        config = os.fspath(config) if config is not None else None
        self.loading_path = path
        self._loader.submit(_load, path, config, self.selection if self._is_open(path) else "", progress=True)

    def reload(self) -> None:
        """Read the current file again (keeps the architecture file chosen for it)."""
        if self.path is not None:
            self.open(self.path, self.config_path)

    def open_config(self, config: str) -> None:
        """Re-read the current (weights-only) file with the architecture in `config`."""
        if self.path is not None:
            self.open(self.path, config)

    def _on_loaded(self, result: tuple[str, str | None, ModelFile, list[str] | None]) -> None:
        path, config, model_file, vocab = result
        same_file = self._is_open(path)
        keep_vocab = same_file and vocab is None
        self.model_file = model_file
        self.path = path
        self.config_path = config
        self.loading_path = None
        # A new file invalidates every derived state; emit the resets before file_loaded so views
        # rebuilding on file_loaded never see a stale selection.
        self._tracer.cancel()
        self._set_stepper(None)
        if not same_file:
            self.select_unit("", -1)
        if not self._weight_exists(self.selection):
            from inspector.core.network import default_weight

            self.select_weight(default_weight(model_file))
        if not keep_vocab:
            self.set_vocabulary(vocab)
        self.file_loaded.emit(model_file)

    def _is_open(self, path: str) -> bool:
        """`path` names the file that is open now."""
        return self.path is not None and os.path.abspath(self.path) == os.path.abspath(path)

    def _on_preview(self, result: tuple[str, str, ModelFile, list[str] | None]) -> None:
        if self.loading_path is not None and result[0] == self.loading_path:
            self.preview_loaded.emit(*result)

    def _on_load_failed(self, message: str) -> None:
        self.loading_path = None
        self.load_failed.emit(message)

    def _weight_exists(self, path: str) -> bool:
        return self.find_weight(path) is not None

    def find_weight(self, path: str) -> tuple[Any, Any] | None:
        """(Layer, Weight) for a weight display path, or None."""
        if self.model_file is None or not path:
            return None
        from inspector.core.network import find_weight

        return find_weight(self.model_file, path)

    # ------------------------------------------------------------------ vocabulary / input
    def set_vocabulary(self, vocab: list[str] | None) -> None:
        vocab = list(vocab) if vocab is not None else None
        if vocab != self.vocabulary:
            self.vocabulary = vocab
            self.vocabulary_changed.emit(vocab)

    def set_input(self, x: np.ndarray | list[np.ndarray]) -> None:
        """Run the model over `x` (batch axis included) and expose it as a Stepper."""
        import numpy as np

        if self.model_file is None:
            self.input_failed.emit("no model is open")
            return
        arrays = [np.asarray(a) for a in x] if isinstance(x, list | tuple) else [np.asarray(x)]
        inputs = arrays if isinstance(x, list | tuple) else arrays[0]
        # about one multiply-add per parameter per sample and timestep
        steps = sum(int(np.prod(a.shape[:2])) if a.ndim >= 2 else a.size for a in arrays)
        flops = steps * max(1, self._n_params())
        if self.sync or flops < _INLINE_TRACE_FLOPS:
            try:
                stepper = _build_stepper(self.model_file, inputs)
            except Exception as exc:  # noqa: BLE001 - shown to the user as one line
                from inspector.ui.workers import error_message

                self.input_failed.emit(error_message(exc))
                return
            self._tracer.cancel()
            self._on_stepper(stepper)
        else:
            self._tracer.submit(_build_stepper, self.model_file, inputs)

    def clear_input(self) -> None:
        self._tracer.cancel()
        self._set_stepper(None)

    def _n_params(self) -> int:
        net = self.network
        return sum(lay.n_params for lay in net.layers) if net is not None else 0

    def _on_stepper(self, stepper: Any) -> None:
        self._set_stepper(stepper)

    def _set_stepper(self, stepper: Any) -> None:
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

    # ------------------------------------------------------------------ selection
    def select_weight(self, path: str) -> None:
        if path != self.selection:
            self.selection = path
            self.selection_changed.emit(path)

    def select_unit(self, layer: str, unit: int) -> None:
        value = (layer, int(unit)) if layer and unit >= 0 else ("", -1)
        if value != self.unit:
            self.unit = value
            self.unit_changed.emit(*value)

    # ------------------------------------------------------------------ text -> input
    def encode_text(self, text: str) -> np.ndarray:
        """Text -> model input with batch axis 1, using the vocabulary and the model's input shape.

        One-hot models (input (None, T, V) with V == len(vocabulary)) get a float32 (1, T, V) array,
        token-id models (input (None, T)) an int32 (1, T) array.  A fixed T keeps the last T symbols
        and left-pads shorter text with zero rows (id 0).  Raises ValueError with one line otherwise.
        """
        import numpy as np

        net = self.network
        if net is None:
            raise ValueError("no architecture is loaded, so text cannot be encoded")
        vocab = self.vocabulary
        if not vocab:
            raise ValueError("this model has no vocabulary: open one (File > Open vocabulary)")
        if not net.input_shapes:
            raise ValueError("the model's input shape is unknown")
        shape = net.input_shapes[0]
        word_level = any(len(tok) > 1 for tok in vocab if tok.strip())
        symbols = text.split() if word_level else list(text)
        index = {tok: k for k, tok in enumerate(vocab)}
        has_upper = any(tok != tok.lower() for tok in vocab)
        ids: list[int] = []
        for s in symbols:
            if s in index:
                ids.append(index[s])
            elif not has_upper and s.lower() in index:
                ids.append(index[s.lower()])
            else:
                raise ValueError(f"{s!r} is not in the model's vocabulary ({len(vocab)} symbols)")
        if not ids:
            raise ValueError("the text is empty")
        T = shape[1] if len(shape) >= 2 else None
        pad = 0
        if T is not None:
            ids = ids[-T:]
            pad = T - len(ids)
        if len(shape) == 3:
            V = shape[2]
            if V is not None and V != len(vocab):
                raise ValueError(
                    f"the vocabulary has {len(vocab)} symbols but the model expects {V} input features"
                )
            x = np.zeros((1, pad + len(ids), len(vocab)), dtype=np.float32)
            x[0, pad + np.arange(len(ids)), ids] = 1.0
            return x
        if len(shape) == 2:
            return np.asarray([[0] * pad + ids], dtype=np.int32)
        raise ValueError(f"cannot encode text for an input of shape {shape}")
