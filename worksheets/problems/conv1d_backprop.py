"""conv1d_backprop: beyond the worksheet. A small numeric 1-D convolution (PyTorch's
conv1d, a cross-correlation), its output, and the gradients of a given upstream
gradient with respect to the input and the filter."""

from __future__ import annotations

import functools

import numpy as np

from worksheets.drawing.conv_figure import conv1d_svg
from worksheets.errors import ProblemSetError
from worksheets.grading import mark_list
from worksheets.problem import HAND, Option, ProblemType, Variant, step
from worksheets.latex import num, signed


class Conv1dBackprop(ProblemType):
    id = "conv1d_backprop"
    title = "Backpropagation through a 1-D convolution"
    description = ("A short input x, a filter w, stride S and padding P: the output "
                   "y[o] = sum_k w[k] x[oS - P + k] (cross-correlation, as PyTorch's "
                   "conv1d), and, for a given upstream gradient dL/dy, the gradients dL/dx "
                   "and dL/dw. Small whole numbers throughout.")
    options = (
        Option("strides", "subset", [1, 2], "strides to draw S from", choices=(1, 2, 3)),
        Option("paddings", "subset", [0, 1], "paddings to draw P from", choices=(0, 1, 2)),
        Option("max_width", "integer", 8, "largest input width", minimum=4, maximum=12),
    )
    tolerances = {"output": HAND, "grad_input": HAND, "grad_weight": HAND}
    figure_shows = "the convolution's input, output and filter"

    def check_options(self, options: dict, path: str) -> None:
        # the sampler below draws until a width fits: with none that can, every draw is wasted
        strides, paddings, most = options["strides"], options["paddings"], options["max_width"]
        if not any(3 <= _input_width(out, F, S, P) <= most
                   for S in strides for P in paddings
                   for F in range(_FILTER[0], _FILTER[1] + 1) for out in range(_OUTPUT[0], _OUTPUT[1] + 1)):
            raise ProblemSetError(
                f"no input of 3 to {most} units fits strides {strides} with paddings {paddings} "
                f"(filters of 2 or 3, 2 to 4 outputs): allow a larger stride or a smaller padding",
                path=path)

    def sample(self, rng, options) -> Variant:
        # check_options made sure some stride, padding, filter and output size fit, each
        # draw with a chance of at least 1 in 54; the bound only keeps a worker from
        # spinning for ever should options ever reach here unchecked
        for _ in range(_MAX_DRAWS):
            S = rng.choice(options["strides"])
            P = rng.choice(options["paddings"])
            F = rng.integer(*_FILTER)
            out = rng.integer(*_OUTPUT)
            W = _input_width(out, F, S, P)
            if not 3 <= W <= options["max_width"]:
                continue
            x = [rng.integer(-3, 3) for _ in range(W)]
            w = [rng.nonzero(-2, 2) for _ in range(F)]
            g = [rng.nonzero(-2, 2) for _ in range(out)]
            y, gx, gw = _by_hand(x, w, g, S, P)
            # none of the three answers may be all zeros
            if any(y) and any(gx) and any(gw):
                return Variant({"input": x, "weight": w, "stride": S, "padding": P,
                                "grad_output": g})
        raise ProblemSetError(f"no input width fits strides {options['strides']} with paddings "
                              f"{options['paddings']} up to {options['max_width']} units")

    def conv_items(self, variant):
        p = variant.parameters
        return [(np.array(p["input"], dtype=np.float64), np.array(p["weight"], dtype=np.float64),
                 p["stride"], p["padding"], np.array(p["grad_output"], dtype=np.float64))]

    def solve(self, variant, options, evaluations, convs, worked=True):
        r = convs[0]
        answers = {"output": r.output.tolist(), "grad_input": r.grad_input.tolist(),
                   "grad_weight": r.grad_weight.tolist()}
        if not worked:
            return answers, []
        p = variant.parameters
        x, w, g, S, P = p["input"], p["weight"], p["grad_output"], p["stride"], p["padding"]
        xp = [0] * P + x + [0] * P
        # each number of the sums written once, not once per term it appears in
        sw, sxp, sg = [signed(v) for v in w], [signed(v) for v in xp], [signed(v) for v in g]
        plan = _worked_plan(len(x), len(w), S, P, len(g))
        steps = [step("Padded input",
                      f"With $P = {P}$: $x = [{', '.join(map(str, xp))}]$, window $o$ starting "
                      f"at padded index ${S}o$." if P else
                      f"No padding: window $o$ starts at index ${S}o$.")]
        for (title, head, pairs), yo in zip(plan[0], answers["output"]):
            terms = " + ".join([f"{sw[k]} \\cdot {sxp[i]}" for k, i in pairs])
            steps.append(step(title, f"{head}{terms} = {num(yo)}$"))
        for (title, head, pairs), gk in zip(plan[1], answers["grad_weight"]):
            terms = " + ".join([f"{sg[o]} \\cdot {sxp[i]}" for o, i in pairs])
            steps.append(step(title, f"{head}{terms} = {num(gk)}$"))
        for (title, head, pairs), gi in zip(plan[2], answers["grad_input"]):
            if pairs:
                terms = " + ".join([f"{sg[o]} \\cdot {sw[k]}" for o, k in pairs])
                steps.append(step(title, f"{head}{terms} = {num(gi)}$"))
            else:
                steps.append(step(title, head))
        return answers, steps

    def statement(self, variant, options) -> str:
        p = variant.parameters
        return (
            "A 1-D convolution layer (cross-correlation, as PyTorch's `conv1d`, no bias) "
            f"with stride $S = {p['stride']}$ and padding $P = {p['padding']}$ maps the input "
            f"$x = [{', '.join(map(str, p['input']))}]$ with the filter "
            f"$w = [{', '.join(map(str, p['weight']))}]$ to "
            "$y_o = \\sum_k w_k \\, x_{oS - P + k}$ (zero outside the input). The gradient of "
            "the loss with respect to the output is "
            f"$\\partial L / \\partial y = [{', '.join(map(str, p['grad_output']))}]$.\n\n"
            "1. `output`: the list $y$.\n"
            "2. `grad_input`: the list $\\partial L / \\partial x$ (one entry per input unit).\n"
            "3. `grad_weight`: the list $\\partial L / \\partial w$.\n\n"
            f"Each entry is marked {HAND.describe()}; a list earns the share of its entries "
            "that are right.")

    def grade(self, variant, options, answers, submitted):
        p = variant.parameters
        x, w, g, S, P = p["input"], p["weight"], p["grad_output"], p["stride"], p["padding"]
        flipped = []  # _by_hand with the filter flipped, worked once if a part needs it

        def flipped_filter():
            if not flipped:
                flipped.append(_by_hand(x, w[::-1], g, S, P))
            return flipped[0]

        def out_mistakes():
            unpadded = _by_hand(x, w, g[:_out_size(len(x), len(w), S, 0)], S, 0) \
                if P and _out_size(len(x), len(w), S, 0) > 0 else None
            out = [(flipped_filter()[0], "the filter is flipped: conv1d (as in PyTorch) is a "
                                         "cross-correlation, y_o = sum_k w_k x_(oS - P + k)")]
            if unpadded is not None:
                out.append((unpadded[0], f"the padding is missing: add {P} zero(s) on "
                                         f"each side first"))
            return out

        def gw_mistakes():
            return [(answers["grad_weight"][::-1], "the gradient of the filter is reversed: "
                                                   "dL/dw_k pairs dL/dy_o with x_(oS - P + k)")]

        def gx_mistakes():
            out = [(flipped_filter()[1], "the filter is flipped: dL/dx_i collects dL/dy_o "
                                         "times w_k for every window o whose tap k reads "
                                         "x_i, with the filter as it is (the forward pass is "
                                         "a cross-correlation, so nothing is flipped)")]
            if S > 1:
                for taps, flip in ((w, ""), (w[::-1], " and the filter is flipped")):
                    out.append((_grad_input_stride_one(x, taps, g, P),
                                f"the stride is left out of the backward pass{flip}: "
                                f"window o starts at {S}o - P, so dL/dy_o reaches the "
                                f"units x_({S}o - P + k)"))
            return out

        # each part's mistakes are worked out only when that part is wrong
        return [
            mark_list("output", submitted.get("output"), answers["output"], HAND, out_mistakes),
            mark_list("grad_input", submitted.get("grad_input"), answers["grad_input"], HAND,
                      gx_mistakes),
            mark_list("grad_weight", submitted.get("grad_weight"), answers["grad_weight"], HAND,
                      gw_mistakes),
        ]

    def figure(self, problem, key, title):
        p = problem["parameters"]
        return conv1d_svg(p["input"], p["weight"], p["stride"], p["padding"], p["grad_output"],
                          key, problem.get("answers"), num, title)


