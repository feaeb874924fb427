"""App layer: reading a model file with what comes beside it, and running an input (no Qt, no state).

`load_model` runs on a worker thread: the file (in a child process), a sibling architecture JSON for
a weights-only file, the vocabulary sidecar, the text encoding (`inspector.app.text.find_text_model`)
and the output labels (`inspector.io.labels.find_labels`).  `build_stepper` runs one input; `long_source`
says when an input is long enough for a key-frame `LongStepper` (`inspector.app.long_stepper`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.app import long_stepper as longrun
from inspector.app.keyframes import SequenceSource
from inspector.app.outputs import OutputKind, describe_outputs
from inspector.app.runner import error_message
from inspector.app.text import TextModel, find_text_model, token_table
from inspector.core import engine
from inspector.core.network import ModelFile, Network, Semantics
from inspector.core.stepper import Stepper

# Architecture files looked for next to a weights-only file (`<stem>` as in inspector.io.sidecar).
ARCHITECTURE_NAMES = ("{stem}.arch.json", "{stem}.json", "model.json")
Inputs = np.ndarray | Sequence[np.ndarray]


def sibling_architecture(path: str) -> str | None:
    """An architecture JSON next to a weights file: `<stem>.arch.json`, `<stem>.json` or `model.json`."""
    p = Path(path)
    stems = [p.name.split(".", 1)[0], p.name.rsplit(".", 1)[0]]
    for pattern in ARCHITECTURE_NAMES:
        for stem in dict.fromkeys(stems):
            candidate = p.with_name(pattern.format(stem=stem))
            if candidate != p and candidate.is_file():
                return os.fspath(candidate)
    return None


@dataclass(frozen=True)
class TextSetup:
    """What `load_model` found for reading text and naming outputs (see `find_text_model`, `find_labels`).

    text_model : None when the model reads no text; error : why a found encoding cannot be used ('').
    labels : class names per output layer name ('' = the first output).
    output_kinds : what each output is (`output_kinds`; worked out here, on the loading thread, because
        it may run the model for one step).
    """

    text_model: TextModel | None = None
    error: str = ""
    labels: dict[str, list[str]] | None = None
    output_kinds: list[OutputKind] = field(default_factory=list)


def output_kinds(
    model_file: ModelFile, text_model: TextModel | None, labels: dict[str, list[str]] | None
) -> list[OutputKind]:
    """What each output of the network inputs run through is (`describe_outputs`; [] without one)."""
    net = text_model.network if text_model is not None else model_file.network
    if net is None:
        return []
    enc = text_model.encoder if text_model is not None else None
    symbols = token_table(enc, enc.vocab_size) if enc is not None else None
    return describe_outputs(net, labels=labels or {}, symbols=symbols, semantics=model_file.semantics)


def text_setup(model_file: ModelFile, path: str, vocab: Sequence[str] | None = None) -> TextSetup:
    """The text model (`vocab` given: that vocabulary) and the output labels of an open file; never raises."""
    from inspector.io.labels import find_labels

    tm, error = None, ""
    try:
        tm = find_text_model(model_file, path, vocab=vocab)
    except Exception as exc:  # noqa: BLE001 - a sidecar / lookup layer that cannot be used: said once
        error = error_message(exc)
    try:
        labels: dict[str, list[str]] | None = find_labels(path)
    except Exception:  # noqa: BLE001 - malformed labels: outputs are named 'class k'
        labels = None
    return TextSetup(tm, error, labels, output_kinds(model_file, tm, labels))


def load_model(
    path: str, config: str | None = None, preview: str = "", report: Callable[[Any], None] | None = None
) -> tuple[str, str | None, ModelFile, list[str] | None, TextSetup]:
    """Read `path`, its sidecar vocabulary, text encoding and labels (on a worker thread; no state touched).

    The file is read in a child process (`inspector.io.sandbox`): a corrupted HDF5 file can make
    libhdf5 crash or spin holding the GIL.  A weights-only file without `config` gets a sibling
    architecture JSON (`sibling_architecture`) when there is one.  Before the whole file is read,
    ``report((path, weight path, ModelFile, vocabulary))`` gets a preview in which only that weight
    (`preview` if the file has it, else the default one) holds its values.

    Returns
    -------
    (path, config used or None, ModelFile, vocabulary or None, TextSetup)
    """
    from inspector.io.sandbox import load_isolated
    from inspector.io.sidecar import find_vocabulary

    found = find_vocabulary(path)
    vocab = list(found) if found is not None else None

    def on_preview(weight: str, mf: ModelFile) -> None:
        if report is not None:
            report((path, weight, mf, vocab))

    model_file = load_isolated(path, config=config, preview=preview, on_preview=on_preview)
    if config is None and model_file.network is None and not model_file.damage:
        sibling = sibling_architecture(path)
        if sibling is not None:
            try:
                config, model_file = sibling, load_isolated(path, config=sibling)
            except Exception:  # noqa: BLE001 - a sibling that does not fit is ignored, the file stays open
                pass
    return path, config, model_file, vocab, text_setup(model_file, path)


class SequenceStepper(Stepper):
    """A `Stepper` whose steps run over the longest sequence input (the core one counts the first input's
    length), so a multi-input model with inputs of different lengths reaches every step."""

    def __init__(self, net: Network, inputs: Inputs, semantics: Semantics) -> None:
        super().__init__(net, inputs, semantics)
        seq = engine.sequence_inputs(net, self.inputs)
        longest = max((int(a.shape[1]) for a, s in zip(self.inputs, seq) if s), default=self.n_steps)
        if longest > self.n_steps:
            self.n_steps = longest
            self._outputs = {longest - 1: self.trace.outputs}


def build_stepper(model_file: ModelFile, inputs: Inputs, network: Network | None = None) -> Stepper:
    """Run the engine once over `inputs` (batch axis first) and wrap the trace in a Stepper.

    `network` : the network to run (a text model's, preprocessing stripped); the file's by default.
    """
    net = network if network is not None else model_file.network
    if net is None:
        raise ValueError(
            model_file.damage or "this file holds weights only: open its architecture (model.json) to run it"
        )
    return SequenceStepper(net, inputs, model_file.semantics)


def long_source(
    net: Network, arrays: Sequence[np.ndarray], ids: np.ndarray | None = None
) -> SequenceSource | None:
    """The key-frame source of an input longer than `long_stepper.LONG_INPUT_STEPS` steps that can be
    stepped that way (`long_input_reason`), else None (the input gets a full-trace Stepper).

    `ids` : the token ids of typed text (kept instead of its one-hot rows).
    """
    if len(arrays) != 1 or arrays[0].ndim < 2 or arrays[0].shape[1] <= longrun.LONG_INPUT_STEPS:
        return None
    if longrun.long_input_reason(net, arrays) is not None:
        return None
    return longrun.source_for(net, arrays[0], ids)
