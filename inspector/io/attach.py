"""Turn parsed specs + file arrays into the frozen core objects (Layer / Network).

Two ways arrays reach a layer:

* legacy HDF5 (docs/formats.md, "Legacy HDF5"): one flat list per *top-level* layer, ordered
  trainable-first across everything below it (Bidirectional halves, TimeDistributed inner layer,
  nested models);
  `distribute()` splits it into per-leaf lists using each leaf's known array roles;
* Keras 3 (docs/formats.md, "Variables and keys"): per-leaf `vars` groups found by walking keys
  (done in keras_v3.py), which then calls `finish()` with a leaf -> arrays mapping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from inspector.core.network import RECURRENT_KINDS, Layer, Network, Weight
from inspector.io._safe import RawArray, ReadError
from inspector.io.config import LayerSpec, NetSpec
from inspector.io.weights import Ctx, convert_leaf, infer_kind, leaf_roles, role_from_name


@dataclass(frozen=True)
class Slot:
    leaf: int  # id() of the leaf LayerSpec
    role: str
    trainable: bool


def slots(spec: LayerSpec, ctx: Ctx, frozen: bool = False) -> list[Slot] | None:
    """Every array stored under `spec`, in natural (per-leaf) order; None if some class is unknown."""
    frozen = frozen or spec.config.get("trainable", True) is False
    if spec.is_op:
        return []
    if spec.network is not None:
        # tf.keras / Keras 3 propagate a nested model's freeze to its sub-layers; Keras 2.2.4 does not
        sub_frozen = frozen and ctx.tf_keras
        out: list[Slot] = []
        for s in spec.network.layers:
            got = slots(s, ctx, sub_frozen)
            if got is None:
                return None
            out += got
        return out
    if spec.kind in ("Bidirectional", "TimeDistributed") and spec.children:
        out = []
        for c in spec.children:
            got = slots(c, ctx, frozen)
            if got is None:
                return None
            out += got
        return out
    roles = leaf_roles(spec.kind, spec.config, spec.raw_config, ctx)
    if roles is None:
        return None
    return [Slot(id(spec), r, t and not frozen) for r, t in roles]


def _score(order: Sequence[Slot], raws: Sequence[RawArray], names: dict[int, str]) -> int:
    """How many arrays have their leaf's name as a path component / prefix of the file name."""
    n = 0
    for s, r in zip(order, raws):
        leaf = names[s.leaf]
        parts = r.name.split("/")
        if leaf in parts or any(p.startswith(leaf + "_") or p.startswith(leaf + ":") for p in parts):
            n += 1
    return n


def distribute(spec: LayerSpec, raws: Sequence[RawArray], ctx: Ctx) -> dict[int, list[RawArray]] | None:
    """Split a top-level layer's arrays (legacy file order) into per-leaf lists keyed by id(leaf).

    Returns None when the split cannot be determined from the classes (unknown layer inside).
    """
    sl = slots(spec, ctx)
    leaves = {id(s): s.name for s in spec.walk()}
    if sl is None or len(sl) != len(raws):
        return None
    candidates = [[s for s in sl if s.trainable] + [s for s in sl if not s.trainable], list(sl)]
    best = max(candidates, key=lambda order: _score(order, raws, leaves))  # ties -> trainable-first
    out: dict[int, list[RawArray]] = {}
    for s, r in zip(best, raws):
        out.setdefault(s.leaf, []).append(r)
    return out


def _by_name(spec: LayerSpec, raws: Sequence[RawArray]) -> dict[int, list[RawArray]]:
    """Fallback split by the sub-layer name appearing in the array's path."""
    out: dict[int, list[RawArray]] = {}
    leaves = [s for s in spec.walk() if s is not spec and not s.children and s.network is None]
    for r in raws:
        parts = r.name.split("/")
        for leaf in leaves:
            if leaf.name in parts or any(p.startswith(leaf.name + "_") for p in parts):
                out.setdefault(id(leaf), []).append(r)
                break
    return out


def legacy_leaf_arrays(
    spec: LayerSpec, raws: Sequence[RawArray], ctx: Ctx, problems: list[str]
) -> dict[int, list[RawArray]]:
    """Leaf -> arrays for one top-level layer of a legacy HDF5 file."""
    if not raws:
        return {}
    got = distribute(spec, raws, ctx)
    if got is not None:
        return got
    if spec.network is None and not spec.children:
        return {id(spec): list(raws)}  # a leaf: counts are checked/converted by convert_leaf
    if spec.kind == "Bidirectional" and len(spec.children) == 2 and len(raws) % 2 == 0:
        half = len(raws) // 2
        return {id(spec.children[0]): list(raws[:half]), id(spec.children[1]): list(raws[half:])}
    if spec.kind == "TimeDistributed" and len(spec.children) == 1:
        return {id(spec.children[0]): list(raws)}
    split = _by_name(spec, raws)
    if sum(len(v) for v in split.values()) != len(raws):
        problems.append(f"layer '{spec.name}': could not assign its {len(raws)} arrays to sub-layers")
    return split


