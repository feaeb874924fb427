"""Read an untrusted file in a child process: libhdf5 can crash or spin forever on a corrupted file.

Mutation fuzzing (tests/hostile) found HDF5 files, a few flipped bytes away from valid ones, on
which libhdf5 1.14 (the one h5py ships) either **segfaults** (a corrupted vlen-string datatype
makes an attribute read call H5T__vlen_disk_write) or **loops forever while holding the GIL**
(a global-heap object of size 0: H5HG__cache_heap_deserialize never advances).  No Python code can
catch either: in-process, the first kills the app and the second freezes every thread, GUI included.

`load_isolated` therefore runs `inspector.io.load` in a reader process (`inspector.io.reader_pool`,
``python -m inspector.io.sandbox --serve``) under a wall-clock timeout, an address-space limit and
a file-size limit, and turns a crash, a hang or a memory blow-up into an ordinary ModelFileError.
The result comes back as data only, zero-copy, through a shared memory file
(`inspector.io.arena`, in the format of `inspector.io.result_codec`).

If no reader process can be started at all, the file is read in this process, without that
protection: the ModelFile then says so in its `problems` (`NOT_ISOLATED`), and a
`ReaderNotIsolatedWarning` is issued and logged.  `INSPECTOR_SANDBOX=0` reads in-process on
purpose (debugging), silently.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

from inspector.core.network import ModelFile
from inspector.io import reader_pool
from inspector.io.arena import Arena, map_result, open_out, write_all
from inspector.io.errors import ModelFileError
from inspector.io.reader_pool import ReaderProcess, prestart, shutdown
from inspector.io.result_codec import dump_result, load_result

__all__ = ["NOT_ISOLATED", "ReaderNotIsolatedWarning", "load_isolated", "prestart", "shutdown"]

log = logging.getLogger(__name__)

#: wall-clock limit for reading one file (the slowest real file in the corpus reads in < 1 s)
TIMEOUT_S = 30.0
#: address-space limit of the child, MiB: a floor plus a multiple of the file size, capped.  A
#: corrupted global-heap or chunk size makes libhdf5 allocate (and touch) gigabytes for a 24 KB
#: file before failing; under this limit the allocation fails at once and the file is refused.
MEM_FLOOR_MB = 1024
MEM_PER_FILE_MB = 8  # float32 copies of float16/bf16 data, h5py read buffers, archive members in RAM
MEM_MB = 8192
_MAGIC = b"--inspector-sandbox-done--"
_PREVIEW = b"--inspector-sandbox-preview--\n"
#: most stderr bytes kept from a child (a subverted one could write without end)
_MAX_ERR = 1 << 20
#: the note a ModelFile read without a reader process carries in its `problems`
NOT_ISOLATED = "read inside the app, without crash protection: the reader process could not be started ({})"


class ReaderNotIsolatedWarning(RuntimeWarning):
    """A file was read in this process because no reader process could be started."""


def _read_in_process(p: str, config: str | os.PathLike[str] | None, why: OSError) -> ModelFile:
    """`load` here, with the loss of crash protection made visible (problems, warning, log)."""
    from inspector.io import load

    reason = why.strerror or type(why).__name__
    msg = f"{p}: {NOT_ISOLATED.format(reason)}"
    log.warning(msg)
    warnings.warn(msg, ReaderNotIsolatedWarning, stacklevel=3)
    mf = load(p, config=config)
    return dataclasses.replace(mf, problems=(NOT_ISOLATED.format(reason), *mf.problems))


def load_isolated(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    timeout: float = TIMEOUT_S,
    mem_mb: int | None = None,
    preview: str | None = None,
    on_preview: Callable[[str, ModelFile], object] | None = None,
) -> ModelFile:
    """`inspector.io.load` in a child process; a crash, hang or memory blow-up is a ModelFileError.

    Parameters
    ----------
    path, config : as for `inspector.io.load`.
    timeout : seconds before the child is killed.
    mem_mb : address-space limit of the child (POSIX only); default MEM_FLOOR_MB + MEM_PER_FILE_MB
        x the size of the file (and config), at most MEM_MB.  The result may not be larger either.
    preview, on_preview : when `on_preview` is given (POSIX), the child first reads the architecture
        and one weight (`inspector.io.preview.read_preview`; `preview` names the weight wanted, ''
        for the default) and `on_preview(weight path, ModelFile)` is called with it, on this thread,
        while the child goes on reading the whole file.  In that ModelFile only the named weight
        holds data; every other array is a read-only zero placeholder.  A preview that cannot be
        made is skipped silently (the full read reports any problem).

    Returns
    -------
    The ModelFile `inspector.io.load` returned in the child.  Its arrays are read-only,
    C-contiguous, 64-byte aligned views of one shared read-only mapping.

    Raises
    ------
    ModelFileError : whatever `load` raised, or a one-line reason for a crash / hang / blow-up.
    """
    p = os.fspath(path)
    if reader_pool.sandbox_disabled():
        from inspector.io import load

        return load(p, config=config)
    if mem_mb is None:
        mem_mb = min(MEM_MB, MEM_FLOOR_MB + MEM_PER_FILE_MB * _size_mb(p) + _size_mb(config))
    if os.name != "posix":
        on_preview = None  # the progressive read below needs select() on pipes
    request = {
        "path": p,
        "config": os.fspath(config) if config is not None else None,
        "mem_mb": int(mem_mb),
        "timeout": float(timeout),
        "preview": (preview or "") if on_preview is not None else None,
    }
    try:
        child = reader_pool.take()
    except OSError as exc:  # cannot start a process at all: read here rather than not at all
        return _read_in_process(p, config, exc)
    try:
        return _run(child, p, request, timeout, on_preview)
    finally:
        reader_pool.release(child)


def _run(
    child: ReaderProcess,
    p: str,
    request: dict[str, Any],
    timeout: float,
    on_preview: Callable[[str, ModelFile], object] | None,
) -> ModelFile:
    line = (json.dumps(request) + "\n").encode("utf-8")
    try:
        if on_preview is None:
            out, err = child.proc.communicate(line, timeout=timeout)
        else:
            out, err = _communicate(child, line, timeout, on_preview)
    except subprocess.TimeoutExpired:
        child.kill()
        raise ModelFileError(
            p, f"reading did not finish within {timeout:g} s (corrupted file?): stopped"
        ) from None
    except OSError:  # the pre-warmed child died before reading its request (BrokenPipe)
        out, err = b"", b""
        child.proc.wait()
    if _MAGIC not in out:
        rc = child.proc.returncode
        if rc is not None and rc < 0:
            how = f"crashed (signal {-rc})"
        elif b"MemoryError" in err:
            how = "ran out of memory"
        else:
            how = f"failed (exit {rc})"
        raise ModelFileError(p, f"the HDF5/zip reader {how} on this file: corrupted or hostile file")
    try:
        res = load_result(map_result(child.fd, child.out_path))
        status, a, b = res["status"], res.get("value"), res.get("reason")
    except Exception as exc:  # noqa: BLE001 - a malformed result is a failed read, never a crash
        raise ModelFileError(p, f"unreadable result from the reader process ({type(exc).__name__})") from None
    if status == "ok" and isinstance(a, ModelFile):
        return a
    if status == "error" and isinstance(a, str):
        raise ModelFileError(a, str(b))
    raise ModelFileError(p, "unexpected result from the reader process")


def _communicate(
    child: ReaderProcess, line: bytes, timeout: float, on_preview: Callable[[str, ModelFile], object]
) -> tuple[bytes, bytes]:
    """`Popen.communicate` that also hands a preview to `on_preview` as soon as the child announces it."""
    import selectors
    import time

    proc = child.proc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    proc.stdin.write(line)
    proc.stdin.close()
    out, err = bytearray(), bytearray()
    previewed = False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in sel.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    out += data
                    if not previewed and _PREVIEW in out:
                        previewed = True
                        _deliver_preview(child, on_preview)
                elif len(err) < _MAX_ERR:
                    err += data
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise subprocess.TimeoutExpired(proc.args, timeout) from None
    return bytes(out), bytes(err)


def _deliver_preview(child: ReaderProcess, on_preview: Callable[[str, ModelFile], object]) -> None:
    """Map the child's preview result and pass it on; any problem only means: no preview."""
    try:
        res = load_result(map_result(child.preview_fd, child.preview_path))
        weight, mf = res.get("weight"), res.get("value")
        if res.get("status") != "preview" or not isinstance(weight, str) or not isinstance(mf, ModelFile):
            return
    except Exception:  # noqa: BLE001 - a malformed preview is no preview
        return
    try:
        on_preview(weight, mf)
    except Exception:  # noqa: BLE001 - the receiver's problem must not fail the read itself
        import logging

        logging.getLogger(__name__).debug("preview receiver failed", exc_info=True)


