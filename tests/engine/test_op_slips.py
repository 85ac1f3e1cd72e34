"""The op table's slips (the wrong numbers students commonly write at a gate, which the
grader names) and `awkward` (the input values random graphs avoid), each against the
number the mistake's own words describe, worked by hand."""

from __future__ import annotations

import math

import pytest

from engine.ops import OPS_BY_NAME


def local_slips(op: str, args: tuple, k: int) -> list:
    """Each local-derivative slip of `op` at these inputs, for input k (None: not this one)."""
    y = OPS_BY_NAME[op].value(*args)
    return [slip.wrong(args, y, k) for slip in OPS_BY_NAME[op].slips]


def value_slips(op: str, args: tuple) -> list:
    return [slip.wrong(args) for slip in OPS_BY_NAME[op].value_slips]


def same(got: list, expected: list) -> bool:
    """Slip by slip: None (does not apply here) where expected, else the same number."""
    return len(got) == len(expected) and all(
        g is None if e is None else (g is not None and math.isclose(g, e, rel_tol=1e-15))
        for g, e in zip(got, expected))


# (op, inputs, input k, the wrong local derivative of each slip, in the table's order)
LOCAL = [
    ("mul", (2.0, 5.0), 0, [2.0]),            # d(ab)/da taken as a, its own value
    ("mul", (2.0, 5.0), 1, [5.0]),
    ("sub", (7.0, 3.0), 1, [1.0]),            # the second input given +1, not -1
    ("sub", (7.0, 3.0), 0, [None]),
    ("div", (6.0, 4.0), 1, [0.25]),           # d(a/b)/db taken as 1/b
    ("div", (6.0, 4.0), 0, [None]),
    ("neg", (3.0,), 0, [1.0]),                # the sign not flipped
    ("square", (3.0,), 0, [3.0]),             # u where 2u belongs
    ("pow", (3.0, 2.0), 0, [3.0, None]),      # u^2: u where 2u belongs
    ("pow", (2.0, 3.0), 0, [None, 4.0]),      # u^3: u^2, the factor 3 missing
    ("pow", (3.0, 4.0), 0, [None, 27.0]),     # u^4: u^3
    ("pow", (4.0, 0.5), 0, [None, 0.5]),      # u^0.5: u^-0.5, the factor 0.5 missing
    ("pow", (4.0, 1.5), 0, [None, 2.0]),      # below 2 too: only the missing factor
    ("exp", (0.5,), 0, [1.0]),                # d(e^u)/du taken as 1
    ("log", (4.0,), 0, [4.0]),                # u where 1/u belongs
    ("sigmoid", (0.3,), 0, [1.0 / (1.0 + math.exp(-0.3))]),   # σ where σ(1 − σ) belongs
    ("tanh", (0.3,), 0, [math.tanh(0.3)]),    # tanh where 1 − tanh² belongs
    ("relu", (2.0,), 0, [0.0, None]),         # a positive input's gradient stopped
    ("relu", (-1.0,), 0, [None, 1.0]),        # a negative input's gradient let through
    ("relu", (0.0,), 0, [None, 1.0]),         # at 0 the gradient is 0 (PyTorch): let through
    ("relu", (0.5,), 0, [0.0, None]),
    ("relu", (-0.5,), 0, [None, 1.0]),
    ("max", (3.0, 1.0), 0, [0.0]),            # the gradient sent to the smaller input instead
    ("max", (3.0, 1.0), 1, [1.0]),
    ("max", (2.0, 2.0), 0, [None]),           # a tie splits the gradient: no side to swap
    ("min", (3.0, 1.0), 0, [1.0]),
    ("min", (3.0, 1.0), 1, [0.0]),
    ("min", (2.0, 2.0), 1, [None]),
]


@pytest.mark.parametrize("op,args,k,wrong", LOCAL)
def test_each_local_slip_is_the_number_its_words_describe(op, args, k, wrong):
    assert same(local_slips(op, args, k), wrong), local_slips(op, args, k)


# (op, inputs, the wrong value of each value slip)
VALUES = [
    ("sub", (7.0, 3.0), [-4.0]),                         # b - a
    ("square", (3.0,), [6.0]),                           # 2u, not u·u
    ("pow", (3.0, 2.0), [6.0]),
    ("pow", (2.0, 3.0), [None]),
    ("pow", (4.0, 0.5), [None]),                         # 2u is a slip of squares only
    ("sigmoid", (1.0,), [1.0 / (1.0 + math.e)]),         # the exponent's sign flipped
    ("relu", (-2.0,), [-2.0]),                           # a negative input passed through
    ("relu", (2.0,), [None]),
    ("relu", (0.0,), [None]),
    ("relu", (-0.5,), [-0.5]),
    ("max", (3.0, 1.0), [1.0]),                          # the smaller kept
    ("min", (3.0, 1.0), [3.0]),                          # the larger kept
]


@pytest.mark.parametrize("op,args,wrong", VALUES)
def test_each_value_slip_is_the_number_its_words_describe(op, args, wrong):
    assert same(value_slips(op, args), wrong), value_slips(op, args)


def test_every_slip_names_its_gate_where_the_grader_puts_it():
    for op in OPS_BY_NAME.values():
        for slip in op.slips:
            assert slip.says.count("{where}") == 1, (op.name, slip.says)
            assert "HERE" in slip.says.format(where="HERE")
        for slip in op.value_slips:
            assert "{where}" not in slip.says


# (op, inputs just inside what random graphs avoid, inputs just outside)
AWKWARD = [
    ("div", (1.0, 0.49), (1.0, 0.5)),        # a divisor near 0
    ("div", (1.0, -0.49), (1.0, -0.5)),
    ("exp", (2.01,), (2.0,)),                # e^u grows past a hand's arithmetic
    ("exp", (-2.01,), (-2.0,)),
    ("sigmoid", (3.01,), (3.0,)),            # σ saturates
    ("sigmoid", (-3.01,), (-3.0,)),
    ("tanh", (2.01,), (2.0,)),
    ("relu", (0.49,), (0.5,)),               # too near the kink
    ("relu", (-0.49,), (-0.5,)),
    ("max", (1.0, 1.49), (1.0, 1.5)),        # too near a tie
    ("max", (1.49, 1.0), (1.5, 1.0)),
    ("min", (1.0, 0.51), (1.0, 0.5)),
]


# (op, inputs far from where a gate is awkward)
FINE = [("div", (1.0, 3.0)), ("exp", (0.0,)), ("sigmoid", (0.5,)), ("tanh", (0.5,)),
        ("relu", (3.0,)), ("relu", (-3.0,)), ("max", (1.0, 4.0)), ("min", (4.0, 1.0))]


@pytest.mark.parametrize("op,inside,outside", AWKWARD)
def test_random_graphs_avoid_inputs_where_a_gate_is_awkward_by_hand(op, inside, outside):
    awkward = OPS_BY_NAME[op].awkward
    assert awkward(inside) and not awkward(outside)


@pytest.mark.parametrize("op,args", FINE)
def test_inputs_far_from_the_awkward_ones_are_fine(op, args):
    assert not OPS_BY_NAME[op].awkward(args)
