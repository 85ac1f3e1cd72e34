"""Conv strips: the input units of a 1-D convolution in a row, padding units marked,
the filter's windows as brackets above them and the centre units shaded.

A student's strip leaves the padding, windows and centres to be drawn (the worksheet's
"draw the padding", "shade the centre units"); the key draws them and writes the output
size with its formula. Positions come from engine.conv.geometry, the same formula as the key.
The strips without numbers depend only on the geometry, so each is drawn once.
"""

from __future__ import annotations

import functools

from worksheets.drawing.svg import (GRADIENT, INK, MAX_WIDTH, MUTED, PAD_FILL, SHADE, SMALL_TEXT,
                                    VALUE, Svg, text_width)
from engine.conv.geometry import conv_geometry

LEFT = 64.0          # room for row names
MAX_STRIP = MAX_WIDTH - LEFT - 20  # the strip's width at most, in figure units
ROW = 13.0           # one window bracket
CELL_H = 26.0
BLANK_WINDOW_ROWS = 8  # a student's sheet leaves room for this many windows, whatever the key holds


def _cell_width(count: int, widest: float = 26.0) -> float:
    return max(8.0, min(widest, MAX_STRIP / max(count, 1)))


def _labelled_units(units: list, cw: float, step: int = 5) -> set:
    """The units whose index is written under them: every one in wide cells; in narrow
    ones the ends, 0 and every `step`-th, each at least three cells from the next."""
    real = [u for u in units if u is not None]
    if cw >= 18:
        return set(real)
    column = {u: c for c, u in enumerate(units) if u is not None}
    wanted = [real[0], real[-1]] + ([0] if 0 in column else []) + \
        [u for u in real if u % step == 0]
    kept: list = []
    for u in wanted:
        if all(abs(column[u] - column[k]) >= 3 for k in kept):
            kept.append(u)
    return set(kept)


def _fitting(width: float, notes: list) -> float:
    """The figure's width: the strip's, or wider where a note (text, size) under it runs
    past the strip's end."""
    return max([width] + [6 + text_width(text, size) + 8 for text, size in notes])


class Strip:
    """Columns of a strip: `columns[c]` is the unit index drawn in column c, or None for
    an ellipsis column standing for the units left out."""

    def __init__(self, columns: list, cw: float, x0: float):
        self.columns, self.cw, self.x0 = columns, cw, x0
        self.at = {u: c for c, u in enumerate(columns) if u is not None}

    def left(self, unit: int) -> float:
        return self.x0 + self.at[unit] * self.cw

    def centre(self, unit: int) -> float:
        return self.left(unit) + self.cw / 2

    @property
    def right(self) -> float:
        return self.x0 + len(self.columns) * self.cw


def _columns(segments: list[tuple[int, int]]) -> list:
    """Unit indices for the inclusive `segments` (sorted), with None where units are
    skipped between two of them."""
    out: list = []
    for first, last in segments:
        if out and out[-1] is not None and first > out[-1] + 1:
            out.append(None)
        start = first if not out or out[-1] is None else max(first, out[-1] + 1)
        out.extend(range(start, last + 1))
    return out


def _draw_units(out: Svg, strip: Strip, y: float, width: int, *, padding_shown: bool,
                values=None, shaded=(), size=SMALL_TEXT) -> None:
    """The cells of the strip at height y; padding cells (index < 0 or >= width) grey
    with a 0 when shown, left out when not; unit indices below."""
    cw = strip.cw
    labelled = _labelled_units([u if u is not None and (padding_shown or 0 <= u < width)
                                else None for u in strip.columns], cw)
    for c, u in enumerate(strip.columns):
        x = strip.x0 + c * cw
        if u is None:
            out.text(x + cw / 2, y + CELL_H / 2 + 4, "…", size=12, anchor="middle", fill=MUTED)
            continue
        pad = u < 0 or u >= width
        if pad and not padding_shown:
            continue
        fill = SHADE if u in shaded else PAD_FILL if pad else "#ffffff"
        out.rect(x, y, cw, CELL_H, fill=fill, stroke=INK, width=1.0,
                 dash="3 2" if pad else None)
        if values is not None:
            text = "0" if pad else values[u]
            out.text(x + cw / 2, y + CELL_H / 2 + 4.5, text, size=12, anchor="middle",
                     fill=MUTED if pad else INK, fit=cw - 3)
        elif pad:
            out.text(x + cw / 2, y + CELL_H / 2 + 4, "0", size=SMALL_TEXT, anchor="middle", fill=MUTED)
        if u in labelled:
            out.text(x + cw / 2, y + CELL_H + 12, str(u), size=size,
                     anchor="middle", fill=MUTED if pad else INK)


