"""Command line: `keras-inspector [MODEL]` opens the app; `info|predict|trace|snapshot` run headless.

The parser is pure argparse; Qt is imported only when the GUI or `snapshot` is asked for, and the
engine/readers never import TensorFlow.  Every failure the user can cause (a bad file, a bad input,
a layer we cannot run) ends with exit code 2 and one line on stderr: ``<file>: <reason>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: `keras-inspector MODEL` shows its window first
    import numpy as np

EXIT_OK = 0
EXIT_BAD_INPUT = 2
VERBS = ("info", "predict", "trace", "snapshot")


class CliError(Exception):
    """A one-line user-facing error (already prefixed with the file it concerns)."""


def build_parser() -> argparse.ArgumentParser:
    """The headless verbs.  (The GUI form `keras-inspector [MODEL]` is handled in `main`.)"""
    p = argparse.ArgumentParser(
        prog="keras-inspector",
        description="Inspect and replay Keras recurrent models without TensorFlow. "
        "Without a verb, `keras-inspector [MODEL]` opens the desktop app.",
    )
    sub = p.add_subparsers(dest="verb", metavar="VERB")

    info = sub.add_parser("info", help="format, writer version, layers, weights with gate slices")
    info.add_argument("model")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--config", help="architecture JSON (model.to_json()) for a weights-only file")

    for verb, what in (
        ("predict", "write what model.predict(X) returns"),
        ("trace", "write h, c and every gate of every recurrent layer"),
    ):
        sp = sub.add_parser(verb, help=what)
        sp.add_argument("model")
        sp.add_argument(
            "--input",
            required=True,
            action="append",
            metavar="X.npy",
            help="input array (.npy); repeat for multi-input models, or one .npz "
            "whose arrays are the inputs in order",
        )
        sp.add_argument("--output", required=True, metavar="Y.npy" if verb == "predict" else "T.npz")
        sp.add_argument("--config", help="architecture JSON (model.to_json()) for a weights-only file")

    snap = sub.add_parser("snapshot", help="render the main window to a PNG, offscreen")
    snap.add_argument("model")
    g = snap.add_mutually_exclusive_group()
    g.add_argument("--text", help="input text (models with a vocabulary)")
    g.add_argument("--input", metavar="X.npy", help="input array")
    snap.add_argument("--step", type=int, default=None, help="time step to show (default: the last)")
    snap.add_argument("--select", metavar="LAYER/WEIGHT", help="weight to show, e.g. lstm_1/kernel")
    snap.add_argument("--config", help="architecture JSON for a weights-only file")
    snap.add_argument("--size", default="1280x800", help="window size WxH (default 1280x800)")
    snap.add_argument("--output", required=True, metavar="FILE.png")
    snap.add_argument(
        "--steps",
        metavar="A:B",
        help="record steps A..B (both included) as an animation: OUTPUT .gif or .mp4 (imageio), "
        "or a name without extension for a folder of numbered PNG frames",
    )
    snap.add_argument("--fps", type=float, default=4.0, help="frames per second with --steps (default 4)")
    return p


# --------------------------------------------------------------------------------------------- helpers


def _load(path: str, config: str | None):
    # In a child process: libhdf5 can segfault or spin forever (holding the GIL) on a corrupted
    # file; the sandbox turns both into a one-line ModelFileError (see inspector/io/sandbox.py).
    from inspector.io.sandbox import load_isolated

    return load_isolated(path, config=config)


def _read_inputs(paths: Sequence[str]) -> list[np.ndarray]:
    """Read .npy/.npz inputs without ever unpickling (allow_pickle=False)."""
    import numpy as np

    arrays: list[np.ndarray] = []
    for p in paths:
        try:
            data = np.load(p, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    arrays += [np.asarray(data[k]) for k in data.files]
            else:
                arrays.append(np.asarray(data))
        except FileNotFoundError:
            raise CliError(f"{p}: no such file") from None
        except (ValueError, OSError, EOFError) as exc:
            raise CliError(f"{p}: not a numpy .npy/.npz array ({_short(exc)})") from None
    for p, a in zip(paths, arrays):
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise CliError(f"{p}: input must be a numeric array, got dtype {a.dtype}")
    return arrays


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _need_network(mf, model_path: str):
    if mf.damage:
        raise CliError(f"{model_path}: {mf.damage}")
    if mf.network is None:
        raise CliError(
            f"{model_path}: weights-only file (no architecture); pass --config model.json "
            "(the output of model.to_json())"
        )
    return mf.network


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# --------------------------------------------------------------------------------------------- verbs


def describe(mf) -> dict:
    """A JSON-able description of a ModelFile (used by `info --json`)."""

    def layer_dict(layer) -> dict:
        cfg = layer.config
        d = {
            "name": layer.name,
            "class": layer.kind,
            "params": layer.n_params,
            "runnable": layer.runnable,
        }
        for key in (
            "units",
            "activation",
            "recurrent_activation",
            "return_sequences",
            "go_backwards",
            "reset_after",
            "merge_mode",
        ):
            if key in cfg:
                d[key] = cfg[key]
        d["weights"] = [
            {
                "path": path,
                "shape": list(w.shape),
                "dtype": w.stored_dtype,
                "source": w.source,
                "gates": [{"key": g.key, "label": g.label, "columns": [g.start, g.stop]} for g in w.gates],
            }
            for path, w in layer.all_weights()
        ]
        if layer.problems:
            d["problems"] = list(layer.problems)
        return d

    layers = mf.network.layers if mf.network is not None else mf.weight_layers
    return {
        "file": mf.path,
        "format": mf.format,
        "format_id": mf.format_id,
        "keras_version": mf.keras_version,
        "backend": mf.backend,
        "has_architecture": mf.network is not None,
        "model_class": mf.network.kind if mf.network is not None else None,
        "input_shapes": [list(s) for s in mf.network.input_shapes] if mf.network is not None else [],
        "hard_sigmoid": mf.semantics.hard_sigmoid,
        "layers": [layer_dict(lay) for lay in layers],
        "problems": list(mf.problems),
        "damage": mf.damage,
    }


def _print_info(d: dict) -> None:
    print(f"file:     {d['file']}")
    print(f"format:   {d['format']}")
    ver = d["keras_version"] or "not recorded"
    print(f"writer:   Keras {ver}" + (f" ({d['backend']} backend)" if d["backend"] else ""))
    hs = "clip(x/6+0.5)" if d["hard_sigmoid"] == "keras3" else "clip(0.2x+0.5)"
    print(f"model:    {d['model_class'] or 'weights only (no architecture)'}; hard_sigmoid = {hs}")
    if d["input_shapes"]:
        print("inputs:   " + ", ".join(str(tuple(s)) for s in d["input_shapes"]))
    total = sum(lay["params"] for lay in d["layers"])
    print(f"params:   {total:,}")
    print()
    for lay in d["layers"]:
        extra = []
        for key in ("units", "activation", "recurrent_activation"):
            if key in lay:
                extra.append(f"{key}={lay[key]}")
        flag = "" if lay["runnable"] else "  [not runnable]"
        print(f"{lay['name']:<28} {lay['class']:<18} {lay['params']:>10,}  {' '.join(extra)}{flag}")
        for w in lay["weights"]:
            gates = " ".join(f"{g['label']}[{g['columns'][0]}:{g['columns'][1]}]" for g in w["gates"])
            shape = "x".join(str(s) for s in w["shape"]) or "scalar"
            print(f"    {w['path']:<40} {shape:<14} {gates}")
        for prob in lay.get("problems", []):
            print(f"    ! {prob}")
    for prob in d["problems"]:
        print(f"! {prob}")


def cmd_info(args) -> int:
    mf = _load(args.model, args.config)
    d = describe(mf)
    if args.json:
        print(json.dumps(d, indent=2, default=_json_default, allow_nan=True))
    else:
        _print_info(d)
    if mf.damage:  # what could be read is printed above; the file is still damaged
        sys.stdout.flush()
        raise CliError(f"{args.model}: {mf.damage}")
    return EXIT_OK


def _save_npy(path: Path, array: np.ndarray) -> None:
    import numpy as np

    try:
        np.save(path, array, allow_pickle=False)
    except OSError as exc:
        raise CliError(f"{path}: cannot write ({_short(exc)})") from None


def cmd_predict(args) -> int:
    import numpy as np

    from inspector.core import engine

    mf = _load(args.model, args.config)
    net = _need_network(mf, args.model)
    xs = _read_inputs(args.input)
    outs = engine.predict(net, xs if len(xs) > 1 else xs[0], mf.semantics)
    out = Path(args.output)
    if len(outs) == 1:
        _save_npy(out, np.asarray(outs[0], dtype=np.float32))
    else:
        # A multi-output model writes one file per output index: Y_0.npy, Y_1.npy, ...
        for i, y in enumerate(outs):
            _save_npy(out.with_name(f"{out.stem}_{i}{out.suffix or '.npy'}"), np.asarray(y, dtype=np.float32))
    return EXIT_OK


def trace_arrays(tr) -> dict[str, np.ndarray]:
    """Flatten a Trace into the `trace` file layout: L/h, L/c, L/gates/<key>."""
    import numpy as np

    arrays: dict[str, np.ndarray] = {}
    for key, traj in tr.layers.items():
        arrays[f"{key}/h"] = np.asarray(traj.h, dtype=np.float32)
        if traj.c is not None:
            arrays[f"{key}/c"] = np.asarray(traj.c, dtype=np.float32)
        for g, v in traj.gates.items():
            arrays[f"{key}/gates/{g}"] = np.asarray(v, dtype=np.float32)
    return arrays


def cmd_trace(args) -> int:
    import numpy as np

    from inspector.core import engine

    mf = _load(args.model, args.config)
    net = _need_network(mf, args.model)
    xs = _read_inputs(args.input)
    tr = engine.trace(net, xs if len(xs) > 1 else xs[0], mf.semantics)
    arrays = trace_arrays(tr)
    if not arrays:
        raise CliError(f"{args.model}: the model has no recurrent layer to trace")
    try:
        np.savez(args.output, **arrays)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write ({_short(exc)})") from None
    return EXIT_OK


def cmd_snapshot(args) -> int:
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CliError(f"--size {args.size!r}: expected WxH, e.g. 1280x800") from None
    from inspector.ui import snapshot  # imports Qt

    note = snapshot.render_snapshot(
        args.model,
        text=args.text,
        input_npy=args.input,
        step=args.step,
        select=args.select,
        output=args.output,
        size=(w, h),
        **({"config": args.config} if args.config else {}),
        **({"steps": args.steps, "fps": args.fps} if args.steps else {}),
    )
    if note:
        print(f"keras-inspector: {note}", file=sys.stderr)
    return EXIT_OK


COMMANDS = {"info": cmd_info, "predict": cmd_predict, "trace": cmd_trace, "snapshot": cmd_snapshot}


def run_headless(argv: Sequence[str]) -> int:
    """Run one verb; map every user-facing failure to one stderr line and exit code 2."""
    from inspector.core.errors import InputShapeError, UnsupportedLayerError
    from inspector.io.errors import ModelFileError

    args = build_parser().parse_args(list(argv))
    model = getattr(args, "model", None)
    try:
        return COMMANDS[args.verb](args)
    except (CliError, ModelFileError) as exc:
        msg = str(exc)
    except (UnsupportedLayerError, InputShapeError, ValueError) as exc:
        msg = f"{model}: {_short(exc)}"
    except MemoryError:
        msg = f"{model}: out of memory"
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        msg = f"{model}: cannot process ({type(exc).__name__}: {_short(exc)})"
    print(f"keras-inspector: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `keras-inspector` and `python -m inspector`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in VERBS:
        return run_headless(argv)
    gui = argparse.ArgumentParser(
        prog="keras-inspector",
        description="Open the Keras Weight Inspector (the bundled sample model when MODEL is omitted). "
        "Headless verbs: " + ", ".join(VERBS) + " (see `keras-inspector VERB --help`).",
    )
    gui.add_argument("model", nargs="?", help="a Keras model or weights file (.h5, .hdf5, .keras)")
    gui.add_argument("--config", help="architecture JSON for a weights-only file")
    args = gui.parse_args(argv)
    from inspector.ui.app import run_gui  # imports Qt only now

    return run_gui(args.model, config=args.config) if args.config else run_gui(args.model)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
