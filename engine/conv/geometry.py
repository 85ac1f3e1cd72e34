"""Where a 1-D convolution filter sits: output size, padding, windows and centres.

One formula, PyTorch's, is the truth here and in `engine.conv`:

    output_size = floor((W + 2P - D*(F - 1) - 1) / S) + 1

with input width W, filter size F, padding P on each side, stride S and dilation D.
With D = 1 it is the worksheet's (W - F + 2P)/S + 1.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

from engine.errors import ArgumentError


@dataclass(frozen=True)
class ConvGeometry:
    """The positions of a 1-D filter sliding over a padded input.

    All fields are plain ints, bools, strings and lists of ints, so `to_dict()` is
    JSON-ready. Indices are input coordinates: 0..width-1 are real input units,
    negative ones and those >= width are padding.

    `windows[o]` is `[first, last]`, the span the filter covers at output position o
    (with dilation D it touches every D-th unit of that span). `centers[o]` is the unit
    at the middle of that span; when the span has an even length there are two middle
    units and it is the left one. `unvisited` lists the units of the padded input that
    no filter tap ever reads: when the division is not `exact`, the last ones (real
    input or padding, told apart by their index); when the stride is longer than the
    filter or the dilation leaves holes, the gaps too.
    """

    width: int
    filter_size: int
    padding: int
    stride: int
    dilation: int
    output_size: int
    exact: bool
    padded_width: int
    effective_filter_size: int
    windows: list[list[int]]
    centers: list[int]
    unvisited: list[int]
    formula: str

    def to_dict(self) -> dict:
        return asdict(self)


def conv_geometry(width, filter_size, padding=0, stride=1, dilation=1) -> ConvGeometry:
    """Geometry of a 1-D convolution over `width` input units.

    `padding` is a non-negative int (units added on each side), "valid" (0) or
    "same" (the smallest P that keeps the output as wide as the input). Raises
    ArgumentError (a ValueError), in words a student understands and naming the
    argument at fault, for geometry that cannot work.

    >>> g = conv_geometry(10, 7, padding=3, stride=3)
    >>> g.output_size, g.centers, g.formula
    (4, [0, 3, 6, 9], '(10 - 7 + 2*3)/3 + 1 = 4')
    """
    W, F, P, S, D, out = resolve_geometry(width, filter_size, padding, stride, dilation)
    span = D * (F - 1) + 1
    windows = [[o * S - P, o * S - P + span - 1] for o in range(out)]
    # The left-of-centre unit for even spans matches "the unit under the filter's
    # middle tap" for odd filters and is a fixed, documented choice for even ones.
    centers = [first + (span - 1) // 2 for first, _ in windows]
    read = bytearray(W + 2 * P)
    for first, _ in windows:
        read[first + P:first + P + span:D] = b"\x01" * F
    unvisited = [i - P for i in range(W + 2 * P) if not read[i]]
    exact = (W + 2 * P - span) % S == 0
    return ConvGeometry(
        width=W, filter_size=F, padding=P, stride=S, dilation=D,
        output_size=out, exact=exact, padded_width=W + 2 * P,
        effective_filter_size=span, windows=windows, centers=centers,
        unvisited=unvisited, formula=_formula(W, F, P, S, D, out, exact))


@dataclass(frozen=True)
class ConvCost:
    """What one conv1d call over [N, C_in, W] with a [C_out, C_in, F] filter costs,
    before anything is allocated: the work of one pass and the float64 arrays it holds.

    `working_elements` counts the padded, phase-split copy of x that the kernels read
    (N * C_in * S * ceil((W + 2P) / S), which a long stride inflates past the padded
    width), the output, and with gradients grad_output, grad_input and grad_weight.
    """

    multiply_adds: int
    padded_width: int
    output_size: int
    output_elements: int
    working_elements: int


def conv_cost(batch: int, in_channels: int, width: int, out_channels: int, filter_size: int,
              padding=0, stride=1, dilation=1, *, gradients: bool = False,
              **names) -> ConvCost:
    """The cost of conv1d (and with `gradients`, conv1d_backward too) on these shapes.

    Pure arithmetic on ints, so a caller can refuse a convolution before it allocates
    anything; raises ArgumentError as `resolve_geometry` does (`names` are passed on).

    >>> conv_cost(1, 1, 1, 1, 100_000, padding=4_049_999).multiply_adds
    790000000000
    """
    W, F, P, S, D, out = resolve_geometry(width, filter_size, padding, stride, dilation, **names)
    # The forward pass, and with gradients grad_input's and grad_weight's, one each.
    passes = 3 if gradients else 1
    output = batch * out_channels * out
    phases = batch * in_channels * S * -(-(W + 2 * P) // S)
    working = phases + output
    if gradients:
        working += output + batch * in_channels * W + out_channels * in_channels * F
    return ConvCost(multiply_adds=passes * output * in_channels * F,
                    padded_width=W + 2 * P, output_size=out, output_elements=output,
                    working_elements=working)


def resolve_geometry(width, filter_size, padding=0, stride=1, dilation=1, *,
                     width_name="width", filter_name="filter_size",
                     padding_name="padding", stride_name="stride",
                     dilation_name="dilation") -> tuple[int, int, int, int, int, int]:
    """Validate the geometry and return (W, F, P, S, D, output_size) as ints.

    The cheap core of `conv_geometry`, shared with `engine.conv` so both use one
    formula and one set of messages; the *_name arguments let conv1d's errors name
    its own arguments (x, w) instead of width and filter_size.
    """
    W = as_size(width, width_name)
    F = as_size(filter_size, filter_name)
    S = as_size(stride, stride_name)
    D = as_size(dilation, dilation_name)
    span = D * (F - 1) + 1
    if isinstance(padding, str):
        mode = padding.strip().lower()
        if mode == "same":
            P = same_padding(W, F, S, D, padding_name=padding_name)
        elif mode == "valid":
            P = 0
        else:
            raise ArgumentError(f"must be a whole number >= 0, 'same' or 'valid', not {padding!r}",
                                argument=padding_name)
    else:
        P = as_size(padding, padding_name, minimum=0)
    if span > W + 2 * P:
        what = (f"filter of size {F}" if D == 1 else
                f"filter of size {F} with dilation {D} spans {span} units, and")
        raise ArgumentError(
            f"{what} is wider than the padded input (width {W} + 2*{P} padding = {W + 2 * P}); "
            f"use a smaller filter or at least {math.ceil((span - W) / 2)} padding",
            argument=filter_name)
    out = (W + 2 * P - span) // S + 1
    return W, F, P, S, D, out


def same_padding(width: int, filter_size: int, stride: int = 1, dilation: int = 1, *,
                 padding_name: str = "padding") -> int:
    """Smallest P >= 0 with floor((W + 2P - D(F-1) - 1)/S) + 1 == W.

    With stride 1 this needs D(F-1) = 2P exactly, so an even filter has no answer
    (PyTorch pads such filters unevenly; a worksheet's P is the same on both sides).
    With stride S > 1 the output can only stay W wide if the padding grows to about
    W(S-1)/2: correct by the formula, though rarely what a network wants.
    """
    span = dilation * (filter_size - 1) + 1
    # Output W needs S(W-1) <= W + 2P - span <= S(W-1) + S - 1.
    need = stride * (width - 1) - width + span
    P = (need + 1) // 2
    if 2 * P > need + stride - 1:
        lo, hi = need // 2, need // 2 + 1
        out_lo = (width + 2 * lo - span) // stride + 1
        out_hi = (width + 2 * hi - span) // stride + 1
        filt = f"filter size {filter_size}" + (
            f" with dilation {dilation} (span {span})" if dilation != 1 else "")
        raise ArgumentError(
            f"'same' has no whole-number answer for width {width}, {filt} and stride "
            f"{stride}: keeping {width} outputs needs 2*P = {need}, which is odd. Padding "
            f"{lo} gives {out_lo} outputs and padding {hi} gives {out_hi}; use an odd filter "
            f"size to keep the width", argument=padding_name)
    return P


def as_size(value, name: str, minimum: int = 1) -> int:
    """`value` as an int >= minimum; bools, fractions, NaN and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"must be a whole number, not {value!r}", argument=name)
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != int(value):
            raise ArgumentError(f"must be a whole number, not {value!r}", argument=name)
    value = int(value)
    if value < minimum:
        if minimum == 0:
            raise ArgumentError(f"must be 0 or more, not {value}", argument=name)
        raise ArgumentError(f"must be at least {minimum}, not {value}", argument=name)
    return value


def _formula(W, F, P, S, D, out, exact) -> str:
    span = f"{F}" if D == 1 else f"{D}*({F} - 1) - 1"
    body = f"({W} - {span} + 2*{P})/{S}"
    if not exact:
        body = f"floor({body})"
    return f"{body} + 1 = {out}"
