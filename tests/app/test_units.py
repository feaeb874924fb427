"""The units engine: its numbers against an independent numpy computation on a full trace, chunked ==
unchunked, the explainer's depth unit found by a regex hypothesis, windows for Bidirectional files."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.app import units
from inspector.app.keyframes import IdSource, build_keyframes, ids_to_input
from inspector.app.text import VocabularyEncoder
from inspector.core import engine
from inspector.io import load
from inspector.io.sidecar import find_vocabulary
from tests.conftest import REPO

SAMPLES = REPO / "resources" / "samples"


@pytest.fixture(scope="module")
def classic():
    mf = load(SAMPLES / "classic.keras")
    enc = VocabularyEncoder(find_vocabulary(SAMPLES / "classic.keras"))
    text = (SAMPLES / "shakespeare.txt").read_text()[:900]
    return mf, units.TextCorpus.from_text(mf.network, text, enc), text


@pytest.fixture(scope="module")
def full_trace(classic):
    mf, corpus, _ = classic
    return engine.trace(mf.network, ids_to_input(corpus.ids[None], 36), mf.semantics).layers["lstm"]


def test_statistics_match_an_independent_numpy_computation(classic, full_trace):
    mf, corpus, text = classic
    mask = np.array([ch in " \n" for ch in text])
    res = units.analyse(mf.network, mf.semantics, corpus, top=5, hypotheses=[("space", mask)], every=128)
    st = res.layer("lstm")
    c = full_trace.c[0].astype(np.float64)  # (T, 128)
    assert st.count == len(text) == c.shape[0]
    np.testing.assert_allclose(st.mean, c.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(st.std, c.std(axis=0), atol=1e-5)
    sat = st.saturation()
    assert set(sat) == {"i", "f", "o"}
    for g in "ifo":
        a = full_trace.gates[g][0]
        np.testing.assert_allclose(sat[g]["left"], (a < 0.1).mean(axis=0), atol=2e-3)
        np.testing.assert_allclose(sat[g]["right"], (a > 0.9).mean(axis=0), atol=2e-3)
    tops = st.top(True)
    bots = st.top(False)
    for u in (0, 17, 127):
        want = np.argsort(-c[:, u], kind="stable")[:5]
        assert [p for p, _ in tops[u]] == list(want)
        assert [p for p, _ in bots[u]] == list(np.argsort(c[:, u], kind="stable")[:5])
        assert tops[u][0][1] == pytest.approx(c[want[0], u], abs=1e-5)
    r_np = np.array([np.corrcoef(c[:, u], mask)[0, 1] for u in range(128)])
    np.testing.assert_allclose(st.correlation(0), r_np, atol=1e-4)
    ranking = st.ranking(0)
    assert ranking[0][0] == int(np.argmax(np.abs(r_np)))
    assert ranking[0][1] == pytest.approx(r_np[ranking[0][0]], abs=1e-4)


def test_chunked_equals_unchunked(classic):
    mf, corpus, _ = classic
    a = units.analyse(mf.network, mf.semantics, corpus, top=4, every=97).report()
    b = units.analyse(mf.network, mf.semantics, corpus, top=4, every=100_000).report()
    assert a["steps"] == b["steps"]
    np.testing.assert_allclose(a["mean"], b["mean"], atol=1e-5)
    for g in a["saturation"]:
        np.testing.assert_allclose(a["saturation"][g]["left"], b["saturation"][g]["left"], atol=2e-3)
    assert [[e["position"] for e in t] for t in a["top"]] == [[e["position"] for e in t] for t in b["top"]]


def test_value_h_and_windows(classic, full_trace):
    mf, corpus, text = classic
    res = units.analyse(mf.network, mf.semantics, corpus, value="h", window=100, top=3)
    st = res.layer()
    assert res.mode == "windows of 100" and st.value == "h"
    # independent windows: the state restarts every 100 characters
    x = ids_to_input(corpus.ids[:800].reshape(8, 100), 36)
    h = engine.trace(mf.network, x, mf.semantics).layers["lstm"].h.reshape(800, -1)
    tail = (
        engine.trace(mf.network, ids_to_input(corpus.ids[None, 800:], 36), mf.semantics).layers["lstm"].h[0]
    )
    h = np.concatenate([h, tail]).astype(np.float64)
    np.testing.assert_allclose(st.mean, h.mean(axis=0), atol=1e-5)
    assert st.top()[3][0][0] == int(np.argmax(h[:, 3]))


def test_match_finds_the_same_units_on(classic, full_trace):
    mf, corpus, _ = classic
    st = units.analyse(mf.network, mf.semantics, corpus, threshold=0.5, every=200).layer()
    on = full_trace.c[0] > 0.5
    span = (100, 104)
    chosen, runs = st.match(*span)
    assert chosen == list(np.flatnonzero(on[span[0] : span[1]].all(axis=0)))
    assert chosen, "the classic sample has units on over a 4-character span"
    hit = on[:, chosen].all(axis=1)
    for a, b in runs:
        assert hit[a:b].all() and (a == 0 or not hit[a - 1]) and (b == len(hit) or not hit[b])
        assert not (a < span[1] and b > span[0])
    assert len(runs) > 0


def test_regex_mask_and_context(classic):
    _, corpus, text = classic
    m = units.regex_mask(corpus, r"[aeiou]+")
    assert m.tolist() == [ch in "aeiou" for ch in text]
    ctx, off = corpus.context(40)
    assert ctx[off] == text[40] and ctx == text[10:51]
    with pytest.raises(ValueError, match="bad regular expression"):
        units.regex_mask(corpus, "(")


def test_progress_and_cancel(classic):
    mf, corpus, _ = classic
    seen: list[tuple[int, int]] = []
    units.analyse(mf.network, mf.semantics, corpus, every=300, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(300, 900), (600, 900), (900, 900)]
    calls = iter([False, True])
    with pytest.raises(units.RunCancelledError):
        units.analyse(mf.network, mf.semantics, corpus, every=300, cancelled=lambda: next(calls))


def _brackets(rng: np.random.Generator, n_chars: int, max_depth: int = 4) -> str:
    """Balanced expressions like the explainer's training data: letters, nested (), '.' at depth 0."""
    out, depth = [], 0
    while len(out) < n_chars or depth:
        r = rng.random()
        if depth < max_depth and r < 0.25:
            out.append("(")
            depth += 1
        elif depth and r < 0.25 + 0.1 * depth:
            out.append(")")
            depth -= 1
        elif not depth and r > 0.85:
            out.append(".")
        else:
            out.append("abc"[rng.integers(3)])
    return "".join(out) + "."


