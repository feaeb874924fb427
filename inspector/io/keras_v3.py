"""Keras v3 layout: `.keras` archives (zip or unzipped folder) and standalone `.weights.h5`.

See docs/formats.md, "Keras 3 layout".

The archive is never extracted: `config.json` and `metadata.json` are read in memory, and
`model.weights.h5` (`variables.h5` for 2.11) is opened by h5py in place through a read-only window
onto the archive (Keras stores it uncompressed), or from memory when it was compressed.  Variables
live at `<container>/<key>/.../vars/<i>` where keys are snake_case class names with per-container
counters, *not* layer names; `container` is `layers` or, for tf.keras 2.12-2.14,
`_layer_checkpoint_dependencies`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import zipfile
from types import MappingProxyType
from typing import Any

import h5py

from inspector.core.network import RECURRENT_KINDS, Layer, ModelFile, Network, Semantics
from inspector.io import attach
from inspector.io._safe import (
    RawArray,
    ReadError,
    ReadPlan,
    UnsafeError,
    attr_text,
    child,
    damage_reason,
    group_keys,
    parse_json,
    read_dataset,
)
from inspector.io.config import LayerSpec, NetSpec, parse_model, to_snake_case
from inspector.io.weights import Ctx, convert_leaf, infer_kind

#: archive member caps (declared uncompressed sizes)
MAX_JSON_MEMBER = 64 * 1024**2
MAX_WEIGHTS_MEMBER = 4 * 1024**3
MAX_RATIO = 200.0  # uncompressed / compressed for members over 1 MiB
CONTAINERS = ("layers", "_layer_checkpoint_dependencies")
WEIGHT_MEMBERS = ("model.weights.h5", "variables.h5")


# ----------------------------------------------------------------------------------------------
# archive access


def _zip_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        raise ReadError(f"archive member {info.filename!r} declares {info.file_size} bytes: too large")
    if info.file_size > 1024**2 and info.file_size / max(info.compress_size, 1) > MAX_RATIO:
        raise ReadError(f"archive member {info.filename!r} has an absurd compression ratio (zip bomb?)")
    out = bytearray()
    with z.open(info) as fh:
        while True:
            chunk = fh.read(1024**2)
            if not chunk:
                break
            out += chunk
            if len(out) > info.file_size or len(out) > cap:
                raise ReadError(f"archive member {info.filename!r} is larger than declared")
    return bytes(out)


class _MemberWindow(io.RawIOBase):
    """A read-only file object over bytes [start, start + size) of an open file.

    Keras writes `model.weights.h5` uncompressed (ZIP_STORED), so h5py can read it straight from the
    archive through this window: no copy of a possibly multi-GB member into memory.  Reads never
    leave the window.
    """

    def __init__(self, fh: Any, start: int, size: int) -> None:
        super().__init__()
        self._fh, self._start, self._size, self._pos = fh, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the archive member")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._size - self._pos))
        if n == 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(view[:n])
        self._pos += got or 0
        return got or 0


def _check_crc(fh: Any, start: int, info: zipfile.ZipInfo) -> None:
    """The stored member's CRC-32, as zipfile would check it (~0.2 s per GB from the page cache)."""
    import binascii

    buf = bytearray(1 << 20)
    view = memoryview(buf)
    fh.seek(start)
    left, crc = info.file_size, 0
    while left:
        n = fh.readinto(view[: min(left, len(buf))])
        if not n:
            raise ReadError(f"archive member {info.filename!r} is truncated")
        crc = binascii.crc32(view[:n], crc)
        left -= n
    if crc != info.CRC:
        raise ReadError(f"archive member {info.filename!r} is corrupted (bad CRC-32)")


