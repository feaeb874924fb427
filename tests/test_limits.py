"""The house rules of issue 10, checked on the source so they stay true.

* no module in inspector/ over 650 lines, no function over 100 lines;
* no machine-load probing (/proc/loadavg) and no OpenBLAS symbol lookups in the product;
* docstrings cite the project's own docs/formats.md by section names that exist there, never the
  external format notes;
* the app state (set_step, select_unit, select_weight) is importable with Qt unimportable.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "inspector"
MAX_MODULE_LINES = 650
MAX_FUNCTION_LINES = 100


def _sources(*tops: Path) -> list[Path]:
    return sorted(p for top in tops for p in top.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def test_no_module_over_the_limit() -> None:
    long = {
        _rel(p): n
        for p in _sources(PACKAGE)
        if (n := len(p.read_text(encoding="utf8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_over_the_limit() -> None:
    long = {}
    for p in _sources(PACKAGE):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{_rel(p)}:{node.name}"
                if n > MAX_FUNCTION_LINES:
                    long[key] = n
    assert long == {}, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_load_probing_or_blas_symbol_lookups() -> None:
    # the thread rule is fixed (threadpoolctl); nothing reads the machine load or pokes BLAS symbols
    forbidden = re.compile(r"/proc/loadavg|/proc/self/(task|maps)|openblas_\w+|goto_set_num_threads|CDLL")
    hits = [
        f"{_rel(p)}:{i}"
        for p in _sources(PACKAGE)
        for i, line in enumerate(p.read_text(encoding="utf8").splitlines(), 1)
        if forbidden.search(line)
    ]
    assert hits == []


def test_no_citation_of_the_external_format_notes() -> None:
    name = "KERAS_" + "FORMATS"  # spelled apart so this file does not match itself
    hits = [_rel(p) for p in _sources(PACKAGE, ROOT / "tests") if name in p.read_text(encoding="utf8")]
    assert hits == []


# `docs/formats.md, 'A', 'B' and "C"`: the quoted names after a citation, across comment line breaks
_CITATION = re.compile(r"formats\.md\s*[,:(](?:(?:[\s,;:#(]|and)*(?:'[^'\n]{2,50}'|\"[^\"\n]{2,50}\"))+")
_QUOTED = re.compile(r"'([^'\n]{2,50})'|\"([^\"\n]{2,50})\"")


def _cited_sections() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for p in _sources(PACKAGE, ROOT / "tests"):
        text = p.read_text(encoding="utf8")
        for m in _CITATION.finditer(text):
            for a, b in _QUOTED.findall(m.group(0)):
                cited.setdefault(a or b, set()).add(_rel(p))
    return cited


def test_cited_format_sections_exist() -> None:
    doc = (ROOT / "docs" / "formats.md").read_text(encoding="utf8")
    headings = {line.lstrip("#").strip() for line in doc.splitlines() if line.startswith("#")}
    cited = _cited_sections()
    assert len(cited) >= 10  # the parser finds the citations (core, io and tests cite sections)
    missing = {name: sorted(files) for name, files in cited.items() if name not in headings}
    assert missing == {}, f"sections cited but not headings of docs/formats.md: {missing}"


def test_app_state_without_qt() -> None:
    code = (
        "import importlib.abc, sys\n"
        "class B(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, B())\n"
        "from inspector.app.state import AppState\n"
        "assert all(callable(getattr(AppState, m)) for m in ('set_step', 'select_unit', 'select_weight'))\n"
        "assert not any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
