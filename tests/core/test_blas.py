"""The single-threaded BLAS block restores the process setting, also when nested or concurrent."""

from __future__ import annotations

import threading

import pytest

from inspector.core import _blas


def _threads() -> int | None:
    with _blas.single_threaded():  # make sure the library lookup has happened
        pass
    return None if _blas._api is None else _blas._api[1]()


def test_restores_thread_count() -> None:
    before = _threads()
    if before is None:
        pytest.skip("no OpenBLAS reachable: single_threaded() is a no-op")
    with _blas.single_threaded():
        assert _blas._api[1]() == 1
        with _blas.single_threaded():
            assert _blas._api[1]() == 1
        assert _blas._api[1]() == 1
    assert _threads() == before


def test_concurrent_users_restore_once() -> None:
    before = _threads()
    inside = threading.Barrier(4)

    def work() -> None:
        with _blas.single_threaded():
            inside.wait(timeout=10)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert _threads() == before
    assert _blas._users == 0


def test_exception_inside_restores() -> None:
    before = _threads()
    with pytest.raises(RuntimeError), _blas.single_threaded():
        raise RuntimeError("boom")
    assert _threads() == before
