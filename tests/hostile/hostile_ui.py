"""Driving the real window as a user does (shared by the GUI memory and soak tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def drop(win: Any, path: Path) -> None:
    """What a drag and drop of `path` onto the main window does."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    win.dropEvent(event)
