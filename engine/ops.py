"""The op table: every operation the engine knows, defined once.

Each op's forward function and its local derivative sit side by side. The parser's
function names, the lowering's opcodes, the kernels' cases (generated into
`engine/vm/cases.py` by `python -m engine.vm.codegen`), the renderer's symbols and the API
docs' op list all derive from `OPS`.

Forward and derivative functions are small Numba functions on float64 scalars:
  unary:  forward(a) -> y          derivative(a, y) -> dy/da
  binary: forward(a, b) -> y       derivative(a, b, y) -> (dy/da, dy/db)
n-ary ops (add, mul) are lowered to chains of their binary form.

Conventions at non-differentiable points follow PyTorch, so that a key computed here
agrees with what students see in PyTorch:
  relu'(0) = 0;  abs'(0) = 0 (torch.sign(0) = 0);
  max(a, b) and min(a, b) at a tie pass half the gradient to each side (torch.maximum,
  torch.minimum);
  pow(a, p) has a constant exponent p: no gradient flows to p, and p = 0 gives
  gradient 0 everywhere (torch.pow(tensor, 0) backward), even at a = 0;
  sqrt'(0) = +inf, log'(0) = +inf: reported as non-finite gradients, not hidden.
softplus is exact (log1p form), without PyTorch's threshold=20 linearisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numba

# error_model="numpy": 1/0 is inf (IEEE), which the kernels report, not a ZeroDivisionError
_scalar = numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")


# --- forward and local derivative, op by op ------------------------------------------

@_scalar
def add_forward(a, b):
    return a + b


@_scalar
def add_derivative(a, b, y):
    return 1.0, 1.0


@_scalar
def mul_forward(a, b):
    return a * b


@_scalar
def mul_derivative(a, b, y):
    return b, a


@_scalar
def sub_forward(a, b):
    return a - b


@_scalar
def sub_derivative(a, b, y):
    return 1.0, -1.0


@_scalar
def div_forward(a, b):
    return a / b


@_scalar
def div_derivative(a, b, y):
    return 1.0 / b, -a / (b * b)


@_scalar
def neg_forward(a):
    return -a


@_scalar
def neg_derivative(a, y):
    return -1.0


@_scalar
def square_forward(a):
    return a * a


@_scalar
def square_derivative(a, y):
    return 2.0 * a


@_scalar
def pow_forward(a, p):
    return a ** p


@_scalar
def pow_derivative(a, p, y):
    # torch.pow(tensor, scalar): exponent 0 has gradient 0 even at a = 0 (where
    # p * a**(p-1) would be 0 * inf); the constant exponent gets no gradient.
    if p == 0.0:
        return 0.0, 0.0
    return p * a ** (p - 1.0), 0.0


@_scalar
def exp_forward(a):
    return math.exp(a)


@_scalar
def exp_derivative(a, y):
    return y


@_scalar
def log_forward(a):
    # math.log raises on a <= 0 inside Numba; the kernel must return -inf/nan instead
    # so the non-finite check can name the node.
    if a > 0.0:
        return math.log(a)
    if a == 0.0:
        return -math.inf
    return math.nan


@_scalar
def log_derivative(a, y):
    return 1.0 / a


@_scalar
def sqrt_forward(a):
    if a >= 0.0:
        return math.sqrt(a)
    return math.nan


@_scalar
def sqrt_derivative(a, y):
    return 0.5 / y


@_scalar
def abs_forward(a):
    return abs(a)


@_scalar
def abs_derivative(a, y):
    if a > 0.0:
        return 1.0
    if a < 0.0:
        return -1.0
    return 0.0


@_scalar
def sigmoid_forward(a):
    # Two branches so that exp never overflows: 1/(1+e^-a) for a >= 0, e^a/(1+e^a) below.
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


@_scalar
def sigmoid_derivative(a, y):
    return y * (1.0 - y)


@_scalar
def tanh_forward(a):
    return math.tanh(a)


@_scalar
def tanh_derivative(a, y):
    return 1.0 - y * y


@_scalar
def relu_forward(a):
    return a if a > 0.0 else 0.0


@_scalar
def relu_derivative(a, y):
    return 1.0 if a > 0.0 else 0.0


@_scalar
def softplus_forward(a):
    # log(1 + e^a) = max(a, 0) + log1p(e^-|a|): no overflow for large a, no
    # cancellation for very negative a.
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


@_scalar
def softplus_derivative(a, y):
    return sigmoid_forward(a)


@_scalar
def logsigmoid_forward(a):
    # log(sigmoid(a)) = -softplus(-a), finite where sigmoid(a) underflows to 0.
    return min(a, 0.0) - math.log1p(math.exp(-abs(a)))


@_scalar
def logsigmoid_derivative(a, y):
    return sigmoid_forward(-a)


@_scalar
def max_forward(a, b):
    return a if a >= b else b


@_scalar
def max_derivative(a, b, y):
    if a > b:
        return 1.0, 0.0
    if a < b:
        return 0.0, 1.0
    return 0.5, 0.5


@_scalar
def min_forward(a, b):
    return a if a <= b else b


@_scalar
def min_derivative(a, b, y):
    if a < b:
        return 1.0, 0.0
    if a > b:
        return 0.0, 1.0
    return 0.5, 0.5


# --- the table ----------------------------------------------------------------------

@dataclass(frozen=True)
class OpDef:
    """One operation. `arity` is 1, 2, or None for n-ary (at least 2 inputs).

    For worksheets and worked solutions, `tex` is the op in LaTeX and `tex_local` its
    local derivative with respect to each input, as string.Template text over $a, $b
    (the inputs) and $y (the node itself). Infix arithmetic has no `tex`: its layout
    depends on precedence (worksheets.latex); mul and pow have no `tex_local`
    because theirs depend on the inputs' count and the exponent's value.
    """

    name: str
    opcode: int
    arity: int | None
    symbol: str  # drawn inside the gate of a graph figure
    infix: str | None  # the operator the parser reads and the renderer writes, if any
    forward: Callable
    derivative: Callable
    doc: str
    tex: str | None = None
    tex_local: tuple[str, ...] | None = None


def _op(opcode, name, arity, symbol, infix, doc, tex=None, tex_local=None):
    module = globals()
    return OpDef(name, opcode, arity, symbol, infix,
                 module[f"{name}_forward"], module[f"{name}_derivative"], doc, tex, tex_local)


OPS: tuple[OpDef, ...] = (
    #   code name        arity symbol     infix doc
    #        tex (forward), tex_local (d/da, d/db)
    _op(0, "add", None, "+", "+", "sum of its inputs; passes the gradient unchanged to each",
        tex_local=("1",)),
    _op(1, "mul", None, "×", "*", "product of its inputs; each input gets the gradient times the others"),
    _op(2, "sub", 2, "−", "-", "a - b",
        tex_local=("1", "-1")),
    _op(3, "div", 2, "÷", "/", "a / b",
        tex_local=(r"\frac{1}{$b}", r"-\frac{$a}{$b^2}")),
    _op(4, "neg", 1, "−", None, "-a (unary minus)",
        tex_local=("-1",)),
    _op(5, "square", 1, "x²", None, "a²",
        tex_local=("2 $a",)),
    _op(6, "pow", 2, "^", "^", "a ** p with a constant exponent p (no gradient flows to p)"),
    _op(7, "exp", 1, "exp", None, "e ** a",
        r"e^{$a}", ("$y",)),
    _op(8, "log", 1, "log", None, "natural logarithm",
        r"\log\left($a\right)", (r"\frac{1}{$a}",)),
    _op(9, "sqrt", 1, "√", None, "square root; gradient +inf at 0",
        r"\sqrt{$a}", (r"\frac{1}{2 $y}",)),
    _op(10, "abs", 1, "|·|", None, "|a|; gradient 0 at 0 (PyTorch)",
        r"\left|$a\right|", (r"\operatorname{sign}($a)",)),
    _op(11, "sigmoid", 1, "σ", None, "1 / (1 + e ** -a); gradient σ(1 - σ)",
        r"\sigma\left($a\right)", ("$y(1 - $y)",)),
    _op(12, "tanh", 1, "tanh", None, "hyperbolic tangent; gradient 1 - tanh²",
        r"\tanh\left($a\right)", ("1 - $y^2",)),
    _op(13, "relu", 1, "ReLU", None, "max(a, 0); gradient 0 at 0 (PyTorch)",
        r"\mathrm{ReLU}\left($a\right)", ("[$a > 0]",)),
    _op(14, "softplus", 1, "softplus", None, "log(1 + e ** a), computed without overflow; gradient σ(a)",
        r"\mathrm{softplus}\left($a\right)", (r"\sigma($a)",)),
    _op(15, "logsigmoid", 1, "log σ", None, "log(σ(a)) = -softplus(-a), finite where σ(a) underflows",
        r"\log\sigma\left($a\right)", (r"\sigma(-$a)",)),
    _op(16, "max", 2, "max", None, "larger of a and b; a tie passes half the gradient to each (PyTorch)",
        r"\max\left($a, $b\right)", ("[$a > $b]", "[$b > $a]")),
    _op(17, "min", 2, "min", None, "smaller of a and b; a tie passes half the gradient to each (PyTorch)",
        r"\min\left($a, $b\right)", ("[$a < $b]", "[$b < $a]")),
)

OPS_BY_NAME: dict[str, OpDef] = {op.name: op for op in OPS}
OPS_BY_INFIX: dict[str, OpDef] = {op.infix: op for op in OPS if op.infix}

assert [op.opcode for op in OPS] == list(range(len(OPS))), "opcodes must be 0..n-1 in table order"