@functools.lru_cache(maxsize=1024)
def _worked_plan(W: int, F: int, S: int, P: int, out: int) -> tuple:
    """The worked solution's sums for one geometry, the same for every student who
    draws it: for the outputs, the filter's gradients and the input's gradients, per
    step (title, text up to the sum, the sum's terms as index pairs: (k, padded i) of
    w and x, (o, padded i) of dL/dy and x, (o, k) of dL/dy and w). An input unit no
    window reads has no terms and its whole text."""
    outputs = [(f"Output {o}", f"$y_{{{o}}} = ", tuple((k, o * S + k) for k in range(F)))
               for o in range(out)]
    weights = [(f"Gradient of w[{k}]",
                f"$\\dfrac{{\\partial L}}{{\\partial w_{{{k}}}}} = \\sum_o "
                f"\\dfrac{{\\partial L}}{{\\partial y_o}} x_{{oS - P + {k}}} = ",
                tuple((o, o * S + k) for o in range(out))) for k in range(F)]
    inputs = []
    for i in range(W):
        pairs = tuple((o, i + P - o * S) for o in range(out) if 0 <= i + P - o * S < F)
        inputs.append((f"Gradient of x[{i}]",
                       f"$\\dfrac{{\\partial L}}{{\\partial x_{{{i}}}}} = " if pairs else
                       f"$\\dfrac{{\\partial L}}{{\\partial x_{{{i}}}}} = 0$: no window reads "
                       f"$x_{{{i}}}$", pairs))
    return tuple(outputs), tuple(weights), tuple(inputs)


