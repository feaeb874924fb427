"""`units`: per-unit statistics of one recurrent layer over a whole corpus (REPORT.json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from inspector.cli.common import EXIT_OK, CliError, load_model_file, need_network, short


def add_parsers(sub: Any) -> None:
    sp = sub.add_parser(
        "units", help="per-unit statistics over a whole corpus (saturation, top contexts, hypotheses)"
    )
    sp.add_argument("model")
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", metavar="FILE", help="a text file, run as one continuous sequence")
    g.add_argument(
        "--input", metavar="X.npy", help="a numeric batch (N, T, ...) .npy/.npz, or a .csv sequence"
    )
    sp.add_argument(
        "--layer", help="recurrent layer (trace name, e.g. lstm_1 or bidi/forward); default: the first"
    )
    sp.add_argument(
        "--hypothesis", metavar="REGEX", help="rank units by correlation with the positions it matches"
    )
    sp.add_argument("--top", type=int, default=10, metavar="K", help="positions kept per unit (default 10)")
    sp.add_argument("--value", choices=("c", "h"), help="c (LSTM cell state, the default for LSTM) or h")
    sp.add_argument("--window", type=int, metavar="N", help="independent windows of N steps run as a batch")
    sp.add_argument("--vocab", metavar="FILE", help="vocabulary JSON list (default: <model stem>.vocab.json)")
    sp.add_argument("--config", help="architecture JSON for a weights-only file")
    sp.add_argument("--output", required=True, metavar="REPORT.json")
    sp.set_defaults(func=cmd_units)


def cmd_units(args: argparse.Namespace) -> int:
    from inspector.app import units
    from inspector.app.text import find_text_model
    from inspector.io.sidecar import read_vocabulary

    mf = load_model_file(args.model, args.config)
    net = need_network(mf, args.model)
    hyps = []
    corpus: units.Corpus
    if args.text is not None:
        try:
            with open(args.text, encoding="utf8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{args.text}: cannot read as UTF-8 text ({short(exc)})") from None
        try:
            tm = find_text_model(mf, args.model, vocab=read_vocabulary(args.vocab) if args.vocab else None)
        except ValueError as exc:
            raise CliError(short(exc)) from None
        if tm is None:
            raise CliError(f"{args.model}: no vocabulary to encode text (pass --vocab FILE)")
        net = tm.network
        try:
            corpus = units.TextCorpus.from_text(net, text, tm.encoder)
        except ValueError as exc:
            raise CliError(f"{args.text}: {short(exc)}") from None
        if args.hypothesis is not None:
            hyps = [(args.hypothesis, units.regex_mask(corpus, args.hypothesis))]
    else:
        if args.hypothesis is not None or args.window is not None:
            raise CliError(f"{args.input}: --hypothesis and --window need --text")
        try:
            corpus = units.ArrayCorpus(units.read_corpus_array(net, args.input))
        except ValueError as exc:
            raise CliError(short(exc)) from None
    result = units.analyse(
        net, mf.semantics, corpus, value=args.value, top=args.top, window=args.window, hypotheses=hyps
    )
    try:
        Path(args.output).write_text(json.dumps(result.report(args.layer), allow_nan=False))
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write ({short(exc)})") from None
    return EXIT_OK
