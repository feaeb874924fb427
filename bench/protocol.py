"""A tiny JSON-lines request/response protocol between the harness and its measuring subprocesses.

Each side (our engine, Keras) lives in its own long-running process so both stay warm and the
harness can interleave their repeats; stdout carries only protocol lines (libraries log to stderr).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[dict], dict]


def serve(handlers: dict[str, Handler]) -> None:
    """Answer one JSON request per stdin line with one JSON line on the real stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints from libraries must not corrupt the protocol
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.get("cmd")
        if cmd == "quit":
            break
        try:
            resp = handlers[cmd](req)
            resp.setdefault("ok", True)
        except Exception as exc:  # noqa: BLE001 - reported to the harness, which decides
            resp = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        out.write(json.dumps(resp) + "\n")
        out.flush()


class Worker:
    """Client side: a subprocess running `python -m <module> serve`."""

    def __init__(self, module: str, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.module = module
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=cwd,
            bufsize=1,
        )

    def call(self, **req: Any) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.module} died (see {self._log.name})")
        resp = json.loads(line)
        if not resp.get("ok"):
            raise RuntimeError(
                f"{self.module} {req.get('cmd')} failed: {resp.get('error')}\n{resp.get('trace', '')}"
            )
        return resp

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out
