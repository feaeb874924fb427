"""The reader processes: one started per read, and one kept warm so a read does not wait for it.

Start-up: an interpreter with numpy and h5py imported costs ~0.3 s.  `prestart()` (the GUI calls it
when its session is created) starts a reader that imports everything and then waits for one
request; `take()` hands it out (or starts one on the spot) and `release()`, after each use (or
crash / timeout), reaps it (no zombie, no descriptor left: its pipes and result files are closed)
and starts the next one in the background.  Without `prestart` (the CLI) each read starts its own.

A `ReaderProcess` owns its two result memory files (the full result and the preview,
`inspector.io.arena.result_file`): the parent's descriptors are closed by `discard`; a mapping
made from them keeps its own descriptor for as long as the arrays built on it live.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from inspector.io.arena import result_file

#: seconds between the end of a load and the start of the next pre-warmed child: its imports then
#: do not compete with the first paint of the file just read
RESPAWN_DELAY_S = 1.0


class ReaderProcess:
    """One reader process (`python -m inspector.io.sandbox --serve`) waiting for its request, and
    the memory files it will write its preview and its result to."""

    def __init__(self) -> None:
        self.fd, self.out_path = result_file()
        self.preview_fd, self.preview_path = -1, ""
        try:
            self.preview_fd, self.preview_path = result_file()
        except BaseException:
            self.close()
            raise
        arg = f"fd:{self.fd}" if self.fd >= 0 else f"path:{self.out_path}"
        parg = f"fd:{self.preview_fd}" if self.preview_fd >= 0 else f"path:{self.preview_path}"
        fds = tuple(fd for fd in (self.fd, self.preview_fd) if fd >= 0)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the `inspector` package
        env["PYTHONPATH"] = os.pathsep.join(x for x in (root, env.get("PYTHONPATH", "")) if x)
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    *_SAFE_PATH,
                    "-m",
                    "inspector.io.sandbox",  # the reader's entry point: sandbox._child
                    "--serve",
                    "--out",
                    arg,
                    "--preview-out",
                    parg,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                pass_fds=fds,
                start_new_session=(os.name == "posix"),
            )
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the child and anything it started
                else:
                    self.proc.kill()
            except OSError:
                pass

    def close(self) -> None:
        for fd_attr, path_attr in (("fd", "out_path"), ("preview_fd", "preview_path")):
            fd, where = getattr(self, fd_attr, -1), getattr(self, path_attr, "")
            if fd >= 0:
                os.close(fd)
                setattr(self, fd_attr, -1)
            if where:
                try:
                    os.unlink(where)
                except OSError:
                    pass
                setattr(self, path_attr, "")

    def discard(self) -> None:
        self.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self.close()


def sandbox_disabled() -> bool:
    """True when `INSPECTOR_SANDBOX=0` asks for in-process reads (debugging)."""
    return os.environ.get("INSPECTOR_SANDBOX", "1") == "0"


#: -P: the child does not put its working folder first on sys.path (an `inspector` folder there
#: would be imported instead of this package); our package comes from PYTHONPATH
_SAFE_PATH = ("-P",) if sys.version_info >= (3, 11) else ()

_lock = threading.Lock()
_spare: ReaderProcess | None = None
_running: set[ReaderProcess] = set()  # children reading a file now: stopped by `shutdown` too
_keep_warm = False


def prestart() -> None:
    """Start a reader process in the background now, so that the next `load_isolated` does not wait
    for an interpreter start; from then on a fresh one is started after each load.  Idempotent."""
    global _spare, _keep_warm
    _keep_warm = True
    if sandbox_disabled():
        return
    with _lock:
        if _spare is not None and _spare.alive():
            return
        old, _spare = _spare, None
    if old is not None:
        old.discard()
    try:
        child = ReaderProcess()
    except OSError:
        return
    with _lock:
        spare_taken = _spare is None
        if spare_taken:
            _spare = child
    if not spare_taken:  # another thread started one meanwhile
        child.discard()


def shutdown() -> None:
    """Stop the pre-warmed reader process and kill any reading one (also done at exit).

    Without it they end anyway: the waiting one on end-of-input when this process dies, a reading
    one by its own alarm `timeout` + 2 s after its request.
    """
    global _spare, _keep_warm
    _keep_warm = False
    with _lock:
        old, _spare = _spare, None
        running = list(_running)
    if old is not None:
        old.discard()
    for child in running:
        child.kill()


atexit.register(shutdown)


def take() -> ReaderProcess:
    """A reader waiting for its request: the pre-warmed one if alive, else a new one.

    Raises OSError when no process can be started (the caller decides what to do then).
    """
    global _spare
    with _lock:
        child, _spare = _spare, None
    if child is None or not child.alive():
        if child is not None:
            child.discard()
        child = ReaderProcess()
    with _lock:
        _running.add(child)
    return child


def release(child: ReaderProcess) -> None:
    """Reap a used reader (killed if still running): its process, pipes and result files are gone
    on return.  Then, when kept warm, a fresh reader is started after `RESPAWN_DELAY_S`."""
    with _lock:
        _running.discard(child)
    child.discard()
    if _keep_warm:
        timer = threading.Timer(RESPAWN_DELAY_S, lambda: prestart() if _keep_warm else None)
        timer.daemon = True
        timer.start()
