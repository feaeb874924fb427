"""Legacy HDF5: Keras 0.x/1.x/2.x, tf.keras and Keras-3-legacy `.h5` (docs/formats.md, "Legacy HDF5").

Full models (`model.save('m.h5')`, root attribute `model_config`, weights under `model_weights`)
and weights-only files (`save_weights`, `layer_names` on the root).  Weights are read per layer
group in `weight_names` order (never by iterating the group: h5py lists names alphabetically),
then split/converted by `attach` and `weights`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py

from inspector.core.network import RECURRENT_KINDS, ModelFile, Network, Semantics
from inspector.io import attach
from inspector.io._safe import (
    RawArray,
    ReadError,
    ReadPlan,
    UnsafeError,
    attr_list,
    attr_names,
    attr_text,
    child,
    damage_reason,
    group_keys,
    parse_json,
    read_raw,
)
from inspector.io.config import Dialect, LayerSpec, NetSpec, parse_model
from inspector.io.weights import Ctx, leaf_roles


def writer_label(version: str | None) -> str:
    """'Keras 1', 'Keras 2', 'tf.keras', 'Keras 3' for a keras_version string."""
    if not version:
        return "Keras 1"
    d = Dialect(version)
    if d.major >= 3:
        return "Keras 3"
    if d.major <= 1:
        return "Keras 1"
    return "tf.keras" if d.tf_keras else "Keras 2"


def is_legacy(f: h5py.File) -> bool:
    a = f.attrs
    return "model_config" in a or "layer_names" in a or "layer_names0" in a or "nb_layers" in a


def read_layers(
    g: h5py.Group, problems: list[str], plan: ReadPlan, skipped: list[str] | None = None
) -> list[tuple[str, list[RawArray]]]:
    """(layer name, arrays in weight_names order) for every entry of `layer_names` on group g.

    skipped : when given, a layer that cannot be read (names that are not valid UTF-8, a listed array
        that is missing or not numeric) is left out with a one-line note here instead of failing the
        whole file.  Unsafe content (external links, virtual datasets, absurd sizes) always raises.
    """
    if skipped is None:
        plain = attr_list(g, "layer_names")
        names: list[str | None] | None = None if plain is None else list(plain)
    else:
        try:
            names = attr_names(g, "layer_names")
        except UnsafeError:
            raise
        except ReadError as exc:
            names = None
            subs = [k for k in group_keys(g) if isinstance(g.get(k), h5py.Group)]
            if not subs:
                raise
            skipped.append(f"layer_names unreadable ({exc}): layer groups read in file order")
            names = [k for k in subs if k not in ("optimizer_weights", "top_level_model_weights")]
    if names is None:
        raise ReadError(f"group '{g.name}' has no layer_names attribute")
    out: list[tuple[str, list[RawArray]]] = []
    for k, lname in enumerate(names):
        if lname is None:
            assert skipped is not None
            skipped.append(f"layer_names entry {k} is not valid UTF-8: that layer is skipped")
            continue
        try:
            sub = child(g, lname)
            if sub is None:
                problems.append(f"layer '{lname}' is listed in layer_names but has no group in the file")
                out.append((lname, []))
                continue
            if not isinstance(sub, h5py.Group):
                raise ReadError(f"'{sub.name}' should be a layer group")
            if skipped is None:
                wnames: list[str | None] = list(attr_list(sub, "weight_names") or [])
            else:
                wnames = list(attr_names(sub, "weight_names") or [])
            if any(w is None for w in wnames):
                raise ReadError("weight names are not valid UTF-8")
            out.append((lname, [read_raw(sub, w, plan) for w in wnames if w is not None]))
        except UnsafeError:
            raise
        except (ReadError, OSError) as exc:  # OSError: libhdf5 could not read a damaged object
            if skipped is None:
                raise
            skipped.append(f"layer '{lname}': {_one_line(exc)}, skipped")
    tl = child(g, "top_level_model_weights")
    if isinstance(tl, h5py.Group) and (attr_list(tl, "weight_names") or []):
        problems.append("model-level weights in 'top_level_model_weights' are not shown")
    return out


def read_keras0(f: h5py.File, plan: ReadPlan) -> list[tuple[str, list[RawArray]]]:
    """Keras 0.x `save_weights`: groups layer_{k} with datasets param_{p} (docs/formats.md, "Legacy HDF5")."""
    n = int(f.attrs["nb_layers"])
    if n < 0 or n > 100000:
        raise ReadError(f"nb_layers={n}: absurd")
    out = []
    for k in range(n):
        g = child(f, f"layer_{k}")
        if not isinstance(g, h5py.Group):
            raise ReadError(f"group layer_{k} missing")
        p = int(g.attrs.get("nb_params", 0))
        out.append((f"layer_{k}", [read_raw(g, f"param_{i}", plan) for i in range(p)]))
    return out


def _strict_check(spec: LayerSpec, raws: Sequence[RawArray], fname: str, ctx: Ctx) -> None:
    """With a user-supplied config, a leaf whose array count cannot fit is an error (Keras raises too)."""
    roles = leaf_roles(spec.kind, spec.config, spec.raw_config, ctx)
    if roles is None:
        return
    ok = len(roles) == len(raws)
    if spec.kind in RECURRENT_KINDS and spec.kind != "SimpleRNN":
        n = 4 if spec.kind == "LSTM" else 3
        ok = ok or len(raws) in (3, 3 * n)
    if not ok:
        shapes = [tuple(r.value.shape) for r in raws]
        raise ReadError(
            f"layer '{spec.name}' ({spec.kind}) expects {len(roles)} weight arrays but file layer "
            f"'{fname}' has {len(raws)} {shapes}"
        )


def build(
    net: NetSpec,
    file_layers: list[tuple[str, list[RawArray]]],
    ctx: Ctx,
    *,
    positional: bool,
    problems: list[str],
) -> tuple[Network, list[str]]:
    """Attach file arrays to the network: by name (full models) or by position (config + weights).

    Returns the network and the names of its leaf layers that need weights but found none.
    """
    mapping: dict[int, list[RawArray]] = {}
    with_w = [(n, r) for n, r in file_layers if r]
    if positional:
        names_w = {n for n, _ in with_w}

        def expects(s: LayerSpec) -> bool:
            sl = attach.slots(s, ctx)
            return (s.name in names_w) if sl is None else bool(sl)

        specs = [s for s in net.layers if expects(s)]
        if len(specs) != len(with_w):
            raise ReadError(
                f"the config has {len(specs)} layers with weights {[s.name for s in specs]} but the file has "
                f"{len(with_w)} {[n for n, _ in with_w]}"
            )
        pairs = list(zip(specs, with_w))
    else:
        by_name = dict(file_layers)
        pairs = []
        for s in net.layers:
            if s.name in by_name:
                pairs.append((s, (s.name, by_name.pop(s.name))))
        for n, r in by_name.items():
            if r:
                problems.append(f"file layer '{n}' has weights but is not in the model config")
    for spec, (fname, raws) in pairs:
        split = attach.legacy_leaf_arrays(spec, raws, ctx, problems)
        if positional:
            leaves = {id(s): s for s in spec.walk()}
            for leaf_id, rs in split.items():
                _strict_check(leaves[leaf_id], rs, fname, ctx)
        mapping.update(split)
    missing = attach.missing_weights(net, lambda s: mapping.get(id(s)), ctx)
    return attach.finish_network(net, lambda s: mapping.get(id(s)), ctx, strict=True), missing


def _keras0_file(path: str, f: h5py.File, plan: ReadPlan) -> ModelFile:
    """A Keras 0.x `save_weights` file: weights only, layers guessed from their arrays."""
    layers = read_keras0(f, plan)
    wl = tuple(attach.guess_layer(n, r, Ctx("1", None, False)) for n, r in layers if r)
    return ModelFile(
        path,
        "Keras 0.x HDF5 weights",
        "keras0-h5",
        None,
        None,
        None,
        wl,
        Semantics.for_version("1"),
        ("Keras 0.x weights: architecture unknown",),
    )


def read(
    path: str, f: h5py.File, config_obj: Any | None, config_version: str | None, plan: ReadPlan
) -> ModelFile:
    """Read an open legacy HDF5 file (see module docstring).  `config_obj`: a parsed model.to_json();
    `plan`: how datasets are read (`_safe.ReadPlan`)."""
    problems: list[str] = []
    root = f.attrs
    skipped_root: list[str] = []
    writer = _attr_or_skip(f, "keras_version", skipped_root)
    full = "model_config" in root
    if "nb_layers" in root and not full and "layer_names" not in root:
        return _keras0_file(path, f, plan)
    if (
        "layer_names" not in root
        and "layer_names0" not in root
        and isinstance(child(f, "model_weights"), h5py.Group)
    ):
        g = f["model_weights"]
    else:
        g = f
    skipped: list[str] = skipped_root  # what could not be read: the file is then damaged (network None)
    layout = _attr_or_skip(g, "keras_version", skipped) or "1"
    backend = _attr_or_skip(g, "backend", skipped) or _attr_or_skip(f, "backend", skipped)
    writer = writer or _attr_or_skip(g, "keras_version", skipped)
    dialect = Dialect(writer or "1")
    ctx = Ctx(layout_version=layout, backend=backend, tf_keras=dialect.tf_keras)
    file_layers = read_layers(g, problems, plan, skipped)
    if not any(arrays for _, arrays in file_layers) and skipped:
        raise ReadError(skipped[0])
    skipped = list(dict.fromkeys(skipped))
    extra = (
        [k for k in group_keys(f) if k not in ("model_weights", "optimizer_weights")] if g is not f else []
    )
    if extra:
        problems.append(f"extra non-Keras content ignored: {', '.join(extra[:5])}")
    if layout.startswith("1") and any(k in str(root.get("model_config", "")) for k in ("Convolution",)):
        problems.append(
            "Keras 1 file: training backend unknown; Theano-trained conv kernels would need flipping"
        )

    network: Network | None = None
    damage: str | None = None
    label = writer_label(writer)
    if full:
        fmt, fid = f"{label} HDF5 (full model)", "legacy-h5-model"
        if config_obj is not None:
            problems.append("--config ignored: the file contains its own model config")
    else:
        fmt, fid = f"{label} HDF5 weights (save_weights)", "legacy-h5-weights"
    if skipped:
        # Part of the file could not be read: the weights that could are shown, nothing runs.
        problems += skipped
        more = f" (and {len(skipped) - 1} more problems)" if len(skipped) > 1 else ""
        damage = f"read only in part: {skipped[0]}{more}"
    elif full or config_obj is not None:
        # A broken or inconsistent architecture must not hide the weights that could be read:
        # they are still returned (network None) and the reason goes into ModelFile.damage.
        kept = list(problems)
        try:
            if full:
                try:
                    text = attr_text(f, "model_config") or ""
                except ReadError as exc:
                    raise ReadError(f"model_config {exc}") from None
                obj = parse_json(text, "model_config attribute")
                net, _ = parse_model(obj, writer or "1")
            else:
                net, _ = parse_model(config_obj, config_version or writer)
            problems += net.problems
            network, missing = build(net, file_layers, ctx, positional=not full, problems=problems)
            attach.check_consistent(network, missing)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - untrusted config: any failure is damage, not a crash
            if not any(arrays for _, arrays in file_layers):
                raise
            network, problems[:] = None, kept
            damage = damage_reason(exc, "model config" if full else "architecture (--config)")
    if network is not None:
        wl = attach.weight_layers(network)
        attach.collect_problems(network.layers, problems)
    else:
        wl = tuple(attach.safe_guess_layer(n, r, ctx) for n, r in file_layers if r)
        attach.collect_problems(wl, problems)
    return ModelFile(
        path=path,
        format=fmt,
        format_id=fid,
        keras_version=writer,
        backend=backend,
        network=network,
        weight_layers=wl,
        semantics=Semantics.for_version(writer),
        problems=tuple(dict.fromkeys(problems)),
        damage=damage,
    )


def _attr_or_skip(obj: h5py.HLObject, name: str, skipped: list[str]) -> str | None:
    """A text attribute; one that is not valid UTF-8 is noted in `skipped` (the file is damaged)."""
    try:
        return attr_text(obj, name)
    except UnsafeError:
        raise
    except ReadError as exc:
        skipped.append(f"'{name}' {exc}")
        return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"cannot read ({text})" if isinstance(exc, OSError) else text
