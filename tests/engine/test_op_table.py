"""The op table's own functions, called one by one: each forward against plain Python
(tests/oracle.py) and each local derivative against complex step through that plain
Python, away from kinks, and at the kinks and domain edges the PyTorch conventions that
engine/ops.py states. The functions run as plain Python (`OpDef.value` and `OpDef.local`,
with the kernels' IEEE results where Python would raise); test_ops.py checks the same
ops compiled, through the kernels. Nothing here compiles, so `make mutation` can run
these checks against every mutant of the table in a few seconds each."""

import math

import pytest

from engine.ops import OPS, OPS_BY_NAME
from tests import oracle

UNARY_POINTS = [-2.3, -0.7, 0.4, 1.9, 3.1]
POSITIVE = [0.3, 1.1, 2.7, 9.5]
PAIRS = [(-2.3, 1.3), (-0.7, -2.9), (0.4, 0.8), (1.9, -0.5), (3.1, 2.2), (-1.5, -1.25)]
EXPONENTS = [2.0, 3.0, -1.0, 0.5, 2.5]


def _points(op):
    if op.name in ("log", "sqrt"):
        return [(a,) for a in POSITIVE]
    if op.name == "pow":
        return [(a, p) for a in POSITIVE for p in EXPONENTS]
    if op.arity == 1:
        return [(a,) for a in UNARY_POINTS]
    return PAIRS + [(b, a) for a, b in PAIRS]


def _complex_step(op_name, args, k, h=1e-30):
    shifted = list(args)
    shifted[k] = complex(args[k], h)
    y = oracle.REFERENCE[op_name](*shifted)
    return (y.imag if isinstance(y, complex) else 0.0) / h


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_each_forward_in_the_table_matches_plain_python(op):
    for args in _points(op):
        want = oracle.REFERENCE[op.name](*args)
        assert op.value(*args) == pytest.approx(want, rel=1e-14, abs=1e-15), args


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_each_local_derivative_in_the_table_matches_complex_step(op):
    for args in _points(op):
        y = oracle.REFERENCE[op.name](*args)
        got = op.local(*args, y)
        got = got if isinstance(got, tuple) else (got,)
        # pow's exponent is a constant: no gradient flows to it
        wrt = 1 if op.name == "pow" else len(args)
        assert len(got) == len(args)
        for k in range(wrt):
            assert got[k] == pytest.approx(_complex_step(op.name, args, k), rel=1e-12,
                                           abs=1e-15), (args, k)
        if op.name == "pow":
            assert got[1] == 0.0


def _d(name, *args):
    op = OPS_BY_NAME[name]
    return op.local(*args, op.value(*args))


def test_at_kinks_the_table_follows_pytorch():
    assert _d("relu", 0.0) == 0.0 and _d("abs", 0.0) == 0.0
    assert _d("relu", 1e-300) == 1.0 and _d("abs", -1e-300) == -1.0
    assert _d("max", 2.0, 2.0) == (0.5, 0.5) and _d("min", -1.0, -1.0) == (0.5, 0.5)
    assert _d("pow", 0.0, 0.0) == (0.0, 0.0) and _d("pow", 5.0, 0.0) == (0.0, 0.0)
    assert _d("pow", -2.0, 3.0) == (12.0, 0.0)
    assert _d("pow", 0.0, 1.5) == (0.0, 0.0)  # 1.5 * 0^0.5, as PyTorch gives


def test_at_domain_edges_the_table_returns_ieee_values_for_the_kernels_to_report():
    log, sqrt = OPS_BY_NAME["log"], OPS_BY_NAME["sqrt"]
    assert log.value(0.0) == -math.inf and math.isnan(log.value(-1.0))
    assert log.value(1e-300) == pytest.approx(math.log(1e-300), rel=1e-15)
    assert sqrt.value(0.0) == 0.0 and math.isnan(sqrt.value(-1e-300))
    assert sqrt.value(1e-300) == pytest.approx(1e-150, rel=1e-15)
    assert _d("sqrt", 0.0) == math.inf


