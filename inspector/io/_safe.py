"""Defensive primitives shared by the readers: HDF5 access, attribute decoding, JSON parsing, limits.

Every file we open is untrusted.  Everything that touches h5py goes through this module so the
safety rules live in one place:

* links are resolved one path component at a time and **external links are refused** (h5py
  would otherwise open another file named inside this one);
* virtual datasets and datasets with external raw storage are refused for the same reason;
* sizes are checked *before* allocating (a 4-byte compressed chunk can claim terabytes);
* a dataset read is one function (`read_dataset`), told how to read by an explicit `ReadPlan`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from inspector.core.network import data_address
from inspector.io.errors import ModelFileError

#: refuse any single dataset larger than this (bytes of the *decoded* array)
MAX_DATASET_BYTES = 2 * 1024**3
#: refuse configs claiming more units / filters / vocabulary than this
MAX_UNITS = 100_000_000
#: refuse JSON nested deeper than this (json.loads recursion would explode long before Python's limit)
MAX_JSON_DEPTH = 200
#: refuse JSON text longer than this
MAX_JSON_CHARS = 64 * 1024**2


class ReadError(Exception):
    """Raised by helpers that have no path at hand; `load()` turns it into ModelFileError."""


class UnsafeError(ReadError):
    """A file that reaches outside itself or claims absurd sizes: refused whole, never read in part."""


@dataclass(frozen=True)
class RawArray:
    """One array as read from a file, before any layout conversion.

    name : the file's own name for it ('lstm_1/kernel:0', 'lstm_1_W_i', '0').
    value : float32 copy.
    stored_dtype : dtype as stored ('float32', 'bfloat16', 'float16', 'float64', 'int8' ...).
    source : full dataset path inside the file (or archive member + path), for display.
    """

    name: str
    value: np.ndarray
    stored_dtype: str
    source: str


# ----------------------------------------------------------------------------------------------
# strings and attributes


def text(value: Any) -> str:
    """Decode an HDF5 attribute scalar (bytes / np.bytes_ / str / 0-d array) to str (strict UTF-8)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf8")
        except UnicodeDecodeError as exc:
            raise ReadError(f"attribute is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    s = str(value)
    if isinstance(value, str):
        # h5py hands invalid UTF-8 in variable-length strings back as lone surrogates ('\udcff')
        try:
            s.encode("utf8")
        except UnicodeEncodeError as exc:
            raise ReadError(f"attribute is not valid UTF-8 (undecodable byte at {exc.start})") from None
    return s


def text_list(value: Any) -> list[str]:
    """Decode a list-of-strings attribute; an empty or non-string array is an empty list (Keras rule)."""
    if value is None:
        return []
    if isinstance(value, (bytes, np.bytes_, str)):
        return [text(value)]
    arr = np.asarray(value)
    if arr.size == 0 or arr.dtype.kind not in "SUO":
        return []
    return [text(v) for v in arr.reshape(-1)]


def attr_list(obj: h5py.HLObject, name: str) -> list[str] | None:
    """A list attribute that may be chunked into name0, name1, ... (Keras splits attrs > 64 KiB).

    Returns None when neither `name` nor `name0` exists.
    """
    attrs = obj.attrs
    if name in attrs:
        return text_list(attrs[name])
    if f"{name}0" not in attrs:
        return None
    out: list[str] = []
    k = 0
    while f"{name}{k}" in attrs:
        out += text_list(attrs[f"{name}{k}"])
        k += 1
    return out


def attr_names(obj: h5py.HLObject, name: str) -> list[str | None] | None:
    """`attr_list` for damaged files: an entry that is not valid UTF-8 becomes None (the rest is kept).

    Returns None when the attribute is absent; raises ReadError when it is a non-empty array of
    something other than strings (an empty or float array is an empty list, as Keras writes it).
    """
    attrs = obj.attrs
    keys = [name] if name in attrs else []
    k = 0
    while name not in attrs and f"{name}{k}" in attrs:
        keys.append(f"{name}{k}")
        k += 1
    if not keys:
        return None
    out: list[str | None] = []
    for key in keys:
        value = attrs[key]
        if isinstance(value, (bytes, np.bytes_, str)):
            value = [value]
        arr = np.asarray(value, dtype=object) if isinstance(value, list) else np.asarray(value)
        if arr.size == 0 or arr.dtype.kind == "f":
            continue
        if arr.dtype.kind not in "SUO":
            raise ReadError(f"{name} is a {arr.dtype} array, not a list of names")
        for v in arr.reshape(-1):
            try:
                out.append(text(v))
            except ReadError:
                out.append(None)
    return out


def attr_text(obj: h5py.HLObject, name: str) -> str | None:
    if name not in obj.attrs:
        return None
    return text(obj.attrs[name])


# ----------------------------------------------------------------------------------------------
# HDF5 navigation


def child(group: h5py.Group, name: str) -> h5py.Group | h5py.Dataset | None:
    """`group[name]` where `name` may contain '/', refusing external links at every step.

    Returns None when a component is missing.
    """
    node: Any = group
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if not isinstance(node, h5py.Group):
            return None
        link = node.get(part, getlink=True)
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise UnsafeError(
                f"'{node.name}/{part}' is an external link to {link.filename!r}: "
                "links to other files are not followed"
            )
        try:
            node = node[part]
        except KeyError:
            return None  # dangling soft link
    return node


def group_keys(group: h5py.Group) -> list[str]:
    """Member names of a group, refusing external links."""
    keys = list(group.keys())  # a name that is not valid UTF-8 comes back as bytes
    for k in keys:
        kb = k if isinstance(k, bytes) else k.encode("utf8", "surrogateescape")
        if group.id.links.get_info(kb).type == h5py.h5l.TYPE_EXTERNAL:
            raise UnsafeError(
                f"'{group.name}/{k}' is an external link: links to other files are not followed"
            )
    return keys


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    bits = raw.view(np.uint16).astype(np.uint32) << 16
    return bits.view(np.float32)


#: makes an empty array of a shape and dtype (the reader process's `arena.Arena.empty`)
Allocate = Callable[[tuple[int, ...], Any], np.ndarray]


@dataclass
class ReadPlan:
    """How `read_dataset` reads the datasets of one `load`; passed explicitly down every reader.

    only : None reads every dataset.  Otherwise a preview pass: only the datasets named here are
        read; every other one becomes a placeholder (`np.zeros` of the decoded shape and dtype,
        which costs address space but no memory or I/O until touched: the kernel maps zero pages
        lazily), and checks of whole-file integrity (a stored archive member's CRC) are left to the
        full read that always follows.
    allocate : makes the float32 arrays datasets are read into (the reader process allocates them
        in its result file, so they are never copied again); None: ordinary numpy memory.
    placeholders : data address of each placeholder -> (the placeholder, its dataset name), so a
        weight built from one can be traced back to the dataset to read for real.
    """

    only: frozenset[str] | None = None
    allocate: Allocate | None = None
    placeholders: dict[int, tuple[np.ndarray, str]] = field(default_factory=dict)

    @property
    def preview(self) -> bool:
        """True for a preview pass (see `only`)."""
        return self.only is not None

    def source_of(self, value: np.ndarray) -> str | None:
        """The dataset a placeholder (or a view of one) stands for; None if `value` holds real data."""
        if value.size == 0:
            return None
        entry = self.placeholders.get(data_address(value))
        return entry[1] if entry is not None else None


def read_dataset(ds: h5py.Dataset, plan: ReadPlan) -> tuple[np.ndarray, str]:
    """Read one weight dataset as a float32 array; returns (array (ds.shape) float32, stored dtype name).

    Refuses virtual datasets, external raw storage, non-numeric dtypes and anything over
    MAX_DATASET_BYTES (checked from the declared shape before reading).  In a preview `plan`,
    datasets it does not name are not read: a zero placeholder of the same shape is returned.
    """
    if not isinstance(ds, h5py.Dataset):
        raise ReadError(f"'{ds.name}' is a group, expected a weight array")
    if ds.is_virtual:
        raise UnsafeError(f"'{ds.name}' is a virtual dataset (data mapped from other files): refused")
    if ds.external:
        raise UnsafeError(f"'{ds.name}' stores its data in external files: refused")
    dt = ds.dtype
    declared = ds.attrs.get("dtype") if "dtype" in ds.attrs else None
    declared_s = text(declared) if declared is not None else None
    n = int(np.prod(ds.shape, dtype=np.float64)) if ds.shape else 1
    out_bytes = float(n) * 4
    if out_bytes > MAX_DATASET_BYTES:
        raise UnsafeError(
            f"'{ds.name}' declares {ds.shape} elements ({out_bytes / 1024**3:.1f} GiB): too large"
        )
    bf16 = dt.kind == "V" and dt.itemsize == 2 and (declared_s in (None, "bfloat16"))
    if not bf16 and dt.kind not in "fiub":
        raise ReadError(f"'{ds.name}' has dtype {dt} which is not a numeric weight array")
    if plan.only is not None and ds.name not in plan.only:
        placeholder = np.zeros(ds.shape, dtype=np.float32)
        if placeholder.size:
            plan.placeholders[data_address(placeholder)] = (placeholder, ds.name)
        return placeholder, "bfloat16" if bf16 else dt.name
    if bf16:
        raw = np.empty(ds.shape, dtype=dt)
        if n:
            ds.read_direct(raw)
        return np.ascontiguousarray(_bfloat16_to_float32(raw.view(np.uint16))), "bfloat16"
    if plan.allocate is not None and dt.kind == "f" and dt.itemsize == 4 and n:
        out = plan.allocate(tuple(ds.shape), np.float32)
        ds.read_direct(out)  # libhdf5 writes straight into `out` (byte order converted if need be)
        return out, dt.name
    value = np.asarray(ds[()])
    stored = dt.name
    return np.ascontiguousarray(value, dtype=np.float32), stored


def read_raw(group: h5py.Group, name: str, plan: ReadPlan, *, prefix: str = "") -> RawArray:
    """Read `group[name]` (name may contain '/') as a RawArray; missing -> ReadError with the path."""
    ds = child(group, name)
    if ds is None:
        raise ReadError(f"weight '{name}' listed in '{group.name}' is missing from the file")
    value, stored = read_dataset(ds, plan)
    return RawArray(name=name, value=value, stored_dtype=stored, source=prefix + ds.name)


# ----------------------------------------------------------------------------------------------
# JSON

_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(s: str) -> int:
    """Maximum bracket nesting depth of JSON text `s` (brackets inside strings ignored)."""
    stripped = _STRING_RE.sub("", s)
    codes = np.frombuffer(stripped.encode("utf8", "surrogatepass"), dtype=np.uint8)
    if codes.size == 0:
        return 0
    step = np.zeros(codes.shape, dtype=np.int32)
    step[(codes == ord("[")) | (codes == ord("{"))] = 1
    step[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(step).max(initial=0))


def parse_json(data: str | bytes, what: str) -> Any:
    """json.loads with size and nesting limits; raises ReadError with a one-line reason."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf8")
        except UnicodeDecodeError as exc:
            raise ReadError(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if len(data) > MAX_JSON_CHARS:
        raise ReadError(f"{what} is {len(data) / 1024**2:.0f} MiB of JSON: too large")
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise ReadError(f"{what} is nested {depth} levels deep (limit {MAX_JSON_DEPTH}): refused")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ReadError(f"{what} is not valid JSON ({exc})") from None


def damage_reason(exc: BaseException, what: str) -> str:
    """One line saying why the architecture could not be used (the weights are still shown)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, ModelFileError):
        text = exc.reason
    elif not isinstance(exc, ReadError):
        text = f"{type(exc).__name__}: {text}"
    return f"{what} unusable ({text}); showing the weights that could be read"
