"""Readers: Keras files -> `inspector.core.network.ModelFile` (h5py, zipfile, json; no Qt, no TensorFlow).

Public API: `load(path, *, config=None)` and `ModelFileError`.  Formats are told apart by content
(`detect.sniff`), never by extension.  Files are untrusted: nothing from them is executed, links
to other files are not followed, sizes are checked before allocating, and every failure surfaces
as one `ModelFileError(path, one-line reason)`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from inspector.core.network import ModelFile
from inspector.io.errors import ModelFileError

if TYPE_CHECKING:
    from inspector.io._safe import ReadPlan

__all__ = ["ModelFileError", "load"]


def _read_config(path: str) -> tuple[Any, str | None]:
    """A model.to_json() file (Keras 1 `.arch.json` too) -> (parsed object, keras_version or None)."""
    from inspector.io._safe import MAX_JSON_CHARS, ReadError, parse_json

    try:
        if os.path.exists(path) and not os.path.isfile(path):  # a FIFO would block open() forever
            raise ReadError("config file is not a regular file (a directory, pipe, socket or device)")
        with open(path, "rb") as fh:
            data = fh.read(MAX_JSON_CHARS + 1)
        obj = parse_json(data, "config file")
        if isinstance(obj, str):  # json.dump(model.to_json()) double-encodes
            obj = parse_json(obj, "config file")
        if not isinstance(obj, dict) or "class_name" not in obj:
            raise ReadError("config file is not a Keras model config (expected a model.to_json() object)")
    except ModelFileError:
        raise
    except ReadError as exc:
        raise ModelFileError(path, str(exc)) from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read config file: {exc.strerror or exc}") from None
    ver = obj.get("keras_version")
    return obj, (str(ver) if isinstance(ver, str) else None)


def load(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    plan: ReadPlan | None = None,
) -> ModelFile:
    """Read any Keras model or weights file.

    Parameters
    ----------
    path : a Keras 1/2/tf.keras/Keras 3 HDF5 file (full model or weights), a `.keras` archive (or
        its unzipped folder), or a Keras 3 `.weights.h5` file.
    config : optional path to a `model.to_json()` JSON file giving the architecture of a
        weights-only file (weights are then matched to layers as Keras does).
    plan : how datasets are read (`inspector.io._safe.ReadPlan`): by default every dataset, into
        ordinary memory.  The preview and the reader process pass their own.

    Returns
    -------
    ModelFile with `network` (None for weights-only files without `config`) and `weight_layers`.
    All arrays are float32 copies; the file is closed on return.

    Raises
    ------
    ModelFileError : anything that cannot be read; `str()` is '<file>: <one-line reason>'.
    """
    import zipfile

    from inspector.io import detect, keras_v3, legacy_h5
    from inspector.io._safe import ReadError, ReadPlan

    plan = plan if plan is not None else ReadPlan()
    p = os.fspath(path)
    cfg_obj, cfg_ver = _read_config(os.fspath(config)) if config is not None else (None, None)
    try:
        kind = detect.sniff(p)
        if kind == "hdf5":
            import h5py

            try:
                f = h5py.File(p, "r")
            except OSError as exc:
                raise ReadError(f"truncated or corrupted HDF5 file ({_first_line(exc)})") from None
            with f:
                if legacy_h5.is_legacy(f):
                    return legacy_h5.read(p, f, cfg_obj, cfg_ver, plan)
                if keras_v3.is_v3_weights(f):
                    return keras_v3.from_weights_h5(p, f, cfg_obj, cfg_ver, plan)
                keys = ", ".join(list(f.keys())[:6]) or "nothing"
                raise ReadError(
                    "HDF5 file without Keras metadata (no model_config, layer_names or layers group; "
                    f"top level holds: {keys}): not a Keras model or weights file"
                )
        if kind in ("zip", "dir"):
            try:
                return keras_v3.read_archive(p, cfg_obj, plan)
            except zipfile.BadZipFile as exc:
                raise ReadError(f"corrupted zip archive ({_first_line(exc)})") from None
        if kind == "lfs":
            size = detect.lfs_size(p)
            extra = f" of a {size}-byte file" if size else ""
            raise ReadError(f"Git LFS pointer{extra}, not the model itself (fetch it with `git lfs pull`)")
        if kind == "json":
            raise ReadError(
                "a JSON file (an architecture?), not a model: open the weights file and pass this as config"
            )
        if kind == "npy":
            raise ReadError("a numpy .npy array, not a Keras model")
        if kind == "empty":
            raise ReadError("empty file")
        if kind == "special":
            raise ReadError("not a regular file (a pipe, socket or device)")
        raise ReadError("not a Keras file (neither HDF5 nor a .keras zip archive)")
    except ModelFileError:
        raise
    except ReadError as exc:
        raise ModelFileError(p, str(exc)) from None
    except FileNotFoundError:
        raise ModelFileError(p, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(p, "is a directory, not a Keras save") from None
    except PermissionError:
        raise ModelFileError(p, "permission denied") from None
    except MemoryError:
        raise ModelFileError(p, "out of memory while reading") from None
    except RecursionError:
        raise ModelFileError(p, "structure nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - untrusted input: every failure becomes one line
        msg = _first_line(exc)
        raise ModelFileError(p, f"cannot read ({type(exc).__name__}{': ' + msg if msg else ''})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