class _Archive:
    """Uniform access to a zipped or unzipped v3 save."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        if os.path.isdir(path):
            self.names = sorted(os.listdir(path))
        else:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
            if sum(i.file_size for i in infos) > MAX_WEIGHTS_MEMBER + MAX_JSON_MEMBER:
                raise ReadError("archive declares more than 4 GiB of content: too large")
            self.infos = {i.filename: i for i in infos}
            self.names = list(self.infos)

    def has(self, name: str) -> bool:
        return name in self.names

    def read(self, name: str, cap: int) -> bytes:
        if self.zip is not None:
            return _zip_member(self.zip, self.infos[name], cap)
        with open(self._folder_member(name, cap), "rb") as fh:
            return fh.read(cap + 1)

    def _folder_member(self, name: str, cap: int) -> str:
        """The path of a member of an unzipped save: a regular file (no link) of at most `cap` bytes."""
        p = os.path.join(self.path, name)
        if os.path.islink(p) or not os.path.isfile(p):
            raise ReadError(f"{name!r} in the model folder is not a regular file")
        if os.path.getsize(p) > cap:
            raise ReadError(f"{name!r} is too large")
        return p

    def open_h5(self, name: str, cap: int, *, check_crc: bool = True) -> tuple[Any, Any]:
        """(h5py-openable object, the file to close after) for an HDF5 member, read in place if stored
        uncompressed (a window onto the archive), else decompressed into memory.  `check_crc=False`
        skips the CRC of a stored member (a preview pass: the full read that follows checks it)."""
        if self.zip is None:
            fh = open(self._folder_member(name, cap), "rb")  # noqa: SIM115 - closed by the caller
            return fh, fh
        info = self.infos[name]
        if info.compress_type == zipfile.ZIP_STORED and info.flag_bits & 0x1 == 0:
            if info.file_size > cap:
                raise ReadError(f"archive member {name!r} declares {info.file_size} bytes: too large")
            fh = open(self.path, "rb")  # noqa: SIM115 - closed by the caller
            try:
                fh.seek(info.header_offset)
                local = fh.read(30)
                if len(local) != 30 or local[:4] != b"PK\x03\x04":
                    raise ReadError(f"archive member {name!r}: bad local header")
                start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                start += int.from_bytes(local[28:30], "little")
                if start + info.file_size > os.fstat(fh.fileno()).st_size:
                    raise ReadError(f"archive member {name!r} extends past the end of the file (truncated?)")
                if check_crc:
                    _check_crc(fh, start, info)
            except BaseException:
                fh.close()
                raise
            return _MemberWindow(fh, start, info.file_size), fh
        return io.BytesIO(self.read(name, cap)), None

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


# ----------------------------------------------------------------------------------------------
# vars groups


def read_vars(grp: Any, prefix: str, plan: ReadPlan) -> list[RawArray]:
    """Datasets '0', '1', ... of a vars group in numeric order (h5py lists '10' before '2')."""
    if not isinstance(grp, h5py.Group):
        return []
    keys = group_keys(grp)
    idx = sorted(int(k) for k in keys if k.isdigit())
    out = []
    for i in idx:
        ds = child(grp, str(i))
        if not isinstance(ds, h5py.Dataset):
            raise ReadError(f"'{grp.name}/{i}' is not a dataset")
        value, stored = read_dataset(ds, plan)
        out.append(RawArray(str(i), value, stored, prefix + ds.name))
    return out


def _vars_name(grp: Any) -> str | None:
    v = child(grp, "vars") if isinstance(grp, h5py.Group) else None
    try:
        return attr_text(v, "name") if isinstance(v, h5py.Group) else None
    except UnsafeError:
        raise
    except ReadError:  # a name attribute that is not valid UTF-8: fall back to the key
        return None


def _container(grp: Any) -> h5py.Group | None:
    for c in CONTAINERS:
        g = child(grp, c) if isinstance(grp, h5py.Group) else None
        if isinstance(g, h5py.Group):
            return g
    return None


class _V3Walker:
    """Maps each leaf LayerSpec to its vars arrays by replaying Keras' key derivation."""

    def __init__(self, prefix: str, problems: list[str], plan: ReadPlan) -> None:
        self.prefix = prefix
        self.plan = plan
        self.problems = problems
        self.mapping: dict[int, list[RawArray]] = {}
        self.skipped: list[str] = []  # layers whose arrays could not be read (the file is damaged)

    def net(self, net: NetSpec, container: h5py.Group | None) -> None:
        used: dict[str, int] = {}
        for spec in net.saveable:
            base = to_snake_case(spec.cls)
            if base in used:
                used[base] += 1
                key = f"{base}_{used[base]}"
            else:
                used[base] = 0
                key = base
            grp = child(container, key) if container is not None else None
            grp = self._verify(spec, key, grp, container)
            self.layer(spec, grp)

    def _verify(self, spec: LayerSpec, key: str, grp: Any, container: h5py.Group | None) -> Any:
        """Cross-check with the `name` attribute (Keras >= 3.6); re-map by name when they disagree."""
        stored = _vars_name(grp)
        if stored is None or stored == spec.name or container is None:
            return grp
        for k in group_keys(container):
            if isinstance(k, str) and _vars_name(container[k]) == spec.name:
                self.problems.append(f"layer '{spec.name}': weights found under '{k}' (expected key '{key}')")
                return container[k]
        self.problems.append(f"layer '{spec.name}': key '{key}' holds layer '{stored}' by its name attribute")
        return grp

    def layer(self, spec: LayerSpec, grp: Any) -> None:
        if grp is None or spec.is_op:
            return
        if spec.network is not None:
            self.net(spec.network, _container(grp))
        elif spec.kind == "Bidirectional" and len(spec.children) == 2:
            self.layer(spec.children[0], child(grp, "forward_layer"))
            self.layer(spec.children[1], child(grp, "backward_layer"))
        elif spec.kind == "TimeDistributed" and spec.children:
            self.layer(spec.children[0], child(grp, "layer"))
        else:
            try:
                raws = _leaf_vars(grp, spec.kind, self.prefix, self.plan)
            except UnsafeError:
                raise
            except (ReadError, OSError) as exc:  # OSError: libhdf5 could not read a damaged object
                self.skipped.append(f"layer '{spec.name}': {_one_line(exc)}, skipped")
                return
            if raws:
                self.mapping[id(spec)] = raws


