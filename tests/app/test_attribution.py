"""Attribution: occlusion against real Keras' predict on occluded inputs; the decomposition against
the logits Keras' own LSTM output gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.app.attribution import AttributionError, decompose, occlusion
from inspector.io import load

FLAVORS = ["tf_keras", "keras3"]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", ["attr_lstm", "attr_embedding"])
def test_occlusion_matches_keras(oracle, flavor: str, case: str) -> None:
    ref = oracle[flavor].arrays(case)
    mf = load(oracle[flavor].path(case))
    occ = occlusion(mf.network, ref["in_0"], mf.semantics)
    assert occ.scores.shape == ref["occlusion"].shape == (3, ref["in_0"].shape[1], ref["out_0"].shape[1])
    np.testing.assert_allclose(occ.output, ref["out_0"], atol=1e-5)
    np.testing.assert_allclose(occ.scores, ref["occlusion"], atol=1e-5)
    assert np.abs(occ.scores).max() > 1e-3  # the check can fail: occluding a step changes the output
    if case == "attr_embedding":
        assert "padding id" in occ.counterfactual and "skipped" in occ.counterfactual
        # the post-padded steps of sample 1 are already id 0: occluding them changes nothing
        np.testing.assert_allclose(occ.scores[1, 5:], 0.0, atol=1e-6)
    else:
        assert occ.counterfactual == "all-zero features at the occluded step"


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", ["attr_lstm", "attr_embedding"])
def test_decomposition_reproduces_logits(oracle, flavor: str, case: str) -> None:
    ref = oracle[flavor].arrays(case)
    mf = load(oracle[flavor].path(case))
    dec = decompose(mf.network, ref["in_0"], mf.semantics)
    # the Dense pre-activation from Keras' own LSTM output and Keras' own head weights
    keras_logits = ref["h_last"].astype(np.float64) @ ref["out_kernel"] + ref["out_bias"]
    assert dec.contributions.shape == (3, ref["in_0"].shape[1], keras_logits.shape[1])
    np.testing.assert_allclose(dec.contributions.sum(axis=1) + dec.bias, keras_logits, atol=1e-5, rtol=0)
    product = np.prod(dec.factors, axis=1) * np.exp(dec.bias)
    np.testing.assert_allclose(product, np.exp(keras_logits), rtol=1e-5)
    if case == "attr_embedding":  # padded steps contribute exactly nothing
        np.testing.assert_array_equal(dec.contributions[1, 5:], 0.0)


def test_decomposition_refuses_other_models(oracle) -> None:
    mf = load(oracle["tf_keras"].path("bidi_concat_seq"))
    x = oracle["tf_keras"].arrays("bidi_concat_seq")["in_0"]
    with pytest.raises(AttributionError, match="Dense layer fed by an LSTM"):
        decompose(mf.network, x, mf.semantics)


def test_cli_attribute(oracle, tmp_path: Path, capsys) -> None:
    from inspector.cli import main

    o = oracle["keras3"]
    ref = o.arrays("attr_embedding")
    np.save(tmp_path / "X.npy", ref["in_0"])
    model = str(o.path("attr_embedding"))
    a_path = tmp_path / "A.npy"
    assert main(["attribute", model, "--input", str(tmp_path / "X.npy"), "--output", str(a_path)]) == 0
    np.testing.assert_allclose(np.load(a_path), ref["occlusion"], atol=1e-5)
    assert "padding id" in capsys.readouterr().out
    d_path = tmp_path / "D.npy"
    args = ["attribute", model, "--input", str(tmp_path / "X.npy"), "--method", "decomposition"]
    assert main([*args, "--output", str(d_path)]) == 0
    logits = ref["h_last"].astype(np.float64) @ ref["out_kernel"] + ref["out_bias"]
    total = np.load(d_path).sum(axis=1) + np.load(tmp_path / "D.bias.npy")
    np.testing.assert_allclose(total, logits, atol=1e-5)
    bidi = o.arrays("bidi_concat_seq")["in_0"]
    np.save(tmp_path / "B.npy", bidi)
    capsys.readouterr()
    bad = ["attribute", str(o.path("bidi_concat_seq")), "--input", str(tmp_path / "B.npy")]
    assert main([*bad, "--method", "decomposition", "--output", str(tmp_path / "E.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "LSTM" in err
