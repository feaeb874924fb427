"""Core: a Keras model as plain data (frozen dataclasses over float32 numpy). No Qt, no h5py.

This module is the contract between the readers (`inspector.io`), the engine
(`inspector.core.engine`, `inspector.core.recurrent`, ...) and the GUI (`inspector.ui`).

Conventions
-----------
* Every weight is stored **already converted to the Keras 2/3 layout**: Keras 1 per-gate arrays are
  concatenated (LSTM kernel = [W_i, W_f, W_c, W_o]), CuDNN blocks are transposed and their biases
  folded, Theano conv kernels are flipped.  Nothing outside `inspector.io` converts layouts.
* Gate slicing is part of the description: `Weight.gates` names the column ranges (last axis) of a
  kernel, recurrent kernel or bias.  Nothing outside `inspector.io` / `gate_slices()` computes
  column offsets.
* Layer classes are canonicalised to Keras 2/3 names (`LSTM`, `GRU`, `SimpleRNN`, `Dense`,
  `TimeDistributed`, `Bidirectional`, `Sequential`, `Functional`, ...).  Keras 1 names
  (`TimeDistributedDense`, `Convolution1D`, `MaxPooling1D`...) and generic `RNN(cell=LSTMCell)` are
  mapped by the readers; CuDNNLSTM/CuDNNGRU become LSTM/GRU with the exact activations they compute.
* Config keys are canonicalised to Keras 2/3 spelling (`units`, `recurrent_activation`, `use_bias`,
  `return_sequences`, `go_backwards`, `reset_after`, `mask_zero`, `padding`, ...); the original
  config is kept in `Layer.raw_config` for display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

Array = np.ndarray


def data_address(arr: Array) -> int:
    """Where an array's data starts: the identity of a buffer across views of it (same start)."""
    return int(arr.__array_interface__["data"][0])


# Gate order as Keras stores the fused columns (Keras 2/3 layout).  key, short label, long label.
LSTM_GATES: tuple[tuple[str, str, str], ...] = (
    ("i", "i", "input gate"),
    ("f", "f", "forget gate"),
    ("c", "c\u0303", "candidate"),
    ("o", "o", "output gate"),
)
GRU_GATES: tuple[tuple[str, str, str], ...] = (
    ("z", "z", "update gate"),
    ("r", "r", "reset gate"),
    ("h", "h\u0303", "candidate"),
)
SIMPLE_RNN_GATES: tuple[tuple[str, str, str], ...] = (("h", "h", "hidden pre-activation"),)

GATES_BY_KIND: Mapping[str, tuple[tuple[str, str, str], ...]] = MappingProxyType(
    {"LSTM": LSTM_GATES, "GRU": GRU_GATES, "SimpleRNN": SIMPLE_RNN_GATES}
)
RECURRENT_KINDS = frozenset(GATES_BY_KIND)


@dataclass(frozen=True)
class GateSlice:
    """One gate's block of columns along the last axis of a weight.

    `key` is the stable ASCII id used in trace files ('i','f','c','o' / 'z','r','h' / 'h');
    `label` is the display label ('c̃'), `title` the long name ('candidate').
    """

    key: str
    label: str
    title: str
    start: int
    stop: int

    def take(self, value: Array) -> Array:
        """Return `value[..., start:stop]` (a view)."""
        return value[..., self.start : self.stop]


def gate_slices(kind: str, units: int) -> tuple[GateSlice, ...]:
    """Gate column blocks for a recurrent weight of a layer of `kind` with `units` units.

    Parameters
    ----------
    kind : 'LSTM' | 'GRU' | 'SimpleRNN'
    units : number of units u; the weight's last axis has len(gates) * u columns.

    Returns
    -------
    tuple of GateSlice in Keras storage order (LSTM i, f, c, o; GRU z, r, h).
    """
    gates = GATES_BY_KIND[kind]
    return tuple(
        GateSlice(key, label, title, k * units, (k + 1) * units)
        for k, (key, label, title) in enumerate(gates)
    )


