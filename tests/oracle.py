"""The Keras oracles of the test suite, run the one way: once, in a subprocess, cached by content hash.

An oracle is a script that imports TensorFlow and writes what Keras computes (model files, reference
arrays, a manifest) into a folder.  TensorFlow never enters the pytest process: `run()` starts the
script once per flavour (both flavours in parallel), in ``<generated>/<name>/<flavour>-<hash>``
where the hash covers the script and the files it reads, so a changed oracle regenerates and an
unchanged one is reused between sessions.  A flavour whose Keras is not installed is skipped.

Used by tests/conftest.py (fixture ``keras_oracle``), tests/app/conftest.py and tests/parity/conftest.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: the importable modules each flavour needs (checked without importing them)
NEEDS = {"tf_keras": ("tensorflow", "tf_keras"), "keras3": ("tensorflow", "keras")}
FLAVORS = ("tf_keras", "keras3")
LOG = "oracle.log"


@dataclass(frozen=True)
class OracleRun:
    """One flavour of one oracle: its output folder, or why there is none.

    error : None when the folder is complete; 'skip: ...' when this flavour cannot run here; else the
        tail of the script's log.
    """

    name: str
    flavor: str
    out: Path
    error: str | None = None

    @property
    def skipped(self) -> bool:
        return self.error is not None and self.error.startswith("skip:")

    def folder(self) -> Path:
        """The output folder; skips (Keras missing) or fails (the script failed) the calling test."""
        if self.skipped:
            pytest.skip(str(self.error))
        if self.error is not None:
            pytest.fail(f"Keras oracle {self.name} ({self.flavor}) failed:\n{self.error}", pytrace=False)
        return self.out


def _flavor_args(flavor: str, out: Path) -> list[str]:
    return ["--flavor", flavor, "--out", str(out)]


def out_only(flavor: str, out: Path) -> list[str]:
    """`args` for a single-flavour script called as ``script.py OUT_DIR``."""
    return [str(out)]


_RUNS: dict[tuple[str, str, str], OracleRun] = {}


def content_hash(*files: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def run(
    name: str,
    script: Path,
    generated: Path,
    flavors: Sequence[str] = FLAVORS,
    *,
    args: Callable[[str, Path], list[str]] = _flavor_args,
    reads: Sequence[Path] = (),
    extra_key: str = "",
    done: str | None = "manifest.json",
    timeout: float = 1800.0,
) -> dict[str, OracleRun]:
    """Run `script` once per flavour (in parallel) unless its output is cached; one OracleRun each.

    Parameters
    ----------
    name : the cache folder under `generated` ('app_oracle', 'text', 'parity', 'health', 'cell').
    args : the script's command-line arguments for (flavour, output folder); default
        ``--flavor F --out DIR``.
    reads : other files the script reads (their content is part of the cache key).
    extra_key : anything else the output depends on (e.g. which corpus was present).
    done : the file whose presence marks a complete output; None runs the script every session
        (for a script that keeps its own cache).
    timeout : seconds for all flavours together; a script still running then is killed.
    """
    key = content_hash(script, *reads, extra=extra_key)
    result: dict[str, OracleRun] = {}
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONWARNINGS="ignore",
        PYTHONHASHSEED="0",
        CUDA_VISIBLE_DEVICES="",
    )
    t0 = time.monotonic()
    for flavor in flavors:
        out = generated / name / f"{flavor}-{key}"
        memo = _RUNS.get((name, flavor, key))
        if memo is not None:
            result[flavor] = memo
            continue
        missing = [m for m in NEEDS[flavor] if importlib.util.find_spec(m) is None]
        if missing:
            result[flavor] = OracleRun(name, flavor, out, f"skip: {'/'.join(missing)} not importable")
            continue
        if done is not None and (out / done).is_file():
            result[flavor] = OracleRun(name, flavor, out)
            continue
        out.mkdir(parents=True, exist_ok=True)
        with open(out / LOG, "wb") as log:
            cmd = [sys.executable, str(script), *args(flavor, out)]
            procs[flavor] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), out)
    for flavor, (proc, out) in procs.items():
        try:
            rc = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = -9
        error = None
        if rc != 0 or (done is not None and not (out / done).is_file()):
            tail = (out / LOG).read_text(errors="replace")[-2000:]
            error = f"{script.name} ({flavor}) exited {rc}; log tail:\n{tail}"
        result[flavor] = OracleRun(name, flavor, out, error)
    for flavor, r in result.items():
        _RUNS[(name, flavor, key)] = r
    return result
