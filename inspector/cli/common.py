"""What every CLI verb shares: the one-line error, opening a model, reading inputs, writing arrays."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inspector.app.inputs import read_input_file
from inspector.app.state import AppState, open_model
from inspector.core.network import ModelFile, Network

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A one-line user-facing error (already prefixed with the file it concerns)."""


def add_model(p: argparse.ArgumentParser) -> None:
    """The MODEL argument and --config, the same for every verb that opens one file."""
    p.add_argument("model", help="a Keras model or weights file (.h5, .hdf5, .keras, .weights.h5)")
    add_config(p)


def add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        help="architecture JSON (model.to_json()) for a weights-only file "
        "(default: a sibling <stem>.arch.json / model.json)",
    )


def open_cli_model(path: str, config: str | None) -> AppState:
    """The model opened for a verb; its reader runs in a child process (inspector.io.sandbox)."""
    return open_model(path, config)


def load_model_file(path: str, config: str | None) -> ModelFile:
    """The ModelFile of `path` (read in the reader process)."""
    mf = open_cli_model(path, config).model_file
    assert mf is not None
    return mf


def need_network(mf: ModelFile, model_path: str) -> Network:
    """The network of `mf`; a CliError naming the file when it cannot run."""
    if mf.damage:
        raise CliError(f"{model_path}: {mf.damage}")
    if mf.network is None:
        raise CliError(
            f"{model_path}: weights-only file (no architecture); pass --config model.json "
            "(the output of model.to_json())"
        )
    return mf.network


def read_inputs(paths: Sequence[str]) -> list[np.ndarray]:
    """The arrays of every --input file (`inspector.app.inputs.read_input_file`, never unpickling)."""
    arrays: list[np.ndarray] = []
    for p in paths:
        arrays += read_input_file(p).arrays
    return arrays


def read_text_file(path: str) -> str:
    """A UTF-8 text file's contents, or a CliError naming it."""
    try:
        return Path(path).read_text(encoding="utf8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read as UTF-8 text ({short(exc)})") from None


def short(exc: BaseException) -> str:
    """An exception as one short line."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def json_default(o: object) -> object:
    """json.dumps fallback for numpy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def save_npy(path: Path | str, array: np.ndarray) -> None:
    """np.save without pickles; a CliError naming the file when it cannot be written."""
    try:
        np.save(path, array, allow_pickle=False)
    except OSError as exc:
        raise CliError(f"{path}: cannot write ({short(exc)})") from None
