"""A corpus as text, each character's background coloured by one unit's value (Karpathy et al.'s figure).

Scrolls over the whole corpus but renders only the lines on screen: the values of the visible part
are asked for on demand (`values(start, stop) -> (n,) float`), so a million-character corpus costs
no more than a page.  Also the HTML helper used for the top-context lists.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QScrollBar, QTextBrowser, QWidget

ValuesFn = Callable[[int, int], np.ndarray]


def value_colour(v: float, scale: float) -> str:
    """Diverging colour: white at 0, red for positive, blue for negative, full at |v| >= scale."""
    a = 0.0 if not np.isfinite(v) or scale <= 0 else float(min(1.0, abs(v) / scale))
    lo = int(round(255 * (1 - 0.75 * a)))
    return f"#ff{lo:02x}{lo:02x}" if v > 0 else f"#{lo:02x}{lo:02x}ff"


def coloured_html(text: str, values: np.ndarray, scale: float, mark: int = -1) -> str:
    """`text` as HTML spans, character k on a background coloured by values[k]; `mark` is underlined.

    Every character stays one character of the QTextDocument (newline -> <br>), so document
    positions are offsets into `text`.
    """
    parts = []
    for k, ch in enumerate(text):
        # a space after a visible character is a plain space, so lines wrap between words (Qt keeps a
        # single space); leading or repeated spaces are non-breaking so none of them collapses
        after_char = k > 0 and text[k - 1] not in " \n"
        shown = (
            "<br>" if ch == "\n" else ((" " if after_char else "&nbsp;") if ch == " " else html.escape(ch))
        )
        style = f"background:{value_colour(float(values[k]), scale)}" if k < len(values) else ""
        if k == mark:
            style += ";text-decoration:underline;font-weight:bold"
        parts.append(f'<span style="{style}">{shown}</span>')
    return "".join(parts)


def mono_font() -> QFont:
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    f.setPointSize(max(9, f.pointSize()))
    return f


class UnitTextView(QWidget):
    """The corpus text coloured by one unit; a scroll bar runs over all of its lines.

    Signals
    -------
    position_clicked(int) : a character was clicked (its index in the corpus).
    """

    position_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.browser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.browser.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.browser.setFont(mono_font())
        self.browser.setOpenLinks(False)
        self.bar = QScrollBar(Qt.Orientation.Vertical)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.browser, 1)
        lay.addWidget(self.bar)
        self._text = ""
        self._line_starts = np.zeros(1, dtype=np.int64)
        self._values: ValuesFn | None = None
        self._scale = 1.0
        self.shown_range = (0, 0)
        self.bar.valueChanged.connect(self._render)
        self.browser.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.browser.wheelEvent = self._wheel  # type: ignore[method-assign]

    def set_corpus(self, text: str, values: ValuesFn | None, scale: float = 1.0) -> None:
        """Show `text`; `values(start, stop)` gives the unit's values there (None: uncoloured)."""
        self._text = text
        self._line_starts = np.concatenate(
            [[0], np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), "<u4") == 10) + 1]
        )
        self._values = values
        self._scale = scale
        self.bar.setRange(0, max(0, len(self._line_starts) - 1))
        self.bar.setPageStep(self._visible_lines())
        self._render()

    def set_values(self, values: ValuesFn | None, scale: float) -> None:
        self._values, self._scale = values, scale
        self._render()

    def scroll_to(self, position: int) -> None:
        """Scroll so that the line holding character `position` is near the top."""
        line = int(np.searchsorted(self._line_starts, position, side="right")) - 1
        self.bar.setValue(max(0, line - 2))
        self._render()

    def selection(self) -> tuple[int, int] | None:
        """The selected characters as a corpus range [start, stop), or None."""
        cur = self.browser.textCursor()
        if not cur.hasSelection():
            return None
        return self.shown_range[0] + cur.selectionStart(), self.shown_range[0] + cur.selectionEnd()

    def _visible_lines(self) -> int:
        return max(4, self.browser.viewport().height() // max(1, self.browser.fontMetrics().height()))

    def _wheel(self, event) -> None:  # type: ignore[no-untyped-def]
        self.bar.setValue(self.bar.value() - int(event.angleDelta().y() / 40))

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.bar.setPageStep(self._visible_lines())
        self._render()

    def _render(self, *_: object) -> None:
        if not self._text:
            self.browser.setHtml("")
            self.shown_range = (0, 0)
            return
        first = self.bar.value()
        last = min(len(self._line_starts), first + self._visible_lines() + 1)
        start = int(self._line_starts[first])
        stop = int(self._line_starts[last]) if last < len(self._line_starts) else len(self._text)
        stop = min(stop, start + 6000)
        vals = self._values(start, stop) if self._values is not None else np.zeros(0)
        self.shown_range = (start, stop)
        self.browser.setHtml(coloured_html(self._text[start:stop], np.asarray(vals), self._scale))
