"""Every Keras config dialect -> one canonical, weightless description (docs/formats.md, "Model configs").

`parse_model(obj, version)` turns a `{"class_name": ..., "config": ...}` model config (Keras 1
Sequential lists, Keras 2 dicts and 4-tuple connections, tf.keras quirks, Keras 3 args/kwargs
with `__keras_tensor__`, op nodes) into a `NetSpec` tree of mutable `LayerSpec`s.  Weights are
attached afterwards by the format readers (`attach.py`), which turn the specs into the frozen
`inspector.core.network` objects.

Nothing here executes anything from the file: Lambda bytecode, `__lambda__`, custom classes and
unknown modules are kept as layers with `runnable=False` and a one-line problem.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from inspector.core.network import RECURRENT_KINDS, TensorRef
from inspector.io._safe import ReadError
from inspector.io.layer_config import canonical_config
from inspector.io.nodes import (
    RawCall,
    Ref,
    first_layer_input,
    fix_offset,
    had_input_layer,
    io_refs,
    parse_nodes,
    shape_of,
)
from inspector.io.weights import CONV_KINDS, WEIGHTLESS

MODEL_CLASSES = frozenset({"Sequential", "Model", "Functional"})

#: Keras-1/2 class names -> canonical kind
CLASS_RENAMES = {
    "Convolution1D": "Conv1D",
    "AtrousConvolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "AtrousConvolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "Deconvolution2D": "Conv2DTranspose",
    "CuDNNLSTM": "LSTM",
    "CuDNNGRU": "GRU",
    "LSTMV1": "LSTM",
    "GRUV1": "GRU",
    "Model": "Functional",
}

#: built-in Keras layers besides the weightless ones (runnable as far as the reader is concerned;
#: the engine reports the ones it has not implemented)
KNOWN = (
    WEIGHTLESS
    | CONV_KINDS
    | RECURRENT_KINDS
    | {
        "Dense",
        "Embedding",
        "Bidirectional",
        "TimeDistributed",
        "BatchNormalization",
        "LayerNormalization",
        "PReLU",
        "Sequential",
        "Functional",
        "SeparableConv1D",
        "SeparableConv2D",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "Attention",
        "AdditiveAttention",
        "MultiHeadAttention",
        "GroupNormalization",
        "Normalization",
        "Rescaling",
        "CategoryEncoding",
        "Hashing",
        "StringLookup",
        "IntegerLookup",
        "TextVectorization",
        "GlobalMaxPooling3D",
        "GlobalAveragePooling3D",
        "LocallyConnected1D",
        "Highway",
        "MaxoutDense",
        "Merge",
        "RNN",
        "Wrapper",
        "EinsumDense",
        "UnitNormalization",
    }
)

#: Keras 3 ops that Masking produces in Functional graphs: dropped, the engine propagates masks
#: (docs/formats.md, "Model configs")
MASK_OPS = frozenset({"NotEqual", "Any"})

_K1_MERGE_MODES = {
    "concat": "Concatenate",
    "sum": "Add",
    "mul": "Multiply",
    "ave": "Average",
    "max": "Maximum",
    "dot": "Dot",
}

# ----------------------------------------------------------------------------------------------
# specs


@dataclass
class LayerSpec:
    """A layer before its weights are attached (mutable while parsing)."""

    name: str
    kind: str
    cls: str  # class_name as written in the file (needed for Keras 3 weight keys)
    config: dict[str, Any]
    raw_config: dict[str, Any]
    children: list[LayerSpec] = field(default_factory=list)
    network: NetSpec | None = None
    calls: list[Any] = field(default_factory=list)  # core Call objects, filled for Functional members
    runnable: bool = True
    problems: list[str] = field(default_factory=list)
    is_op: bool = False  # Keras 3 op node (NotEqual, Any, Multiply, ...)

    def walk(self) -> Iterator[LayerSpec]:
        yield self
        for c in self.children:
            yield from c.walk()
        if self.network is not None:
            for lay in self.network.layers:
                yield from lay.walk()


@dataclass
class NetSpec:
    name: str
    kind: str  # 'Sequential' | 'Functional'
    cls: str
    layers: list[LayerSpec]
    inputs: tuple[TensorRef, ...] = ()
    outputs: tuple[TensorRef, ...] = ()
    input_shapes: tuple[tuple[int | None, ...], ...] = ()
    input_dtypes: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    # Keras 3 weight keys: the layers that make up `model.layers` (ops removed; Sequential w/o InputLayer)
    saveable: list[LayerSpec] = field(default_factory=list)


@dataclass(frozen=True)
class Dialect:
    """Which Keras wrote the config: decides defaults and node-index offsets.

    See docs/formats.md, "Configs across versions" and "Model configs".
    """

    version: str

    @property
    def major(self) -> int:
        try:
            return int(self.version.strip().split(".")[0])
        except ValueError:
            return 2

    @property
    def minor(self) -> int:
        try:
            return int((self.version.strip().split(".") + ["0"])[1].split("-")[0])
        except ValueError:
            return 0

    @property
    def tf_keras(self) -> bool:
        """tf.keras / tf_keras 2.x or Keras 3 (TF2 defaults, frozen nested models propagate)."""
        return self.major >= 3 or "tf" in self.version or (self.major == 2 and self.minor >= 4)

    def rnn_defaults(self) -> dict[str, Any]:
        if self.major <= 1:
            return {"recurrent_activation": "hard_sigmoid", "reset_after": False}
        if self.tf_keras:
            return {"recurrent_activation": "sigmoid", "reset_after": True}
        if self.minor >= 3:
            return {"recurrent_activation": "sigmoid", "reset_after": False}
        return {"recurrent_activation": "hard_sigmoid", "reset_after": False}


def guess_version(obj: Any) -> str:
    """The Keras major version a config looks like when the file does not say (content sniffing)."""
    s = repr(obj)[:200000]
    if "__keras_tensor__" in s or "'module': 'keras" in s and "DTypePolicy" in s:
        return "3"
    if "'output_dim'" in s and "'units'" not in s or "'inner_activation'" in s or "'consume_less'" in s:
        return "1"
    return "2"


# ----------------------------------------------------------------------------------------------
# small helpers


def _contains_lambda(obj: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if isinstance(obj, Mapping):
        if obj.get("class_name") == "__lambda__" or obj.get("function_type") == "lambda":
            return True
        return any(_contains_lambda(v, depth + 1) for v in obj.values())
    if isinstance(obj, list):
        return any(_contains_lambda(v, depth + 1) for v in obj)
    return False


def _module_ok(module: Any) -> bool:
    if module is None:
        return True
    m = str(module)
    return m == "keras" or m.startswith(("keras.", "tf_keras", "tensorflow.keras", "tensorflow.python.keras"))


# ----------------------------------------------------------------------------------------------
# layers


@dataclass
class _Parsed:
    """A plain layer while `parse_layer` works on it: what the per-class handlers may change."""

    name: str
    cls: str
    raw: dict[str, Any]
    kind: str
    cfg: dict[str, Any]
    children: list[LayerSpec] = field(default_factory=list)
    runnable: bool = True
    problems: list[str] = field(default_factory=list)

    def refuse(self, problem: str) -> None:
        self.runnable = False
        self.problems.append(problem)


def _is_op_node(entry: Mapping[str, Any], cls: str, raw: Mapping[str, Any], module: Any) -> bool:
    """Keras 3 op nodes (keras.src.ops.*) and legacy-h5 ops without module (no 'trainable' key)."""
    if module and ".ops" in str(module):
        return True
    nodes = entry.get("inbound_nodes")
    return (
        module is None
        and isinstance(nodes, list)
        and bool(nodes)
        and isinstance(nodes[0], Mapping)
        and "trainable" not in raw
        and cls not in ("InputLayer",)
    )


def _op_node(name: str, cls: str, raw: dict[str, Any]) -> LayerSpec:
    spec = LayerSpec(
        name=name, kind=cls, cls=cls, config=dict(raw), raw_config=copy.deepcopy(raw), is_op=True
    )
    if cls not in MASK_OPS:
        spec.runnable = False
        spec.problems.append(f"Keras op '{name}' ({cls}) in the graph is not supported")
    return spec


def _nested_model(
    name: str, cls: str, raw: dict[str, Any], module: Any, registered: Any, dialect: Dialect, depth: int
) -> LayerSpec:
    net = parse_network(cls, raw, dialect, depth + 1)
    spec = LayerSpec(
        name=name,
        kind=net.kind,
        cls=cls,
        config={"name": name, "trainable": raw.get("trainable", True)},
        raw_config=copy.deepcopy(raw),
        network=net,
    )
    spec.problems += net.problems
    if not _module_ok(module) or (registered not in (None, cls, "Functional", "Sequential")):
        spec.runnable = False
        spec.problems.append(
            f"model '{name}' is a custom subclass ({registered or cls}): custom code, not executable"
        )
    return spec


def _custom_code(p: _Parsed, module: Any, registered: Any) -> None:
    """A class from outside Keras (module or registered name): kept, marked not executable."""
    if not _module_ok(module):
        p.refuse(
            f"layer '{p.name}': class {p.cls!r} from module {module!r} is not a Keras built-in: "
            "custom code, not executable"
        )
    elif registered is not None and registered != p.cls and not str(registered).startswith("keras"):
        p.refuse(f"layer '{p.name}': custom registered class {registered!r}: custom code, not executable")


def _lambda(p: _Parsed, dialect: Dialect, depth: int) -> None:
    if p.cls == "Lambda" and p.raw.get("function_type") == "function":
        p.refuse(f"Lambda layer '{p.name}': calls Python function {p.raw.get('function')!r}, not executable")
    else:
        p.refuse(f"Lambda layer '{p.name}': Python bytecode, not executable")


def _tf_op_lambda(p: _Parsed, dialect: Dialect, depth: int) -> None:
    p.refuse(f"{p.cls} layer '{p.name}': raw TensorFlow op {p.raw.get('function')!r}, not supported")


_TDD_KEEP = ("name", "trainable", "batch_input_shape", "input_dtype", "input_dim", "input_length", "dtype")


def _time_distributed_dense(p: _Parsed, dialect: Dialect, depth: int) -> None:
    """Keras 1 TimeDistributedDense -> TimeDistributed(Dense)."""
    p.kind = "TimeDistributed"
    inner_cfg = {k: v for k, v in p.cfg.items() if k not in ("name", "input_length", "input_dim")}
    inner_cfg["name"] = f"{p.name}_dense"
    p.children = [parse_layer({"class_name": "Dense", "config": inner_cfg}, dialect, depth + 1)]
    p.cfg = {k: v for k, v in p.cfg.items() if k in _TDD_KEEP}


def _merge(p: _Parsed, dialect: Dialect, depth: int) -> None:
    """Keras 1 Merge(mode=...) -> the Keras 2 merge layer of that mode."""
    mode = p.raw.get("mode", "sum")
    if "layers" in p.raw and p.raw.get("layers"):
        p.refuse(f"Merge layer '{p.name}': Keras 1 Sequential branch merging is not supported")
    elif isinstance(mode, str) and mode in _K1_MERGE_MODES:
        p.kind = _K1_MERGE_MODES[mode]
        if p.kind == "Concatenate":
            p.cfg["axis"] = p.raw.get("concat_axis", -1)
        if p.kind == "Dot":
            p.cfg["axes"] = p.raw.get("dot_axes", -1)
    else:
        p.refuse(f"Merge layer '{p.name}': mode {str(mode)[:40]!r} is not supported")


def _rnn(p: _Parsed, dialect: Dialect, depth: int) -> None:
    """RNN(cell=LSTMCell(...)) -> LSTM with the cell's config (other cells are not supported)."""
    cell = p.raw.get("cell")
    cell_cls = cell.get("class_name") if isinstance(cell, Mapping) else None
    cell_kind = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}.get(str(cell_cls))
    if cell_kind is None or not isinstance(cell, Mapping) or not _module_ok(cell.get("module")):
        what = cell_cls or ("a list of cells" if isinstance(cell, list) else "unknown")
        p.refuse(f"RNN layer '{p.name}': cell {what!r} is not supported")
        return
    p.kind = cell_kind
    p.cfg = {k: v for k, v in p.cfg.items() if k != "cell"}
    for k, v in dict(cell.get("config") or {}).items():
        if k not in ("name", "trainable", "dtype"):
            p.cfg.setdefault(k, v)


