"""App layer: model inputs from files, typed indices and random examples; one reader for CLI and GUI.

`read_input_file` reads .npy, .npz and .csv files (never unpickling: ``allow_pickle=False``) and
`check_inputs` fits the arrays to a network's inputs (adds a missing batch axis, checks fixed
dimensions, casts as the engine expects).  Errors are `InputFileError` / ValueError with one line,
``<file>: <reason>`` for files.  No Qt.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from inspector.core.network import Network

Shape = tuple[int | None, ...]

# An .npz holding the input under one of these names and the target under one of TARGET_KEYS is
# (input, target), not two inputs.
INPUT_KEYS = ("x", "X", "inputs", "input")
TARGET_KEYS = ("y", "Y", "target", "targets")
TARGET_COLUMNS = ("y", "target", "label")
MAX_TEXT_BYTES = 256 * 1024**2


class InputFileError(ValueError):
    """An input file cannot be read or does not fit: the message is one line, ``<file>: <reason>``."""


@dataclass(frozen=True)
class InputData:
    """What an input file holds.

    Attributes
    ----------
    arrays : one array per model input, in order (as stored: the batch axis may be missing).
    target : the target stored with the input (an .npz ``y`` / a csv ``target`` column), or None.
    columns : a csv's feature column names (header row), else None.
    path : the file read.  notes : what was left out (non-numeric csv columns).
    target_name : the csv column the target came from.
    """

    arrays: list[np.ndarray]
    target: np.ndarray | None = None
    columns: list[str] | None = None
    path: str = ""
    notes: list[str] = field(default_factory=list)
    target_name: str | None = None


def format_shape(shape: Sequence[int | None], *, time_axis: bool = True) -> str:
    """'(batch, T, 57)': the batch axis named, a free time axis 'T', other unknown dims '?'."""
    dims = ["batch"] + [
        "T" if (d is None and k == 1 and time_axis) else ("?" if d is None else str(d))
        for k, d in enumerate(shape[1:], 1)
    ]
    return "(" + ", ".join(dims) + ")"


# ------------------------------------------------------------------------------------------ reading
def read_input_file(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    n_features: int | None = None,
    auto_target: bool = True,
) -> InputData:
    """Read the arrays of an input file, told apart by content (numpy magic, zip) not extension.

    Parameters
    ----------
    path : a .npy (one array), an .npz (its arrays in order, one per model input; or ``x`` plus
        ``y``/``target``: input and target) or a text .csv/.txt (rows = timesteps, comma separated,
        an optional header row; numeric columns are features, a ``target``/``y`` column the target).
    target, n_features, auto_target : how a csv's target column is chosen (see `parse_csv`).

    Returns
    -------
    InputData : arrays as stored (float32 for csv), target or None.

    Raises
    ------
    InputFileError : one line ``<file>: <reason>``.
    """
    path = os.fspath(path)
    name = os.path.basename(path) or path
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except FileNotFoundError:
        raise InputFileError(f"{path}: cannot read (no such file)") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({_one_line(exc)})") from None
    try:
        if magic == b"\x93NUMPY":
            return InputData([_numeric(np.load(path, allow_pickle=False), name)], path=path)
        if magic[:4] == b"PK\x03\x04":
            return _read_npz(path, name)
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(f"{path}: not a readable numpy array ({_no_pickle_advice(exc)})") from None
    return _read_csv(path, name, target, n_features, auto_target)


def _read_npz(path: str, name: str) -> InputData:
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.files)
        x_key = next((k for k in INPUT_KEYS if k in keys), None)
        y_key = next((k for k in TARGET_KEYS if k in keys), None)
        if x_key is not None and y_key is not None and len(keys) == 2:
            return InputData([_numeric(z[x_key], name)], target=_numeric(z[y_key], name), path=path)
        if not keys:
            raise InputFileError(f"{path}: the .npz holds no array")
        return InputData([_numeric(z[k], name) for k in keys], path=path)


def _read_csv(
    path: str, name: str, target: str | None, n_features: int | None, auto_target: bool
) -> InputData:
    try:
        if os.path.getsize(path) > MAX_TEXT_BYTES:
            raise InputFileError(f"{path}: too large for a text sequence")
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not a .npy/.npz array or a text (.csv) sequence") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({_one_line(exc)})") from None
    try:
        data = parse_csv(text, target=target, n_features=n_features, auto_target=auto_target)
    except ValueError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    return dataclasses.replace(data, path=path)


def parse_csv(
    text: str, *, target: str | None = None, n_features: int | None = None, auto_target: bool = True
) -> InputData:
    """CSV text (rows = timesteps, comma separated, an optional header row) -> InputData: the one CSV
    reader of the app (input files, time series).

    Columns whose every cell is text (a date, a name) are left out (said in `notes`); a column mixing
    numbers and text is an error.  The target column is `target` when named, else (with a header and
    `auto_target`) a column named ``target`` / ``y`` / ``label`` unless `n_features` says the model
    reads every numeric column.

    Returns
    -------
    InputData : arrays [(T, F) float32], target (T,) float32 or None, columns (F header names, None
        without header), notes; `target_name` in notes' sibling field `target_name`.

    Raises
    ------
    ValueError : empty, ragged rows, mixed cells, no numeric column, unknown target column (one line).
    """
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError("the file is empty")
    header = [c.strip() for c in rows[0]] if not all(_is_number(c) for c in rows[0]) else None
    body = rows[1:] if header is not None else rows
    if not body:
        raise ValueError("a header row but no values")
    width = len(header) if header is not None else len(body[0])
    for k, r in enumerate(body):
        if len(r) != width:
            named = "the header names" if header else "row 1 has"
            raise ValueError(f"data row {k + 1} has {len(r)} columns but {named} {width}")
    columns = header or [f"feature {k}" for k in range(width)]
    numeric: list[int] = []
    for k in range(width):
        ok = [_is_number(r[k]) for r in body]
        if all(ok):
            numeric.append(k)
        elif any(ok):
            bad = next(n for n, good in enumerate(ok) if not good)
            raise ValueError(
                f"column {columns[k]!r} holds a non-numeric cell in data row {bad + 1}: {body[bad][k]!r}"
            )
    if not numeric:
        raise ValueError("no numeric column")
    col: int | None = None
    if target is not None:
        if target not in columns:
            raise ValueError(f"no column named {target!r} (columns: {', '.join(columns)})")
        col = columns.index(target)
        if col not in numeric:
            raise ValueError(f"the target column {target!r} is not numeric")
    elif header is not None and auto_target and (n_features is None or n_features == len(numeric) - 1):
        col = next((k for k in numeric if columns[k].lower() in TARGET_COLUMNS), None)
    features = [k for k in numeric if k != col]
    if not features:
        raise ValueError("no numeric feature column besides the target")
    values = np.array([[float(r[k]) for k in numeric] for r in body], dtype=np.float32)
    data = values[:, [numeric.index(k) for k in features]]
    tgt = values[:, numeric.index(col)].copy() if col is not None else None
    dropped = [columns[k] for k in range(width) if k not in numeric]
    notes = [f"non-numeric columns ignored: {', '.join(dropped)}"] if dropped else []
    return InputData(
        [data],
        target=tgt,
        columns=[columns[k] for k in features] if header else None,
        notes=notes,
        target_name=columns[col] if col is not None else None,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numeric(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise InputFileError(f"{name}: input must be a numeric array, got dtype {a.dtype}")
    return a


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _no_pickle_advice(exc: BaseException) -> str:
    """numpy's message without its 'allow_pickle=True' advice: we never unpickle a user's file."""
    text = _one_line(exc)
    if "allow_pickle" in text or "pickle" in text.lower():
        return "it holds Python objects (pickled data), which are never loaded"
    return text


# ------------------------------------------------------------------------------------------ checking
def input_specs(network: Network) -> list[tuple[Shape, str]]:
    """(shape with batch axis, dtype) of each model input; dtype 'float32' when unrecorded."""
    dtypes = list(network.input_dtypes) + ["float32"] * (
        len(network.input_shapes) - len(network.input_dtypes)
    )
    return [(tuple(s), str(d or "float32")) for s, d in zip(network.input_shapes, dtypes)]


def fit_to_shape(x: np.ndarray, shape: Shape, dtype: str, *, free_time: bool = False) -> np.ndarray:
    """Add the batch axis if missing and check the fixed dimensions; ValueError (one line) otherwise.

    Parameters
    ----------
    x : the array as read (with or without batch axis).
    shape : the model input's shape with batch axis, e.g. (None, 40, 57).
    dtype : the input's dtype; 'int*' inputs get int32 ids, others float32.
    free_time : accept any length on axis 1 (Keras runs a fixed-length model on other lengths).

    Returns
    -------
    ndarray : shape (B, ...) matching `shape`, int32 or float32.
    """
    x = np.asarray(x)
    rank = len(shape)
    if rank == 2 and x.ndim == 2 and x.shape[1] == 1 and (shape[1] is None or shape[1] != 1):
        x = x[:, 0]  # a one-column csv of ids
    if x.ndim == rank - 1:
        x = x[None]
    if x.ndim != rank:
        raise ValueError(
            f"the model expects an input of shape {format_shape(shape)}, got an array of shape {x.shape}"
        )
    for k, (want, got) in enumerate(zip(shape[1:], x.shape[1:]), 1):
        if want is not None and want != got and not (free_time and k == 1):
            raise ValueError(
                f"the model expects {format_shape(shape)}, got {x.shape}: axis {k} must be {want}, not {got}"
            )
    if x.shape[0] == 0 or (rank >= 2 and x.shape[1] == 0):
        raise ValueError("the sequence is empty")
    if not np.all(np.isfinite(x.astype(np.float64, copy=False))):
        raise ValueError("the sequence contains NaN or infinite values")
    if dtype.startswith(("int", "uint")):
        return x.astype(np.int32)
    return x.astype(np.float32)


def check_inputs(
    network: Network, arrays: Sequence[np.ndarray], *, free_time: bool = False
) -> list[np.ndarray]:
    """Fit `arrays` (one per model input) to `network`'s inputs with `fit_to_shape`.

    Returns
    -------
    list of ndarray : one per input, batch axis first.

    Raises
    ------
    ValueError : wrong number of arrays or a shape that does not fit (one line).
    """
    specs = input_specs(network)
    if not specs:
        raise ValueError("the model's input shape is unknown")
    if len(arrays) != len(specs):
        raise ValueError(f"the model has {len(specs)} inputs but {len(arrays)} arrays were given")
    return [fit_to_shape(a, s, d, free_time=free_time) for a, (s, d) in zip(arrays, specs)]


# ------------------------------------------------------------------------------------------ examples
def id_limit(network: Network, vocabulary: Sequence[str] | None) -> int:
    """Upper bound for token ids: the first Embedding's input_dim, else the vocabulary size, else 10."""
    for layer in network.layers:
        if layer.kind == "Embedding" and layer.config.get("input_dim"):
            return int(layer.config["input_dim"])
    return len(vocabulary or []) or 10