def finish(
    spec: LayerSpec,
    arrays: Callable[[LayerSpec], Sequence[RawArray] | None],
    ctx: Ctx,
    *,
    strict: bool = False,
) -> Layer:
    """Build the frozen Layer for `spec`, asking `arrays(leaf)` for each leaf's file arrays.

    strict : a leaf whose class expects arrays but gets none becomes non-runnable with a problem.
    """
    problems = list(spec.problems)
    runnable = spec.runnable
    cfg: dict[str, Any] = dict(spec.config)
    weights: list[Weight] = []
    children: list[Layer] = []
    network = None
    if spec.network is not None:
        network = finish_network(spec.network, arrays, ctx, strict=strict)
        runnable = runnable and all(lay.runnable for lay in network.layers)
    elif spec.children:
        children = [finish(c, arrays, ctx, strict=strict) for c in spec.children]
        runnable = runnable and all(c.runnable for c in children)
        for c in children:
            problems += [p for p in c.problems if p not in problems]
    else:
        raws = list(arrays(spec) or [])
        roles = leaf_roles(spec.kind, spec.config, spec.raw_config, ctx)
        if raws:
            ws, probs, updates = convert_leaf(spec.kind, cfg, spec.raw_config, spec.name, raws, ctx)
            weights = ws
            problems += probs
            for k, v in updates.items():
                if k == "reset_after" or spec.cls in ("CuDNNLSTM", "CuDNNGRU") or k not in cfg:
                    cfg[k] = v
        elif roles and strict:
            runnable = False
            problems.append(f"layer '{spec.name}' ({spec.kind}): no weights found in the file")
    return Layer(
        name=spec.name,
        kind=spec.kind,
        config=MappingProxyType(cfg),
        weights=tuple(weights),
        children=tuple(children),
        network=network,
        calls=tuple(spec.calls),
        raw_config=MappingProxyType(dict(spec.raw_config)),
        runnable=runnable,
        problems=tuple(problems),
    )


def finish_network(
    net: NetSpec, arrays: Callable[[LayerSpec], Sequence[RawArray] | None], ctx: Ctx, *, strict: bool = False
) -> Network:
    return Network(
        name=net.name,
        kind=net.kind,
        layers=tuple(finish(s, arrays, ctx, strict=strict) for s in net.layers),
        inputs=net.inputs,
        outputs=net.outputs,
        input_shapes=net.input_shapes,
        input_dtypes=net.input_dtypes,
    )


def collect_problems(layers: Sequence[Layer], out: list[str]) -> None:
    """Append every layer's problems (nested networks included) to `out`."""
    for lay in layers:
        out += list(lay.problems)
        if lay.network is not None:
            collect_problems(lay.network.layers, out)


def weight_layers(net: Network) -> tuple[Layer, ...]:
    """Top-level layers that hold weights (directly, in children or in a nested network)."""
    return tuple(lay for lay in net.layers if lay.all_weights())


# ----------------------------------------------------------------------------------------------
# weights-only files


def _child_layer(name: str, raws: Sequence[RawArray], ctx: Ctx) -> Layer:
    kind, cfg = infer_kind(name, raws, ctx.keras1)
    cfg = {"name": name, **cfg}
    problems: list[str] = []
    if kind in ("?", "TimeDistributed"):
        kind = "?"
        ws = [Weight(role_from_name(r.name, name), r.value, r.source, (), r.stored_dtype) for r in raws]
        problems.append(f"layer '{name}': class unknown (weights-only file)")
    else:
        ws, problems, updates = convert_leaf(kind, cfg, {}, name, raws, ctx)
        cfg.update(updates)
    # weights-only: nothing here is runnable until an architecture is supplied
    return Layer(
        name=name,
        kind=kind,
        config=MappingProxyType(cfg),
        weights=tuple(ws),
        problems=tuple(problems),
        runnable=False,
    )


def guess_layer(name: str, raws: Sequence[RawArray], ctx: Ctx) -> Layer:
    """A weights-only layer group -> Layer with its class guessed from names and shapes."""
    low = [r.name.split("/") for r in raws]
    fwd = [r for r, p in zip(raws, low) if any(x.startswith("forward_") for x in p)]
    bwd = [r for r, p in zip(raws, low) if any(x.startswith("backward_") for x in p)]
    if fwd and bwd and len(fwd) + len(bwd) == len(raws):

        def side_name(rs: Sequence[RawArray], prefix: str) -> str:
            parts = [next((x for x in r.name.split("/") if x.startswith(prefix)), prefix) for r in rs]
            common = os.path.commonprefix(parts)
            if any(p != common for p in parts):  # Keras 1: 'forward_lstm_1_W_i' -> 'forward_lstm_1'
                common = common.rstrip("_")
            return common.split(":")[0] or prefix + name

        fl = _child_layer(side_name(fwd, "forward_"), fwd, ctx)
        bl = _child_layer(side_name(bwd, "backward_"), bwd, ctx)
        return Layer(
            name=name,
            kind="Bidirectional",
            children=(fl, bl),
            config=MappingProxyType({"name": name}),
            runnable=False,
            problems=("weights-only file: architecture unknown",),
        )
    kind, _ = infer_kind(name, raws, ctx.keras1)
    if kind == "TimeDistributed":
        inner = _child_layer(f"{name}_inner", raws, ctx)
        return Layer(
            name=name,
            kind="TimeDistributed",
            children=(inner,),
            config=MappingProxyType({"name": name}),
            runnable=False,
        )
    return _child_layer(name, raws, ctx)