def _wrapper(p: _Parsed, dialect: Dialect, depth: int) -> None:
    """Bidirectional and TimeDistributed: the wrapped layer(s) become children."""
    inner_entry = p.raw.get("layer")
    if not isinstance(inner_entry, Mapping):
        raise ReadError(f"{p.cls} layer '{p.name}' has no wrapped layer")
    inner = parse_layer(inner_entry, dialect, depth + 1)
    p.cfg.pop("layer", None)
    if p.cls == "Bidirectional":
        p.children = _bidirectional_children(p, inner, dialect, depth)
    else:
        p.children = [inner]
    p.runnable = p.runnable and all(c.runnable for c in p.children)
    for c in p.children:
        p.problems += c.problems


def _bidirectional_children(p: _Parsed, inner: LayerSpec, dialect: Dialect, depth: int) -> list[LayerSpec]:
    """[forward, backward] of a Bidirectional, named as Keras names them."""
    back_entry = p.raw.get("backward_layer")
    p.cfg.pop("backward_layer", None)
    p.cfg.setdefault("merge_mode", "concat")
    fwd = copy.deepcopy(inner)
    # Keras 3 serializes the already-renamed forward layer ('forward_lstm'); Keras 1/2 the original
    if not inner.name.startswith("forward_"):
        fwd.name = f"forward_{inner.name}"
    fwd.config["name"] = fwd.name
    if isinstance(back_entry, Mapping):
        bwd = parse_layer(back_entry, dialect, depth + 1)
    else:
        bwd = copy.deepcopy(inner)
        bwd.name = "backward_" + inner.name.removeprefix("forward_")
        bwd.config["name"] = bwd.name
        if bwd.kind in RECURRENT_KINDS:
            bwd.config["go_backwards"] = not bool(inner.config.get("go_backwards", False))
    if inner.kind in RECURRENT_KINDS:
        p.cfg["return_sequences"] = bool(inner.config.get("return_sequences", False))
        p.cfg["return_state"] = bool(inner.config.get("return_state", False))
    return [fwd, bwd]