def _leaf_vars(grp: Any, kind: str | None, prefix: str, plan: ReadPlan) -> list[RawArray]:
    raws: list[RawArray] = []
    if kind in RECURRENT_KINDS or kind is None:
        raws = read_vars(child(grp, "cell/vars"), prefix, plan)
    if not raws:
        raws = read_vars(child(grp, "vars"), prefix, plan)
    return raws


# ----------------------------------------------------------------------------------------------
# weights-only: guess the tree from the keys

_KIND_BY_KEY = {
    "lstm": "LSTM",
    "gru": "GRU",
    "simple_rnn": "SimpleRNN",
    "dense": "Dense",
    "embedding": "Embedding",
    "conv1d": "Conv1D",
    "conv2d": "Conv2D",
    "batch_normalization": "BatchNormalization",
    "layer_normalization": "LayerNormalization",
    "time_distributed": "TimeDistributed",
    "bidirectional": "Bidirectional",
    "sequential": "Sequential",
    "functional": "Functional",
    "rnn": "?",
    "cu_dnnlstm": "LSTM",
    "cu_dnngru": "GRU",
}


def _creation_order(g: h5py.Group, keys: list[str]) -> list[str]:
    """Keys in file-address order (Keras writes groups in model order; h5py lists alphabetically)."""

    def natural(k: str) -> tuple[str, int]:
        m = re.fullmatch(r"(.*?)(?:_(\d+))?", k)
        return (m.group(1), int(m.group(2) or -1)) if m else (k, -1)

    try:
        addr = {k: h5py.h5g.get_objinfo(g.id, k.encode()).objno for k in keys}
        return sorted(keys, key=lambda k: (addr[k], natural(k)))
    except Exception:  # noqa: BLE001 - ordering is cosmetic
        return sorted(keys, key=natural)


