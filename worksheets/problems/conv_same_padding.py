"""conv_same_padding: the worksheet's 1(d). Which padding keeps the output as wide as
the input?"""

from __future__ import annotations

import functools

from engine.conv.geometry import conv_geometry
from worksheets.drawing.conv_figure import same_padding_svg
from worksheets.grading import mark_number
from worksheets.problem import EXACT, Option, ProblemType, Variant, step


class ConvSamePadding(ProblemType):
    id = "conv_same_padding"
    title = "'Same' padding of a 1-D convolution"
    description = ("Given the input width W and an odd filter size F (stride 1, and with "
                   "the dilation option a dilation D): the padding P on each side that keeps "
                   "W outputs, P = D(F - 1)/2.")
    options = (
        Option("filter_sizes", "subset", [3, 5, 7, 9, 11], "odd filter sizes to draw F from",
               choices=(3, 5, 7, 9, 11, 13, 15)),
        Option("dilations", "subset", [1], "dilations to draw D from", choices=(1, 2, 3)),
        Option("max_width", "integer", 64, "largest input width W", minimum=16, maximum=256),
    )
    tolerances = {"padding": EXACT}
    figure_shows = "the input, the filter and the padding"

    def sample(self, rng, options) -> Variant:
        F = rng.choice(options["filter_sizes"])
        D = rng.choice(options["dilations"])
        span = D * (F - 1) + 1
        W = rng.integer(max(8, span), options["max_width"])
        params = {"width": W, "filter_size": F, "stride": 1}
        if D != 1:
            params["dilation"] = D
        return Variant(params)

    def solve(self, variant, options, evaluations, convs, worked=True):
        p = variant.parameters
        padding, steps = _solved(p["width"], p["filter_size"], p.get("dilation", 1))
        answers = {"padding": padding}
        if not worked:
            return answers, []
        return answers, [step(title, text) for title, text in steps]

    def statement(self, variant, options) -> str:
        p = variant.parameters
        dil = p.get("dilation", 1)
        filt = f"a filter of size $F = {p['filter_size']}$"
        if dil != 1:
            filt += f" with dilation $D = {dil}$ (its taps sit {dil} units apart)"
        return (f"A 1-D convolution with stride $S = 1$ slides {filt} over an input of width "
                f"$W = {p['width']}$.\n\n"
                f"`padding`: how many zeros $P$ must be added on each side so that the output "
                f"is also {p['width']} units wide? A whole number, marked exactly.")

    def grade(self, variant, options, answers, submitted):
        p = variant.parameters
        F, D = p["filter_size"], p.get("dilation", 1)
        P = answers["padding"]
        each = "(F - 1)/2" if D == 1 else "D(F - 1)/2"
        mistakes = [(2 * P, f"2P where P belongs: {'F - 1' if D == 1 else 'D(F - 1)'} is the "
                            f"padding of both sides together; each side gets {each}"),
                    ((F + 1) // 2 * D, "one unit too many: P = (F - 1)/2, not (F + 1)/2")]
        if D != 1:
            mistakes.append(((F - 1) // 2, "the dilation stretches the filter: it spans "
                                           "D(F - 1) + 1 units"))
        return [mark_number("padding", submitted.get("padding"), P, EXACT, mistakes)]

    def figure(self, problem, key, title):
        p = problem["parameters"]
        return same_padding_svg(p["width"], p["filter_size"], p.get("dilation", 1), key, title)


@functools.lru_cache(maxsize=4096, typed=True)
def _solved(W: int, F: int, D: int) -> tuple:
    """(padding, worked steps as (title, text)) of one width, filter and dilation,
    immutable: worked once each, however many students draw them."""
    g = conv_geometry(W, F, "same", 1, D)
    span = "F - 1" if D == 1 else "D(F - 1)"
    num = f"{F} - 1" if D == 1 else f"{D}({F} - 1)"
    size = "W - F + 2P + 1" if D == 1 else "W - D(F - 1) + 2P"
    steps = (
        ("Keep the width",
         f"With stride 1 the output size is ${size}$; setting it equal to $W$ gives "
         f"$2P = {span}$."),
        ("Solve for P",
         f"$P = \\dfrac{{{num}}}{{2}} = {g.padding}$ units of padding on each side."),
        ("Check", f"${g.formula}$, the input width."),
    )
    return g.padding, steps
