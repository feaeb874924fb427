"""Mutation fuzzing of valid files in every format (issue 5).

    pytest tests/hostile/test_fuzz.py                       # 300 cases (CI)
    pytest tests/hostile/test_fuzz.py --fuzz-cases 20000    # a long run (or FUZZ_CASES=20000)
    pytest tests/hostile/test_fuzz.py --fuzz-corpus         # also mutate the small corpus files

Each case must end in a clean ModelFileError or a load whose weights are finite or flagged and
whose engine run works or fails with the engine's clean errors.  A case that crashes or hangs
libhdf5 itself (C code: no Python guard can stop it) must be refused cleanly by the app's loader,
`inspector.io.sandbox.load_isolated`.  Counts land in tests/.generated/hostile/fuzz_summary.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hostile import files, fuzz, harness

DEFAULT_CASES = 300
DEFAULT_SEED = 20261126
REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("KERAS_CORPUS", REPO.parent / "shared" / "keras-corpus"))

# model.predict of tf_keras 2.21 on the seeds (see test_seeds_match_keras)
KERAS_A = np.array([[0.519833, 0.48016697], [0.4953793, 0.5046207]], np.float32)
KERAS_C = np.array([[-0.14168778, -0.06679086], [-0.1312885, -0.08877861]], np.float32)


def _x(t: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, t, 3)).astype(np.float32)


def _option(config: pytest.Config, name: str, env: str, default: int) -> int:
    v = config.getoption(name)
    return int(v if v is not None else os.environ.get(env, default))


def test_seeds_are_valid(seeds: dict[str, files.Seed]) -> None:
    """Every seed loads, in the expected format, and runs (the fuzzer's starting points are sound)."""
    want = {
        "tf_h5_full": "legacy-h5-model",
        "tf_h5_weights": "legacy-h5-weights",
        "tf_h5_functional": "legacy-h5-model",
        "k1_h5_full": "legacy-h5-model",
        "k1_h5_weights": "legacy-h5-weights",
        "k3_archive": "keras3-archive",
        "k3_weights_h5": "keras3-weights-h5",
        "k3_legacy_h5": "legacy-h5-model",
    }
    assert set(seeds) == set(want)
    for name, s in seeds.items():
        res = harness.open_file(s.path, s.config, trace=True, keep=True)
        assert res.outcome == "loaded", res.describe()
        assert res.mf.format_id == want[name], (name, res.mf.format_id)
        assert res.has_network, name
        assert res.engine == "ok", res.describe()
        assert not res.mf.problems, (name, res.mf.problems)


def test_seeds_match_keras(seeds: dict[str, files.Seed]) -> None:
    """The seeds are correct Keras files: our engine reproduces what tf_keras/Keras 3 predicted on them.

    (KERAS_A / KERAS_C were produced once with tf_keras 2.21 and Keras 3.15 loading these very
    files; Keras 1 files cannot be run by today's Keras, so model B is checked full vs weights-only.)
    """
    from inspector.core import engine
    from inspector.io import load

    for name in ("tf_h5_full", "tf_h5_weights", "k3_archive", "k3_weights_h5", "k3_legacy_h5"):
        mf = load(seeds[name].path, config=seeds[name].config)
        np.testing.assert_allclose(engine.predict(mf.network, _x(5), mf.semantics)[0], KERAS_A, atol=1e-5)
    mf = load(seeds["tf_h5_functional"].path)
    x6 = _x(6)
    x6[0, 4:] = 0.0  # masked tail
    np.testing.assert_allclose(engine.predict(mf.network, x6, mf.semantics)[0], KERAS_C, atol=1e-5)
    ids = np.random.default_rng(1).integers(0, 7, (2, 5)).astype(np.int32)
    full = load(seeds["k1_h5_full"].path)
    wonly = load(seeds["k1_h5_weights"].path, config=seeds["k1_h5_weights"].config)
    a = engine.predict(full.network, ids, full.semantics)[0]
    np.testing.assert_array_equal(a, engine.predict(wonly.network, ids, wonly.semantics)[0])
    assert a.shape == (2, 2) and np.allclose(a.sum(axis=1), 1.0, atol=1e-6)


def test_mutators_change_files(seeds: dict[str, files.Seed]) -> None:
    """Most mutations really change the bytes (or the config) of their seed."""
    seed_files = fuzz.load_seeds(Path(next(iter(seeds.values())).path).parent, None)
    changed = 0
    for i in range(60):
        rng = np.random.default_rng([1, i])
        s = seed_files[i % len(seed_files)]
        data, cfg, what = fuzz.mutate(s, rng)
        changed += data != s.data or cfg != s.config
        assert what
    assert changed >= 54


def test_fuzz_readers(request: pytest.FixtureRequest, hostile_dir: Path) -> None:
    cases = _option(request.config, "--fuzz-cases", "FUZZ_CASES", DEFAULT_CASES)
    seed = _option(request.config, "--fuzz-seed", "FUZZ_SEED", DEFAULT_SEED)
    corpus = CORPUS if (request.config.getoption("--fuzz-corpus") or os.environ.get("FUZZ_CORPUS")) else None
    if corpus is not None and not corpus.is_dir():
        pytest.skip(f"--fuzz-corpus: no corpus at {corpus}")
    summary = fuzz.drive(cases, seed, hostile_dir, corpus=corpus, timeout=5.0, mem_mb=4096)
    short = {k: v for k, v in summary.items() if k not in ("bug_cases", "seeds")}
    print(json.dumps(short, indent=2, default=str))  # shown with -s / on failure
    assert summary["cases"] == cases
    bugs = "\n".join(
        f"case {b.get('case')} [{b.get('seed')}: {b.get('mutation')}] {b.get('outcome')} "
        f"{b.get('error_type', '')} "
        f"{b.get('message', '')[:200]} engine={b.get('engine', '')} {b.get('engine_message', '')[:200]} "
        f"sandbox={b.get('sandbox')} file={b.get('kept')}\n"
        f"{b.get('traceback') or b.get('engine_traceback') or ''}"
        for b in summary["bug_cases"]
    )
    assert summary["bugs"] == 0, f"{summary['bugs']} case(s) not handled cleanly:\n{bugs}"
    # the mutations must exercise both sides: loads of damaged-but-readable files and refusals
    assert summary["loaded"] >= 0.1 * cases and summary["refused"] >= 0.3 * cases, short
    slow = summary["slowest_refusal"]
    assert slow is None or slow["seconds"] < 5.0, slow