#: classes that need more than a canonical config (the Lambda check comes first, see parse_layer)
_SPECIAL_CLASSES: dict[str, Any] = {
    "TFOpLambda": _tf_op_lambda,
    "SlicingOpLambda": _tf_op_lambda,
    "TimeDistributedDense": _time_distributed_dense,
    "Merge": _merge,
    "RNN": _rnn,
    "Bidirectional": _wrapper,
    "TimeDistributed": _wrapper,
}


def parse_layer(entry: Any, dialect: Dialect, depth: int = 0) -> LayerSpec:
    """One `{"class_name", "config", ...}` layer entry -> LayerSpec (recursing into wrappers and models)."""
    if depth > 100:
        raise ReadError("model config nests layers more than 100 levels deep: refused")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("class_name"), str):
        raise ReadError(f"malformed layer entry in model config: {str(entry)[:80]!r}")
    cls: str = entry["class_name"]
    raw = entry.get("config")
    if raw is None:
        raw = {}
    if isinstance(raw, list) and cls == "Sequential":  # Keras <= 2.2.2 nested Sequential
        raw = {"layers": raw}
    if not isinstance(raw, Mapping):
        raise ReadError(f"layer of class {cls!r} has a malformed config")
    raw = dict(raw)
    name = str(raw.get("name") or entry.get("name") or cls.lower())
    module, registered = entry.get("module"), entry.get("registered_name")
    if _is_op_node(entry, cls, raw, module):
        return _op_node(name, cls, raw)
    if cls in MODEL_CLASSES or (isinstance(raw.get("layers"), list) and cls not in KNOWN):
        return _nested_model(name, cls, raw, module, registered, dialect, depth)

    p = _Parsed(name=name, cls=cls, raw=raw, kind=CLASS_RENAMES.get(cls, cls), cfg=dict(copy.deepcopy(raw)))
    _custom_code(p, module, registered)
    if cls in ("Lambda",) or _contains_lambda(raw):
        _lambda(p, dialect, depth)
    elif cls in _SPECIAL_CLASSES:
        _SPECIAL_CLASSES[cls](p, dialect, depth)
    elif p.kind not in KNOWN and p.runnable:
        p.refuse(f"layer '{name}': class {cls!r} is not a known Keras layer (custom code?), not executable")

    p.problems += canonical_config(p.kind, cls, p.cfg, dialect, name)
    p.cfg["name"] = name
    if p.kind == "BatchNormalization" and p.cfg.get("mode", 0) not in (0, None):
        p.runnable = False
    return LayerSpec(
        name=name,
        kind=p.kind,
        cls=cls,
        config=p.cfg,
        raw_config=copy.deepcopy(raw),
        children=p.children,
        runnable=p.runnable,
        problems=p.problems,
    )


