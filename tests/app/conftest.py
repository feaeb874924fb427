"""Keras oracle for the text tests: tests/app/text_oracle.py run once per flavor in a subprocess, cached
under tests/.generated/text/<flavor>-<hash of the oracle script>/ (TensorFlow never enters pytest)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
GENERATED = Path(os.environ.get("INSPECTOR_GENERATED", HERE.parent / ".generated"))
ORACLE = HERE / "text_oracle.py"
NEEDS = {"tf_keras": ("tensorflow", "tf_keras"), "keras3": ("tensorflow", "keras")}


def _run_oracles() -> dict[str, tuple[Path, str | None]]:
    digest = hashlib.sha256(ORACLE.read_bytes()).hexdigest()[:12]
    todo: dict[str, subprocess.Popen[bytes]] = {}
    result: dict[str, tuple[Path, str | None]] = {}
    for flavor, mods in NEEDS.items():
        out = GENERATED / "text" / f"{flavor}-{digest}"
        result[flavor] = (out, None)
        if (out / "manifest.json").is_file():
            continue
        missing = [m for m in mods if importlib.util.find_spec(m) is None]
        if missing:
            result[flavor] = (out, f"skip: {', '.join(missing)} not installed")
            continue
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
        todo[flavor] = subprocess.Popen(
            [sys.executable, str(ORACLE), flavor, str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    for flavor, proc in todo.items():
        log, _ = proc.communicate(timeout=1200)
        if proc.returncode != 0:
            result[flavor] = (result[flavor][0], log.decode(errors="replace")[-2000:])
    return result


_CACHE: dict[str, tuple[Path, str | None]] = {}


def oracle(flavor: str) -> tuple[Path, dict[str, Any]]:
    if not _CACHE:
        _CACHE.update(_run_oracles())
    out, err = _CACHE[flavor]
    if err is not None and err.startswith("skip:"):
        pytest.skip(err)
    if err is not None:
        pytest.fail(f"Keras oracle {flavor} failed:\n{err}", pytrace=False)
    return out, json.loads((out / "manifest.json").read_text(encoding="utf8"))


@pytest.fixture(scope="session")
def tfk() -> tuple[Path, dict[str, Any]]:
    return oracle("tf_keras")


@pytest.fixture(scope="session")
def k3() -> tuple[Path, dict[str, Any]]:
    return oracle("keras3")