_MAX_DRAWS = 10_000
_FILTER = (2, 3)  # the filter sizes drawn, smallest and largest
_OUTPUT = (2, 4)  # the output sizes drawn


def _input_width(out: int, F: int, S: int, P: int) -> int:
    """The input width W that gives `out` outputs exactly: (W - F + 2P)/S + 1 = out."""
    return (out - 1) * S + F - 2 * P


def _out_size(W: int, F: int, S: int, P: int) -> int:
    return (W + 2 * P - F) // S + 1


def _grad_input_stride_one(x, w, g, P: int) -> list:
    """dL/dx as a student gets it who lets window o start at o - P whatever the stride."""
    gx = [0.0] * len(x)
    for o, go in enumerate(g):
        for k, wk in enumerate(w):
            if 0 <= o - P + k < len(x):
                gx[o - P + k] += go * wk
    return gx


def _by_hand(x, w, g, S: int, P: int):
    """(y, dL/dx, dL/dw) by the definition, in plain Python: used to choose the numbers
    and to name mistakes, never as the key."""
    W, F = len(x), len(w)
    out = _out_size(W, F, S, P)
    y = [0.0] * max(out, 0)
    gx = [0.0] * W
    gw = [0.0] * F
    for o in range(max(out, 0)):
        for k in range(F):
            i = o * S - P + k
            if 0 <= i < W:
                y[o] += w[k] * x[i]
                if o < len(g):
                    gx[i] += g[o] * w[k]
                    gw[k] += g[o] * x[i]
    return y, gx, gw