# ----------------------------------------------------------------------------------------------
# networks


def parse_network(cls: str, cfg: Any, dialect: Dialect, depth: int = 0) -> NetSpec:
    """A Sequential / Model / Functional config (the inner `config` value) -> NetSpec."""
    if isinstance(cfg, list):
        cfg = {"layers": cfg}
    if not isinstance(cfg, Mapping) or not isinstance(cfg.get("layers"), list):
        raise ReadError(f"{cls} config has no layer list")
    name = str(cfg.get("name") or cls.lower())
    entries = cfg["layers"]
    functional = cls != "Sequential" and (
        "input_layers" in cfg
        or "output_layers" in cfg
        or any(isinstance(e, Mapping) and "inbound_nodes" in e for e in entries)
    )
    specs = [parse_layer(e, dialect, depth + 1) for e in entries]
    if not functional:
        return _sequential(name, cls, cfg, entries, specs)
    return _functional(name, cls, cfg, entries, specs, dialect)


def _sequential(
    name: str, cls: str, cfg: Mapping[str, Any], entries: list[Any], specs: list[LayerSpec]
) -> NetSpec:
    shapes: tuple[tuple[int | None, ...], ...] = ()
    dtypes: tuple[str, ...] = ()
    problems: list[str] = []
    layers = list(specs)
    if layers and layers[0].kind == "InputLayer":
        inp = layers.pop(0)
        entries = entries[1:]
        shape = shape_of(inp.config.get("batch_shape"))
        shapes, dtypes = ((shape,) if shape else ()), (str(inp.config.get("dtype") or "float32"),)
    elif layers:
        shape, dt = first_layer_input(entries[0], layers[0])
        if shape is None:
            shape = shape_of(cfg.get("build_input_shape"))
        if shape is not None:
            shapes = (shape,)
            dtypes = (str(dt or "float32"),)
    for s in layers:
        if s.calls:
            s.calls = []
    net = NetSpec(
        name=name,
        kind="Sequential",
        cls=cls,
        layers=layers,
        input_shapes=shapes,
        input_dtypes=dtypes if shapes else (),
        problems=problems,
    )
    net.saveable = [s for s in layers if not s.is_op]
    return net


