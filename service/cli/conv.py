"""`gradsheet conv`: a filter's geometry, with the worksheet's figure of the padded input."""

from __future__ import annotations

import argparse
import json

from engine.conv.geometry import ConvGeometry, conv_geometry

# Past this many padded units a row of cells no longer fits a terminal line.
PICTURE_MAX_UNITS = 40
CELL = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "conv", help="output size, windows and centres of a 1-D convolution filter",
        description="Where a 1-D filter sits on a padded input: the output size with the "
                    "formula filled in, and a picture of the padded input with each "
                    "window and its centre unit. Exits 1 when the division is not exact "
                    "(units are never visited), with or without --json.")
    p.add_argument("--width", "-W", required=True, type=int, help="input width W")
    p.add_argument("--filter", "-F", required=True, type=int, dest="filter_size",
                   help="filter size F")
    p.add_argument("--padding", "-P", default="0", type=_padding,
                   help="padding P on each side, or 'same' to solve for it (default 0)")
    p.add_argument("--stride", "-S", default=1, type=int, help="stride S (default 1)")
    p.add_argument("--dilation", "-D", default=1, type=int, help="dilation D (default 1)")
    p.add_argument("--json", action="store_true", help="print the geometry as JSON")
    p.set_defaults(handler=run, kernels=True)


def _padding(text: str):
    if text.strip().lower() in ("same", "valid"):
        return text.strip().lower()
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number, 'same' or 'valid', not {text!r}") from None


def run(args) -> int:
    """Exit 0 when the windows cover the padded input exactly, 1 when the floor drops
    units (as text or JSON alike)."""
    g = conv_geometry(args.width, args.filter_size, args.padding, args.stride, args.dilation)
    if args.json:
        print(json.dumps(g.to_dict()))
    else:
        print("\n".join(describe(g, solved=args.padding == "same")))
    return 0 if g.exact else 1


def describe(g: ConvGeometry, solved: bool = False) -> list[str]:
    """The CLI's text: output size and formula, the picture, windows and centres."""
    lines = [f"output size: {g.formula}"]
    if solved:
        lines.append(f"padding 'same': P = {g.padding} keeps {g.output_size} outputs")
    lines.append(f"padded width: {g.width} + 2*{g.padding} = {g.padded_width}")
    if g.dilation != 1:
        lines.append(f"dilated filter: {g.filter_size} taps, {g.dilation} apart, "
                     f"span {g.effective_filter_size} units")
    if not g.exact:
        lines.append(_unvisited_note(g))
    lines.append("")
    if g.padded_width <= PICTURE_MAX_UNITS:
        lines += picture(g)
        lines.append("")
    else:
        lines.append(f"(no picture: {g.padded_width} padded units are more than "
                     f"{PICTURE_MAX_UNITS})")
    lines.append("windows (first..last input index): "
                 + " ".join(f"[{a}..{b}]" for a, b in g.windows))
    lines.append("centres: " + " ".join(map(str, g.centers)))
    return lines


def picture(g: ConvGeometry) -> list[str]:
    """The worksheet's figure, one cell per padded unit.

    `P` marks padding, `x` an input unit; in each window's row `#` marks the units the
    filter reads, `-` those its dilation skips, and `*` the window's centre.
    """
    units = range(-g.padding, g.width + g.padding)
    width = len(f"out {g.output_size - 1}")
    label = max(width, len("centres")) + 1

    def row(name: str, cells) -> str:
        return (name.ljust(label) + "".join(c.rjust(CELL) for c in cells)).rstrip()

    lines = [row("index", [str(i) for i in units]),
             row("input", ["x" if 0 <= i < g.width else "P" for i in units])]
    for o, (first, last) in enumerate(g.windows):
        cells = []
        for i in units:
            if i == g.centers[o]:
                cells.append("*")
            elif first <= i <= last:
                cells.append("#" if (i - first) % g.dilation == 0 else "-")
            else:
                cells.append("")
        lines.append(row(f"out {o}", cells))
    centres = set(g.centers)
    lines.append(row("centres", ["*" if i in centres else "" for i in units]))
    lines.append("P = padding, x = input unit, # = a filter tap, * = the window's centre"
                 + (", - = skipped by dilation" if g.dilation > 1 else ""))
    return lines


def _unvisited_note(g: ConvGeometry) -> str:
    span_end = g.windows[-1][1]
    dropped = [i for i in g.unvisited if i > span_end]
    kinds = ", ".join(f"{i} ({'input' if 0 <= i < g.width else 'padding'})" for i in dropped)
    return (f"not exact: the last window ends at {span_end}, so the floor drops "
            f"{len(dropped)} unit(s) never visited: {kinds}")
