"""Every Keras config dialect -> one canonical, weightless description (KERAS_FORMATS.md §4.4, §7, §8.2).

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
from inspector.io._safe import MAX_UNITS, ReadError
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

#: Keras 3 ops that Masking produces in Functional graphs (§7.2c): dropped, the engine propagates masks
MASK_OPS = frozenset({"NotEqual", "Any"})

_K1_RNN = {
    "output_dim": "units",
    "init": "kernel_initializer",
    "inner_init": "recurrent_initializer",
    "inner_activation": "recurrent_activation",
    "W_regularizer": "kernel_regularizer",
    "U_regularizer": "recurrent_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "U_constraint": "recurrent_constraint",
    "b_constraint": "bias_constraint",
    "dropout_W": "dropout",
    "dropout_U": "recurrent_dropout",
}
_K1_DENSE = {
    "output_dim": "units",
    "init": "kernel_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "bias": "use_bias",
}
_K1_EMBEDDING = {
    "init": "embeddings_initializer",
    "W_regularizer": "embeddings_regularizer",
    "W_constraint": "embeddings_constraint",
}
_K1_CONV = {
    "nb_filter": "filters",
    "filter_length": "kernel_size",
    "border_mode": "padding",
    "subsample_length": "strides",
    "subsample": "strides",
    "atrous_rate": "dilation_rate",
    "init": "kernel_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "bias": "use_bias",
}
_K1_POOL = {"pool_length": "pool_size", "stride": "strides", "border_mode": "padding"}
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
    """Which Keras wrote the config: decides defaults (§8.2) and node-index offsets (§7.3)."""

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


def _rename(cfg: dict[str, Any], table: Mapping[str, str]) -> None:
    for old, new in table.items():
        if old in cfg and new not in cfg:
            cfg[new] = cfg.pop(old)
        elif old in cfg:
            cfg.pop(old)


def _dtype_name(d: Any) -> Any:
    """'float32' | {'class_name': 'DTypePolicy', 'config': {'name': ...}} | Policy dict -> 'float32'."""
    if isinstance(d, Mapping):
        c = d.get("config")
        if isinstance(c, Mapping) and isinstance(c.get("name"), str):
            return c["name"]
        return str(d.get("class_name", "float32"))
    return d


def _activation_name(a: Any) -> Any:
    """Keras 3 / tf.keras serialized activations -> plain name when they name a builtin."""
    if isinstance(a, Mapping):
        module = str(a.get("module") or "")
        cfg = a.get("config")
        if isinstance(cfg, str) and (module.startswith(("keras", "tf_keras")) or module == ""):
            return cfg
        if (
            isinstance(cfg, Mapping)
            and isinstance(cfg.get("name"), str)
            and not module.startswith("builtins")
        ):
            return cfg["name"]
    return a


def _as_list(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return [int(v)]
    return v


def _check_sizes(name: str, cfg: Mapping[str, Any]) -> None:
    for key in ("units", "filters", "input_dim", "output_dim", "n"):
        v = cfg.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > MAX_UNITS:
            raise ReadError(f"layer '{name}' claims {key}={v:g}: absurd size, refused")
        # a size the engine would call int() on: {} / [] / "four" / true / 2.5 / -3 are corrupt configs
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < 0):
            raise ReadError(f"layer '{name}' has {key}={str(v)[:40]!r}: not a size")


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


def _shape(v: Any) -> tuple[int | None, ...] | None:
    if isinstance(v, (list, tuple)) and all(x is None or isinstance(x, int) for x in v):
        return tuple(v)
    return None


# ----------------------------------------------------------------------------------------------
# layers


def canonical_config(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    """Rename Keras-1 keys and fill version defaults in place; returns problems."""
    problems: list[str] = []
    _check_sizes(name, cfg)
    if "input_dtype" in cfg and "dtype" not in cfg:
        cfg["dtype"] = cfg.pop("input_dtype")
    if "dtype" in cfg:
        cfg["dtype"] = _dtype_name(cfg["dtype"])
        if isinstance(cfg["dtype"], str) and cfg["dtype"].startswith("mixed"):
            problems.append(
                f"layer '{name}': mixed precision policy '{cfg['dtype']}' is computed in float32 here "
                "(expect differences of ~1e-3)"
            )
    cfg.setdefault("trainable", True)
    if "activation" in cfg:
        cfg["activation"] = _activation_name(cfg["activation"])
    if "recurrent_activation" in cfg:
        cfg["recurrent_activation"] = _activation_name(cfg["recurrent_activation"])
    if kind in RECURRENT_KINDS:
        _rename(cfg, _K1_RNN)
        if "consume_less" in cfg:
            cfg["implementation"] = {"cpu": 0, "mem": 1, "gpu": 2}.get(cfg.pop("consume_less"), 0)
        if cfg.pop("forget_bias_init", None) == "one":
            cfg.setdefault("unit_forget_bias", True)
        d = dialect.rnn_defaults()
        cfg.setdefault("activation", "tanh")
        cfg.setdefault("use_bias", True)
        for key in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
            cfg.setdefault(key, False)
        cfg.setdefault("zero_output_for_mask", False)
        cfg.setdefault("time_major", False)
        cfg.setdefault("dropout", 0.0)
        cfg.setdefault("recurrent_dropout", 0.0)
        if kind in ("LSTM", "GRU"):
            cfg.setdefault("recurrent_activation", d["recurrent_activation"])
        if kind == "GRU":
            cfg.setdefault("reset_after", d["reset_after"])
        if cls in ("CuDNNLSTM", "CuDNNGRU"):
            cfg.update(activation="tanh", recurrent_activation="sigmoid", use_bias=True)
            if cls == "CuDNNGRU":
                cfg["reset_after"] = True
            problems.append(f"layer '{name}': {cls} runs as {kind} with sigmoid/tanh (same math)")
        if cfg.get("time_major"):
            problems.append(f"layer '{name}': time_major=True (inputs are (T, B, d))")
        if "units" not in cfg:
            problems.append(f"layer '{name}': config has no units")
    elif kind == "Dense":
        _rename(cfg, _K1_DENSE)
        cfg.setdefault("activation", "linear")
        cfg.setdefault("use_bias", True)
    elif kind == "Embedding":
        _rename(cfg, _K1_EMBEDDING)
        cfg.pop("dropout", None)
        cfg.setdefault("mask_zero", False)
    elif kind in CONV_KINDS:
        if "nb_row" in cfg:
            cfg.setdefault("kernel_size", [cfg.pop("nb_row"), cfg.pop("nb_col", 1)])
        if "dim_ordering" in cfg:
            cfg.setdefault(
                "data_format", "channels_first" if cfg.pop("dim_ordering") == "th" else "channels_last"
            )
        _rename(cfg, _K1_CONV)
        for key in ("kernel_size", "strides", "dilation_rate"):
            if key in cfg:
                cfg[key] = _as_list(cfg[key])
        rank = {"Conv1D": 1, "Conv1DTranspose": 1, "Conv3D": 3, "Conv3DTranspose": 3}.get(kind, 2)
        cfg.setdefault("strides", [1] * rank)
        cfg.setdefault("dilation_rate", [1] * rank)
        cfg.setdefault("padding", "valid")
        cfg.setdefault("data_format", "channels_last")
        cfg.setdefault("activation", "linear")
        cfg.setdefault("use_bias", True)
        cfg.setdefault("groups", 1)
    elif kind in ("MaxPooling1D", "AveragePooling1D", "MaxPooling2D", "AveragePooling2D"):
        if "dim_ordering" in cfg:
            cfg.setdefault(
                "data_format", "channels_first" if cfg.pop("dim_ordering") == "th" else "channels_last"
            )
        _rename(cfg, _K1_POOL)
        for key in ("pool_size", "strides"):
            if key in cfg and cfg[key] is not None:
                cfg[key] = _as_list(cfg[key])
        cfg.setdefault("pool_size", [2] if kind.endswith("1D") else [2, 2])
        if cfg.get("strides") is None:
            cfg["strides"] = cfg["pool_size"]
        cfg.setdefault("padding", "valid")
        cfg.setdefault("data_format", "channels_last")
    elif kind in ("Dropout", "SpatialDropout1D", "GaussianDropout", "SpatialDropout2D"):
        if "p" in cfg:
            cfg.setdefault("rate", cfg.pop("p"))
    elif kind == "GaussianNoise":
        if "sigma" in cfg:
            cfg.setdefault("stddev", cfg.pop("sigma"))
    elif kind == "Masking":
        cfg.setdefault("mask_value", 0.0)
    elif kind == "Activation":
        cfg.setdefault("activation", "linear")
    elif kind == "BatchNormalization":
        _rename(cfg, {"beta_init": "beta_initializer", "gamma_init": "gamma_initializer"})
        mode = cfg.get("mode", 0)
        if mode not in (0, None):
            problems.append(
                f"BatchNormalization layer '{name}': Keras 1 mode={mode} uses batch statistics at test time"
            )
        cfg.setdefault("axis", -1)
        cfg.setdefault("epsilon", 1e-3)
        cfg.setdefault("center", True)
        cfg.setdefault("scale", True)
    elif kind == "LayerNormalization":
        cfg.setdefault("axis", -1)
        cfg.setdefault("epsilon", 1e-3)
        cfg.setdefault("center", True)
        cfg.setdefault("scale", True)
        cfg.setdefault("rms_scaling", False)
    elif kind == "Concatenate":
        cfg.setdefault("axis", -1)
    elif kind in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
        cfg.setdefault("data_format", "channels_last")
        cfg.setdefault("keepdims", False)
    elif kind == "UpSampling1D" and "length" in cfg:
        cfg.setdefault("size", cfg.pop("length"))
    elif kind == "InputLayer":
        shape = cfg.pop("batch_input_shape", None)
        shape = cfg.get("batch_shape", shape)
        if shape is None and cfg.get("input_shape") is not None:
            shape = [None, *cfg["input_shape"]]
        cfg["batch_shape"] = list(shape) if shape is not None else None
        cfg.setdefault("dtype", "float32")
        cfg.setdefault("sparse", False)
    return problems


def parse_layer(entry: Any, dialect: Dialect, depth: int = 0) -> LayerSpec:
    """One `{"class_name", "config", ...}` layer entry -> LayerSpec (recursing into wrappers and models)."""
    if depth > 100:
        raise ReadError("model config nests layers more than 100 levels deep: refused")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("class_name"), str):
        raise ReadError(f"malformed layer entry in model config: {str(entry)[:80]!r}")
    cls = entry["class_name"]
    raw = entry.get("config")
    if raw is None:
        raw = {}
    if isinstance(raw, list) and cls == "Sequential":  # Keras <= 2.2.2 nested Sequential
        raw = {"layers": raw}
    if not isinstance(raw, Mapping):
        raise ReadError(f"layer of class {cls!r} has a malformed config")
    raw = dict(raw)
    name = str(raw.get("name") or entry.get("name") or cls.lower())
    module = entry.get("module")
    registered = entry.get("registered_name")
    problems: list[str] = []
    runnable = True

    # Keras 3 op nodes (keras.src.ops.*) and legacy-h5 ops without module (no 'trainable' key)
    if (module and ".ops" in str(module)) or (
        module is None
        and isinstance(entry.get("inbound_nodes"), list)
        and entry.get("inbound_nodes")
        and isinstance(entry["inbound_nodes"][0], Mapping)
        and "trainable" not in raw
        and cls not in ("InputLayer",)
    ):
        spec = LayerSpec(
            name=name, kind=cls, cls=cls, config=dict(raw), raw_config=copy.deepcopy(raw), is_op=True
        )
        if cls not in MASK_OPS:
            spec.runnable = False
            spec.problems.append(f"Keras op '{name}' ({cls}) in the graph is not supported")
        return spec

    if cls in MODEL_CLASSES or (isinstance(raw.get("layers"), list) and cls not in KNOWN):
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

    kind = CLASS_RENAMES.get(cls, cls)
    cfg = dict(copy.deepcopy(raw))
    children: list[LayerSpec] = []

    if not _module_ok(module):
        runnable = False
        problems.append(
            f"layer '{name}': class {cls!r} from module {module!r} is not a Keras built-in: "
            "custom code, not executable"
        )
    elif registered is not None and registered != cls and not str(registered).startswith("keras"):
        runnable = False
        problems.append(
            f"layer '{name}': custom registered class {registered!r}: custom code, not executable"
        )

    if cls in ("Lambda",) or _contains_lambda(raw):
        runnable = False
        fn = raw.get("function")
        if cls == "Lambda" and raw.get("function_type") == "function":
            problems.append(f"Lambda layer '{name}': calls Python function {fn!r}, not executable")
        else:
            problems.append(f"Lambda layer '{name}': Python bytecode, not executable")
    elif cls in ("TFOpLambda", "SlicingOpLambda"):
        runnable = False
        problems.append(f"{cls} layer '{name}': raw TensorFlow op {raw.get('function')!r}, not supported")
    elif cls == "TimeDistributedDense":
        kind = "TimeDistributed"
        inner_cfg = {k: v for k, v in cfg.items() if k not in ("name", "input_length", "input_dim")}
        inner_cfg["name"] = f"{name}_dense"
        inner = parse_layer({"class_name": "Dense", "config": inner_cfg}, dialect, depth + 1)
        children = [inner]
        cfg = {
            k: v
            for k, v in cfg.items()
            if k
            in ("name", "trainable", "batch_input_shape", "input_dtype", "input_dim", "input_length", "dtype")
        }
    elif cls == "Merge":
        mode = raw.get("mode", "sum")
        if "layers" in raw and raw.get("layers"):
            runnable = False
            problems.append(f"Merge layer '{name}': Keras 1 Sequential branch merging is not supported")
        elif isinstance(mode, str) and mode in _K1_MERGE_MODES:
            kind = _K1_MERGE_MODES[mode]
            if kind == "Concatenate":
                cfg["axis"] = raw.get("concat_axis", -1)
            if kind == "Dot":
                cfg["axes"] = raw.get("dot_axes", -1)
        else:
            runnable = False
            problems.append(f"Merge layer '{name}': mode {str(mode)[:40]!r} is not supported")
    elif cls == "RNN":
        cell = raw.get("cell")
        cell_cls = cell.get("class_name") if isinstance(cell, Mapping) else None
        cell_kind = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}.get(str(cell_cls))
        if cell_kind is None or not _module_ok(cell.get("module")):  # type: ignore[union-attr]
            runnable = False
            what = cell_cls or ("a list of cells" if isinstance(cell, list) else "unknown")
            problems.append(f"RNN layer '{name}': cell {what!r} is not supported")
        else:
            kind = cell_kind
            cell_cfg = dict(cell.get("config") or {})  # type: ignore[union-attr]
            cfg = {k: v for k, v in cfg.items() if k != "cell"}
            for k, v in cell_cfg.items():
                if k not in ("name", "trainable", "dtype"):
                    cfg.setdefault(k, v)
    elif cls in ("Bidirectional", "TimeDistributed"):
        inner_entry = raw.get("layer")
        if not isinstance(inner_entry, Mapping):
            raise ReadError(f"{cls} layer '{name}' has no wrapped layer")
        inner = parse_layer(inner_entry, dialect, depth + 1)
        cfg.pop("layer", None)
        if cls == "Bidirectional":
            back_entry = raw.get("backward_layer")
            cfg.pop("backward_layer", None)
            cfg.setdefault("merge_mode", "concat")
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
            children = [fwd, bwd]
            if inner.kind in RECURRENT_KINDS:
                cfg["return_sequences"] = bool(inner.config.get("return_sequences", False))
                cfg["return_state"] = bool(inner.config.get("return_state", False))
            runnable = runnable and fwd.runnable and bwd.runnable
        else:
            children = [inner]
            runnable = runnable and inner.runnable
        for c in children:
            problems += c.problems
    elif kind not in KNOWN and runnable:
        runnable = False
        problems.append(
            f"layer '{name}': class {cls!r} is not a known Keras layer (custom code?), not executable"
        )

    problems += canonical_config(kind, cls, cfg, dialect, name)
    cfg["name"] = name
    if kind == "BatchNormalization" and cfg.get("mode", 0) not in (0, None):
        runnable = False
    return LayerSpec(
        name=name,
        kind=kind,
        cls=cls,
        config=cfg,
        raw_config=copy.deepcopy(raw),
        children=children,
        runnable=runnable,
        problems=problems,
    )


# ----------------------------------------------------------------------------------------------
# networks


def _first_layer_input(entry: Mapping[str, Any], spec: LayerSpec) -> tuple[tuple | None, str | None]:
    """Input shape / dtype declared on the first layer of a Sequential (no InputLayer entry)."""
    raw = spec.raw_config
    inner = raw.get("layer") if isinstance(raw.get("layer"), Mapping) else None
    for src in (raw, (inner or {}).get("config") or {}):
        shape = _shape(src.get("batch_input_shape")) or _shape(src.get("batch_shape"))
        if shape is not None:
            return shape, src.get("input_dtype") or (
                src.get("dtype") if isinstance(src.get("dtype"), str) else None
            )
    # Keras 1 input_dim / input_length
    dim, length = raw.get("input_dim"), raw.get("input_length")
    if spec.kind in RECURRENT_KINDS and dim is not None:
        return (None, length, dim), raw.get("input_dtype")
    if spec.kind == "Embedding" and "input_length" in raw:
        return (None, length), raw.get("input_dtype") or "int32"
    if spec.kind in ("Dense", "TimeDistributed") and dim is not None:
        return ((None, length, dim) if spec.kind == "TimeDistributed" else (None, dim)), raw.get(
            "input_dtype"
        )
    bc = entry.get("build_config")
    if isinstance(bc, Mapping):
        shape = _shape(bc.get("input_shape"))
        if shape is not None:
            return shape, None
    return None, None


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
    name: str, cls: str, cfg: Mapping[str, Any], entries: list, specs: list[LayerSpec]
) -> NetSpec:
    shapes: tuple = ()
    dtypes: tuple = ()
    problems: list[str] = []
    layers = list(specs)
    if layers and layers[0].kind == "InputLayer":
        inp = layers.pop(0)
        entries = entries[1:]
        shape = _shape(inp.config.get("batch_shape"))
        shapes, dtypes = ((shape,) if shape else ()), (str(inp.config.get("dtype") or "float32"),)
    elif layers:
        shape, dt = _first_layer_input(entries[0], layers[0])
        if shape is None:
            shape = _shape(cfg.get("build_input_shape"))
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

Ref = tuple[str, int, int]


def _is_conn(x: Any) -> bool:
    return (
        isinstance(x, list)
        and 3 <= len(x) <= 4
        and isinstance(x[0], str)
        and isinstance(x[1], int)
        and isinstance(x[2], int)
    )


def _conns(x: Any, depth: int = 0) -> list[list]:
    """Flatten a Keras 1/2 node structure into its connection entries."""
    if depth > 50:
        return []
    if _is_conn(x):
        return [x]
    if isinstance(x, list):
        return [c for e in x for c in _conns(e, depth + 1)]
    if isinstance(x, Mapping):
        return [c for e in x.values() for c in _conns(e, depth + 1)]
    return []


def _kts(x: Any, depth: int = 0) -> list[Ref]:
    """Flatten Keras 3 args into keras_history refs (in order)."""
    if depth > 50:
        return []
    if isinstance(x, Mapping):
        if x.get("class_name") == "__keras_tensor__":
            h = (x.get("config") or {}).get("keras_history")
            if isinstance(h, list) and len(h) == 3:
                return [(str(h[0]), int(h[1]), int(h[2]))]
            return []
        return [r for v in x.values() for r in _kts(v, depth + 1)]
    if isinstance(x, list):
        return [r for v in x for r in _kts(v, depth + 1)]
    return []


def _has_constant(x: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if isinstance(x, Mapping):
        if x.get("class_name") == "__keras_tensor__":
            return False
        return any(_has_constant(v, depth + 1) for v in x.values()) or not x
    if isinstance(x, list):
        return any(_has_constant(v, depth + 1) for v in x)
    return x is not None


@dataclass
class _RawCall:
    inputs: list[Ref]
    initial_state: list[Ref]


def _parse_nodes(spec: LayerSpec, nodes: Any) -> list[_RawCall]:
    out: list[_RawCall] = []
    if not isinstance(nodes, list):
        return out
    rnn_like = spec.kind in RECURRENT_KINDS or spec.kind == "Bidirectional"
    for node in nodes:
        if isinstance(node, Mapping):  # Keras 3
            args = node.get("args") or []
            kwargs = node.get("kwargs") or {}
            inputs = _kts(args)
            init = _kts(kwargs.get("initial_state")) if isinstance(kwargs, Mapping) else []
            if _has_constant(args[1:] if isinstance(args, list) else []) or (
                isinstance(args, list) and args and _has_constant(args[0]) and not _kts(args[0])
            ):
                if not spec.is_op:
                    spec.runnable = False
                    spec.problems.append(
                        f"layer '{spec.name}' is called with constant arguments: not supported"
                    )
            if isinstance(kwargs, Mapping):
                for k, v in kwargs.items():
                    if k not in ("mask", "initial_state", "training") and _kts(v):
                        spec.problems.append(f"layer '{spec.name}': tensor keyword argument {k!r} ignored")
            out.append(_RawCall(inputs, init))
            continue
        conns = _conns(node)
        inputs: list[Ref] = []
        init: list[Ref] = []
        for c in conns:
            if c[0] == "_CONSTANT_VALUE":
                spec.runnable = False
                spec.problems.append(f"layer '{spec.name}' is called with a constant input: not supported")
                continue
            inputs.append((c[0], int(c[1]), int(c[2])))
            kw = c[3] if len(c) == 4 and isinstance(c[3], Mapping) else {}
            if "initial_state" in kw:
                init += [(k[0], int(k[1]), int(k[2])) for k in _conns(kw["initial_state"])]
        if rnn_like and len(inputs) > 1:  # Keras 2 extra connections = initial states
            inputs, init = inputs[:1], inputs[1:] + init
        out.append(_RawCall(inputs, init))
    return out


def _io_refs(x: Any) -> list[Ref]:
    return [(c[0], int(c[1]), int(c[2])) for c in _conns(x)]


def _functional(
    name: str, cls: str, cfg: Mapping[str, Any], entries: list, specs: list[LayerSpec], dialect: Dialect
) -> NetSpec:
    from inspector.core.network import Call  # local: keeps the module header light

    problems: list[str] = []
    by_name: dict[str, LayerSpec] = {}
    raw_calls: dict[str, list[_RawCall]] = {}
    keras3_nodes = False
    for e, s in zip(entries, specs):
        if s.name in by_name:
            raise ReadError(f"model '{name}' has two layers named {s.name!r}")
        by_name[s.name] = s
        nodes = e.get("inbound_nodes") if isinstance(e, Mapping) else None
        if isinstance(nodes, list) and nodes and isinstance(nodes[0], Mapping):
            keras3_nodes = True
        raw_calls[s.name] = _parse_nodes(s, nodes)
    inputs = _io_refs(cfg.get("input_layers"))
    outputs = _io_refs(cfg.get("output_layers"))

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

    # node-index offsets of nested models (§7.3)
    call_off: dict[str, int] = {}
    io_off: dict[str, int] = {}
    for s in keep:
        if s.network is None:
            continue
        n_calls = len(raw_calls[s.name])
        first_is_input = bool(s.network.kind == "Functional" or _had_input_layer(s))
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
        io_refs = [r[1] for r in outputs if r[0] == s.name]
        call_off[s.name] = _fix_offset(base_call, call_refs, n_calls)
        io_off[s.name] = _fix_offset(base_io, io_refs, n_calls)

    def ref(r: Ref, io: bool = False) -> TensorRef:
        off = (io_off if io else call_off).get(r[0], 0)
        return TensorRef(r[0], r[1] - off, r[2])

    for s in keep:
        s.calls = [
            Call(tuple(ref(r) for r in c.inputs), tuple(ref(r) for r in c.initial_state))
            for c in raw_calls[s.name]
        ]
    in_specs = [by_name[r[0]] for r in inputs]
    shapes = tuple(_shape(s.config.get("batch_shape")) or () for s in in_specs)
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


def _had_input_layer(spec: LayerSpec) -> bool:
    layers = spec.raw_config.get("layers")
    return bool(
        isinstance(layers, list)
        and layers
        and isinstance(layers[0], Mapping)
        and layers[0].get("class_name") == "InputLayer"
    )


def _fix_offset(base: int, refs: list[int], n_calls: int) -> int:
    """Correct the expected offset so every reference lands on an existing call."""
    if not refs:
        return base
    off = base
    if max(refs) - off >= n_calls:
        off = max(refs) - n_calls + 1
    if min(refs) - off < 0:
        off = min(refs)
    return max(off, 0)


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