def test_far_out_the_table_stays_finite_and_exact():
    forward = {op.name: op.value for op in OPS}
    assert forward["sigmoid"](-800.0) == 0.0 and forward["sigmoid"](800.0) == 1.0
    assert forward["sigmoid"](-30.0) == pytest.approx(math.exp(-30.0), rel=1e-12)
    assert forward["softplus"](800.0) == 800.0 and forward["softplus"](-800.0) == 0.0
    assert forward["softplus"](-30.0) == pytest.approx(math.exp(-30.0), rel=1e-12)
    assert forward["logsigmoid"](-800.0) == -800.0 and forward["logsigmoid"](800.0) == 0.0
    assert _d("logsigmoid", -800.0) == 1.0 and _d("softplus", -800.0) == 0.0
    assert _d("sigmoid", 800.0) == 0.0
    # exp past the float range is inf, as in the kernels, where Python raises
    assert forward["exp"](1000.0) == math.inf and _d("exp", 1000.0) == math.inf
    assert forward["pow"](10.0, 400.0) == math.inf


def _exactly_one(op, k):
    """Whether input k's local derivative is exactly 1 at every sample point."""
    for args in _points(op):
        got = _d(op.name, *args)
        if (got if isinstance(got, tuple) else (got,))[k] != 1.0:
            return False
    return True


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_shares_lists_exactly_the_operands_whose_local_derivative_is_one(op):
    # the reverse sweep hands these operands the result's adjoint row itself: an operand
    # listed wrongly would get the wrong gradient, one left out only a copy
    inputs = 1 if op.arity == 1 else 2
    assert op.shares == tuple(k for k in range(inputs) if _exactly_one(op, k))


def test_at_zero_and_at_ties_each_comparison_falls_on_the_documented_side():
    value = {op.name: op.value for op in OPS}
    assert value["relu"](0.0) == 0.0 and value["relu"](-1e-300) == 0.0
    assert value["relu"](1e-300) == 1e-300
    assert value["abs"](-0.0) == 0.0 and value["abs"](-1e-300) == 1e-300
    assert value["sigmoid"](0.0) == 0.5 and value["tanh"](0.0) == 0.0
    assert value["sigmoid"](-1e-300) == 0.5 and value["sigmoid"](1e-300) == 0.5
    assert value["softplus"](0.0) == pytest.approx(math.log(2.0), rel=1e-15)
    assert value["logsigmoid"](0.0) == pytest.approx(-math.log(2.0), rel=1e-15)
    assert value["max"](2.0, 2.0) == 2.0 and value["min"](-1.0, -1.0) == -1.0
    assert value["max"](2.0, 2.0 + 2**-51) == 2.0 + 2**-51
    assert value["min"](2.0, 2.0 + 2**-51) == 2.0
    assert _d("relu", 0.0) == 0.0 and _d("relu", -1e-300) == 0.0
    assert _d("abs", 1e-300) == 1.0
    # a tie between two float objects (not one constant twice) is still a tie
    two, other_two = 2.0, float("2.0")
    assert other_two is not two
    assert _d("max", two, other_two) == (0.5, 0.5) and _d("min", two, other_two) == (0.5, 0.5)
    assert _d("max", 1.0, 1.0 + 2**-52) == (0.0, 1.0)
    assert _d("min", 1.0, 1.0 + 2**-52) == (1.0, 0.0)
    assert _d("max", 1.0 + 2**-52, 1.0) == (1.0, 0.0)
    assert _d("min", 1.0 + 2**-52, 1.0) == (0.0, 1.0)
    assert _d("sigmoid", 0.0) == 0.25 and _d("softplus", 0.0) == 0.5
    assert _d("logsigmoid", 0.0) == 0.5 and _d("tanh", 0.0) == 1.0
    assert _d("log", 0.0) == math.inf and _d("sqrt", 1e-300) == pytest.approx(5e149)
