"""Where the shipped resources live: sample models, their vocabularies, screenshots.  No Qt.

From a checkout the folder is `<repo>/resources`; in an installed wheel it is
`inspector/_resources` (pyproject force-includes `resources` there).  Everything else finds it
through `resource_dir()`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SAMPLE_FORMATS = {"keras": ".keras", "h5": ".h5"}
DEFAULT_SAMPLE = "classic"


def resource_dir() -> Path:
    """The resources folder: installed (`inspector/_resources`) first, then the checkout's `resources/`.

    The environment variable `INSPECTOR_RESOURCES` overrides both (for tests and packagers).
    """
    override = os.environ.get("INSPECTOR_RESOURCES")
    if override:
        return Path(override)
    package = Path(__file__).resolve().parent
    for candidate in (package / "_resources", package.parent / "resources"):
        if (candidate / "samples").is_dir():
            return candidate
    raise FileNotFoundError(f"no resources folder next to {package} (expected _resources/ or ../resources/)")


def samples_dir() -> Path:
    return resource_dir() / "samples"


def sample_names() -> list[str]:
    """Names of the bundled sample models ('classic', 'explainer', ...), sorted."""
    return sorted(p.stem for p in samples_dir().glob("*.keras"))


def sample_model_path(name: str = DEFAULT_SAMPLE, fmt: str = "keras") -> Path:
    """Path of bundled sample `name`: fmt 'keras' -> Keras 3 `.keras`, 'h5' -> Keras 2 `.h5` (tf_keras).

    Raises FileNotFoundError (naming the samples there are) for an unknown name or format.
    """
    if fmt not in SAMPLE_FORMATS:
        raise FileNotFoundError(f"unknown sample format {fmt!r}; use one of {sorted(SAMPLE_FORMATS)}")
    path = samples_dir() / f"{name}{SAMPLE_FORMATS[fmt]}"
    if not path.is_file():
        raise FileNotFoundError(f"no sample model {name!r} ({path}); samples: {', '.join(sample_names())}")
    return path


def sample_vocabulary(name: str = DEFAULT_SAMPLE) -> list[str]:
    """The symbols of bundled sample `name`, in one-hot column order (shared by its .keras and .h5).

    The file is `<name>.vocab.json` beside the sample, a JSON list of strings (the sidecar format
    `inspector.io.sidecar` reads for any model).
    """
    path = samples_dir() / f"{name}.vocab.json"
    if not path.is_file():
        known = ", ".join(sample_names())
        raise FileNotFoundError(f"no vocabulary for sample {name!r} ({path}); samples: {known}")
    symbols = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise ValueError(f"{path}: a vocabulary must be a JSON list of strings")
    return symbols