def _bracket(out: Svg, strip: Strip, y: float, first: int, last: int, label: str,
             dilation: int = 1, centre: int | None = None, color: str = INK) -> None:
    """A window over units first..last drawn at height y: a line with ticks at both ends,
    a dot on each unit the filter reads and, when given, a ring on its centre."""
    x0 = strip.left(first) + 2
    x1 = strip.left(last) + strip.cw - 2
    out.line(x0, y, x1, y, stroke=color, width=1.3)
    out.line(x0, y, x0, y + 5, stroke=color, width=1.3)
    out.line(x1, y, x1, y + 5, stroke=color, width=1.3)
    if dilation > 1:
        for u in range(first, last + 1, dilation):
            if u in strip.at:
                out.circle(strip.centre(u), y, 1.8, fill=color, stroke=color, width=0.5)
    if centre is not None and centre in strip.at:
        out.circle(strip.centre(centre), y, 3.0, fill=SHADE, stroke=color, width=1.0)
    out.text(x0 - 4, y + 4, label, size=SMALL_TEXT, anchor="end", fill=MUTED)


@functools.lru_cache(maxsize=4096)
def output_size_svg(width: int, filter_size: int, padding: int, stride: int,
                    key: bool, title: str = "") -> str:
    """The worksheet's 1(a)-(c): input units 0..W-1; the key adds the padding, every
    window, the shaded centres and the output size."""
    g = conv_geometry(width, filter_size, padding, stride)
    P = g.padding
    columns = list(range(-P, width + P))
    cw = _cell_width(len(columns))
    strip = Strip(columns, cw, LEFT)
    rows = g.output_size if key else BLANK_WINDOW_ROWS
    top = 14.0
    strip_y = top + rows * ROW + 10
    height = strip_y + CELL_H + 22 + (36 if key else 16)
    if key:
        notes = [(f"output size = {g.formula}", 12.0)]
        if g.unvisited:
            notes.append(("never read: " + ", ".join(map(str, g.unvisited)), SMALL_TEXT))
    else:
        notes = [(f"W = {width}, F = {filter_size}, P = {P}, S = {stride}: draw the padding, "
                  "the windows, and shade each centre", SMALL_TEXT)]
    out = Svg(_fitting(strip.right + 20, notes), height, title)
    out.text(6, strip_y + CELL_H / 2 + 4, "input", size=12, fill=INK)
    if key:
        for o, ((first, last), c) in enumerate(zip(g.windows, g.centers)):
            _bracket(out, strip, top + o * ROW, first, last, f"{o}", centre=c, color=VALUE)
        out.text(6, top + 4, "windows", size=SMALL_TEXT, fill=MUTED)
    else:
        out.text(6, top + 4, "windows:", size=SMALL_TEXT, fill=MUTED)
    _draw_units(out, strip, strip_y, width, padding_shown=key,
                shaded=set(g.centers) if key else ())
    foot = strip_y + CELL_H + 34
    if key:
        out.text(6, foot, notes[0][0], size=12, fill=GRADIENT, weight="bold")
        if g.unvisited:
            out.text(6, foot + 16, notes[1][0], size=SMALL_TEXT, fill=MUTED)
    else:
        out.text(6, foot - 8, notes[0][0], size=SMALL_TEXT, fill=MUTED)
    return out.tostring()


@functools.lru_cache(maxsize=4096)
def same_padding_svg(width: int, filter_size: int, dilation: int, key: bool,
                     title: str = "") -> str:
    """The worksheet's 1(d): the input and the filter; the key adds the 'same' padding on
    both sides and the first and last windows, which reach into it."""
    g = conv_geometry(width, filter_size, "same", 1, dilation)
    P, span = g.padding, g.effective_filter_size
    room = P if key else 0
    edge = max(span, 3)
    if width <= 2 * edge + 4:
        segments = [(-room, width - 1 + room)]
    else:
        segments = [(-room, edge - 1), (width - edge, width - 1 + room)]
    columns = _columns(segments)
    blank_room = 0 if key else 6
    cw = _cell_width(len(columns) + 2 * blank_room)
    strip = Strip(columns, cw, LEFT + blank_room * cw)
    top = 16.0
    strip_y = top + 3 * ROW + 8
    note = (f"P = {P} on each side: {g.formula}" if key
            else f"W = {width}: draw the padding that keeps {width} outputs")
    out = Svg(_fitting(strip.right + blank_room * cw + 20, [(note, 12.0)]),
              strip_y + CELL_H + 52, title)
    out.text(6, strip_y + CELL_H / 2 + 4, "input", size=12)
    taps = f"F = {filter_size}" + (f", D = {dilation}" if dilation > 1 else "")
    if key:
        first, last = g.windows[0], g.windows[-1]
        _bracket(out, strip, top, first[0], first[1], "first", dilation, g.centers[0], VALUE)
        _bracket(out, strip, top + ROW, last[0], last[1], "last", dilation, g.centers[-1],
                 VALUE)
        out.text(6, top + 2 * ROW + 4, f"filter {taps}", size=SMALL_TEXT, fill=MUTED)
    else:
        # the filter alone, over the first units it would cover without padding
        _bracket(out, strip, top + ROW, 0, min(span, width) - 1, "filter", dilation)
        out.text(6, top + 4, taps, size=SMALL_TEXT, fill=MUTED)
    _draw_units(out, strip, strip_y, width, padding_shown=key)
    foot = strip_y + CELL_H + 34
    if key:
        out.text(6, foot, note, size=12, fill=GRADIENT, weight="bold")
    else:
        out.text(6, foot, note, size=SMALL_TEXT, fill=MUTED)
    return out.tostring()


