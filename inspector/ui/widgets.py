"""Small widgets and helpers shared by the views: a label that elides, a pool of reusable items, and
work deferred until a view is shown."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

T = TypeVar("T")


class ElidedLabel(QLabel):
    """A one-line plain-text label that shrinks: too long a text ends in '…' and the tooltip shows it all.

    It never asks for more width than `minimum_width`, so a long file path or message cannot push a
    panel (or the window) wider.  `full_text()` is the text as set; `text()` is what is drawn.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, minimum_width: int = 40) -> None:
        super().__init__(parent)
        self._full = ""
        self._own_tip = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setMinimumWidth(minimum_width)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = str(text)
        self._elide()

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt's name
        """A tooltip of its own, shown whole when the text fits and after the full text when it does not."""
        self._own_tip = tip
        self._elide()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 2 * self.margin() + 4, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(0, self.contentsRect().width() - 2 * self.margin())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        QLabel.setText(self, shown)
        cut = shown != self._full
        tip = "\n".join(t for t in ((self._full if cut else ""), self._own_tip) if t)
        QLabel.setToolTip(self, tip)


class ItemPool(Generic[T]):
    """Items made once and reused: `take(n)` returns the first n (making the missing ones with `make`).

    The views keep their pyqtgraph items in a pool so a new input or weight updates items in place
    instead of re-creating them; `extra()` are the items out of use after the last `take`.
    """

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self.items: list[T] = []
        self._used = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> T:
        return self.items[k]

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def grow(self, n: int) -> list[T]:
        """Make items until there are at least n; the new ones."""
        new = []
        while len(self.items) < n:
            item = self._make()
            self.items.append(item)
            new.append(item)
        return new

    def take(self, n: int) -> list[T]:
        """The first n items (made when missing)."""
        self.grow(n)
        self._used = n
        return self.items[:n]

    def extra(self) -> list[T]:
        """The items not handed out by the last `take`."""
        return self.items[self._used :]


class WhenShown(QObject):
    """Work for a view that only matters while it is seen: `request(what)` runs `run(what)` now when
    the view is visible, else once when it is next shown, each kind of work once, in `order`.

    The one rule behind the pages (`pages.StatePage`: refresh when shown) and the stepping views
    (`step_common.WhileHidden`: catch up with the input, unit and step when shown).  `pending` holds
    what waits for the next show.
    """

    def __init__(self, view: QWidget, order: Iterable[str], run: Callable[[str], None]) -> None:
        super().__init__(view)
        self._view = view
        self._order = tuple(order)
        self._run = run
        self.pending: set[str] = set()
        view.installEventFilter(self)

    def request(self, what: str) -> None:
        if self._view.isVisible():
            self._run(what)
        else:
            self.pending.add(what)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self._view and event.type() == QEvent.Type.Show and self.pending:
            todo, self.pending = self.pending, set()
            for what in self._order:
                if what in todo:
                    self._run(what)
        return False
