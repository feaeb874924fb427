"""Options shared by the verbs that run a model: --text and its encoders, --ablate / --from."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from inspector.cli.common import CliError, open_cli_model, read_inputs
from inspector.core.network import ModelFile, Network, Semantics


def add_text_args(sp: argparse.ArgumentParser, padding: bool = False) -> None:
    """--vocab / --tokenizer / --labels (and --padding / --maxlen where --text is run)."""
    sp.add_argument("--vocab", metavar="FILE", help="vocabulary JSON (list of symbols) for --text")
    sp.add_argument(
        "--tokenizer", metavar="FILE", help="Keras Tokenizer JSON (tokenizer.to_json()) for --text"
    )
    sp.add_argument("--labels", metavar="FILE", help="class names JSON (default: <stem>.labels.json)")
    if padding:
        sp.add_argument("--padding", choices=("pre", "post"), default="pre", help="pad_sequences side")
        sp.add_argument("--maxlen", type=int, help="pad/truncate --text to this many steps (pad_sequences)")


def add_ablate_args(sp: argparse.ArgumentParser) -> None:
    """--ablate LAYER:UNIT (repeatable) and --from T."""
    sp.add_argument(
        "--ablate",
        action="append",
        default=[],
        metavar="LAYER:UNIT",
        help="after each step of LAYER, set h[UNIT] (and c[UNIT] for an LSTM) to 0; repeatable",
    )
    sp.add_argument(
        "--from",
        dest="from_step",
        type=int,
        default=0,
        metavar="T",
        help="first step the --ablate interventions apply to (default 0)",
    )


def run_inputs(args: argparse.Namespace) -> tuple[Network, list[np.ndarray], Semantics]:
    """The network to run, its prepared inputs and the semantics, from --text or --input."""
    state = open_cli_model(args.model, args.config)
    try:
        state.require_network()
    except ValueError as exc:
        raise CliError(str(exc).replace("(config=model.json", "(--config model.json")) from None
    mf = state.model_file
    assert mf is not None
    if args.text is None:
        return state.require_network(), state.prepare(read_inputs(args.input)), mf.semantics
    from inspector.app.text import Padding, text_input

    pad = Padding(args.padding, args.maxlen) if args.maxlen else None
    net, _, x = text_input(
        mf, args.text, path=args.model, vocab_file=args.vocab, tokenizer_file=args.tokenizer, padding=pad
    )
    return net, [x], mf.semantics


def interventions(net: Network, args: argparse.Namespace) -> dict[str, Any]:
    """--ablate / --from as the engine's `interventions=` keyword (empty: no keyword at all)."""
    if not args.ablate:
        return {}
    from inspector.app.interventions import InterventionError, parse_ablate

    try:
        return {"interventions": tuple(parse_ablate(net, a, args.from_step) for a in args.ablate)}
    except InterventionError as exc:
        raise CliError(f"{args.model}: {exc}") from None


def text_info(args: argparse.Namespace, mf: ModelFile) -> dict[str, Any]:
    """The text encoding found and what each output is (for `info`)."""
    from inspector.app.outputs import output_info
    from inspector.app.text import describe_encoder, find_text_model, read_vocabulary_file, token_table
    from inspector.io.labels import find_labels, read_labels

    if mf.network is None:
        return {}
    vocab = read_vocabulary_file(args.vocab) if args.vocab else None
    tm = find_text_model(mf, args.model, vocab=vocab, tokenizer=args.tokenizer)
    labels = read_labels(args.labels) if args.labels else find_labels(args.model)
    symbols = token_table(tm.encoder, tm.encoder.vocab_size) if tm is not None else None
    net = tm.network if tm is not None else mf.network
    outs = output_info(net, labels=labels, symbols=symbols, semantics=mf.semantics)
    return {"text_encoding": describe_encoder(tm), "outputs": outs}