def predicts_next_symbol(network: Network, width: int) -> bool:
    """The model ends in a softmax over `width` classes: a one-hot model predicting its next symbol."""
    layers = [
        lay.children[0] if lay.kind == "TimeDistributed" and lay.children else lay for lay in network.layers
    ]
    layers = [lay for lay in layers if lay.kind != "InputLayer"]
    softmax = False
    if layers and layers[-1].kind == "Activation":  # Keras 1 style: Dense, then Activation('softmax')
        softmax = layers[-1].config.get("activation") == "softmax"
        layers = layers[:-1]
    if not layers or layers[-1].kind != "Dense":
        return False
    dense = layers[-1]
    softmax = softmax or dense.config.get("activation") == "softmax"
    return softmax and int(dense.config.get("units") or 0) == width


def random_inputs(
    network: Network, vocabulary: Sequence[str] | None, seed: int, length: int
) -> tuple[list[np.ndarray], list[str]]:
    """Seeded random arrays of the model's input shapes (batch row only) and what each one is.

    Token ids (in 1..id limit) for id inputs, one-hot rows when the input is the vocabulary's width or
    the model predicts a symbol of the input's width (softmax over as many classes: a character model
    without its vocabulary), standard normal values otherwise (a numeric model, however many features,
    never gets one-hot rows); T = the model's fixed length or `length`.
    """
    rng = np.random.default_rng(seed)
    arrays: list[np.ndarray] = []
    kinds: list[str] = []
    for shape, dtype in input_specs(network):
        T = shape[1] if len(shape) >= 2 and shape[1] is not None else length
        dims = [T] + [d if d is not None else 8 for d in shape[2:]]
        width = dims[-1] if len(shape) == 3 else 0
        integer = dtype.startswith("int")
        if len(shape) == 2:
            arrays.append(rng.integers(1, max(2, id_limit(network, vocabulary)), size=dims))
            kinds.append("token ids")
        elif (
            len(shape) == 3
            and not integer
            and (
                (vocabulary and width == len(vocabulary))
                or (not vocabulary and predicts_next_symbol(network, width))
            )
        ):
            x = np.zeros(dims, dtype=np.float32)
            x[np.arange(T), rng.integers(0, width, size=T)] = 1.0
            arrays.append(x)
            kinds.append(f"one-hot rows over {width} symbols")
        elif integer:
            arrays.append(rng.integers(0, max(1, id_limit(network, vocabulary)), size=dims))
            kinds.append("integers")
        else:
            arrays.append(rng.standard_normal(dims).astype(np.float32))
            kinds.append("standard normal values")
    return arrays, kinds


def parse_indices(text: str, shape: Shape) -> np.ndarray:
    """Typed indices ('3 1 4', commas allowed) -> token ids (T,) or one-hot rows (T, V) for `shape`.

    Raises ValueError (one line) for non-integers, an empty list, ids out of range.
    """
    try:
        ids = [int(tok) for tok in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError("indices must be whole numbers separated by spaces") from None
    if not ids:
        raise ValueError("type at least one index")
    if len(shape) == 3:
        width = shape[2] or 0
        bad = [i for i in ids if not 0 <= i < width]
        if bad:
            raise ValueError(f"index {bad[0]} is outside the one-hot width {shape[2]}")
        x = np.zeros((len(ids), width), dtype=np.float32)
        x[np.arange(len(ids)), ids] = 1.0
        return x
    if len(shape) == 2:
        if any(i < 0 for i in ids):
            raise ValueError("token ids cannot be negative")
        return np.asarray(ids)
    raise ValueError(f"indices cannot describe an input of shape {format_shape(shape)}")
