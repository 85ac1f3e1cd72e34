"""A small SVG writer: elements appended in order, every text and attribute escaped.

Figures are written as strings rather than through ElementTree because a set draws
thousands of them and most of each graph figure is a cached template; escaping every
value through `text`/`attr` keeps them well-formed whatever a node name holds.

Text stays text (no glyph paths) in one monospaced family, so a figure's text widths
are known while it is laid out and the same on every machine: DejaVu Sans Mono is the
monospace family typst embeds, and browsers fall back to their own monospace.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

FONT_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, monospace"
# advance width of one character of DejaVu Sans Mono, in ems
CHAR_EM = 0.602

INK = "#1f2328"
VALUE = "#116329"      # forward values: green, as in CS231n's circuit diagrams
GRADIENT = "#a40e26"   # gradients: red
MUTED = "#6e7781"
PAD_FILL = "#eaeef2"
SHADE = "#ffd8a8"

# Print: a figure is placed at PT_PER_UNIT points per unit, so that its smallest text
# (SMALL_TEXT units) prints at 8 pt or more, and is at most MAX_WIDTH units wide, which
# at that scale is the 490 pt text width of both A4 and Letter less 18 mm margins: no
# figure is shrunk to fit the page.
PT_PER_UNIT = 0.72
SMALL_TEXT = 11.2
MAX_WIDTH = 680.0


def text_width(s: str, size: float) -> float:
    return len(s) * CHAR_EM * size


def fmt(x: float) -> str:
    """A coordinate with at most one decimal, so figures are byte-stable."""
    s = f"{x:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def attr(value) -> str:
    return quoteattr(str(value))


class Svg:
    """Elements in drawing order; `tostring()` wraps them in the <svg> root."""

    __slots__ = ("width", "height", "parts", "title")

    def __init__(self, width: float, height: float, title: str = ""):
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []

    def raw(self, markup: str) -> None:
        """Markup already escaped (a cached template)."""
        self.parts.append(markup)

    def rect(self, x, y, w, h, *, fill="none", stroke=INK, width=1.0, dash=None) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<rect x="{fmt(x)}" y="{fmt(y)}" width="{fmt(w)}" height="{fmt(h)}" '
                          f'fill="{fill}" stroke="{stroke}" stroke-width="{fmt(width)}"{extra}/>')

    def line(self, x1, y1, x2, y2, *, stroke=INK, width=1.0, dash=None) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}" '
                          f'stroke="{stroke}" stroke-width="{fmt(width)}"{extra}/>')

    def circle(self, cx, cy, r, *, fill="#ffffff", stroke=INK, width=1.2) -> None:
        self.parts.append(f'<circle cx="{fmt(cx)}" cy="{fmt(cy)}" r="{fmt(r)}" fill="{fill}" '
                          f'stroke="{stroke}" stroke-width="{fmt(width)}"/>')

    def path(self, d: str, *, fill="none", stroke=INK, width=1.0) -> None:
        self.parts.append(f'<path d="{d}" fill="{fill}" stroke="{stroke}" '
                          f'stroke-width="{fmt(width)}"/>')

    def text(self, x, y, s: str, *, size=12.0, anchor="start", fill=INK, weight=None,
             style=None, fit: float | None = None) -> None:
        """`s` at baseline (x, y). `fit`: squeeze the text into that many units when it
        is wider, rather than let it run into its neighbours."""
        extra = ""
        if anchor != "start":
            extra += f' text-anchor="{anchor}"'
        if weight:
            extra += f' font-weight="{weight}"'
        if style:
            extra += f' font-style="{style}"'
        if fit is not None and text_width(s, size) > fit:
            extra += f' textLength="{fmt(fit)}" lengthAdjust="spacingAndGlyphs"'
        self.parts.append(f'<text x="{fmt(x)}" y="{fmt(y)}" font-size="{fmt(size)}" '
                          f'fill="{fill}"{extra}>{escape(s)}</text>')

    def tostring(self) -> str:
        w, h = fmt(self.width), fmt(self.height)
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" font-family={attr(FONT_FAMILY)} role="img"')
        title = f"<title>{escape(self.title)}</title>" if self.title else ""
        if self.title:
            head += f" aria-label={attr(self.title)}"
        return f'{head}>{title}{"".join(self.parts)}</svg>'
