"""Every command shown in README.md's code blocks runs (offscreen, in a temporary folder).

Shell blocks: each command (backslash continuations joined) runs with the repository's
`resources/` linked into the folder; `keras-inspector` runs as `python -m inspector`.  System
package installs (`sudo apt-get ...`) and `make` targets are not run here.  Python blocks run as
scripts.  A command exits 0 and the files it names with --output exist afterwards.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = ("sudo ", "make ", "apt-get ", "pip ")


def _blocks(lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def _commands() -> list[str]:
    out = []
    for block in _blocks("sh"):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.strip()
            if cmd and not cmd.startswith("#") and not cmd.startswith(SKIP):
                out.append(cmd)
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("readme")
    (path / "resources").symlink_to(ROOT / "resources", target_is_directory=True)
    return path


def test_readme_shows_commands() -> None:
    verbs = {shlex.split(c)[1] for c in _commands() if c.startswith("keras-inspector")}
    assert {"info", "predict", "trace", "snapshot"} <= verbs
    assert _blocks("python")


def test_shell_commands_run(folder: Path) -> None:
    for cmd in _commands():  # in order: the first one writes the input the others read
        argv = shlex.split(cmd)
        if argv[0] == "keras-inspector":
            argv = [sys.executable, "-m", "inspector", *argv[1:]]
        elif argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        r = subprocess.run(argv, cwd=folder, env=_env(), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{cmd}\n{r.stderr[-2000:]}"
        assert "propagateSizeHints" not in r.stderr, r.stderr
        if "--output" in argv:
            assert (folder / argv[argv.index("--output") + 1]).exists(), cmd


@pytest.mark.parametrize("k", range(len(_blocks("python"))))
def test_python_blocks_run(folder: Path, k: int) -> None:
    script = folder / f"readme_{k}.py"
    script.write_text(_blocks("python")[k], encoding="utf-8")
    r = subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
