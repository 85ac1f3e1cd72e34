"""The op table: every operation the engine knows, defined once.

Each op's forward function and its local derivative sit side by side; its row in `OPS`
says everything else about it (see `OpDef`). The parser's function names and operators
with their binding powers, the lowering's opcodes, the kernels' cases (generated into
`engine/vm/cases.py` by `python -m engine.vm.codegen`), the reverse sweep's rule for
handing an adjoint on unchanged, the worksheets' LaTeX, random graphs and named
mistakes, and the API's op enum all derive from `OPS`. Adding an op is one row here,
`make codegen`, and its oracle reference in the tests. `FUSIONS`, at the end, pairs ops
the batch kernel runs as one instruction (superinstructions), cases generated the same way.

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
import numpy as np

from engine import vmath

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
    return vmath.exp(a)  # within an ulp of libm's, and a block of lanes vectorises


@_scalar
def exp_derivative(a, y):
    return y


@_scalar
def log_forward(a):
    # -inf at 0 and NaN below, where math.log would raise, so the non-finite check can
    # name the node; within an ulp of libm's, and a block of lanes vectorises
    return vmath.log(a)


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
    # e^-|a| never overflows: 1/(1+e^-a) for a >= 0, e^a/(1+e^a) below. Both are
    # computed and one chosen, so a block of lanes vectorises.
    e = vmath.exp(-abs(a))
    return 1.0 / (1.0 + e) if a >= 0.0 else e / (1.0 + e)


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

TEX_ATOM = 9  # the LaTeX precedence of anything that never needs parentheses: x, \sigma(x)


@dataclass(frozen=True)
class Slip:
    """A wrong number students commonly write at a gate, and the words that name it.

    `wrong(args, y, k)` is the wrong local derivative with respect to input k (for a value
    slip, `wrong(args)` is the wrong value), or None where the slip does not apply; `args`
    are the gate's input values and `y` its value. `says` names the mistake; "{where}"
    in it becomes the node.
    """

    wrong: Callable
    says: str


@dataclass(frozen=True)
class OpDef:
    """One operation. `arity` is 1, 2, or None for n-ary (at least 2 inputs).

    Syntax: `infix` is the operator the parser reads (and graph labels write) between
    two operands, `also` other spellings of it, `prefix` an operator read before one
    operand; `power` is its binding power (higher binds tighter) and `right` makes an
    infix operator group to the right. An n-ary op with an infix operator reads a run
    of it as one node (a + b + c is one add gate).

    Gradient: `shares` lists the operands whose local derivative is exactly 1 wherever
    the op is defined, so the reverse sweep may hand them the result's adjoint itself.

    LaTeX, as string.Template text over $a, $b (the inputs) and $y (the node itself):
    `tex` is the gate applied to its inputs and `tex_local` its local derivative with
    respect to each input (the last one serves any further inputs). `tex_prec` is how
    tightly `tex` binds; `tex_wrap[k]` the precedence input k needs to go without
    parentheses. An n-ary op gives no `tex`: `tex_join` goes between its inputs (" " is
    juxtaposition, which the renderer turns into \\cdot before a number). mul and
    pow have no `tex_local` because theirs depend on the inputs' count and the
    exponent's value (worksheets.latex writes them).

    Worksheets: `drawn` = (difficulty, place): the random-graph generator draws this op
    from that difficulty on, listed at that place among the ops the difficulty adds
    (the order is part of every seeded graph). `awkward(args)` is True where a random
    graph should not use the gate: at or near a kink or a tie, or where its numbers are
    not worth working out by hand. `slips` and `value_slips` are the grader's named
    mistakes for the gate's local derivative and for its value.
    """

    name: str
    opcode: int
    arity: int | None
    symbol: str  # drawn inside the gate of a graph figure
    forward: Callable
    derivative: Callable
    doc: str
    infix: str | None = None
    also: tuple[str, ...] = ()
    prefix: str | None = None
    power: int | None = None
    right: bool = False
    shares: tuple[int, ...] = ()
    tex: str | None = None
    tex_local: tuple[str, ...] | None = None
    tex_prec: int = TEX_ATOM
    tex_wrap: tuple[int, ...] = (0, 0)
    tex_join: str | None = None
    drawn: tuple[int, int] | None = None
    awkward: Callable | None = None
    slips: tuple[Slip, ...] = ()
    value_slips: tuple[Slip, ...] = ()

    @property
    def update_order(self) -> tuple[int, ...]:
        """The order the reverse sweep updates the operands' adjoints in."""
        return (0,) if self.arity == 1 else (0, 1)

    def value(self, *args: float) -> float:
        """The forward in plain Python, value(a) or value(a, b): what the kernels give,
        NaN or inf included, where Python would raise."""
        return _ieee(self.forward.py_func, args)

    def local(self, *args: float):
        """The local derivative in plain Python, local(a, y) or local(a, b, y) ->
        (d/da, d/db): what the kernels give, NaN or inf included, where Python would raise."""
        return _ieee(self.derivative.py_func, args)