# --- connections ------------------------------------------------------------------------------


def _functional(
    name: str,
    cls: str,
    cfg: Mapping[str, Any],
    entries: list[Any],
    specs: list[LayerSpec],
    dialect: Dialect,
) -> NetSpec:
    from inspector.core.network import Call  # local: keeps the module header light

    problems: list[str] = []
    by_name: dict[str, LayerSpec] = {}
    raw_calls: dict[str, list[RawCall]] = {}
    keras3_nodes = False
    for e, s in zip(entries, specs):
        if s.name in by_name:
            raise ReadError(f"model '{name}' has two layers named {s.name!r}")
        by_name[s.name] = s
        nodes = e.get("inbound_nodes") if isinstance(e, Mapping) else None
        if isinstance(nodes, list) and nodes and isinstance(nodes[0], Mapping):
            keras3_nodes = True
        raw_calls[s.name] = parse_nodes(s, nodes)
    inputs = io_refs(cfg.get("input_layers"))
    outputs = io_refs(cfg.get("output_layers"))

    # Keras 3 mask ops: drop NotEqual/Any unless a kept layer consumes them as a real input (fixed point:
    # NotEqual feeds Any, Any feeds only `mask=` kwargs, which are ignored)
    dropped = {s.name for s in specs if s.is_op and s.kind in MASK_OPS}
    while True:
        used = {r[0] for r in outputs}
        used |= {
            r[0]
            for name_, calls in raw_calls.items()
            if name_ not in dropped
            for c in calls
            for r in c.inputs + c.initial_state
        }
        still = {n for n in dropped if n not in used}
        if still == dropped:
            break
        dropped = still
    keep = [s for s in specs if s.name not in dropped]

    for r in inputs + outputs + [r for calls in raw_calls.values() for c in calls for r in c.inputs]:
        if r[0] not in by_name:
            raise ReadError(f"model '{name}': connection to unknown layer {r[0]!r}")

    # node-index offsets of nested models (docs/formats.md, "Model configs")
    call_off: dict[str, int] = {}
    io_off: dict[str, int] = {}
    for s in keep:
        if s.network is None:
            continue
        n_calls = len(raw_calls[s.name])
        first_is_input = bool(s.network.kind == "Functional" or had_input_layer(s))
        if keras3_nodes:
            base_call, base_io = 0, (1 if s.network.kind == "Functional" else 0)
        elif dialect.tf_keras:
            base_call = base_io = 1 if first_is_input else 0
        else:
            base_call = base_io = 1
        call_refs = [
            r[1]
            for calls in raw_calls.values()
            for c in calls
            for r in c.inputs + c.initial_state
            if r[0] == s.name
        ]
        out_refs = [r[1] for r in outputs if r[0] == s.name]
        call_off[s.name] = fix_offset(base_call, call_refs, n_calls)
        io_off[s.name] = fix_offset(base_io, out_refs, n_calls)

    def ref(r: Ref, io: bool = False) -> TensorRef:
        off = (io_off if io else call_off).get(r[0], 0)
        return TensorRef(r[0], r[1] - off, r[2])

    for s in keep:
        s.calls = [
            Call(tuple(ref(r) for r in c.inputs), tuple(ref(r) for r in c.initial_state))
            for c in raw_calls[s.name]
        ]
    in_specs = [by_name[r[0]] for r in inputs]
    shapes = tuple(shape_of(s.config.get("batch_shape")) or () for s in in_specs)
    dtypes = tuple(str(s.config.get("dtype") or "float32") for s in in_specs)
    net = NetSpec(
        name=name,
        kind="Functional",
        cls=cls,
        layers=keep,
        inputs=tuple(ref(r, True) for r in inputs),
        outputs=tuple(ref(r, True) for r in outputs),
        input_shapes=shapes,
        input_dtypes=dtypes,
        problems=problems,
    )
    net.saveable = [s for s in specs if not s.is_op]
    return net