def _leaf_from_group(
    name: str, key: str, grp: h5py.Group, ctx: Ctx, prefix: str, plan: ReadPlan
) -> Layer | None:
    base = re.sub(r"_\d+$", "", key)
    kind_hint = _KIND_BY_KEY.get(base)
    raws = _leaf_vars(grp, None, prefix, plan)
    if kind_hint in ("Bidirectional",):
        kids = []
        for side in ("forward_layer", "backward_layer"):
            sg = child(grp, side)
            if isinstance(sg, h5py.Group):
                k = _leaf_from_group(_vars_name(sg) or side, "?", sg, ctx, prefix, plan)
                if k is not None:
                    kids.append(k)
        if not kids:
            return None
        return Layer(name=name, kind="Bidirectional", children=tuple(kids), runnable=False)
    if kind_hint == "TimeDistributed":
        sg = child(grp, "layer")
        inner = (
            _leaf_from_group(_vars_name(sg) or "layer", "?", sg, ctx, prefix, plan)
            if isinstance(sg, h5py.Group)
            else None
        )
        if inner is None:
            return None
        return Layer(name=name, kind="TimeDistributed", children=(inner,), runnable=False)
    if kind_hint in ("Sequential", "Functional"):
        sub = _container(grp)
        layers = _guess_container(sub, ctx, prefix, plan) if sub is not None else ()
        if not layers:
            return None
        return Layer(name=name, kind=kind_hint, network=Network(name, kind_hint, layers), runnable=False)
    if not raws:
        return None
    guessed, cfg = infer_kind(
        name,
        [
            RawArray(r.name if kind_hint is None else _role(kind_hint, i), r.value, r.stored_dtype, r.source)
            for i, r in enumerate(raws)
        ],
        keras1=False,
    )
    kind = kind_hint if kind_hint not in (None, "?") else guessed
    if kind in RECURRENT_KINDS or kind in (
        "Dense",
        "Embedding",
        "Conv1D",
        "Conv2D",
        "BatchNormalization",
        "LayerNormalization",
    ):
        try:
            ws, probs, updates = convert_leaf(kind, cfg, {}, name, raws, ctx)
        except ReadError as exc:  # arrays that fit no layout of that class: shown as stored
            unknown = f"layer '{name}': arrays shown as stored ({exc})"
        else:
            return Layer(
                name=name,
                kind=kind,
                weights=tuple(ws),
                problems=tuple(probs),
                runnable=False,
                config=MappingProxyType({"name": name, **cfg, **updates}),
            )
    else:
        unknown = f"layer '{name}': class unknown (weights-only file)"
    from inspector.core.network import Weight

    ws = [Weight(r.name, r.value, r.source, (), r.stored_dtype) for r in raws]
    return Layer(
        name=name,
        kind="?",
        weights=tuple(ws),
        runnable=False,
        problems=(unknown,),
    )


def _role(kind: str, i: int) -> str:
    roles = {"Dense": ["kernel", "bias"], "Embedding": ["embeddings"]}.get(kind)
    if kind in RECURRENT_KINDS:
        roles = ["kernel", "recurrent_kernel", "bias"]
    return roles[i] if roles and i < len(roles) else str(i)


def _guess_container(
    container: h5py.Group, ctx: Ctx, prefix: str, plan: ReadPlan, skipped: list[str] | None = None
) -> tuple[Layer, ...]:
    """Layers guessed from a container's groups.  skipped: when given, a group that cannot be read
    (a name that is not valid UTF-8, arrays that are not numeric) is noted there and left out."""
    out = []
    keys = []
    for k in group_keys(container):
        if isinstance(k, bytes):
            if skipped is None:
                raise ReadError(f"group name {k!r} in '{container.name}' is not valid UTF-8")
            skipped.append(f"layer group {k!r} in '{container.name}': name is not valid UTF-8, skipped")
        elif isinstance(container[k], h5py.Group):
            keys.append(k)
    for key in _creation_order(container, keys):
        grp = container[key]
        name = _vars_name(grp) or key
        try:
            lay = _leaf_from_group(name, key, grp, ctx, prefix, plan)
        except UnsafeError:
            raise
        except (ReadError, OSError) as exc:
            if skipped is None:
                raise
            skipped.append(f"layer '{name}': {_one_line(exc)}, skipped")
            continue
        if lay is not None:
            out.append(lay)
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# entry points


def is_v3_weights(f: h5py.File) -> bool:
    """A Keras-3-layout weights tree: top-level 'layers' / '_layer_checkpoint_dependencies' groups."""
    return _container(f) is not None