def _real(y):
    # float ** float of a negative base is complex in Python, NaN in the kernels
    return float(y) if isinstance(y, (float, int)) else math.nan


def _ieee(f, args):
    # floats only: an int would compile the vmath functions once more, for int64
    args = tuple(float(a) if type(a) is int else a for a in args)
    try:
        y = f(*args)
    except (ZeroDivisionError, OverflowError, ValueError):
        # Python raises where IEEE arithmetic (Numba's error_model="numpy") gives inf or
        # NaN; numpy scalars follow IEEE, so the same function gives the kernels' answer.
        with np.errstate(all="ignore"):
            try:
                y = f(*map(np.float64, args))
            except OverflowError:  # math.exp (softplus, logsigmoid) can overflow
                return math.inf
            except ValueError:
                return math.nan
    return tuple(map(_real, y)) if type(y) is tuple else _real(y)


def _op(opcode, name, arity, symbol, doc, **fields):
    module = globals()
    return OpDef(name, opcode, arity, symbol, module[f"{name}_forward"], module[f"{name}_derivative"],
                 doc, **fields)


def _max_slip(x, y, k):
    # a gate that picked one side, read as if it had picked the other
    d = max_derivative.py_func(x[0], x[1], y)[k]
    return 1.0 - d if d in (0.0, 1.0) else None


def _min_slip(x, y, k):
    d = min_derivative.py_func(x[0], x[1], y)[k]
    return 1.0 - d if d in (0.0, 1.0) else None


_SQUARE_SLIP = "u used where 2u belongs ({where}): d(u²)/du = 2u"
_SQUARE_VALUE_SLIP = "u² is u·u, not 2u"

