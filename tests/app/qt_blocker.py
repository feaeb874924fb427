"""A pytest plugin (`-p qt_blocker`) that makes PySide6 and pyqtgraph unimportable, for `make test-qtfree`.

It proves the app layer runs where Qt is absent: any import of them, direct or indirect, fails.
"""

from __future__ import annotations

import importlib.abc
import sys

BLOCKED = ("PySide6", "pyqtgraph", "shiboken6")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.split(".", 1)[0] in BLOCKED:
            raise ImportError(f"{fullname} is blocked: the Qt-free tests must not import it")
        return None


if any(name.split(".", 1)[0] in BLOCKED for name in sys.modules):
    raise RuntimeError("Qt was imported before the blocker: run with -p no:pytest-qt")
sys.meta_path.insert(0, _Blocker())