def conv1d_svg(x: list, w: list, stride: int, padding: int, grad_output: list, key: bool,
               answers: dict | None = None, fmt=str, title: str = "") -> str:
    """A small conv1d with numbers: the padded input x with each output's window above
    it, the output y under each window's centre with the upstream gradient below, and the
    filter w. The key fills y, dL/dx and dL/dw; `fmt` writes a number."""
    W, F = len(x), len(w)
    g = conv_geometry(W, F, padding, stride)
    P = g.padding
    columns = list(range(-P, W + P))
    widest = max([text_width(fmt(v), 12) + 8 for v in x + w + grad_output]
                 + ([text_width(fmt(v), 12) + 8 for k in ("output", "grad_input", "grad_weight")
                     for v in answers[k]] if key else []) + [28.0])
    cw = _cell_width(len(columns), widest=min(widest, 48.0))
    cw = max(cw, min(widest, 48.0))
    strip = Strip(columns, cw, LEFT + 28)
    top = 14.0
    x_y = top + g.output_size * ROW + 8
    gx_y = x_y + CELL_H + 18
    y_y = gx_y + CELL_H + 26
    gy_y = y_y + CELL_H + 4
    w_y = gy_y + CELL_H + 26
    gw_y = w_y + CELL_H + 4
    out = Svg(max(strip.right, LEFT + 28 + F * cw) + 20, gw_y + CELL_H + 12, title)
    for o, ((first, last), c) in enumerate(zip(g.windows, g.centers)):
        _bracket(out, strip, top + o * ROW, first, last, f"y{o}")
    out.text(6, x_y + CELL_H / 2 + 4, "x", size=13, style="italic")
    _draw_units(out, strip, x_y, W, padding_shown=True, values=[fmt(v) for v in x])
    out.text(6, gx_y + CELL_H / 2 + 4, "∂L/∂x", size=12, fill=GRADIENT)
    grad_x = answers["grad_input"] if key else None
    for u in range(W):
        _cell(out, strip.left(u), gx_y, cw, fmt(grad_x[u]) if key else "", GRADIENT)
    out.text(6, y_y + CELL_H / 2 + 4, "y", size=13, style="italic")
    out.text(6, gy_y + CELL_H / 2 + 4, "∂L/∂y", size=12, fill=GRADIENT)
    for o, c in enumerate(g.centers):
        xl = strip.left(c)
        _cell(out, xl, y_y, cw, fmt(answers["output"][o]) if key else "", VALUE)
        _cell(out, xl, gy_y, cw, fmt(grad_output[o]), GRADIENT)
    wx = LEFT + 28
    out.text(6, w_y + CELL_H / 2 + 4, "w", size=13, style="italic")
    out.text(6, gw_y + CELL_H / 2 + 4, "∂L/∂w", size=12, fill=GRADIENT)
    for k in range(F):
        _cell(out, wx + k * cw, w_y, cw, fmt(w[k]), INK)
        _cell(out, wx + k * cw, gw_y, cw, fmt(answers["grad_weight"][k]) if key else "", GRADIENT)
    return out.tostring()


def _cell(out: Svg, x: float, y: float, cw: float, text: str, color: str) -> None:
    out.rect(x, y, cw, CELL_H, fill="#ffffff", stroke=INK)
    if text:
        out.text(x + cw / 2, y + CELL_H / 2 + 4.5, text, size=12, anchor="middle", fill=color,
                 fit=cw - 3)
