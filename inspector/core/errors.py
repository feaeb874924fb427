"""Core: engine errors (pure Python)."""

from __future__ import annotations


class UnsupportedLayerError(Exception):
    """The engine cannot run a layer or activation; the message names it (one line)."""


class InputShapeError(ValueError):
    """An input does not fit the model (one line, says what shape was expected)."""