@dataclass(frozen=True)
class Weight:
    """One weight array of a layer, in Keras 2/3 layout.

    Attributes
    ----------
    name : role name: 'kernel', 'recurrent_kernel', 'bias', 'embeddings', 'gamma', 'beta',
        'moving_mean', 'moving_variance' (or the file's own name when the role is unknown).
    value : the array, float32 (bfloat16/float16 are widened on read).  Shapes: kernel (in, n*u),
        recurrent_kernel (u, n*u), bias (n*u,) or GRU reset_after bias (2, n*u).
    source : where it came from in the file (dataset path(s), joined with ' + ' when converted
        from several arrays), for display.
    gates : gate column blocks along the last axis; empty for ungated weights.
    stored_dtype : the dtype as stored in the file ('float32', 'bfloat16', ...).
    """

    name: str
    value: Array
    source: str = ""
    gates: tuple[GateSlice, ...] = ()
    stored_dtype: str = "float32"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    def gate(self, key: str) -> Array:
        """The columns of gate `key` (e.g. 'f'), a view of `value`."""
        for g in self.gates:
            if g.key == key:
                return g.take(self.value)
        raise KeyError(f"{self.name} has no gate {key!r}")


@dataclass(frozen=True)
class TensorRef:
    """Output `index` of call `node` of layer `layer` (Keras' [name, node_index, tensor_index])."""

    layer: str
    node: int = 0
    index: int = 0


@dataclass(frozen=True)
class Call:
    """One call (inbound node) of a layer inside a Functional network.

    `inputs` is the flattened list of tensors passed as the first argument (one for most layers,
    several for merge layers).  `initial_state` holds the tensors passed as RNN initial states
    (Keras 2 extra connections or Keras 3 `initial_state=` kwarg).  Explicit `mask=` kwargs are
    ignored: masks are propagated by the engine itself.
    """

    inputs: tuple[TensorRef, ...]
    initial_state: tuple[TensorRef, ...] = ()


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Layer:
    """One layer, canonicalised.

    Attributes
    ----------
    name : the layer's name in the model.
    kind : canonical class name ('LSTM', 'GRU', 'SimpleRNN', 'Dense', 'Embedding', 'Bidirectional',
        'TimeDistributed', 'Sequential', 'Functional', 'InputLayer', 'Masking', ...).  Unknown or
        unsafe classes keep their own name and set `runnable=False`.
    config : canonical config (Keras 2/3 key names, defaults filled in for the writer's version).
    weights : this layer's own weights (empty for wrappers: see `children`).
    children : Bidirectional -> (forward, backward); TimeDistributed -> (inner,).
    network : the sub-network of a nested Sequential/Functional layer.
    calls : Functional only: one entry per call of this layer in the enclosing network.
    raw_config : the config exactly as in the file (for display).
    runnable : False when the engine must not / cannot run it (Lambda, custom classes ...).
    problems : human-readable notes about this layer (one line each).
    """

    name: str
    kind: str
    config: Mapping[str, Any] = field(default_factory=lambda: _frozen(None))
    weights: tuple[Weight, ...] = ()
    children: tuple[Layer, ...] = ()
    network: Network | None = None
    calls: tuple[Call, ...] = ()
    raw_config: Mapping[str, Any] = field(default_factory=lambda: _frozen(None))
    runnable: bool = True
    problems: tuple[str, ...] = ()

    def weight(self, name: str) -> Weight:
        for w in self.weights:
            if w.name == name:
                return w
        raise KeyError(f"layer {self.name!r} has no weight {name!r}")

    def all_weights(self) -> tuple[tuple[str, Weight], ...]:
        """Every weight under this layer as (display path, weight), children and nested included.

        Paths look like 'lstm_1/kernel', 'bidi/forward/kernel', 'td/kernel', 'sub/dense_3/bias'.
        """
        out: list[tuple[str, Weight]] = [(f"{self.name}/{w.name}", w) for w in self.weights]
        if self.kind == "Bidirectional" and len(self.children) == 2:
            for side, child in zip(("forward", "backward"), self.children):
                out += [(f"{self.name}/{side}/{w.name}", w) for w in child.weights]
        else:
            for child in self.children:
                for p, w in child.all_weights():
                    out.append((f"{self.name}/{p.split('/', 1)[1]}", w))
        if self.network is not None:
            for sub in self.network.layers:
                out += [(f"{self.name}/{p}", w) for p, w in sub.all_weights()]
        return tuple(out)

    @property
    def n_params(self) -> int:
        return int(sum(w.value.size for _, w in self.all_weights()))


