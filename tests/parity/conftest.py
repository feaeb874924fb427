"""Parity fixtures: run the Keras oracle (tests/parity/generate.py) in subprocesses, collect the errors.

TensorFlow is never imported into the pytest process: tests/oracle.py runs `python generate.py` once per
flavor, both flavors in parallel, into tests/.generated/parity/<flavor>-<hash>/ (generate.py keeps its
own cache there).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
GENERATOR = HERE / "generate.py"
TIMEOUT_S = 1500  # both flavors together normally take 2-4 minutes on 2 cores

RESULTS_KEY = pytest.StashKey[list]()
GENROOT_KEY = pytest.StashKey[dict[str, Path]]()


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
def parity(
    request: pytest.FixtureRequest, keras_oracle: ModuleType, generated_dir: Path
) -> dict[str, FlavorData]:
    """Run (or reuse) the Keras oracle for every flavor the session needs; both in parallel.

    generate.py keeps its own cache (keyed by itself and the corpus), so it runs every session and
    returns at once when its manifest is current.
    """
    corpus = _corpus_path()
    wanted = sorted(_flavors_requested(request.session) or {"tf_keras", "keras3"})

    def args(flavor: str, out: Path) -> list[str]:
        return ["--flavor", flavor, "--out", str(out)] + (
            ["--corpus", str(corpus)] if corpus.is_dir() else []
        )

    runs = keras_oracle.run(
        "parity", GENERATOR, generated_dir, wanted, args=args, done=None, timeout=TIMEOUT_S
    )
    data: dict[str, FlavorData] = {}
    for flavor in ("tf_keras", "keras3"):
        run = runs.get(flavor)
        if run is None:
            data[flavor] = FlavorData(
                flavor, generated_dir / "parity", skip=f"{flavor} not requested in this session"
            )
            continue
        d = data[flavor] = FlavorData(flavor, run.out)
        manifest = run.out / "manifest.json"
        if run.skipped:
            d.skip = f"{run.error}: the Keras oracle for {flavor} cannot run"
        elif run.error is not None or not manifest.is_file():
            d.error = run.error or f"no manifest in {run.out}"
        else:
            d.manifest = json.loads(manifest.read_text())
    request.config.stash[GENROOT_KEY] = {f: d.root for f, d in data.items() if d.manifest is not None}
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
    roots = config.stash.get(GENROOT_KEY, {})
    gen = {}
    for flavor, froot in roots.items():
        mpath = froot / "manifest.json"
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
    roots = session.config.stash.get(GENROOT_KEY, {})
    if s is not None and roots:
        # next to the flavors' folders: tests/.generated/parity/summary.json
        (next(iter(roots.values())).parent / "summary.json").write_text(json.dumps(s, indent=1, default=str))


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