def test_explainer_depth_unit_ranks_first():
    """PROVENANCE: units 7, 1 and 0 of the explainer count the nesting depth (|r| > 0.9 on its data)."""
    mf = load(SAMPLES / "explainer.keras")
    enc = VocabularyEncoder(find_vocabulary(SAMPLES / "explainer.keras"))
    text = _brackets(np.random.default_rng(3), 4000, max_depth=4)
    corpus = units.TextCorpus.from_text(mf.network, text, enc)
    inner = r"[^()]"
    group = r"\((?:" + inner + r"|\((?:" + inner + r"|\((?:" + inner + r"|\([^()]*\))*\))*\))*\)"
    mask = units.regex_mask(corpus, group)
    depth = np.cumsum([{"(": 1, ")": -1}.get(ch, 0) for ch in text])
    assert (mask == ((depth > 0) | (np.array(list(text)) == ")"))).all()  # the regex marks "inside"
    hyps = [(group, mask), ("depth", depth)]
    res = units.analyse(mf.network, mf.semantics, corpus, hypotheses=hyps, every=512)
    # the depth counters, found independently from a full trace
    c = engine.trace(mf.network, ids_to_input(corpus.ids[None], 6), mf.semantics).layers["lstm"].c[0]
    r_depth = np.array([np.corrcoef(c[:, u], depth)[0, 1] for u in range(8)])
    counters = set(np.flatnonzero(np.abs(r_depth) > 0.9).tolist())
    assert 7 in counters
    ranking = res.report()["hypothesis"]["ranking"]
    assert ranking[0]["unit"] in counters and abs(ranking[0]["r"]) > 0.5, ranking[:3]
    # (unit 7 counts linearly from about -0.2 at depth 0 and 0.0 at depth 1, so the binary "inside"
    # mask favours unit 1, which jumps at the first bracket; a depth column finds unit 7 too)
    by_depth = res.layer().ranking(1)
    best = int(np.argmax(np.abs(r_depth)))
    assert by_depth[0][0] == best and by_depth[0][1] == pytest.approx(r_depth[best], abs=1e-4)
    assert 7 in [u for u, _ in by_depth[:3]]


