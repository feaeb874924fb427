"""App-layer fixtures: the Keras oracle (tests/app/keras_oracle.py), run once per flavor in subprocesses.

TensorFlow is never imported into the pytest process.  The output is cached under
tests/.generated/app_oracle/<flavor>-<hash of the oracle and the parity generator>/.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "keras_oracle.py"
PARITY = HERE.parent / "parity" / "generate.py"
NEEDS = {"tf_keras": ("tensorflow", "tf_keras"), "keras3": ("tensorflow", "keras")}
FLAVORS = ("tf_keras", "keras3")


def oracle_hash() -> str:
    h = hashlib.sha256(ORACLE.read_bytes() + PARITY.read_bytes())
    return h.hexdigest()[:16]


class Oracle:
    """One flavor's oracle output: `path(case)`, `arrays(case)`, or a skip/failure reason."""

    def __init__(self, flavor: str, root: Path, error: str | None = None) -> None:
        self.flavor, self.root, self.error = flavor, root, error
        m = root / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(m.read_text()) if m.is_file() and not error else {}

    def require(self, case: str) -> dict[str, Any]:
        if self.error:
            pytest.skip(self.error) if self.error.startswith("skip:") else pytest.fail(self.error)
        if case in self.manifest.get("failures", {}):
            pytest.fail(f"Keras itself failed on {case}:\n{self.manifest['failures'][case]}")
        if case not in self.manifest.get("cases", {}):
            pytest.skip(f"{case} is not generated for {self.flavor}")
        return self.manifest["cases"][case]

    def path(self, case: str) -> Path:
        return self.root / self.require(case)["file"]

    def arrays(self, case: str) -> dict[str, np.ndarray]:
        self.require(case)
        with np.load(self.root / f"{case}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def oracle(generated_dir: Path) -> dict[str, Oracle]:
    """Run (or reuse) the oracle for both flavors, in parallel subprocesses."""
    key = oracle_hash()
    out: dict[str, Oracle] = {}
    procs = {}
    for flavor in FLAVORS:
        root = generated_dir / "app_oracle" / f"{flavor}-{key}"
        missing = [m for m in NEEDS[flavor] if importlib.util.find_spec(m) is None]
        if missing:
            out[flavor] = Oracle(flavor, root, f"skip: {'/'.join(missing)} not importable")
            continue
        if (root / "manifest.json").is_file():
            continue
        root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
        log = open(root / "oracle.log", "w")  # noqa: SIM115 - closed below
        cmd = [sys.executable, str(ORACLE), "--flavor", flavor, "--out", str(root)]
        procs[flavor] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log, root)
    for flavor, (proc, log, root) in procs.items():
        rc = proc.wait(timeout=1800)
        log.close()
        if rc != 0:
            tail = (root / "oracle.log").read_text(errors="replace")[-1500:]
            out[flavor] = Oracle(flavor, root, f"Keras oracle for {flavor} exited {rc}:\n{tail}")
    for flavor in FLAVORS:
        out.setdefault(flavor, Oracle(flavor, generated_dir / "app_oracle" / f"{flavor}-{key}"))
    return out