@dataclass(frozen=True)
class Network:
    """A Sequential or Functional model.

    Attributes
    ----------
    name : model name.
    kind : 'Sequential' or 'Functional'.
    layers : in config order.  Sequential: without the InputLayer (its shape is in `input_shapes`);
        layers are applied in order.  Functional: InputLayers included; wiring in `Layer.calls`.
    inputs, outputs : Functional only: the model's input / output tensors.
    input_shapes : per model input, the shape with batch axis (None for unknown dims), e.g.
        (None, 40, 57).  `input_dtypes` likewise ('float32', 'int32', ...).
    """

    name: str
    kind: str
    layers: tuple[Layer, ...]
    inputs: tuple[TensorRef, ...] = ()
    outputs: tuple[TensorRef, ...] = ()
    input_shapes: tuple[tuple[int | None, ...], ...] = ()
    input_dtypes: tuple[str, ...] = ()

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer named {name!r}")


@dataclass(frozen=True)
class Semantics:
    """Version-dependent inference behaviour, decided by the Keras version that wrote the file.

    hard_sigmoid : 'keras2' -> clip(0.2x+0.5, 0, 1) (Keras 1/2, tf.keras); 'keras3' -> clip(x/6+0.5).
    bidirectional_zero_masked : tf.keras (TF2) and Keras 3 force zero_output_for_mask=return_sequences
        on both halves of a Bidirectional; Keras 1 and multi-backend Keras 2 carry the last output.
    """

    hard_sigmoid: str = "keras2"
    bidirectional_zero_masked: bool = True

    @staticmethod
    def for_version(keras_version: str | None) -> Semantics:
        """Semantics of the Keras that wrote `keras_version` ('1.2.2', '2.2.4', '2.2.4-tf', '3.9.2')."""
        v = (keras_version or "1").strip()
        try:
            major, minor = (int(p) for p in (v.split(".") + ["0"])[:2])
        except ValueError:
            major, minor = 2, 0
        if major >= 3:
            return Semantics("keras3", True)
        tf_keras = "tf" in v or (major == 2 and minor >= 4)
        return Semantics("keras2", tf_keras)


@dataclass(frozen=True)
class ModelFile:
    """What a reader found in one file.

    Attributes
    ----------
    path : the file.
    format : human-readable format, e.g. 'Keras 1 HDF5 (full model)', 'Keras 3 archive (.keras)'.
    format_id : stable id: 'legacy-h5-model', 'legacy-h5-weights', 'keras3-archive',
        'keras3-weights-h5', 'keras0-h5'.
    keras_version : writer version as recorded ('1.2.2', '2.2.4-tf', '3.9.2'), None if absent.
    backend : 'tensorflow' / 'theano' / ... or None.
    network : the architecture, None for weights-only files (until a config is supplied).
    weight_layers : every layer that has weights, as Layer objects (kind may be '?' for weights-only
        files whose class cannot be told from the file) -- always filled, so weights can be shown
        even when the network cannot be built.
    semantics : inference behaviour for this writer version.
    problems : one-line notes about what could not be read or will not run.
    damage : None for a consistent file.  Otherwise the one-line reason ('<what is wrong>') why the
        file could only be read in part (broken or inconsistent config, unreadable names ...): the
        weights in `weight_layers` are what could still be read, `network` is None, and the CLI's
        run verbs fail with this reason while the GUI shows the weights with the problem marked.
    """

    path: str
    format: str
    format_id: str
    keras_version: str | None
    backend: str | None
    network: Network | None
    weight_layers: tuple[Layer, ...]
    semantics: Semantics = Semantics()
    problems: tuple[str, ...] = ()
    damage: str | None = None


def default_weight(mf: ModelFile) -> str:
    """The weight shown first: the first recurrent kernel, else the first weight ('' if none)."""
    layers = mf.network.layers if mf.network is not None else mf.weight_layers
    first = ""
    for lay in layers:
        for path, w in lay.all_weights():
            first = first or path
            if w.gates and w.name == "kernel":
                return path
    return first


def find_weight(mf: ModelFile, path: str) -> tuple[Layer, Weight] | None:
    """(top-level Layer, Weight) for a weight display path ('lstm_1/kernel'), or None."""
    if not path:
        return None
    top = path.split("/", 1)[0]
    layers = (mf.network.layers if mf.network is not None else ()) + tuple(mf.weight_layers)
    for layer in layers:
        if layer.name != top:
            continue
        for p, w in layer.all_weights():
            if p == path:
                return layer, w
    return None