def from_weights_h5(
    path: str,
    f: h5py.File,
    config_obj: Any | None,
    version: str | None,
    plan: ReadPlan,
    *,
    prefix: str = "",
    fmt: str = "Keras 3 weights (.weights.h5)",
    fid: str = "keras3-weights-h5",
) -> ModelFile:
    """A v3-layout weights tree (`model.weights.h5` or `*.weights.h5`), with an optional parsed config."""
    problems: list[str] = []
    ctx = Ctx(layout_version=version or "3", backend=None, tf_keras=True)
    container = _container(f)
    network = None
    damage = None
    if config_obj is not None:
        try:
            if isinstance(config_obj, _BrokenConfig):
                raise config_obj.exc
            net, _ = parse_model(config_obj, version)
            problems += net.problems
            walker = _V3Walker(prefix, problems, plan)
            walker.net(net, container)
            if walker.skipped:
                raise ReadError(walker.skipped[0])
            missing = attach.missing_weights(net, lambda s: walker.mapping.get(id(s)), ctx)
            network = attach.finish_network(net, lambda s: walker.mapping.get(id(s)), ctx, strict=True)
            attach.check_consistent(network, missing)
        except (MemoryError, UnsafeError):
            raise
        except Exception as exc:  # noqa: BLE001 - untrusted config: show the weights anyway
            if container is None:
                raise
            # the weights are still listed (guessed from the tree); the reason becomes the damage
            mf = from_weights_h5(path, f, None, version, plan, prefix=prefix, fmt=fmt, fid=fid)
            what = "config.json" if prefix else "architecture"
            return dataclasses.replace(mf, damage=mf.damage or damage_reason(exc, what))
        wl = attach.weight_layers(network)
        attach.collect_problems(network.layers, problems)
    else:
        skipped: list[str] = []
        wl = _guess_container(container, ctx, prefix, plan, skipped) if container is not None else ()
        attach.collect_problems(wl, problems)
        if container is None:
            raise ReadError(
                "HDF5 file has neither Keras attributes nor a 'layers' group: not a Keras weights file"
            )
        if skipped:
            if not wl:
                raise ReadError(skipped[0])
            problems += skipped
            more = f" (and {len(skipped) - 1} more problems)" if len(skipped) > 1 else ""
            damage = f"read only in part: {skipped[0]}{more}"
    return ModelFile(
        path=path,
        format=fmt,
        format_id=fid,
        keras_version=version,
        backend=None,
        network=network,
        weight_layers=wl,
        semantics=Semantics.for_version(version or "3"),
        problems=tuple(dict.fromkeys(problems)),
        damage=damage,
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"cannot read ({text})" if isinstance(exc, OSError) else text


class _BrokenConfig:
    """Stands for a config.json that could not be parsed (its error is re-raised when used)."""

    def __init__(self, exc: ReadError) -> None:
        self.exc = exc


def read_archive(path: str, config_obj: Any | None, plan: ReadPlan) -> ModelFile:
    """A `.keras` zip (or an unzipped save folder); `plan`: how datasets are read (`_safe.ReadPlan`)."""
    arc = _Archive(path)
    try:
        if arc.has("model.weights.npz") and not any(arc.has(m) for m in WEIGHT_MEMBERS):
            raise ReadError("weights are stored as model.weights.npz (pickled object arrays): not supported")
        broken: _BrokenConfig | None = None
        if not arc.has("config.json"):
            if any(arc.has(m) for m in WEIGHT_MEMBERS):  # the weights can still be shown
                broken = _BrokenConfig(ReadError("the archive has no config.json"))
            elif arc.has("metadata.json"):
                raise ReadError("Keras archive without config.json")
            elif arc.names and all(n.endswith(".npy") for n in arc.names):
                raise ReadError("a numpy .npz archive, not a Keras model (npz weights are not supported)")
            else:
                raise ReadError(
                    f"zip archive without config.json ({', '.join(arc.names[:4])}...): not a .keras model"
                )
        meta: dict[str, Any] = {}
        if arc.has("metadata.json"):
            m = parse_json(arc.read("metadata.json", MAX_JSON_MEMBER), "metadata.json")
            meta = m if isinstance(m, dict) else {}
        version = str(meta["keras_version"]) if isinstance(meta.get("keras_version"), str) else None
        try:
            cfg: Any = broken or parse_json(arc.read("config.json", MAX_JSON_MEMBER), "config.json")
        except ReadError as exc:  # a broken config.json must not hide the weights
            cfg = _BrokenConfig(exc)
        member = next((m for m in WEIGHT_MEMBERS if arc.has(m)), None)
        if member is None:
            raise ReadError("Keras archive without model.weights.h5")
        data, owner = arc.open_h5(member, MAX_WEIGHTS_MEMBER, check_crc=not plan.preview)
    finally:
        arc.close()
    label = "Keras 3" if (version or "3").startswith("3") else "tf.keras"
    try:
        try:
            f = h5py.File(data, "r")
        except OSError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ReadError(f"{member} in the archive is truncated or not HDF5 ({first})") from None
        with f:
            fmt = f"{label} archive (.keras)"
            mf = from_weights_h5(
                path, f, cfg, version, plan, prefix=f"{member}:", fmt=fmt, fid="keras3-archive"
            )
    finally:
        if owner is not None:
            owner.close()
    if config_obj is not None:
        mf = ModelFile(
            **{**mf.__dict__, "problems": mf.problems + ("--config ignored: the archive has its own",)}
        )
    return mf
