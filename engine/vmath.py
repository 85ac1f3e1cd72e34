"""exp and log in a form LLVM vectorises, for the op cases of the kernels.

A kernel's case runs one op over a block of lanes, `for i in range(n): z[i] = op(x[i])`.
LLVM turns such a loop into vector instructions, 4 lanes at a time on this machine's
AVX2, unless the body calls a function it has no vector form of, as libm's exp and log
are (Numba could map them to Intel's SVML, but llvmlite's LLVM here is built without
it: `llvmlite.binding.targets.has_svml()` is False). So both are written out here as
straight-line arithmetic: range reduction, a polynomial, the exponent moved in or out by
bit operations, special values chosen by selects rather than branches.

Both are within one ulp of libm over the whole double range (tests/engine/test_vmath.py
checks dense samples and every special value: NaN, ±inf, ±0, subnormals, the overflow and
underflow edges); on one core a block of exp costs about a quarter of libm's, log the same.
"""

from __future__ import annotations

import math

import numba
from numba.core import types
from numba.extending import intrinsic

_scalar = numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")


def _bitcast(source, target):
    """An intrinsic reading a `source` value's bits as a `target` of the same width."""
    @intrinsic
    def cast(typingctx, value):
        if value != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return cast


float_from_bits = _bitcast(types.int64, types.float64)  # the float64 whose IEEE bits these are
bits_of = _bitcast(types.float64, types.int64)  # a float64's IEEE bits, as an int64


LOG2_E = 1.4426950408889634
# ln 2 split so that k * LN2_HI is exact for the k of any double (fdlibm's constants)
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
# Beyond these exp is inf, resp. 0, in round-to-nearest.
EXP_MAX = 709.782712893384
EXP_MIN = -745.1332191019412


@_scalar
def exp(x):
    """e**x. x = k ln 2 + r with |r| <= ln 2 / 2, e**r by its Taylor series to r**13
    (the first term left out is below 2**-60 of the sum), then times 2**k in two steps
    of 2**(k/2), so a result near the overflow or in the subnormal range is scaled
    without an intermediate overflow or a second rounding."""
    finite = (x > EXP_MIN - 1.0) & (x < EXP_MAX + 1.0)  # False for NaN too
    t = x if finite else 0.0
    k = math.floor(t * LOG2_E + 0.5)
    r = (t - k * LN2_HI) - k * LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    k1 = math.floor(k * 0.5)
    k2 = k - k1
    y = p * float_from_bits((numba.int64(k1) + 1023) << 52) * float_from_bits((numba.int64(k2) + 1023) << 52)
    y = math.inf if x > EXP_MAX else y
    y = 0.0 if x < EXP_MIN else y
    return x if x != x else y


# fdlibm's minimax coefficients for log(1 + f) on [sqrt(2)/2 - 1, sqrt(2) - 1]
LG1, LG2, LG3, LG4, LG5, LG6, LG7 = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
    2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
    1.479819860511658591e-01)
MIN_NORMAL = 2.2250738585072014e-308
TWO_54 = 18014398509481984.0


@_scalar
def log(x):
    """The natural logarithm, -inf at 0 and NaN below, as IEEE has it. x = 2**k m with
    m in [sqrt(2)/2, sqrt(2)) read off the bits (a subnormal x is first scaled by 2**54),
    then fdlibm's log(1 + f) for f = m - 1."""
    subnormal = x < MIN_NORMAL
    bits = bits_of(x * TWO_54 if subnormal else x)
    e = ((bits >> 52) & 0x7FF) - (1023 + 54 if subnormal else 1023)
    m = float_from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    high = m > 1.4142135623730951
    m = m * 0.5 if high else m
    k = numba.float64(e + 1 if high else e)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))))
    half_f2 = 0.5 * f * f
    y = k * LN2_HI - ((half_f2 - (s * (half_f2 + R) + k * LN2_LO)) - f)
    y = -math.inf if x == 0.0 else y
    y = math.nan if x < 0.0 else y
    return x if (x != x) | (x == math.inf) else y