def parse_model(obj: Any, version: str | None) -> tuple[NetSpec, Dialect]:
    """Top-level model config `{"class_name": ..., "config": ...}` -> (NetSpec, dialect)."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("class_name"), str):
        raise ReadError("model config is not a {class_name, config} object")
    cls = obj["class_name"]
    ver = version or (str(obj["keras_version"]) if isinstance(obj.get("keras_version"), str) else None)
    dialect = Dialect(ver or guess_version(obj))
    if cls not in MODEL_CLASSES:
        if isinstance((obj.get("config") or {}), Mapping) and isinstance(obj["config"].get("layers"), list):
            net = parse_network(cls, obj["config"], dialect)
            net.problems.append(f"model class {cls!r} is a subclass; read as {net.kind}")
            return net, dialect
        raise ReadError(f"model class {cls!r} is not Sequential/Functional (subclassed models have no graph)")
    return parse_network(cls, obj.get("config"), dialect), dialect


_SNAKE1 = re.compile(r"(.)([A-Z][a-z]+)")
_SNAKE2 = re.compile(r"([a-z])([A-Z])")


def to_snake_case(name: str) -> str:
    """Keras 3 `naming.to_snake_case` (weight-file keys are built from class names)."""
    name = re.sub(r"\W+", "", name)
    name = _SNAKE1.sub(r"\1_\2", name)
    return _SNAKE2.sub(r"\1_\2", name).lower()
