"""`check` (health findings) and `diff` (two checkpoints, or a folder of them)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from inspector.cli.common import (
    EXIT_OK,
    CliError,
    load_model_file,
    need_network,
    read_inputs,
    short,
)


def add_parsers(sub: Any) -> None:
    from inspector.app.health import Thresholds

    th = Thresholds()
    chk = sub.add_parser("check", help="health findings: NaN weights, dead units, saturated gates ...")
    chk.add_argument("model")
    g = chk.add_mutually_exclusive_group()
    g.add_argument("--text", metavar="FILE", help="a text file run through the model (character vocabulary)")
    g.add_argument("--input", metavar="X.npy", help="input array (.npy/.npz) run through the model")
    chk.add_argument("--json", action="store_true", help='print {"findings": [...]}')
    chk.add_argument("--fail-on", choices=("error", "warning"), help="exit 1 when a finding this bad exists")
    chk.add_argument("--config", help="architecture JSON (model.to_json()) for a weights-only file")
    chk.add_argument("--zero-tol", type=float, default=th.zero_tol, help="|w| counted as zero (dead-unit)")
    chk.add_argument(
        "--saturation-share", type=float, default=th.saturation_share, help="saturated-gate share"
    )
    chk.add_argument("--constant-std", type=float, default=th.constant_std, help="constant-unit std")
    chk.set_defaults(func=cmd_check)
    dif = sub.add_parser("diff", help="per-gate weight changes between two files (or a checkpoint folder)")
    dif.add_argument("a", metavar="A", help="first file, or a folder of checkpoints (then without B)")
    dif.add_argument("b", metavar="B", nargs="?", help="second file")
    dif.add_argument("--input", metavar="X.npy", help="run this input through both and compare outputs")
    dif.add_argument("--json", action="store_true", help='print {"weights": [...], "outputs": {...}}')
    dif.add_argument("--config", help="architecture JSON for weights-only files")
    dif.set_defaults(func=cmd_diff)


def cmd_check(args: argparse.Namespace) -> int:
    from inspector.app import health

    mf = load_model_file(args.model, args.config)
    inputs = None
    if args.input or args.text:
        need_network(mf, args.model)
        if args.input:
            xs = read_inputs([args.input])
            inputs = xs if len(xs) > 1 else xs[0]
        else:
            try:
                text = Path(args.text).read_text(encoding="utf8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CliError(f"{args.text}: cannot read text ({short(exc)})") from None
            try:
                inputs = health.text_input(mf, text)
            except ValueError as exc:
                raise CliError(f"{args.text}: {exc}") from None
    th = health.Thresholds(
        zero_tol=args.zero_tol, saturation_share=args.saturation_share, constant_std=args.constant_std
    )
    findings = health.check(mf, inputs, th)
    if args.json:
        print(json.dumps({"findings": [f.as_dict() for f in findings]}, indent=2))
    else:
        for f in findings:
            print(f"{f.severity:<8} {f.code:<19} {f.message}")
        if not findings:
            print("no findings")
    bad = health.worst(findings)
    fail = args.fail_on and bad and health.SEVERITIES.index(bad) <= health.SEVERITIES.index(args.fail_on)
    return 1 if fail else EXIT_OK


def _diff_folder(args: argparse.Namespace) -> int:
    from inspector.app.checkpoints import load_series

    try:
        series = load_series(args.a, lambda p: load_model_file(p, args.config))
    except ValueError as exc:
        raise CliError(f"{args.a}: {exc}") from None
    curves = [{"path": p, "gate": g, "norms": v.tolist()} for (p, g), v in series.norms.items()]
    if args.json:
        print(json.dumps({"epochs": series.epochs.tolist(), "norms": curves}, indent=2))
    else:
        print("epochs: " + " ".join(str(e) for e in series.epochs))
        for c in curves:
            name = f"{c['path']}[{c['gate']}]" if c["gate"] else c["path"]
            print(f"{name:<40} " + " ".join(f"{v:9.4g}" for v in c["norms"]))
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from inspector.app import diff

    if args.b is None:
        if not Path(args.a).is_dir():
            raise CliError(f"{args.a}: give two files, or one folder of checkpoints")
        return _diff_folder(args)
    a, b = load_model_file(args.a, args.config), load_model_file(args.b, args.config)
    why = diff.first_difference(a, b)
    if why is not None:
        raise CliError(f"{args.b}: different architecture from {args.a}: {why}")
    changes = diff.weight_changes(a, b)
    out: dict[str, Any] = {"weights": [c.as_dict() for c in changes]}
    run = None
    if args.input:
        need_network(a, args.a)
        need_network(b, args.b)
        xs = read_inputs([args.input])
        run = diff.run_both(a, b, xs if len(xs) > 1 else xs[0])
        out["outputs"] = {"max_abs": run.max_abs}
        out["divergence"] = {k: {"max": float(v.max()) if v.size else 0.0, "top_units": run.top_units[k]}
                             for k, v in run.divergence.items()}  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2))
        return EXIT_OK
    for c in changes:
        name = f"{c.path}[{c.gate}]" if c.gate else c.path
        print(f"{name:<40} rel {c.rel_change:10.4g}   max|B-A| {c.max_abs_change:10.4g}")
    if run is not None:
        print(f"outputs: max |B-A| = {run.max_abs:.4g}")
        for key, units in run.top_units.items():
            top = ", ".join(f"{u} ({v:.3g})" for u, v in units[:5])
            print(
                f"{key}: max ||h_B-h_A|| = {float(run.divergence[key].max()):.4g}; most diverging units {top}"
            )
    return EXIT_OK