OPS: tuple[OpDef, ...] = (
    _op(0, "add", None, "+", "sum of its inputs; passes the gradient unchanged to each",
        infix="+", power=1, shares=(0, 1),
        tex_join=" + ", tex_prec=1, tex_wrap=(0,), tex_local=("1",), drawn=(1, 0)),
    _op(1, "mul", None, "×", "product of its inputs; each input gets the gradient times the others",
        infix="*", power=2,
        tex_join=" ", tex_prec=3, tex_wrap=(3,), drawn=(1, 1),
        slips=(Slip(lambda x, y, k: x[k], "multiplied by the input's own value instead of the "
                                          "other factor ({where})"),)),
    _op(2, "sub", 2, "−", "a - b",
        infix="-", power=1, shares=(0,),
        tex="$a - $b", tex_prec=1, tex_wrap=(0, 3), tex_local=("1", "-1"), drawn=(2, 0),
        slips=(Slip(lambda x, y, k: 1.0 if k == 1 else None,
                    "the second input of a subtraction gets minus the gradient ({where})"),),
        value_slips=(Slip(lambda x: x[1] - x[0],
                          "a subtraction takes its second input from its first"),)),
    _op(3, "div", 2, "÷", "a / b",
        infix="/", power=2,
        tex=r"\frac{$a}{$b}", tex_prec=4, tex_local=(r"\frac{1}{$b}", r"-\frac{$a}{$b^2}"),
        drawn=(5, 0), awkward=lambda x: abs(x[1]) < 0.5,
        slips=(Slip(lambda x, y, k: 1.0 / x[1] if k == 1 else None,
                    "d(a/b)/db = −a/b², not 1/b ({where})"),)),
    _op(4, "neg", 1, "−", "-a (unary minus)",
        prefix="-", power=3,
        tex="-$a", tex_prec=2, tex_wrap=(3,), tex_local=("-1",), drawn=(4, 2),
        slips=(Slip(lambda x, y, k: 1.0, "negation flips the sign of the gradient ({where})"),)),
    _op(5, "square", 1, "x²", "a²",
        tex="$a^2", tex_prec=5, tex_wrap=(TEX_ATOM,), tex_local=("2 $a",), drawn=(2, 1),
        slips=(Slip(lambda x, y, k: x[0], _SQUARE_SLIP),),
        value_slips=(Slip(lambda x: 2 * x[0], _SQUARE_VALUE_SLIP),)),
    # pow(u, 2) is shown, and marked, as square(u)
    _op(6, "pow", 2, "^", "a ** p with a constant exponent p (no gradient flows to p)",
        infix="^", also=("**",), power=4, right=True,
        tex="$a^{$b}", tex_prec=5, tex_wrap=(TEX_ATOM, 0),
        slips=(Slip(lambda x, y, k: x[0] if x[1] == 2.0 else None, _SQUARE_SLIP),
               Slip(lambda x, y, k: x[0] ** (x[1] - 1.0) if x[1] != 2.0 else None,
                    "the exponent's factor p is missing ({where}): d(u^p)/du = p·u^(p−1)")),
        value_slips=(Slip(lambda x: 2 * x[0] if x[1] == 2.0 else None, _SQUARE_VALUE_SLIP),)),
    _op(7, "exp", 1, "exp", "e ** a",
        tex=r"e^{$a}", tex_local=("$y",), drawn=(4, 1), awkward=lambda x: abs(x[0]) > 2,
        slips=(Slip(lambda x, y, k: 1.0, "d(e^u)/du = e^u, not 1 ({where})"),)),
    _op(8, "log", 1, "log", "natural logarithm",
        tex=r"\log\left($a\right)", tex_local=(r"\frac{1}{$a}",),
        slips=(Slip(lambda x, y, k: x[0], "d(log u)/du = 1/u ({where})"),)),
    _op(9, "sqrt", 1, "√", "square root; gradient +inf at 0",
        tex=r"\sqrt{$a}", tex_local=(r"\frac{1}{2 $y}",)),
    _op(10, "abs", 1, "|·|", "|a|; gradient 0 at 0 (PyTorch)",
        tex=r"\left|$a\right|", tex_local=(r"\operatorname{sign}($a)",)),
    _op(11, "sigmoid", 1, "σ", "1 / (1 + e ** -a); gradient σ(1 - σ)",
        tex=r"\sigma\left($a\right)", tex_local=("$y(1 - $y)",),
        drawn=(3, 0), awkward=lambda x: abs(x[0]) > 3,
        slips=(Slip(lambda x, y, k: y, "σ used where σ(1 − σ) belongs ({where}): the sigmoid "
                                       "gate passes back σ(1 − σ) times the upstream gradient"),),
        value_slips=(Slip(lambda x: 1.0 / (1.0 + math.exp(x[0])),
                          "σ(z) = 1/(1 + e^(−z)): the sign in the exponent is flipped"),)),
    _op(12, "tanh", 1, "tanh", "hyperbolic tangent; gradient 1 - tanh²",
        tex=r"\tanh\left($a\right)", tex_local=("1 - $y^2",),
        drawn=(4, 0), awkward=lambda x: abs(x[0]) > 2,
        slips=(Slip(lambda x, y, k: y, "tanh used where 1 − tanh² belongs ({where})"),)),
    _op(13, "relu", 1, "ReLU", "max(a, 0); gradient 0 at 0 (PyTorch)",
        tex=r"\mathrm{ReLU}\left($a\right)", tex_local=("[$a > 0]",),
        drawn=(3, 1), awkward=lambda x: abs(x[0]) < 0.5,
        slips=(Slip(lambda x, y, k: 0.0 if x[0] > 0 else None,
                    "this ReLU's input is positive, so it passes the gradient back unchanged ({where})"),
               Slip(lambda x, y, k: 1.0 if not x[0] > 0 else None,
                    "this ReLU's input is not positive, so it passes no gradient back ({where})")),
        value_slips=(Slip(lambda x: x[0] if x[0] < 0 else None,
                          "ReLU(z) = max(z, 0): a negative input gives 0"),)),
    _op(14, "softplus", 1, "softplus", "log(1 + e ** a), computed without overflow; gradient σ(a)",
        tex=r"\mathrm{softplus}\left($a\right)", tex_local=(r"\sigma($a)",)),
    _op(15, "logsigmoid", 1, "log σ", "log(σ(a)) = -softplus(-a), finite where σ(a) underflows",
        tex=r"\log\sigma\left($a\right)", tex_local=(r"\sigma(-$a)",)),
    _op(16, "max", 2, "max", "larger of a and b; a tie passes half the gradient to each (PyTorch)",
        tex=r"\max\left($a, $b\right)", tex_local=("[$a > $b]", "[$b > $a]"),
        drawn=(3, 2), awkward=lambda x: abs(x[0] - x[1]) < 0.5,
        slips=(Slip(_max_slip, "max passes the gradient only to its larger input ({where})"),),
        value_slips=(Slip(lambda x: min(x), "max keeps the larger input"),)),
    _op(17, "min", 2, "min", "smaller of a and b; a tie passes half the gradient to each (PyTorch)",
        tex=r"\min\left($a, $b\right)", tex_local=("[$a < $b]", "[$b < $a]"),
        drawn=(5, 1), awkward=lambda x: abs(x[0] - x[1]) < 0.5,
        slips=(Slip(_min_slip, "min passes the gradient only to its smaller input ({where})"),),
        value_slips=(Slip(lambda x: max(x), "min keeps the smaller input"),)),
)

