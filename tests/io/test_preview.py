"""`inspector.io.preview.read_preview`: the architecture and one weight, nothing else read.

The preview is what the GUI paints while a big file is still being read, so its one weight must be
exactly the weight the full read returns, and nothing else may pretend to be data.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from inspector.core.network import default_weight, find_weight
from inspector.io import load
from inspector.io._safe import ReadPlan
from inspector.io.preview import read_preview

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
CORPUS = REPO.parent / "shared" / "keras-corpus"


def _sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} absent")
    return path


@pytest.mark.parametrize("name", ["classic.h5", "classic.keras", "explainer.h5", "explainer.keras"])
def test_preview_weight_equals_full_read_and_nothing_else_is_read(name: str) -> None:
    path = _sample(name)
    full = load(path)
    got = read_preview(path)
    assert got is not None
    weight, mf, placeholders = got
    assert weight == default_weight(full) == "lstm/kernel" or weight.endswith("/kernel")
    _, w_full = find_weight(full, weight)
    _, w_prev = find_weight(mf, weight)
    np.testing.assert_array_equal(w_prev.value, w_full.value)
    assert w_prev.gates == w_full.gates and w_prev.gates  # a gate-sliced recurrent kernel
    # every other weight is a placeholder: zeros of the right shape, none of them read
    others = [(p, w) for lay in mf.network.layers for p, w in lay.all_weights() if p != weight]
    assert others
    ids = {id(a) for a in placeholders}
    for p, w in others:
        assert id(w.value) in ids, p
        assert w.value.shape == find_weight(full, p)[1].value.shape
        assert not w.value.any()
    # the full read's other weights are not all zero, so the placeholders are not the real data
    assert any(find_weight(full, p)[1].value.any() for p, _ in others)


def test_wanted_weight_is_previewed_when_present() -> None:
    path = _sample("classic.h5")
    weight, mf, _ = read_preview(path, wanted="next_char/kernel")
    assert weight == "next_char/kernel"
    np.testing.assert_array_equal(find_weight(mf, weight)[1].value, find_weight(load(path), weight)[1].value)
    weight, _, _ = read_preview(path, wanted="no_such/kernel")
    assert weight == "lstm/kernel"


def test_preview_plan_reads_only_the_named_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    path = _sample("classic.h5")
    reads: list[str] = []
    original = h5py.Dataset.__getitem__

    def counting(self, key):  # noqa: ANN001
        reads.append(self.name)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    plan = ReadPlan(only=frozenset())
    load(path, plan=plan)
    assert reads == [] and len(plan.placeholders) >= 5
    name = next(iter(plan.placeholders.values()))[1]
    plan2 = ReadPlan(only=frozenset({name}))
    load(path, plan=plan2)
    assert reads == [name]
    assert name not in {n for _, n in plan2.placeholders.values()}


def test_unreadable_file_gives_no_preview(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert read_preview(bad) is None


CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*") if p.suffix in (".h5", ".hdf5", ".keras"))


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_preview_is_exact_or_absent(name: str) -> None:
    path = CORPUS / name
    try:
        full = load(path)
    except Exception:  # noqa: BLE001 - refused files (LFS pointer, non-Keras) have nothing to preview
        assert read_preview(path) is None
        return
    got = read_preview(path)
    if got is None:
        # only weights converted on reading (Keras 1 per-gate arrays, CuDNN blocks) have no preview
        converted = name.startswith("k1") or any("cuDNN" in p for p in full.problems)
        assert find_weight(full, default_weight(full)) is None or converted
        return
    weight, mf, _ = got
    assert weight == default_weight(full)
    np.testing.assert_array_equal(find_weight(mf, weight)[1].value, find_weight(full, weight)[1].value)


def test_corpus_has_previews() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    made = [p.name for p in CORPUS.glob("*.h5") if p.name.startswith(("k2", "tfk")) and read_preview(p)]
    assert len(made) >= 5, made
