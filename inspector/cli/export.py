"""`attribute` (which input steps mattered) and `export` (the model as a standalone numpy program)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from inspector.cli.common import (
    EXIT_OK,
    CliError,
    load_model_file,
    need_network,
    read_inputs,
    save_npy,
    short,
)


def add_parsers(sub: Any) -> None:
    at = sub.add_parser("attribute", help="which input steps mattered for the (first) output")
    at.add_argument("model")
    at.add_argument("--input", required=True, action="append", metavar="X.npy", help="input array (.npy)")
    at.add_argument(
        "--method",
        choices=("occlusion", "decomposition"),
        default="occlusion",
        help="occlusion: A[n,t,k] = y[n,k] - y(step t of sample n set to 0)[n,k]; decomposition: "
        "Murdoch & Szlam 2017 additive logit contributions (LSTM -> Dense)",
    )
    at.add_argument("--output", required=True, metavar="A.npy", help="(batch, time, outputs) float32")
    at.add_argument("--config", help="architecture JSON (model.to_json()) for a weights-only file")
    at.set_defaults(func=cmd_attribute)
    ex = sub.add_parser("export", help="write the model as a standalone numpy program")
    ex.add_argument("model")
    ex.add_argument("--format", choices=("numpy",), default="numpy")
    ex.add_argument("--output", required=True, metavar="DIR", help="folder for model.py and weights.npz")
    ex.add_argument("--config", help="architecture JSON (model.to_json()) for a weights-only file")
    ex.set_defaults(func=cmd_export)


def cmd_attribute(args: argparse.Namespace) -> int:
    from inspector.app import attribution

    mf = load_model_file(args.model, args.config)
    net = need_network(mf, args.model)
    xs = read_inputs(args.input)
    x = xs if len(xs) > 1 else xs[0]
    if args.method == "occlusion":
        occ = attribution.occlusion(net, x, mf.semantics)
        print(f"occluded step = {occ.counterfactual}")
        scores = occ.scores
    else:
        dec = attribution.decompose(net, x, mf.semantics)
        print(f"logit of {dec.head!r} = bias + sum over the steps of {dec.lstm!r} (Murdoch & Szlam 2017)")
        scores = dec.contributions.astype(np.float32)
        save_npy(Path(args.output).with_suffix(".bias.npy"), dec.bias.astype(np.float32))
    save_npy(Path(args.output), scores)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from inspector.app.export_numpy import export_numpy

    mf = load_model_file(args.model, args.config)
    need_network(mf, args.model)
    try:
        res = export_numpy(mf, args.output)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write ({short(exc)})") from None
    print(f"wrote {res.program} and {res.weights} ({res.n_arrays} arrays; layers: {', '.join(res.kinds)})")
    return EXIT_OK
