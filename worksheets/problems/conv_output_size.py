"""conv_output_size: the worksheet's 1(a)-(c). How many outputs does a 1-D filter
give, which input units does each window cover, and which unit is each window's centre?"""

from __future__ import annotations

import functools

from engine.conv.geometry import conv_geometry
from worksheets.drawing.conv_figure import output_size_svg
from worksheets.errors import ProblemSetError
from worksheets.grading import mark_list, mark_number
from worksheets.problem import EXACT, Option, ProblemType, Tolerance, Variant, step

FILTER_SIZES = (3, 5, 7, 9)
OUTPUTS = (2, 12)


@functools.lru_cache(maxsize=64)
def geometries(exact: bool, max_width: int, strides: tuple) -> tuple:
    """Every (W, F, P, S) a problem may ask about, so a draw is uniform over all of them:
    odd F (every window has a middle unit), P up to (F - 1)/2, 2 to 12 outputs, and a
    division that is exact, or not, as asked."""
    if not exact:
        strides = tuple(s for s in strides if s > 1) or (2,)
    out = []
    for F in FILTER_SIZES:
        for P in range((F - 1) // 2 + 1):
            for S in strides:
                for W in range(max(4, F), max_width + 1):
                    top = W - F + 2 * P
                    if (top % S == 0) == exact and OUTPUTS[0] <= top // S + 1 <= OUTPUTS[1]:
                        out.append((W, F, P, S))
    return tuple(out)


class ConvOutputSize(ProblemType):
    id = "conv_output_size"
    title = "Output size of a 1-D convolution"
    description = ("Given the input width W, filter size F, padding P and stride S: the "
                   "number of outputs (W - F + 2P)/S + 1, the span of input units each "
                   "window covers (padding units have negative indices or indices >= W), "
                   "and each window's centre unit. Odd filter sizes, so every window has "
                   "a middle unit.")
    options = (
        Option("exact", "boolean", True,
               "true: (W - F + 2P)/S divides exactly; false: it does not, and the output "
               "size is the floor (the last units are never visited)"),
        Option("max_width", "integer", 32, "largest input width W", minimum=8, maximum=64),
        Option("strides", "subset", [1, 2, 3, 4], "strides to draw S from",
               choices=(1, 2, 3, 4)),
    )
    tolerances = {"output_size": EXACT, "windows": EXACT, "centers": EXACT}
    figure_shows = "the input units, padding and windows"

    def check_options(self, options: dict, path: str) -> None:
        if not geometries(options["exact"], options["max_width"], tuple(options["strides"])):
            raise ProblemSetError(f"no width up to {options['max_width']} fits strides "
                                  f"{options['strides']} with 2 to 12 outputs", path=path)

    def sample(self, rng, options) -> Variant:
        W, F, P, S = rng.choice(geometries(options["exact"], options["max_width"],
                                           tuple(options["strides"])))
        return Variant({"width": W, "filter_size": F, "padding": P, "stride": S})

    def solve(self, variant, options, evaluations, convs, worked=True):
        p = variant.parameters
        size, windows, centers, steps = _solved(p["width"], p["filter_size"], p["padding"],
                                                p["stride"])
        # fresh lists each time: a set's answers are its caller's to change
        answers = {"output_size": size, "windows": [list(w) for w in windows],
                   "centers": list(centers)}
        if not worked:
            return answers, []
        return answers, [step(title, text) for title, text in steps]

    def statement(self, variant, options) -> str:
        p = variant.parameters
        return (f"A 1-D convolution slides a filter of size $F = {p['filter_size']}$ with "
                f"stride $S = {p['stride']}$ over an input of width $W = {p['width']}$ "
                f"padded with $P = {p['padding']}$ zeros on each side. Number the input units "
                f"$0, \\dots, {p['width'] - 1}$ (padding units get the indices below 0 and "
                f"from ${p['width']}$ up).\n\n"
                "1. `output_size`: how many outputs does the layer produce?\n"
                "2. `windows`: for each output, the first and last index of the units its "
                "window covers, as a list of `[first, last]` pairs.\n"
                "3. `centers`: for each output, the index of the unit at its window's centre.\n\n"
                "Whole numbers, marked exactly.")

    def grade(self, variant, options, answers, submitted):
        p = variant.parameters
        W, F, P, S = p["width"], p["filter_size"], p["padding"], p["stride"]
        top = W - F + 2 * P

        # the mistakes of a part are worked out only when that part is wrong
        def size_mistakes():
            return _size_mistakes(W, F, P, S, top)

        def window_mistakes():
            shifted = [[a + P, b + P] for a, b in answers["windows"]]
            return [(shifted, "indices count from the first real input unit: the padding "
                              "on the left has negative indices")]

        def center_mistakes():
            return [([c + P for c in answers["centers"]],
                     "indices count from the first real input unit: the padding on the left "
                     "has negative indices")]

        return [mark_number("output_size", submitted.get("output_size"),
                            answers["output_size"], EXACT, size_mistakes),
                mark_list("windows", submitted.get("windows"), answers["windows"], EXACT,
                          window_mistakes),
                mark_list("centers", submitted.get("centers"), answers["centers"], EXACT,
                          center_mistakes)]

    def figure(self, problem, key, title):
        p = problem["parameters"]
        return output_size_svg(p["width"], p["filter_size"], p["padding"], p["stride"], key,
                               title)


@functools.lru_cache(maxsize=4096, typed=True)
def _solved(W: int, F: int, P: int, S: int) -> tuple:
    """(output size, windows, centres, worked steps as (title, text)) of one geometry,
    immutable: the few hundred geometries a class draws are worked once each."""
    g = conv_geometry(W, F, P, S)
    top = W - F + 2 * P
    steps = [("Output size",
              f"$\\dfrac{{W - F + 2P}}{{S}} + 1 = "
              f"\\dfrac{{{W} - {F} + 2 \\cdot {P}}}{{{S}}} + 1"
              f" = \\dfrac{{{top}}}{{{S}}} + 1"
              + (f" = {top // S} + 1 = {g.output_size}$" if g.exact else
                 f" = \\left\\lfloor {top / S:.4g} \\right\\rfloor + 1 = {g.output_size}$: "
                 f"{top} is not a multiple of {S}, so the last "
                 f"{top % S} unit(s) of the padded input are never the start of a "
                 f"window and the output size is the floor"))]
    steps.append(("Padded input",
                  f"The padded input has ${W} + 2 \\cdot {P} = {W + 2 * P}$ units, "
                  f"indices ${-P}$ to ${W + P - 1}$; indices below 0 and from {W} "
                  f"up are padding."))
    start = ("o" if S == 1 else f"{S}o") + (f" - {P}" if P else "")
    steps.append(("Windows",
                  f"Window $o$ starts at $oS - P = {start}$ and covers $F = {F}$ "
                  f"units: " + ", ".join(f"$[{a}, {b}]$" for a, b in g.windows) + "."))
    half = (F - 1) // 2
    steps.append(("Centres",
                  f"The centre is {half} unit{'s' if half != 1 else ''} after a "
                  f"window's start: " + ", ".join(f"${c}$" for c in g.centers) + "."))
    return (g.output_size, tuple(tuple(w) for w in g.windows), tuple(g.centers),
            tuple(steps))


def _size_mistakes(W: int, F: int, P: int, S: int, top: int) -> list:
    """The output sizes a student commonly gives instead, each with the words that name
    the slip."""
    mistakes = []
    if P:
        mistakes.append(((W - F + P) // S + 1, "P where 2P belongs: the padding is added "
                                               "on both sides, W - F + 2P"))
    # a one-sided padding that gives the same count is named as P where 2P belongs
    if P and W >= F:
        unpadded = (W - F) / S + 1
        mistakes += [((W - F) // S + 1, f"the padding is left out: the input is padded to "
                                         f"W + 2P = {W + 2 * P} units, so the size is "
                                         f"(W - F + 2P)/S + 1, not (W - F)/S + 1"),
                     (unpadded, f"the padding is left out: (W - F)/S + 1 = "
                                f"{unpadded:.4g} ignores the {P} zero(s) on each side; "
                                f"use (W - F + 2P)/S + 1", Tolerance(0.01))]
    if top % S:
        frac = top / S + 1
        mistakes += [(-(-top // S) + 1, f"a non-integer output size silently rounded up: "
                                        f"({W} - {F} + 2·{P})/{S} = {top / S:.4g} is not "
                                        f"whole; take the floor (a window cannot start past "
                                        f"the padded input), then add 1"),
                     (round(frac), f"a non-integer output size silently rounded: "
                                   f"({W} - {F} + 2·{P})/{S} + 1 = {frac:.4g}; take the floor "
                                   f"of the division, then add 1"),
                     (frac, f"a non-integer output size: ({W} - {F} + 2·{P})/{S} = "
                            f"{top / S:.4g} is not whole; its floor plus 1 counts the "
                            f"windows", Tolerance(0.01))]
    mistakes += [(top // S, "the first window counts too: add 1"),
                 (top + 1, "divide by the stride: the windows start S units apart")]
    return mistakes
