"""Parity fixtures: run the Keras oracle (tests/parity/generate.py) in subprocesses, collect the errors.

TensorFlow is never imported into the pytest process: the generator runs as `python generate.py`, once
per flavor, both flavors in parallel, and caches its output under tests/.generated/parity/<flavor>/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
GENERATOR = HERE / "generate.py"
TIMEOUT_S = 1500  # both flavors together normally take 2-4 minutes on 2 cores

# which importable modules each flavor needs (checked without importing them)
NEEDS = {"tf_keras": ("tensorflow", "tf_keras"), "keras3": ("tensorflow", "keras")}

RESULTS_KEY = pytest.StashKey[list]()
GENROOT_KEY = pytest.StashKey[Path]()


def load_generator():
    """Import generate.py by path (it imports no TensorFlow at module level)."""
    name = "inspector_parity_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GENERATOR)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def missing_modules(flavor: str) -> list[str]:
    return [m for m in NEEDS[flavor] if importlib.util.find_spec(m) is None]


@dataclass
class FlavorData:
    """The generator's output for one flavor (manifest + folder), or why there is none."""

    flavor: str
    root: Path
    manifest: dict[str, Any] | None = None
    error: str | None = None
    skip: str | None = None
    _cases: dict[str, dict[str, Any]] = field(default_factory=dict)

    def require(self) -> dict[str, Any]:
        if self.skip:
            pytest.skip(self.skip)
        if self.error or self.manifest is None:
            pytest.fail(f"Keras oracle for {self.flavor} did not run: {self.error}", pytrace=False)
        return self.manifest

    def case(self, name: str, corpus: bool = False) -> dict[str, Any]:
        m = self.require()
        entries = m["corpus_cases"] if corpus else m["cases"]
        for c in entries:
            if c["name"] == name:
                return c
        failures = m["corpus_failures"] if corpus else m["case_failures"]
        if name in failures:
            pytest.fail(f"Keras itself failed on {name}:\n{failures[name]}", pytrace=False)
        if corpus and not m.get("corpus"):
            pytest.skip("keras corpus not present when the references were generated")
        pytest.fail(f"{name} missing from {self.root / 'manifest.json'}", pytrace=False)

    def arrays(self, fname: str) -> dict[str, np.ndarray]:
        with np.load(self.root / fname, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


def _corpus_path() -> Path:
    # same rule as tests/conftest.py (env var KERAS_CORPUS, else ../shared/keras-corpus)
    repo = HERE.parents[1]
    return Path(os.environ.get("KERAS_CORPUS", repo.parent / "shared" / "keras-corpus"))


def _flavors_requested(session: pytest.Session) -> set[str]:
    out = set()
    for item in session.items:
        cs = getattr(item, "callspec", None)
        if cs is not None and "flavor" in cs.params and item.path.parent == HERE:
            out.add(cs.params["flavor"])
    return out


@pytest.fixture(scope="session")
def parity(request: pytest.FixtureRequest, generated_dir: Path) -> dict[str, FlavorData]:
    """Run (or reuse) the Keras oracle for every flavor the session needs; both in parallel."""
    root = generated_dir / "parity"
    root.mkdir(parents=True, exist_ok=True)
    request.config.stash[GENROOT_KEY] = root
    corpus = _corpus_path()
    data: dict[str, FlavorData] = {}
    procs: dict[str, tuple[subprocess.Popen, Any, float]] = {}
    wanted = _flavors_requested(request.session) or {"tf_keras", "keras3"}
    for flavor in ("tf_keras", "keras3"):
        d = data[flavor] = FlavorData(flavor, root / flavor)
        if flavor not in wanted:
            d.skip = f"{flavor} not requested in this session"
            continue
        missing = missing_modules(flavor)
        if missing:
            d.skip = f"{'/'.join(missing)} not importable: the Keras oracle for {flavor} cannot run"
            continue
        d.root.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(GENERATOR), "--flavor", flavor, "--out", str(d.root)]
        if corpus.is_dir():
            cmd += ["--corpus", str(corpus)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
        log = open(d.root / "generate.log", "w")  # noqa: SIM115 - closed below
        procs[flavor] = (
            subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env),
            log,
            time.time(),
        )
    for flavor, (proc, log, t0) in procs.items():
        d = data[flavor]
        try:
            rc = proc.wait(timeout=max(1.0, TIMEOUT_S - (time.time() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = -9
        log.close()
        tail = "\n".join((d.root / "generate.log").read_text(errors="replace").splitlines()[-15:])
        manifest = d.root / "manifest.json"
        if rc != 0 or not manifest.is_file():
            d.error = f"generate.py exited with {rc}; log tail:\n{tail}"
            continue
        d.manifest = json.loads(manifest.read_text())
    return data


@pytest.fixture(scope="session")
def parity_results(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Every comparison made in this session (written to summary.json at the end)."""
    return request.config.stash.setdefault(RESULTS_KEY, [])


def _summary(config: pytest.Config) -> dict[str, Any] | None:
    results = config.stash.get(RESULTS_KEY, None)
    if not results:
        return None
    done = [r for r in results if r["max_abs_err"] is not None]
    worst = max(done, key=lambda r: r["max_abs_err"], default=None)
    strict = [r for r in done if r["ok"] and not r.get("floor")]
    worst_strict = max(strict, key=lambda r: r["max_abs_err"], default=None)
    floor = [r for r in results if r["ok"] and r.get("floor")]
    root = config.stash.get(GENROOT_KEY, None)
    gen = {}
    if root is not None:
        for flavor in ("tf_keras", "keras3"):
            mpath = root / flavor / "manifest.json"
            if mpath.is_file():
                m = json.loads(mpath.read_text())
                gen[flavor] = {
                    "keras_version": m["keras_version"],
                    "cases": len(m["cases"]),
                    "corpus_cases": len(m["corpus_cases"]),
                    "seconds": m["seconds"],
                    "cpu_seconds": m.get("cpu_seconds"),
                }
    return {
        "comparisons": len(results),
        "passed": sum(r["ok"] for r in results),
        "failed": sum(not r["ok"] for r in results),
        "max_abs_err": worst["max_abs_err"] if worst else None,
        "worst": worst,
        "max_abs_err_within_1e-5": worst_strict["max_abs_err"] if worst_strict else None,
        "worst_within_1e-5": worst_strict["id"] if worst_strict else None,
        "passed_at_float32_noise_floor": [
            {"id": r["id"], "what": r["what"], "notes": r["floor"]} for r in floor
        ],
        "exceptions": sum(1 for r in results if r.get("exception")),
        "by_kind": {
            what: {
                "comparisons": sum(1 for r in results if r["what"] == what),
                "passed": sum(1 for r in results if r["what"] == what and r["ok"]),
                "max_abs_err": max((r["max_abs_err"] for r in done if r["what"] == what), default=None),
            }
            for what in sorted({r["what"] for r in results})
        },
        "generation": gen,
        "failures": [r for r in results if not r["ok"]],
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    s = _summary(session.config)
    root = session.config.stash.get(GENROOT_KEY, None)
    if s is not None and root is not None:
        (root / "summary.json").write_text(json.dumps(s, indent=1, default=str))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    s = _summary(config)
    if s is None:
        return
    gen = ", ".join(
        f"{f} {g['cases']}+{g['corpus_cases']} cases in {g['seconds']} s" for f, g in s["generation"].items()
    )
    worst = s["worst"] or {}
    mx = "n/a" if s["max_abs_err"] is None else f"{s['max_abs_err']:.3g}"
    strict = "n/a" if s["max_abs_err_within_1e-5"] is None else f"{s['max_abs_err_within_1e-5']:.3g}"
    terminalreporter.write_line(
        f"keras parity: {s['comparisons']} comparisons, {s['passed']} passed, {s['failed']} failed "
        f"({s['exceptions']} raised); max abs error {mx} ({worst.get('id')}); "
        f"max among 1e-5 passes {strict}; "
        f"{len(s['passed_at_float32_noise_floor'])} passed at the float32 noise floor; "
        f"Keras references generated (cached between runs): {gen}"
    )
