"""The textbook LSTM / GRU cell, drawn with the live numbers of one unit at one step (QPainter).

`CellDiagram.set_state(CellExplanation | None)` is the whole interface: the figure is laid out on a
fixed logical canvas (1100 x 700) and scaled uniformly to the widget, so it stays legible on a
1024x700 window and simply grows on a projector or a 4K screen.  Every gate card, ⊙ / + node and
state box carries a tooltip saying what it does (inspector.app.cell holds the sentences).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QHelpEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QToolTip, QWidget

from inspector.app.cell import STATE_EXPLANATIONS, CellExplanation, GateTerms, describe
from inspector.ui.step_common import TRACE_COLOURS

CANVAS_W, CANVAS_H = 1100.0, 700.0
CARD_TOP, CARD_BOTTOM = 330.0, 592.0
LINE_Y = 100.0  # the state line (LSTM c, GRU h) across the top
BUS_Y = 628.0  # h₋₁ and x enter every gate along the bottom
INK = QColor("#222222")
MUTED = QColor("#555555")
POS, NEG = QColor("#c0392b"), QColor("#2c6fbb")  # sign colours of signed values (red +, blue -)


def num(v: float | None, digits: int = 3) -> str:
    """A signed number with a real minus sign ('+0.123', '−0.456')."""
    if v is None:
        return "\u2013"
    return f"{v:+.{digits}f}".replace("-", "\u2212")


def plain(v: float) -> str:
    """An unsigned-style number with a real minus sign ('0.123', '−0.456')."""
    return f"{v:.3f}".replace("-", "\u2212")


def _font(px: float, bold: bool = False, italic: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(max(1, round(px)))
    f.setBold(bold)
    f.setItalic(italic)
    return f


@dataclass
class _Hot:
    rect: QRectF
    tip: str


class CellDiagram(QWidget):
    """The cell of the selected layer and unit at the current step, with every term labelled.

    Signals: none (call `set_state` on every step, unit or layer change).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._state: CellExplanation | None = None
        self._message = "Enter an input and select a recurrent unit to see its cell here."
        self._hot: list[_Hot] = []
        self._elided: list[str] = []  # texts the last paint had to shorten with '…' (tests: none)
        self.setMinimumSize(480, 320)
        self.setMouseTracking(True)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(self.backgroundRole(), QColor("white"))
        self.setPalette(pal)

    # ------------------------------------------------------------------------------------------- API
    def set_state(self, state: CellExplanation | None, message: str | None = None) -> None:
        """Show `state`; None clears the figure and shows `message` (or the default hint) instead."""
        self._state = state
        if message is not None:
            self._message = message
        self.setToolTip("")
        self.update()

    @property
    def state(self) -> CellExplanation | None:
        return self._state

    def text(self) -> str:
        """The figure's content as plain text (copy, accessibility, tests)."""
        return "\n".join(describe(self._state)) if self._state is not None else self._message

    def sizeHint(self) -> QSize:
        return QSize(900, 573)

    # ------------------------------------------------------------------------------------ painting
    def _transform(self) -> tuple[float, float, float]:
        scale = min(self.width() / CANVAS_W, self.height() / CANVAS_H)
        return scale, (self.width() - CANVAS_W * scale) / 2, (self.height() - CANVAS_H * scale) / 2

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        scale, dx, dy = self._transform()
        p.translate(dx, dy)
        p.scale(scale, scale)
        self._hot = []
        self._elided = []
        e = self._state
        if e is None:
            p.setPen(MUTED)
            self._text(
                p, QRectF(40, 300, CANVAS_W - 80, 100), self._message, _font(20), Qt.AlignmentFlag.AlignCenter
            )
        else:
            self._draw_header(p, e)
            if e.kind == "LSTM":
                self._draw_lstm(p, e)
            elif e.kind == "GRU":
                self._draw_gru(p, e)
            else:
                self._draw_simple(p, e)
            self._draw_inputs(p, e)
            if e.notes:
                p.setPen(MUTED)  # wrapped (at most two short sentences), so never elided
                p.setFont(_font(14, italic=True))
                flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap
                p.drawText(QRectF(165, 644, CANVAS_W - 175, 54), int(flags), "  ".join(e.notes))
        p.end()

    def _draw_header(self, p: QPainter, e: CellExplanation) -> None:
        where = f"step {e.time}" + (f" \u2014 input \u201c{e.input_label}\u201d" if e.input_label else "")
        title = f"{e.layer} ({e.kind}, {e.units} units) \u00b7 unit {e.unit} \u00b7 {where}"
        p.setPen(INK)
        self._text(p, QRectF(10, 4, CANVAS_W - 20, 32), title, _font(22, bold=True))
        if e.kind == "LSTM":
            eq = "c = f\u00b7c\u208b\u2081 + i\u00b7c\u0303      h = o\u00b7tanh(c)"
        elif e.kind == "GRU":
            eq = "h = z\u00b7h\u208b\u2081 + (1\u2212z)\u00b7h\u0303"
        else:
            eq = f"h = {e.activation.symbol}(W\u00b7x + U\u00b7h\u208b\u2081 + b)"
        p.setPen(MUTED)
        self._text(p, QRectF(10, 36, CANVAS_W - 20, 26), eq, _font(17, italic=True))

    # -------------------------------------------------------------------------------- LSTM layout
    def _draw_lstm(self, p: QPainter, e: CellExplanation) -> None:
        xs = self._cards(p, e, ["f", "i", "c", "o"], width=185.0, gap=12.0)
        cf, ci, cc, co = (xs[k] for k in "fico")
        self._state_box(p, QRectF(10, LINE_Y - 24, 140, 48), "c\u208b\u2081", e.c_prev, "c_prev")
        self._state_box(p, QRectF(955, LINE_Y - 24, 140, 48), "c", e.c, "c")
        self._state_box(p, QRectF(955, 226, 140, 48), "h", e.h, "h")
        mul_f, plus, mul_i = QPointF(cf, LINE_Y), QPointF((ci + cc) / 2, LINE_Y), QPointF((ci + cc) / 2, 200)
        tanh_c, mul_o = QPointF(co - 95, 180), QPointF(co, 250)
        _arrow(p, [QPointF(150, LINE_Y), mul_f + QPointF(-14, 0)])
        _arrow(p, [mul_f + QPointF(14, 0), plus + QPointF(-14, 0)])
        _arrow(p, [plus + QPointF(14, 0), QPointF(955, LINE_Y)])
        _arrow(p, [QPointF(cf, CARD_TOP), mul_f + QPointF(0, 14)])
        _arrow(p, [QPointF(ci, CARD_TOP), QPointF(ci, mul_i.y()), mul_i + QPointF(-14, 0)])
        _arrow(p, [QPointF(cc, CARD_TOP), QPointF(cc, mul_i.y()), mul_i + QPointF(14, 0)])
        _arrow(p, [mul_i + QPointF(0, -14), plus + QPointF(0, 14)])
        _arrow(p, [QPointF(tanh_c.x(), LINE_Y), tanh_c + QPointF(0, -16)])
        _arrow(p, [tanh_c + QPointF(0, 16), QPointF(tanh_c.x(), mul_o.y()), mul_o + QPointF(-14, 0)])
        _arrow(p, [QPointF(co, CARD_TOP), mul_o + QPointF(0, 14)])
        _arrow(p, [mul_o + QPointF(14, 0), QPointF(955, mul_o.y())])
        self._node(
            p, mul_f, "\u2299", "Multiply: the forget gate scales the old cell state, f\u00b7c\u208b\u2081."
        )
        self._node(
            p, plus, "+", "Add: the kept memory plus the written candidate gives the new cell state c."
        )
        self._node(p, mul_i, "\u2299", "Multiply: the input gate scales the candidate, i\u00b7c\u0303.")
        self._node(p, mul_o, "\u2299", "Multiply: the output gate scales tanh(c) into the output h.")
        box = QRectF(tanh_c.x() - 32, tanh_c.y() - 16, 64, 32)
        self._box(p, box, e.activation.symbol, STATE_EXPLANATIONS["tanh_c"])
        self._value_label(
            p,
            QRectF(mul_f.x() + 18, LINE_Y + 12, 200, 24),
            "f\u00b7c\u208b\u2081 = ",
            e.forget_term,
            left=True,
        )
        self._value_label(p, QRectF(mul_i.x() - 100, 218, 200, 24), "i\u00b7c\u0303 = ", e.input_term)
        self._value_label(p, QRectF(box.right() + 6, box.top() - 2, 150, 24), "", e.tanh_c, left=True)

    # --------------------------------------------------------------------------------- GRU layout
    def _draw_gru(self, p: QPainter, e: CellExplanation) -> None:
        xs = self._cards(p, e, ["z", "r", "h"], width=245.0, gap=20.0)
        cz, cr, ch = xs["z"], xs["r"], xs["h"]
        self._state_box(p, QRectF(10, LINE_Y - 24, 140, 48), "h\u208b\u2081", e.h_prev, "h_prev")
        self._state_box(p, QRectF(955, LINE_Y - 24, 140, 48), "h", e.h, "h")
        mul_keep, plus, mul_new = QPointF(cz, LINE_Y), QPointF(ch - 120, LINE_Y), QPointF(ch - 120, 200)
        one_minus = QPointF((cz + mul_new.x()) / 2, 200)
        _arrow(p, [QPointF(150, LINE_Y), mul_keep + QPointF(-14, 0)])
        _arrow(p, [mul_keep + QPointF(14, 0), plus + QPointF(-14, 0)])
        _arrow(p, [plus + QPointF(14, 0), QPointF(955, LINE_Y)])
        _arrow(p, [QPointF(cz, CARD_TOP), mul_keep + QPointF(0, 14)])
        _arrow(p, [QPointF(cz, 200), one_minus + QPointF(-26, 0)], head=True)
        _arrow(p, [one_minus + QPointF(26, 0), mul_new + QPointF(-14, 0)])
        _arrow(p, [QPointF(ch, CARD_TOP), QPointF(ch, 200), mul_new + QPointF(14, 0)])
        _arrow(p, [mul_new + QPointF(0, -14), plus + QPointF(0, 14)])
        # r feeds the candidate's recurrent term
        _arrow(p, [QPointF(cr + 245 / 2, 470), QPointF(ch - 245 / 2, 470)])
        p.setPen(INK)
        self._text(
            p,
            QRectF(cr + 245 / 2, 446, 20, 22),
            "r",
            _font(16, bold=True, italic=True),
            Qt.AlignmentFlag.AlignCenter,
        )
        self._node(
            p,
            mul_keep,
            "\u2299",
            "Multiply: the update gate keeps part of the old state, z\u00b7h\u208b\u2081.",
        )
        self._node(p, plus, "+", "Add: the kept old state plus the new part gives the output h.")
        self._node(
            p, mul_new, "\u2299", "Multiply: (1\u2212z) lets the candidate in, (1\u2212z)\u00b7h\u0303."
        )
        self._box(
            p, QRectF(one_minus.x() - 26, 186, 52, 28), "1\u2212", "One minus z: the share of the candidate."
        )
        self._value_label(
            p,
            QRectF(mul_keep.x() + 18, LINE_Y + 12, 200, 24),
            "z\u00b7h\u208b\u2081 = ",
            e.keep_term,
            left=True,
        )
        self._value_label(
            p, QRectF(mul_new.x() - 110, 218, 220, 24), "(1\u2212z)\u00b7h\u0303 = ", e.new_term
        )

    def _draw_simple(self, p: QPainter, e: CellExplanation) -> None:
        xs = self._cards(p, e, ["h"], width=300.0, gap=0.0, left=400.0)
        self._state_box(p, QRectF(955, LINE_Y - 24, 140, 48), "h", e.h, "h")
        _arrow(p, [QPointF(xs["h"], CARD_TOP), QPointF(xs["h"], LINE_Y), QPointF(955, LINE_Y)])

    def _draw_inputs(self, p: QPainter, e: CellExplanation) -> None:
        """h₋₁ and x enter every gate card along a bus at the bottom."""
        label = f"x: \u201c{e.input_label}\u201d" if e.input_label else "x"
        self._state_box(p, QRectF(10, BUS_Y - 56, 140, 48), "h\u208b\u2081", e.h_prev, "h_prev")
        self._box(p, QRectF(10, BUS_Y + 2, 140, 34), label, STATE_EXPLANATIONS["x"], size=16)
        p.setPen(QPen(MUTED, 2))
        ends = [h.rect.center().x() for h in self._hot if h.rect.top() == CARD_TOP]
        if ends:
            p.drawLine(QLineF(150, BUS_Y, max(ends), BUS_Y))
            for x in ends:
                _arrow(p, [QPointF(x, BUS_Y), QPointF(x, CARD_BOTTOM)])

    # --------------------------------------------------------------------------------- pieces
    def _cards(
        self,
        p: QPainter,
        e: CellExplanation,
        keys: list[str],
        *,
        width: float,
        gap: float,
        left: float = 165.0,
    ) -> dict[str, float]:
        """Draw one card per gate (left to right in `keys` order); returns each card's centre x."""
        centres = {}
        for n, key in enumerate(keys):
            rect = QRectF(left + n * (width + gap), CARD_TOP, width, CARD_BOTTOM - CARD_TOP)
            self._card(p, rect, e.gate(key))
            centres[key] = rect.center().x()
        return centres

    def _card(self, p: QPainter, rect: QRectF, g: GateTerms) -> None:
        colour = QColor(TRACE_COLOURS.get(f"gate/{g.key}", "#888888"))
        p.setPen(QPen(colour.darker(130), 2))
        p.setBrush(QColor("#f7f7f7"))
        p.drawRoundedRect(rect, 8, 8)
        band = QRectF(rect.left(), rect.top(), rect.width(), 34)
        p.setBrush(colour)
        p.setPen(Qt.PenStyle.NoPen)
        p.drawRoundedRect(band, 8, 8)
        p.drawRect(QRectF(band.left(), band.top() + 17, band.width(), 17))
        p.setPen(INK)
        self._text(p, band.adjusted(10, 0, -6, 0), f"{g.label}  {g.title}", _font(19, bold=True))
        y = rect.top() + 42
        pad = QRectF(rect.left() + 10, 0, rect.width() - 20, 0)
        for n, (label, value) in enumerate(g.terms):
            row = QRectF(pad.left(), y, pad.width(), 24)
            p.setPen(MUTED)
            self._text(p, row, ("+ " if n else "  ") + label, _font(16))
            self._signed(p, row, value, _font(16), Qt.AlignmentFlag.AlignRight)
            y += 25
        y = rect.top() + 42 + 4 * 25 + 2  # the same rows on every card, however many terms
        p.setPen(QPen(MUTED, 1))
        p.drawLine(QLineF(pad.left(), y, pad.right(), y))
        row = QRectF(pad.left(), y + 2, pad.width(), 24)
        value_w = self._signed(p, row, g.pre, _font(16, bold=True), Qt.AlignmentFlag.AlignRight)
        p.setPen(MUTED)
        self._text(p, row.adjusted(0, 0, -value_w - 8, 0), "= pre-activation", _font(14, italic=True))
        y += 32
        p.setPen(INK)
        self._text(
            p, QRectF(pad.left(), y, pad.width(), 34), f"{g.label} = {plain(g.value)}", _font(26, bold=True)
        )
        self._bar(
            p,
            QRectF(pad.left(), y + 40, pad.width(), 12),
            g.value,
            signed=g.activation.name == "tanh",
            colour=colour,
        )
        p.setPen(MUTED)
        self._text(
            p, QRectF(pad.left(), y + 56, pad.width(), 22), g.activation.caption, _font(15, italic=True)
        )
        tip = (
            f"<b>{g.label} \u2014 {g.title}</b><br>{g.explanation}<br><br>{g.label} = {g.activation.symbol}"
            f"({g.formula})<br>{g.activation.symbol}: {g.activation.formula}"
        )
        self._hot.append(_Hot(rect, tip))

    @staticmethod
    def _bar(p: QPainter, rect: QRectF, value: float, *, signed: bool, colour: QColor) -> None:
        p.setPen(QPen(QColor("#bbbbbb"), 1))
        p.setBrush(QColor("white"))
        p.drawRect(rect)
        p.setPen(Qt.PenStyle.NoPen)
        v = max(-1.0, min(1.0, value))
        if signed:
            mid = rect.center().x()
            p.setBrush(POS if v >= 0 else NEG)
            p.drawRect(QRectF(mid, rect.top(), v * rect.width() / 2, rect.height()).normalized())
            p.setPen(QPen(INK, 1))
            p.drawLine(QLineF(mid, rect.top(), mid, rect.bottom()))
        else:
            p.setBrush(colour)
            p.drawRect(QRectF(rect.left(), rect.top(), max(0.0, v) * rect.width(), rect.height()))

    def _node(self, p: QPainter, c: QPointF, symbol: str, tip: str) -> None:
        p.setPen(QPen(INK, 2))
        p.setBrush(QColor("#fff6d5"))
        p.drawEllipse(c, 14, 14)
        self._text(
            p,
            QRectF(c.x() - 14, c.y() - 15, 28, 28),
            symbol,
            _font(20, bold=True),
            Qt.AlignmentFlag.AlignCenter,
        )
        self._hot.append(_Hot(QRectF(c.x() - 16, c.y() - 16, 32, 32), tip))

    def _box(self, p: QPainter, rect: QRectF, label: str, tip: str, size: float = 18) -> None:
        p.setPen(QPen(INK, 1.5))
        p.setBrush(QColor("#eef3fb"))
        p.drawRoundedRect(rect, 6, 6)
        self._text(p, rect.adjusted(4, 0, -4, 0), label, _font(size, bold=True), Qt.AlignmentFlag.AlignCenter)
        self._hot.append(_Hot(rect, tip))

    def _state_box(self, p: QPainter, rect: QRectF, name: str, value: float | None, key: str) -> None:
        p.setPen(QPen(INK, 1.5))
        p.setBrush(QColor("#eef3fb"))
        p.drawRoundedRect(rect, 6, 6)
        inner = rect.adjusted(8, 0, -8, 0)
        p.setPen(INK)
        self._text(p, inner, name, _font(19, bold=True, italic=True))
        self._signed(p, inner, value, _font(18), Qt.AlignmentFlag.AlignRight)
        self._hot.append(_Hot(rect, STATE_EXPLANATIONS[key]))

    def _value_label(
        self, p: QPainter, rect: QRectF, prefix: str, value: float | None, left: bool = False
    ) -> None:
        align = Qt.AlignmentFlag.AlignLeft if left else Qt.AlignmentFlag.AlignCenter
        text = prefix + num(value)
        p.setPen(POS if (value or 0) >= 0 else NEG)
        self._text(p, rect, text, _font(16, bold=True), align)

    def _text(
        self, p: QPainter, rect: QRectF, text: str, font: QFont, align: Qt.AlignmentFlag | None = None
    ) -> None:
        if not _text(p, rect, text, font, align):
            self._elided.append(text)

    def _signed(
        self, p: QPainter, rect: QRectF, value: float | None, font: QFont, align: Qt.AlignmentFlag
    ) -> float:
        """Draw a signed number coloured by its sign; returns its width."""
        pen = p.pen()
        p.setPen(POS if (value or 0) >= 0 else NEG)
        self._text(p, rect, num(value), font, align)
        p.setPen(pen)
        return QFontMetricsF(font).horizontalAdvance(num(value))

    # --------------------------------------------------------------------------------- tooltips
    def event(self, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.ToolTip and isinstance(ev, QHelpEvent):
            tip = self.tooltip_at(QPointF(ev.pos()))
            if tip:
                QToolTip.showText(ev.globalPos(), tip, self)
            else:
                QToolTip.hideText()
                ev.ignore()
            return True
        return super().event(ev)

    def tooltip_at(self, pos: QPointF) -> str:
        """The tooltip of whatever is drawn at widget position `pos` ('' if nothing)."""
        scale, dx, dy = self._transform()
        if scale <= 0:
            return ""
        q = QPointF((pos.x() - dx) / scale, (pos.y() - dy) / scale)
        for hot in reversed(self._hot):
            if hot.rect.contains(q):
                return hot.tip
        return ""

    def elided_texts(self) -> list[str]:
        """Texts the last paint could not fit even at 60 % of their size (drawn with '…')."""
        return list(self._elided)

    def hot_spots(self) -> list[tuple[QRectF, str]]:
        """Every tooltip region as (rect in widget coordinates, tooltip) after the last paint."""
        scale, dx, dy = self._transform()
        return [
            (
                QRectF(
                    h.rect.x() * scale + dx,
                    h.rect.y() * scale + dy,
                    h.rect.width() * scale,
                    h.rect.height() * scale,
                ),
                h.tip,
            )
            for h in self._hot
        ]


def _text(p: QPainter, rect: QRectF, text: str, font: QFont, align: Qt.AlignmentFlag | None = None) -> bool:
    """Draw `text` in `rect` on one line, shrinking the font until it fits (never cut mid-word);
    below 60 % of the size the end is elided with '…' (the tooltip has the full text).
    Returns False when it had to elide."""
    flags = align if align is not None else Qt.AlignmentFlag.AlignLeft
    if not flags & Qt.AlignmentFlag.AlignVertical_Mask:
        flags |= Qt.AlignmentFlag.AlignVCenter
    size = font.pixelSize()
    f = QFont(font)
    while QFontMetricsF(f).horizontalAdvance(text) > rect.width() and f.pixelSize() > max(8, size * 0.6):
        f.setPixelSize(f.pixelSize() - 1)
    fm = QFontMetricsF(f)
    fits = fm.horizontalAdvance(text) <= rect.width()
    if not fits:
        text = fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
    p.setFont(f)
    p.drawText(rect, int(flags), text)
    return fits


def _arrow(p: QPainter, points: list[QPointF], head: bool = True) -> None:
    """A polyline with an arrow head at its last point."""
    p.setPen(QPen(MUTED, 2))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPolyline(QPolygonF(points))
    if head and len(points) >= 2:
        a, b = points[-2], points[-1]
        d = QLineF(a, b)
        if d.length() == 0:
            return
        ux, uy = (b.x() - a.x()) / d.length(), (b.y() - a.y()) / d.length()
        tip = QPolygonF(
            [
                b,
                b - QPointF(ux * 10 - uy * 5, uy * 10 + ux * 5),
                b - QPointF(ux * 10 + uy * 5, uy * 10 - ux * 5),
            ]
        )
        p.setBrush(MUTED)
        p.drawPolygon(tip)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m inspector.ui.cell_diagram MODEL
    import sys

    import numpy as np
    from PySide6.QtWidgets import QApplication

    from inspector import io
    from inspector.app.cell import explain
    from inspector.core import engine

    app = QApplication(sys.argv)
    mf = io.load(sys.argv[1] if len(sys.argv) > 1 else "resources/samples/classic.keras")
    assert mf.network is not None
    shape = [d or 5 for d in mf.network.input_shapes[0][1:]]
    x = np.random.default_rng(0).normal(0, 1, (1, *shape)).astype(np.float32)
    tr = engine.trace(mf.network, x, mf.semantics)
    w = CellDiagram()
    w.set_state(explain(mf.network, mf.semantics, next(iter(tr.layers.values())), 0, 1))
    w.resize(1100, 700)
    w.show()
    app.exec()
