"""Readers: the one exception type every reader raises (no Qt)."""

from __future__ import annotations

import os


class ModelFileError(Exception):
    """A file that cannot be read (or run) as a Keras model; str() is one line: '<file>: <reason>'."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.reason = " ".join(str(reason).split())  # always one line
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)
