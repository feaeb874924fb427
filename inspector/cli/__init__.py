"""Command line: `keras-inspector [MODEL]` opens the app; `info|predict|trace|snapshot` run headless.

The parser is pure argparse; Qt is imported only when the GUI or `snapshot` is asked for, and the
engine/readers never import TensorFlow.  Every failure the user can cause (a bad file, a bad input,
a layer we cannot run) ends with exit code 2 and one line on stderr: ``<file>: <reason>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inspector.app.state import NoVocabularyError
from inspector.app.trace_export import trace_arrays
from inspector.cli import export as cli_export
from inspector.cli import health as cli_health
from inspector.cli import units as cli_units
from inspector.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    CliError,
    add_model,
    json_default,
    open_cli_model,
    save_npy,
    short,
)
from inspector.cli.runargs import add_ablate_args, add_text_args, interventions, run_inputs, text_info
from inspector.core import engine
from inspector.core.errors import InputShapeError, UnsupportedLayerError
from inspector.core.network import Layer, ModelFile
from inspector.io.errors import ModelFileError


def build_parser() -> argparse.ArgumentParser:
    """One parser: `keras-inspector VERB ...`.  A new verb: `sub.add_parser(...)` + `cmd_<verb>(args)`."""
    p = argparse.ArgumentParser(
        prog="keras-inspector",
        description="Inspect and replay Keras recurrent models without TensorFlow. "
        "Without a verb, `keras-inspector [MODEL]` opens the desktop app.",
    )
    sub = p.add_subparsers(dest="verb", metavar="VERB")

    gui = sub.add_parser("gui", help="open the desktop app (the default without a verb)")
    gui.add_argument("model", nargs="?", help="a Keras model or weights file (default: the bundled sample)")
    gui.add_argument("--config", help="architecture JSON for a weights-only file")
    gui.set_defaults(func=cmd_gui)

    info = sub.add_parser("info", help="format, writer version, layers, weights with gate slices")
    add_model(info)
    info.add_argument("--json", action="store_true", help="machine-readable output")
    add_text_args(info)
    info.set_defaults(func=cmd_info)

    for verb, what, func in (
        ("predict", "write what model.predict(X) returns", cmd_predict),
        ("trace", "write h, c and every gate of every recurrent layer", cmd_trace),
    ):
        sp = sub.add_parser(verb, help=what)
        add_model(sp)
        src = sp.add_mutually_exclusive_group(required=True)
        src.add_argument("--text", help="input text, encoded the way the model's own preprocessing does")
        src.add_argument(
            "--input",
            action="append",
            metavar="X.npy",
            help="input (.npy, .npz or .csv; with or without the batch axis); repeat for multi-input "
            "models, or one .npz whose arrays are the inputs in order",
        )
        sp.add_argument("--output", required=True, metavar="Y.npy" if verb == "predict" else "T.npz")
        add_text_args(sp, padding=True)
        add_ablate_args(sp)
        sp.set_defaults(func=func)

    snap = sub.add_parser("snapshot", help="render the main window to a PNG, offscreen")
    add_model(snap)
    g = snap.add_mutually_exclusive_group()
    g.add_argument("--text", help="input text (models with a vocabulary)")
    g.add_argument("--input", metavar="X.npy", help="input array (.npy, .npz or .csv)")
    snap.add_argument("--vocab", metavar="FILE", help="vocabulary for --text (a JSON list of tokens)")
    snap.add_argument("--step", type=int, default=None, help="time step to show (default: the last)")
    snap.add_argument("--select", metavar="LAYER/WEIGHT", help="weight to show, e.g. lstm_1/kernel")
    snap.add_argument("--size", default="1280x800", help="window size WxH (default 1280x800)")
    snap.add_argument("--output", required=True, metavar="FILE.png")
    snap.add_argument(
        "--steps",
        metavar="A:B",
        help="record steps A..B (both included) as an animation: OUTPUT .gif (imageio), "
        "or a name without extension for a folder of numbered PNG frames",
    )
    snap.add_argument("--fps", type=float, default=4.0, help="frames per second with --steps (default 4)")
    snap.set_defaults(func=cmd_snapshot)
    for verb_module in (cli_health, cli_units, cli_export):
        verb_module.add_parsers(sub)
    return p


def verbs(parser: argparse.ArgumentParser) -> list[str]:
    """The verbs `parser` knows (its subcommands)."""
    return [name for a in parser._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices]


# --------------------------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------------------------- verbs


def describe(mf: ModelFile) -> dict[str, Any]:
    """A JSON-able description of a ModelFile (used by `info --json`)."""

    def layer_dict(layer: Layer) -> dict[str, Any]:
        cfg = layer.config
        d: dict[str, Any] = {
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
        "uses_hard_sigmoid": uses_hard_sigmoid(layers),
        "layers": [layer_dict(lay) for lay in layers],
        "problems": list(mf.problems),
        "damage": mf.damage,
    }


def uses_hard_sigmoid(layers: Sequence[Layer]) -> bool:
    """Some layer (nested ones included) has a hard_sigmoid activation or recurrent activation."""
    for lay in layers:
        if "hard_sigmoid" in (lay.config.get("activation"), lay.config.get("recurrent_activation")):
            return True
        if uses_hard_sigmoid(lay.children) or (
            lay.network is not None and uses_hard_sigmoid(lay.network.layers)
        ):
            return True
    return False


def _print_info(d: dict[str, Any]) -> None:
    print(f"file:     {d['file']}")
    print(f"format:   {d['format']}")
    ver = d["keras_version"] or "not recorded"
    print(f"writer:   Keras {ver}" + (f" ({d['backend']} backend)" if d["backend"] else ""))
    print(f"model:    {d['model_class'] or 'weights only (no architecture)'}")
    if d["uses_hard_sigmoid"]:
        hs = "clip(x/6+0.5) (Keras 3)" if d["hard_sigmoid"] == "keras3" else "clip(0.2x+0.5) (Keras 1/2)"
        print(f"hard_sigmoid: {hs}")
    if "text_encoding" in d:
        print(f"text:     {d['text_encoding']}")
        for o in d["outputs"]:
            print(f"output:   {o['summary']}")
    if d["input_shapes"]:
        print("inputs:   " + ", ".join(str(tuple(s)) for s in d["input_shapes"]))
    total = sum(lay["params"] for lay in d["layers"])
    print(f"params:   {total:,}")
    print()
    for lay in d["layers"]:
        extra = [f"{key}={lay[key]}" for key in ("units", "activation", "recurrent_activation") if key in lay]
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


def cmd_info(args: argparse.Namespace) -> int:
    state = open_cli_model(args.model, args.config)
    mf = state.model_file
    assert mf is not None
    d = describe(mf)
    if not mf.damage:
        d.update(text_info(args, mf))
    if args.json:
        print(json.dumps(d, indent=2, default=json_default, allow_nan=True))
    else:
        _print_info(d)
    if mf.damage:  # what could be read is printed above; the file is still damaged
        sys.stdout.flush()
        raise CliError(f"{args.model}: {mf.damage}")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    net, xs, sem = run_inputs(args)
    outs = engine.predict(net, xs, sem, **interventions(net, args))
    out = Path(args.output)
    if len(outs) == 1:
        save_npy(out, np.asarray(outs[0], dtype=np.float32))
    else:
        # A multi-output model writes one file per output index: Y_0.npy, Y_1.npy, ...
        for i, y in enumerate(outs):
            save_npy(out.with_name(f"{out.stem}_{i}{out.suffix or '.npy'}"), np.asarray(y, dtype=np.float32))
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    net, xs, sem = run_inputs(args)
    arrays = trace_arrays(engine.trace(net, xs, sem, **interventions(net, args)))
    if not arrays:
        raise CliError(f"{args.model}: the model has no recurrent layer to trace")
    try:
        np.savez(args.output, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write ({short(exc)})") from None
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace) -> int:
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CliError(f"--size {args.size!r}: expected WxH, e.g. 1280x800") from None
    from inspector.ui import snapshot  # imports Qt

    try:
        note = snapshot.render_snapshot(
            args.model,
            text=args.text,
            input_file=args.input,
            vocab=args.vocab,
            step=args.step,
            select=args.select,
            output=args.output,
            size=(w, h),
            config=args.config,
            steps=args.steps,
            fps=args.fps,
        )
    except NoVocabularyError:
        raise CliError(
            f"{args.model}: --text needs the model's vocabulary: pass --vocab FILE "
            "(a JSON list of tokens in one-hot / id order)"
        ) from None
    if note:
        print(f"keras-inspector: {note}", file=sys.stderr)
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    from inspector.ui.app import run_gui  # imports Qt only now

    return run_gui(args.model, config=args.config)


def run_verb(args: argparse.Namespace) -> int:
    """Run one parsed verb; map every user-facing failure to one stderr line and exit code 2."""
    model = getattr(args, "model", None) or getattr(args, "a", None)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (CliError, ModelFileError) as exc:
        msg = str(exc)
    except (UnsupportedLayerError, InputShapeError, ValueError) as exc:
        msg = short(exc) if model and str(exc).startswith(str(model)) else f"{model}: {short(exc)}"
    except BrokenPipeError:
        raise  # the reader of stdout left (`| head`): handled in main
    except MemoryError:
        msg = f"{model}: out of memory"
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        msg = f"{model}: cannot process ({type(exc).__name__}: {short(exc)})"
    print(f"keras-inspector: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `keras-inspector` and `python -m inspector`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in verbs(parser) and argv[0] not in ("-h", "--help"):
        argv = ["gui", *argv]  # `keras-inspector [MODEL]` opens the app
    args = parser.parse_args(argv)
    try:
        code = run_verb(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # `info --json | head`: the reader left; say nothing more (and nothing at interpreter exit)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