OPS_BY_NAME: dict[str, OpDef] = {op.name: op for op in OPS}

assert [op.opcode for op in OPS] == list(range(len(OPS))), "opcodes must be 0..n-1 in table order"


# --- superinstructions ----------------------------------------------------------------

@dataclass(frozen=True)
class Fusion:
    """A superinstruction: `outer` applied to `inner`'s result as its first input, run as
    one instruction where nothing else reads that result (engine.lowering.Code.fused, for
    the batch kernel). Its operands are the inner op's, then the outer op's others:
    muladd(a, b, c) = add(mul(a, b), c). The kernels' cases are generated from the two
    ops' rows (engine.vm.codegen), so a fused instruction gives bit for bit what the two
    instructions give, its gradients included; it saves storing and reloading the
    intermediate row, and the dispatch and loop of one instruction, per block.

    An n-ary outer op (add, mul: a sum or product) takes the inner result at any place,
    since its binary form commutes exactly in IEEE arithmetic; any other only at its first.
    """

    name: str
    opcode: int
    outer: OpDef
    inner: OpDef
    doc: str

    @property
    def inner_arity(self) -> int:
        return self.inner.arity or 2

    @property
    def arity(self) -> int:
        return self.inner_arity + (self.outer.arity or 2) - 1

    @property
    def update_order(self) -> tuple[int, ...]:
        """The order the reverse case updates the operands' adjoints in: the outer op's
        other inputs, then the inner op's, as the two instructions do (the later one's
        reverse runs first), so contributions to one adjoint add up in the same order."""
        return tuple(range(self.inner_arity, self.arity)) + tuple(range(self.inner_arity))

    @property
    def shares(self) -> tuple[int, ...]:
        """Operands whose local derivative is exactly 1: through both ops, or the outer
        op's own other inputs that it shares (the c of muladd)."""
        inner = tuple(j for j in self.inner.shares if 0 in self.outer.shares)
        return inner + tuple(self.inner_arity + p - 1 for p in self.outer.shares if p > 0)


def _fusion(k: int, name: str, outer: str, inner: str, doc: str) -> Fusion:
    return Fusion(name, len(OPS) + k, OPS_BY_NAME[outer], OPS_BY_NAME[inner], doc)


# The chains common in the worksheets' graphs: a weighted sum, the square of a product,
# a product of three (a constant times two inputs). Each costs compile time in both
# sweeps (cross-entropy's log of a sigmoid, with exp and log written out in four loops,
# was left out for that: the sweeps' cold compile grew by seconds, the goal is 15 s).
FUSIONS: tuple[Fusion, ...] = (
    _fusion(0, "muladd", "add", "mul", "a·b + c"),
    _fusion(1, "sqmul", "square", "mul", "(a·b)²"),
    _fusion(2, "mul3", "mul", "mul", "a·b·c"),
)

# Everything an instruction's opcode can name: the ops, then the superinstructions.
INSTRUCTIONS: tuple[OpDef | Fusion, ...] = OPS + FUSIONS
FUSION_OF: dict[tuple[int, int], Fusion] = {(f.outer.opcode, f.inner.opcode): f for f in FUSIONS}
