"""Issue 16 at the io level: a model read through the reader process is released when dropped.

`load_isolated` maps the reader's result memory file; every weight is a view of that mapping,
and the mapping (with its own descriptor) is the arrays' base: dropping the ModelFile must unmap
it and close the memory file.  Crashed, hung and killed readers leave no zombie and no descriptor.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hostile import files, memory
from inspector.io import reader_pool
from inspector.io.errors import ModelFileError
from inspector.io.sandbox import load_isolated

pytestmark = pytest.mark.skipif(not memory.available(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def big_model(hostile_dir: Path) -> Path:
    return memory.big_lstm_model(hostile_dir.parent / "memory")


def _touch(mf: object) -> float:
    """Read every weight (so every page of the mapping is resident)."""
    return sum(float(w.value.sum()) for lay in mf.weight_layers for _, w in lay.all_weights())  # type: ignore[attr-defined]


def _settle_spare() -> None:
    """Wait until the background start of the next pre-warmed reader (if any) is done."""
    time.sleep(reader_pool.RESPAWN_DELAY_S + 0.3)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "prestarted"])
def test_ten_reopens_release_their_memory(big_model: Path, warm: bool) -> None:
    size_mb = big_model.stat().st_size / 1024**2
    if warm:
        reader_pool.prestart()
        _settle_spare()
    fds0 = memory.fd_count()
    n0, mb0 = memory.memfds()  # what earlier tests of this process still hold
    try:
        rss, fds, mem = [], [], []
        for _ in range(10):
            mf = load_isolated(big_model)
            _touch(mf)
            if not rss:  # while the first model is held: its weights are one shared mapping
                n_held, mb_held = memory.memfds()
                # (beyond what earlier tests in this process still hold: n0, mb0)
                assert n_held >= 1 and size_mb * 0.9 <= mb_held - mb0 <= size_mb * 1.3, (mb0, mb_held)
            del mf
            rss.append(memory.rss_mb())
            fds.append(memory.fd_count())
            mem.append(memory.memfds())
        _settle_spare()
        n_mem, mb_mem = memory.memfds()
        # the spare reader's two (empty) result files at most: no model's memory is left
        assert n_mem <= n0 + 2 and mb_mem < mb0 + 1.0, (n0, mb0, mem)
        assert max(rss) - rss[0] < 0.5 * size_mb, rss
        # in flight at most: the reader just used (being reaped) and the next one starting (5 each)
        assert max(fds) <= fds0 + 10, fds
        assert memory.fd_count() <= fds0 + 1  # once settled: what there was before (+ listdir's own)
        assert memory.zombies() == []
    finally:
        reader_pool.shutdown()


def _killers(tmp_path: Path, seeds: dict) -> list[tuple[str, Path, Path | None]]:
    out = []
    for patch in files.LIBHDF5_KILLERS:
        made = files.write_byte_patch(patch, tmp_path, seeds)
        if made is not None:
            out.append((patch.effect, *made))
    return out


def test_crashed_hung_and_killed_readers_leave_nothing(tmp_path: Path, seeds: dict, big_model: Path) -> None:
    """After a reader that segfaults, one that hangs (stopped at the timeout) and one killed from
    outside mid-read, this process has no zombie child, no extra descriptor, no memory file."""
    reader_pool.shutdown()
    cases = _killers(tmp_path, seeds)
    if not cases:
        pytest.skip("no libhdf5 crash/hang recipe applies to this h5py")
    load_isolated(seeds["tf_h5_full"].path)  # pays one-time costs (imports, caches)
    fds0, memfds0 = memory.fd_count(), memory.memfds()[0]
    for effect, path, config in cases:
        with pytest.raises(ModelFileError, match="crashed|did not finish"):
            load_isolated(path, config=config, timeout=3.0 if effect == "hang" else 20.0)
    # killed from outside while reading the big model
    errors: list[BaseException] = []

    def read() -> None:
        try:
            load_isolated(big_model)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=read)
    t.start()
    for _ in range(200):
        running = list(reader_pool._running)
        if running:
            break
        time.sleep(0.01)
    for child in running:
        child.kill()
    t.join(30)
    assert not t.is_alive()
    if running:  # killed before it finished: a one-line error, not a hang or a crash
        assert errors and isinstance(errors[0], ModelFileError) or not errors
    assert memory.zombies() == []
    assert memory.children() == []
    assert memory.fd_count() <= fds0
    assert memory.memfds()[0] <= memfds0