def safe_guess_layer(name: str, raws: Sequence[RawArray], ctx: Ctx) -> Layer:
    """`guess_layer`, but arrays that fit no known layout (a damaged file) are shown as they are."""
    try:
        return guess_layer(name, raws, ctx)
    except ReadError as exc:
        ws = [Weight(role_from_name(r.name, name), r.value, r.source, (), r.stored_dtype) for r in raws]
        return Layer(
            name=name,
            kind="?",
            config=MappingProxyType({"name": name}),
            weights=tuple(ws),
            runnable=False,
            problems=(f"layer '{name}': arrays shown as stored ({exc})",),
        )


def missing_weights(
    net: NetSpec, arrays: Callable[[LayerSpec], Sequence[RawArray] | None], ctx: Ctx
) -> list[str]:
    """Names of the (otherwise runnable) leaf layers whose class needs weights but that got none."""
    out: list[str] = []
    for top in net.layers:
        for s in top.walk():
            if s.children or s.network is not None or s.is_op or not s.runnable:
                continue
            if not arrays(s) and leaf_roles(s.kind, s.config, s.raw_config, ctx):
                out.append(s.name)
    return out


#: layers that keep the feature (last) axis of a Sequential as it is
_SAME_FEATURES = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "Masking",
        "Activation",
        "ActivityRegularization",
        "BatchNormalization",
        "LayerNormalization",
    }
)


def _kernel_in_out(lay: Layer) -> tuple[int, int] | None:
    """(input features, output features) of a Dense / recurrent / Conv1D layer from its arrays."""
    ws = {w.name: w.value for w in lay.weights}
    k = ws.get("kernel")
    if k is None or k.ndim < 2:
        return None
    if lay.kind in RECURRENT_KINDS:
        rec = ws.get("recurrent_kernel")
        return (int(k.shape[0]), int(rec.shape[0])) if rec is not None and rec.ndim == 2 else None
    if lay.kind == "Dense":
        return int(k.shape[0]), int(k.shape[-1])
    if lay.kind == "Conv1D" and k.ndim == 3:
        return int(k.shape[1]), int(k.shape[2])
    return None


def chain_mismatch(net: Network) -> str | None:
    """In a Sequential model, the first layer whose kernel does not take what the layer before gives.

    Only the feature axis is followed, through the layer classes whose effect on it is certain;
    after any other layer the check starts again from the next kernel.  None when all fit.
    """
    if net.kind != "Sequential":
        return None
    shape = net.input_shapes[0] if net.input_shapes else ()
    dim = shape[-1] if shape and isinstance(shape[-1], int) else None
    prev = "the model input"
    for lay in net.layers:
        inner = lay
        if lay.kind == "TimeDistributed" and len(lay.children) == 1:
            inner = lay.children[0]
        if lay.kind == "Bidirectional" and len(lay.children) == 2:
            io = [_kernel_in_out(c) for c in lay.children]
            mode = lay.config.get("merge_mode", "concat")
            if io[0] is None or io[1] is None or io[0] != io[1]:
                dim = None
            else:
                if dim is not None and io[0][0] != dim:
                    return f"layer '{lay.name}' takes {io[0][0]} features but {prev} gives {dim}"
                merged = {"concat": 2 * io[0][1], "sum": io[0][1], "ave": io[0][1], "mul": io[0][1]}
                dim = merged.get(mode)
        elif lay.kind == "Embedding":
            e = lay.weights[0].value if lay.weights else None
            dim = int(e.shape[-1]) if e is not None and e.ndim == 2 else None
        elif inner.kind in ("Dense", "Conv1D") or inner.kind in RECURRENT_KINDS:
            io1 = _kernel_in_out(inner)
            if io1 is None:
                dim = None
            else:
                if dim is not None and io1[0] != dim:
                    return f"layer '{lay.name}' takes {io1[0]} features but {prev} gives {dim}"
                dim = io1[1]
        elif lay.kind not in _SAME_FEATURES:
            dim = None
        prev = f"layer '{lay.name}'"
    return None


def check_consistent(net: Network, missing: Sequence[str]) -> None:
    """Raise ReadError when a built network does not fit the file's weights.

    Two ways a config and its weights can disagree: consecutive kernels that do not chain
    (`chain_mismatch`), or config layers that should own weights but found none (`missing`).
    """
    mismatch = chain_mismatch(net)
    if mismatch:
        raise ReadError(f"weights do not fit the model config: {mismatch}")
    if missing:
        raise ReadError(
            f"layer '{missing[0]}' of the model config has no weights in the file"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
