"""Superinstructions: the batch kernel runs two ops as one instruction (engine.ops.FUSIONS)
where the lowering finds the first's result read once, by an op it fuses with, and not
reported.

The oracles: NumPy written out by hand for the worksheet's graphs, the complex-step
reference (tests.oracle) for random fusion-rich graphs, and the ragged kernel, which
runs the same graph one input set at a time from the unfused program: a fused
instruction computes the same numbers in the same order as the two it replaces, so the
two kernels agree bit for bit.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
from engine import NonFiniteError
from engine.lowering import lowered
from engine.ops import FUSIONS, INSTRUCTIONS
from engine.vm import kernels as vm
from tests import oracle
from tests.engine.test_evaluate import _reference

N = 3 * vm.BLOCK + 7  # lanes in several blocks, the last one partial
FUSED = {f.name: f for f in FUSIONS}


def fused_ops(graph, intermediates=False) -> list[str]:
    return [INSTRUCTIONS[op].name for op in lowered(graph).fused(intermediates)[:, 0]]


def one_lane_at_a_time(graph, batch: dict, seed=1.0) -> tuple[np.ndarray, dict]:
    """Value and input gradients per lane from the ragged kernel (unfused program)."""
    n = len(next(iter(batch.values())))
    seeds = np.broadcast_to(seed, n)
    evs = engine.evaluate_many([(graph, {x: float(v[i]) for x, v in batch.items()}, float(seeds[i]))
                                for i in range(n)])
    return (np.array([ev.value for ev in evs]),
            {x: np.array([ev.gradients[x] for ev in evs]) for x in graph.inputs})


def lanes(names, n=N, seed=0, low=-2.0, high=2.0) -> dict:
    rng = np.random.default_rng(seed)
    return {x: rng.uniform(low, high, n) for x in names}


def test_the_worksheets_square_of_a_product_plus_a_product_runs_as_three_instructions():
    graph = engine.parse("(3*a*b)^2 + c*d")
    assert fused_ops(graph) == ["mul3", "square", "muladd"]
    text = repr(engine.lower(graph))
    assert "fused for the batch kernel (intermediates=False): 3 instructions" in text
    assert "mul3(s0, s1, s2)" in text and "muladd(s7, s8, s6)" in text
    x = lanes("abcd")
    a, b, c, d = x["a"], x["b"], x["c"], x["d"]
    ev = engine.evaluate(graph, x, intermediates=False)
    u = 3 * a * b
    np.testing.assert_array_equal(ev.value, u * u + c * d)
    np.testing.assert_allclose(ev.gradients["a"], 6 * u * b, rtol=1e-14)
    np.testing.assert_allclose(ev.gradients["b"], 6 * u * a, rtol=1e-14)
    np.testing.assert_array_equal(ev.gradients["c"], d)
    np.testing.assert_array_equal(ev.gradients["d"], c)
    value, grads = one_lane_at_a_time(graph, x)
    np.testing.assert_array_equal(ev.value, value)
    for name in "abcd":
        np.testing.assert_array_equal(ev.gradients[name], grads[name])


def test_cross_entropy_of_a_logistic_unit_fuses_its_weighted_sums():
    graph = engine.parse("L = -(y*log(sigmoid(w1*x1 + w2*x2 + b)) + (1 - y)*log(1 - sigmoid(w1*x1 + w2*x2 + b)))")
    ops = fused_ops(graph)
    assert ops.count("muladd") == 3 and len(ops) == 18 - 3
    x = lanes(["w1", "x1", "w2", "x2", "b"], seed=1)
    x["y"] = np.random.default_rng(2).integers(0, 2, N).astype(float)
    ev = engine.evaluate(graph, x, intermediates=False)
    z = x["w1"] * x["x1"] + x["w2"] * x["x2"] + x["b"]
    h = 1 / (1 + np.exp(-z))
    loss = -(x["y"] * np.log(h) + (1 - x["y"]) * np.log(1 - h))
    np.testing.assert_allclose(ev.value, loss, rtol=1e-12)
    # dL/dz = h - y for a sigmoid unit under cross-entropy
    np.testing.assert_allclose(ev.gradients["b"], h - x["y"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ev.gradients["w1"], (h - x["y"]) * x["x1"], rtol=1e-9, atol=1e-12)
    value, grads = one_lane_at_a_time(graph, x)
    np.testing.assert_array_equal(ev.value, value)
    for name in graph.inputs:
        np.testing.assert_array_equal(ev.gradients[name], grads[name])


@pytest.mark.parametrize("expr, fused, gradients", [
    # an operand met twice or three times in one superinstruction: each adjoint's first
    # contribution is assigned, the others added, in the order the two instructions give
    ("f = x*y + x", ["muladd"], lambda x, y: {"x": y + 1, "y": x}),
    ("f = x*x + x", ["muladd"], lambda x, y: {"x": 2 * x + 1}),
    ("f = x*x*x", ["mul3"], lambda x, y: {"x": 3 * x * x}),
    ("f = (x*y)^2", ["sqmul"], lambda x, y: {"x": 2 * x * y * y, "y": 2 * x * x * y}),
    # an n-ary op takes the product at either place; sub does not commute, so c - a*b stays two
    ("f = y + x*y", ["muladd"], lambda x, y: {"x": y, "y": 1 + x}),
    ("f = y - x*y", ["mul", "sub"], lambda x, y: {"x": -y, "y": 1 - x}),
])
def test_an_operand_used_more_than_once_gets_every_contribution(expr, fused, gradients):
    graph = engine.parse(expr)
    assert fused_ops(graph) == fused
    x = lanes(graph.inputs, seed=3, low=0.5, high=2.0)
    ev = engine.evaluate(graph, x, intermediates=False)
    args = [x.get("x"), x.get("y")]
    for name, want in gradients(*args).items():
        np.testing.assert_allclose(ev.gradients[name], want, rtol=1e-14)
    value, grads = one_lane_at_a_time(graph, x)
    np.testing.assert_array_equal(ev.value, value)
    for name in graph.inputs:
        np.testing.assert_array_equal(ev.gradients[name], grads[name])


def test_a_reported_node_is_never_fused_away():
    graph = engine.parse("m = a*b; f = m + c")
    assert fused_ops(graph, intermediates=False) == ["muladd"]
    assert fused_ops(graph, intermediates=True) == ["mul", "add"]  # m's value is reported
    x = lanes("abc", seed=4)
    ev = engine.evaluate(graph, x, intermediates=True)
    np.testing.assert_array_equal(ev.values["m"], x["a"] * x["b"])
    np.testing.assert_array_equal(ev.gradients["m"], np.ones(N))
    # an n-ary node's chain links are no node's: they fuse with intermediates too
    assert fused_ops(engine.parse("f = a*b*c"), intermediates=True) == ["mul3"]
    # nor is the output, which nothing reads
    assert fused_ops(engine.parse("f = a*b")) == ["mul"]


def test_a_non_finite_inner_value_is_reported_at_its_own_node_and_lane():
    # a*b overflows to inf in lane 300, and inf * 0 is NaN: the error names the product
    # the superinstruction computes inside, as the unfused program would
    graph = engine.parse("f = (a*b)*c + d")
    assert fused_ops(graph) == ["mul3", "add"]
    x = lanes("abcd", seed=5)
    x["a"][300], x["b"][300], x["c"][300] = 1e200, 1e200, 0.0
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate(graph, x, intermediates=False)
    assert err.value.index == 300 and err.value.kind == "value"
    assert err.value.node == "mul1"


def test_a_non_finite_gradient_inside_a_superinstruction_is_found_at_its_lane():
    # (x*y)^2 with y = 1 and a seed of 1e308: the value is finite, but x's gradient,
    # 2xy * y * 1e308, overflows once 2x passes 1.797 (float64's largest is 1.797e308)
    graph = engine.parse("f = (x*y)^2")
    assert fused_ops(graph) == ["sqmul"]
    x = np.linspace(0.1, 2.0, N)
    first = int(np.argmax(2.0 * x > np.finfo(float).max / 1e308))
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate(graph, {"x": x, "y": np.ones(N)}, output_gradient=1e308, intermediates=False)
    assert err.value.index == first and err.value.kind == "gradient"


FUSABLE = ["{a}*{b} + {c}", "{c} + {a}*{b}", "({a}*{b})^2", "{a}*{b}*{c}", "log(sigmoid({a}))",
           "sigmoid({a})", "{a}*{b}", "{a} - {b}"]  # (log of a sigmoid: a chain that does not fuse)


@st.composite
def fusion_rich_graphs(draw):
    """A random graph whose nodes are the fusable shapes, over x0..x2 and earlier nodes."""
    names = ["x0", "x1", "x2"]
    statements = []
    for k in range(draw(st.integers(1, 6))):
        shape = draw(st.sampled_from(FUSABLE))
        expr = shape.format(**{v: draw(st.sampled_from(names)) for v in "abc"})
        statements.append(f"n{k} = {expr}")
        names.append(f"n{k}")
    return "; ".join(statements)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(fusion_rich_graphs(), st.booleans())
def test_random_fusion_rich_graphs_match_the_complex_step_oracle_and_the_unfused_program(text, intermediates):
    graph = engine.parse(text)
    x = lanes(graph.inputs, n=vm.BLOCK + 3, seed=len(text), low=-1.5, high=1.5)
    seed = np.random.default_rng(6).uniform(-2, 2, vm.BLOCK + 3)
    for i in (0, vm.BLOCK + 2):
        assume(_reference(graph, {k: float(v[i]) for k, v in x.items()}) is not None)
    try:
        ev = engine.evaluate(graph, x, output_gradient=seed, intermediates=intermediates)
    except NonFiniteError as err:  # then the unfused program finds it at the same lane
        i = err.index
        found = engine.evaluate_many([(graph, {k: float(v[i]) for k, v in x.items()})], output_gradient=seed[i],
                                     errors="return")[0]
        assert isinstance(found, NonFiniteError), (text, i)
        return
    value, grads = one_lane_at_a_time(graph, x, seed=seed)
    np.testing.assert_array_equal(ev.value, value)
    for name in graph.inputs:
        np.testing.assert_allclose(ev.gradients[name], grads[name], rtol=1e-13, atol=1e-300)
    for i in (0, vm.BLOCK + 2):
        one = {k: float(v[i]) for k, v in x.items()}
        for name, want in oracle.complex_step_gradients(graph, one).items():
            assert ev.gradients[name][i] == pytest.approx(seed[i] * want, rel=1e-8, abs=1e-9)