def test_keyframes_window_is_exact(classic):
    mf, corpus, _ = classic
    src = IdSource(corpus.ids, 36)
    kf = build_keyframes(mf.network, mf.semantics, src, every=128)
    assert len(kf.states) == 8 and kf.overview["lstm"][0].shape == (128,)
    full = engine.trace(mf.network, src.inputs(0, 900), mf.semantics).layers["lstm"]
    for a, b in ((0, 50), (300, 420), (700, 900), (255, 257)):
        win = kf.window(mf.network, mf.semantics, src, a, b).layers["lstm"]
        np.testing.assert_allclose(win.c[0], full.c[0, a:b], atol=2e-5)
        np.testing.assert_allclose(win.gates["f"][0], full.gates["f"][0, a:b], atol=2e-5)
    st = kf.state_at(mf.network, mf.semantics, src, 500)["lstm"]
    np.testing.assert_allclose(st[1][0], full.c[0, 500], atol=2e-5)


def test_bidirectional_needs_windows(corpus_dir):
    mf = load(corpus_dir / "k1.2.2_dl4j_bidirectional_lstm_theano_full.h5")
    net = mf.network
    shape = net.input_shapes[0]
    T = shape[1] or 7
    x = np.random.default_rng(0).normal(size=(1, T, shape[2])).astype(np.float32)
    with pytest.raises(ValueError, match="Bidirectional"):
        units.analyse(net, mf.semantics, units.ArrayCorpus(x))
    xb = np.random.default_rng(1).normal(size=(5, T, shape[2])).astype(np.float32)
    res = units.analyse(net, mf.semantics, units.ArrayCorpus(xb), top=3)
    assert res.mode == "batch"
    keys = list(res.layers)
    assert len(keys) == 2 and keys[0].endswith("/forward") and keys[1].endswith("/backward")
    tr = engine.trace(net, xb, mf.semantics)
    for key in keys:
        traj = tr.layers[key]
        vals = traj.c if res.layers[key].value == "c" else traj.h
        order = np.argsort(traj.time_index)
        v = vals[:, order].reshape(5 * T, -1)  # position n*T + t
        st = res.layers[key]
        np.testing.assert_allclose(st.mean, v.mean(axis=0), atol=1e-5)
        assert st.top()[0][0][0] == int(np.argmax(v[:, 0]))


@pytest.mark.parametrize(
    "name",
    ["k1.2.2_dl4j_embedding_lstm_tf_full.h5", "k1.2.2_dl4j_simple_rnn_tf_full.h5", "k3.9.2_tekuv_gru.keras"],
)
def test_corpus_models_numeric(corpus_dir, name):
    mf = load(corpus_dir / name)
    net = mf.network
    shape = net.input_shapes[0]
    T = shape[1] or 9
    rng = np.random.default_rng(5)
    if len(shape) == 2:
        x = rng.integers(0, 4, size=(3, T))
    else:
        x = rng.normal(size=(3, T, shape[2])).astype(np.float32)
    res = units.analyse(net, mf.semantics, units.ArrayCorpus(x), top=2)
    st = res.layer()
    traj = engine.trace(net, x, mf.semantics).layers[st.layer]
    v = (traj.c if st.value == "c" else traj.h).reshape(3 * T, -1).astype(np.float64)
    np.testing.assert_allclose(st.mean, v.mean(axis=0), atol=1e-5)
    gates = {"LSTM": {"i", "f", "o"}, "GRU": {"z", "r"}, "SimpleRNN": set()}[st.kind]
    assert set(st.saturation()) == gates


@pytest.mark.parametrize("window", [None, 128])
def test_values_recomputed_exactly(classic, full_trace, window):
    mf, corpus, _ = classic
    res = units.analyse(mf.network, mf.semantics, corpus, window=window, every=200)
    got = res.values(mf.network, mf.semantics, "lstm", 250, 420)
    if window is None:
        np.testing.assert_allclose(got, full_trace.c[0, 250:420], atol=2e-5)
    else:
        for a in (250, 256, 300, 419):
            row = ids_to_input(corpus.ids[None, (a // 128) * 128 : (a // 128 + 1) * 128], 36)
            c = engine.trace(mf.network, row, mf.semantics).layers["lstm"].c[0]
            np.testing.assert_allclose(got[a - 250], c[a % 128], atol=2e-5)
