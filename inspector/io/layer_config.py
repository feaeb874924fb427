"""Canonical layer configs: Keras 1 key names renamed, version defaults filled, one function per kind.

`canonical_config(kind, cls, cfg, dialect, name)` edits one layer's config dict in place so that
every later stage reads a single dialect (Keras 2/3 names, every default explicit).  The Keras 1
renames and the per-version recurrent defaults are described in docs/formats.md, "Configs across
versions".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from inspector.core.network import RECURRENT_KINDS
from inspector.io._safe import MAX_UNITS, ReadError
from inspector.io.weights import CONV_KINDS

if TYPE_CHECKING:
    from inspector.io.config import Dialect

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


# ----------------------------------------------------------------------------------------------
# one function per kind: (kind, cls, cfg, dialect, name) -> problems


def _recurrent(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    problems: list[str] = []
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
    return problems


def _dense(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    _rename(cfg, _K1_DENSE)
    cfg.setdefault("activation", "linear")
    cfg.setdefault("use_bias", True)
    return []


def _embedding(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    _rename(cfg, _K1_EMBEDDING)
    cfg.pop("dropout", None)
    cfg.setdefault("mask_zero", False)
    return []


def _data_format(cfg: dict[str, Any]) -> None:
    """Keras 1 `dim_ordering` ('th' / 'tf') -> `data_format`."""
    if "dim_ordering" in cfg:
        cfg.setdefault(
            "data_format", "channels_first" if cfg.pop("dim_ordering") == "th" else "channels_last"
        )


def _conv(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    if "nb_row" in cfg:
        cfg.setdefault("kernel_size", [cfg.pop("nb_row"), cfg.pop("nb_col", 1)])
    _data_format(cfg)
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
    return []


def _pooling(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    _data_format(cfg)
    _rename(cfg, _K1_POOL)
    for key in ("pool_size", "strides"):
        if key in cfg and cfg[key] is not None:
            cfg[key] = _as_list(cfg[key])
    cfg.setdefault("pool_size", [2] if kind.endswith("1D") else [2, 2])
    if cfg.get("strides") is None:
        cfg["strides"] = cfg["pool_size"]
    cfg.setdefault("padding", "valid")
    cfg.setdefault("data_format", "channels_last")
    return []


def _batch_norm(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    problems: list[str] = []
    _rename(cfg, {"beta_init": "beta_initializer", "gamma_init": "gamma_initializer"})
    mode = cfg.get("mode", 0)
    if mode not in (0, None):
        problems.append(
            f"BatchNormalization layer '{name}': Keras 1 mode={mode} uses batch statistics at test time"
        )
    for key, value in (("axis", -1), ("epsilon", 1e-3), ("center", True), ("scale", True)):
        cfg.setdefault(key, value)
    return problems


def _input_layer(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    shape = cfg.pop("batch_input_shape", None)
    shape = cfg.get("batch_shape", shape)
    if shape is None and cfg.get("input_shape") is not None:
        shape = [None, *cfg["input_shape"]]
    cfg["batch_shape"] = list(shape) if shape is not None else None
    cfg.setdefault("dtype", "float32")
    cfg.setdefault("sparse", False)
    return []


def _renamed(old: str, new: str) -> Callable[..., list[str]]:
    """A kind whose only Keras 1 difference is one key name (Dropout's `p`, GaussianNoise's `sigma`)."""

    def canon(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
        if old in cfg:
            cfg.setdefault(new, cfg.pop(old))
        return []

    return canon


_DROPOUTS = ("Dropout", "SpatialDropout1D", "GaussianDropout", "SpatialDropout2D")
_Canon = Callable[[str, str, dict[str, Any], "Dialect", str], list[str]]

#: kind -> its canonical function (kinds absent here only get the common part)
_BY_KIND: dict[str, _Canon] = {
    **dict.fromkeys(RECURRENT_KINDS, _recurrent),
    **dict.fromkeys(CONV_KINDS, _conv),
    **dict.fromkeys(("MaxPooling1D", "AveragePooling1D", "MaxPooling2D", "AveragePooling2D"), _pooling),
    **dict.fromkeys(_DROPOUTS, _renamed("p", "rate")),
    "GaussianNoise": _renamed("sigma", "stddev"),
    "UpSampling1D": _renamed("length", "size"),
    "Dense": _dense,
    "Embedding": _embedding,
    "BatchNormalization": _batch_norm,
    "InputLayer": _input_layer,
}

#: kinds whose canonical form only fills defaults
_DEFAULTS: dict[str, dict[str, Any]] = {
    "Masking": {"mask_value": 0.0},
    "Activation": {"activation": "linear"},
    "LayerNormalization": {"axis": -1, "epsilon": 1e-3, "center": True, "scale": True, "rms_scaling": False},
    "Concatenate": {"axis": -1},
    "GlobalMaxPooling1D": {"data_format": "channels_last", "keepdims": False},
    "GlobalAveragePooling1D": {"data_format": "channels_last", "keepdims": False},
}


def canonical_config(kind: str, cls: str, cfg: dict[str, Any], dialect: Dialect, name: str) -> list[str]:
    """Rename Keras-1 keys and fill version defaults in place; returns problems (one line each).

    Parameters
    ----------
    kind : canonical layer kind ('LSTM', 'Dense' ...); cls : the class name as written in the file.
    cfg : the layer's config dict, edited in place.  dialect : the writer's version rules.
    name : the layer name (for messages).
    """
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
    canon = _BY_KIND.get(kind)
    if canon is not None:
        problems += canon(kind, cls, cfg, dialect, name)
    for key, value in _DEFAULTS.get(kind, {}).items():
        cfg.setdefault(key, value)
    return problems