def _size_mb(path: str | os.PathLike[str] | None) -> int:
    """Size of a file (or the files of a folder, one level) in MiB, rounded up; 0 if unknown."""
    if path is None:
        return 0
    try:
        if os.path.isdir(path):
            total = sum(e.stat().st_size for e in os.scandir(path) if e.is_file(follow_symlinks=False))
        else:
            total = os.stat(path).st_size
    except OSError:
        return 0
    return -(-total // (1024 * 1024))


# ----------------------------------------------------------------------------------------- child


def _write_preview(req: dict[str, Any], where: str) -> None:
    """The architecture and one weight, written and announced before the whole file is read."""
    from inspector.io.preview import read_preview

    try:
        found = read_preview(req["path"], req["config"], str(req["preview"]))
    except Exception:  # noqa: BLE001 - no preview; the full read below reports the problem
        return
    if found is None:
        return
    weight, mf, placeholders = found
    fd = open_out(where)
    try:
        dump_result(
            {"status": "preview", "value": mf, "weight": weight},
            lambda b: write_all(fd, b),
            zeros=placeholders,
        )
    except Exception:  # noqa: BLE001
        return
    finally:
        if where.startswith("path:"):
            os.close(fd)
    sys.stdout.buffer.write(_PREVIEW)
    sys.stdout.buffer.flush()


def _child(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m inspector.io.sandbox")
    ap.add_argument("--serve", action="store_true", help="wait for one JSON request on stdin")
    ap.add_argument("--out", required=True, help="fd:N (an inherited file descriptor) or path:P")
    ap.add_argument("--preview-out", default=None, help="where a preview goes (as --out)")
    args = ap.parse_args(argv)
    # pay the imports before the request arrives (the point of a pre-warmed child)
    import h5py  # noqa: F401

    from inspector.io import detect, keras_v3, legacy_h5, load  # noqa: F401

    line = sys.stdin.buffer.readline()
    if not line.strip():
        return 0  # the parent went away or shut us down
    req = json.loads(line)
    # Our own end, should the parent not be there to kill us (it died, or a GUI quit while we hang):
    # libhdf5 spinning with the GIL held leaves no Python code running, but the kernel's default
    # action for SIGALRM / SIGXCPU still ends the process.
    backstop = int(float(req.get("timeout", TIMEOUT_S))) + 2
    if hasattr(signal, "alarm"):
        signal.alarm(backstop)
    try:
        import resource

        lim = int(req["mem_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))
        resource.setrlimit(resource.RLIMIT_CPU, (backstop, backstop + 1))
    except (ImportError, ValueError, OSError):
        pass
    if req.get("preview") is not None and args.preview_out:
        _write_preview(req, args.preview_out)
    from inspector.io._safe import ReadPlan

    fd = open_out(args.out)
    arena = Arena(fd)
    try:
        mf = load(req["path"], config=req["config"], plan=ReadPlan(allocate=arena.empty))
        result: dict[str, Any] = {"status": "ok", "value": mf}
    except ModelFileError as exc:
        result = {"status": "error", "value": exc.path, "reason": exc.reason}
    os.lseek(fd, arena.size, os.SEEK_SET)
    dump_result(result, lambda b: write_all(fd, b), arena=arena)
    os.close(fd)
    sys.stdout.buffer.write(_MAGIC)
    sys.stdout.buffer.flush()
    os._exit(0)  # no interpreter teardown: the parent waits for this process to end


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
