"""Evaluation against independent oracles, batching, evaluate_many, inputs, non-finite results."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
from engine import GraphError, NonFiniteError, spec_bulk
from engine.vm import kernels as vm
from engine.ops import OPS
from tests import oracle

KINKED = {"relu": 1, "abs": 1, "max": 2, "min": 2}
INPUTS = ["x0", "x1", "x2"]


@st.composite
def random_graphs(draw, max_ops=8):
    """A random node spec over x0..x2 with its input values (kinks and domains filtered later)."""
    n_ops = draw(st.integers(1, max_ops))
    names = list(INPUTS)
    nodes = []
    for k in range(n_ops):
        op = draw(st.sampled_from(OPS))
        arity = {None: draw(st.integers(2, 4))}.get(op.arity, op.arity)
        args = [draw(st.sampled_from(names)) for _ in range(arity)]
        if op.name == "pow":
            args[1] = draw(st.sampled_from([2.0, 3.0, -1.0, 0.5, 1.5]))
        elif arity >= 2 and draw(st.booleans()) and draw(st.booleans()):
            args[-1] = draw(st.floats(-3, 3).map(lambda v: round(v, 1)))
        nodes.append({"id": f"n{k}", "op": op.name, "inputs": args})
        names.append(f"n{k}")
    spec = {"nodes": nodes, "output": names[-1]}
    # Complex step needs a step far below the value and still a normal float: below
    # about 1e-280 it cannot be both (hypothesis found sqrt at 2.2e-311), so inputs
    # are 0 or at least that large.
    values = {x: draw(st.floats(-3, 3, allow_nan=False).filter(lambda v: v == 0 or abs(v) >= 1e-280))
              for x in INPUTS}
    return spec, values


def _reference(graph, values):
    """Oracle values, or None when the point is outside a domain or too near a kink."""
    try:
        env = oracle.forward(graph, values)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    for node in graph.nodes:
        v = env[node.id]
        if isinstance(v, complex) or not math.isfinite(v) or abs(v) > 1e6:
            return None
        args = [env[r] if isinstance(r, str) else r for r in node.inputs]
        if node.op in ("relu", "abs") and abs(args[0]) < 1e-3:
            return None
        if node.op in ("max", "min") and abs(args[0] - args[1]) < 1e-3:
            return None
        if node.op in ("log", "sqrt", "div") and abs(args[-1] if node.op == "div" else args[0]) < 1e-2:
            return None
    return env


def evaluated_as_the_oracle_says(graph, values) -> engine.Evaluation | None:
    """The graph evaluated, its values checked against the oracle's; points outside a
    domain or near a kink are assumed away. None where the engine reports a non-finite
    result, which it may only do where the oracle too finds one (or a gradient past 1e8):
    there is nothing further to compare."""
    env = _reference(graph, values)
    assume(env is not None)
    try:
        ev = engine.evaluate(graph, values)
    except NonFiniteError as err:
        # only where plain Python also finds a gradient infinite or past 1e8
        assert not oracle.bounded(graph, values), err
        return
    for name, want in env.items():
        assert ev.values[name] == pytest.approx(want, rel=1e-11, abs=1e-11), name
    return ev


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(random_graphs())
def test_random_graphs_match_plain_python_values_and_complex_step_gradients_at_every_node(case):
    spec, values = case
    graph = engine.Graph.from_spec({**spec, "output": spec["nodes"][-1]["id"]})
    # only inputs that the graph uses are passed
    values = {k: values[k] for k in graph.inputs}
    ev = evaluated_as_the_oracle_says(graph, values)
    if ev is None:
        return
    want_nodes = oracle.node_gradients_complex_step(graph, values)
    for name, want in want_nodes.items():
        assert ev.gradients[name] == pytest.approx(want, rel=1e-8, abs=1e-9), name
    for name, want in oracle.complex_step_gradients(graph, values).items():
        assert ev.gradients[name] == pytest.approx(want, rel=1e-8, abs=1e-9), name


@settings(max_examples=60, deadline=None)
@given(random_graphs(), st.integers(1, 40))
def test_a_batch_gives_what_one_by_one_gives(case, n):
    spec, _ = case
    graph = engine.Graph.from_spec(spec)
    rng = np.random.default_rng(n)
    batch = {x: rng.uniform(0.2, 2.0, n).round(2) for x in graph.inputs}
    try:
        ev = engine.evaluate(graph, batch)
    except NonFiniteError as err:
        # the same lane alone must fail the same way
        assume(err.index is not None)
        with pytest.raises(NonFiniteError):
            engine.evaluate(graph, {x: float(v[err.index]) for x, v in batch.items()})
        return
    for i in range(n):
        one = engine.evaluate(graph, {x: float(v[i]) for x, v in batch.items()})
        for name in graph.names:
            assert ev.values[name][i] == one.values[name]
            assert ev.gradients[name][i] == one.gradients[name]


def test_a_large_batch_on_the_parallel_kernel_equals_small_batches():
    graph = engine.parse("z = w1*x1 + w2*x2 + b; h = sigmoid(z); L = -(y*log(h) + (1 - y)*log(1 - h))")
    rng = np.random.default_rng(0)
    n = 300_000
    batch = {k: rng.uniform(-2, 2, n) for k in ("w1", "w2", "b", "x1", "x2")}
    batch["y"] = rng.integers(0, 2, n).astype(float)
    big = engine.evaluate(graph, batch)
    h = 1 / (1 + np.exp(-(batch["w1"] * batch["x1"] + batch["w2"] * batch["x2"] + batch["b"])))
    np.testing.assert_allclose(big.gradients["w1"], (h - batch["y"]) * batch["x1"], rtol=1e-10, atol=1e-12)
    for i in (0, 1, n // 2, n - 1):
        one = engine.evaluate(graph, {k: float(v[i]) for k, v in batch.items()})
        assert big.value[i] == one.value and big.gradients["b"][i] == one.gradients["b"]


def test_intermediates_false_keeps_only_the_output_value_and_input_gradients():
    ev = engine.evaluate("(3*a*b)^2 + c*d", {k: np.arange(3.0) for k in "abcd"}, intermediates=False)
    np.testing.assert_array_equal(ev.value, 9 * np.arange(3.0) ** 4 + np.arange(3.0) ** 2)
    assert set(ev.gradients) == {"a", "b", "c", "d"}
    with pytest.raises(KeyError, match="intermediates=False"):
        ev.values["mul1"]


def test_one_input_set_alternating_kept_results_and_seeds_gives_the_worksheet_numbers_each_time():
    # f = (x + y) z at x = -2, y = 5, z = -4 (the worksheet's first graph): q = 3, f = -12,
    # df/dx = df/dy = z = -4, df/dz = q = 3; the renamed graph shares the lowered Code
    point = {"x": -2.0, "y": 5.0, "z": -4.0}
    renamed = {"u": -2.0, "v": 5.0, "w": -4.0}
    for seed in (1.0, 2.5, 1.0, -1.0):
        for intermediates in (True, False, True):
            ev = engine.evaluate("q = x + y; f = q * z", point, output_gradient=seed,
                                 intermediates=intermediates)
            assert ev.value == -12.0
            assert ev.gradients["x"] == ev.gradients["y"] == -4.0 * seed and ev.gradients["z"] == 3.0 * seed
            if intermediates:
                assert ev.values == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
                assert ev.gradients["q"] == -4.0 * seed and ev.gradients["f"] == seed
            else:
                assert set(ev.gradients) == {"x", "y", "z"}
            other = engine.evaluate("s = u + v; g = s * w", renamed, output_gradient=seed,
                                    intermediates=intermediates)
            assert other.value == -12.0 and other.gradients["w"] == 3.0 * seed
            assert set(other.gradients) == ({"u", "v", "w", "s", "g"} if intermediates else {"u", "v", "w"})


def test_scalars_broadcast_against_a_batch():
    ev = engine.evaluate("x * y", {"x": [1.0, 2.0, 3.0], "y": 2})
    np.testing.assert_array_equal(ev.value, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(ev.gradients["y"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ev.values["y"], [2.0, 2.0, 2.0])


def test_an_empty_batch_gives_empty_results():
    ev = engine.evaluate("x * y", {"x": [], "y": 2.0})
    assert ev.value.shape == (0,) and ev.gradients["x"].shape == (0,)


def test_output_gradient_scales_every_gradient_and_may_be_a_batch():
    ev = engine.evaluate("x * y", {"x": [1.0, 2.0], "y": 3.0}, output_gradient=[2.0, -1.0])
    np.testing.assert_array_equal(ev.gradients["x"], [6.0, -3.0])


def test_evaluate_many_gives_what_evaluate_gives_one_by_one():
    items = [("(x + y) * z", {"x": -2, "y": 5, "z": -4}),
             ("sigmoid(x)", {"x": 0.0}, -3.0),
             ("(3*a*b)^2 + c*d", {"a": [1.0, 2.0], "b": 2, "c": 3, "d": [4.0, 5.0]}),
             ({"nodes": [{"id": "r", "op": "relu", "inputs": ["x"]}], "output": "r"}, {"x": -1.0})]
    many = engine.evaluate_many(items)
    for item, ev in zip(items, many):
        one = engine.evaluate(item[0], item[1], output_gradient=item[2] if len(item) == 3 else 1.0)
        for name in one.graph.names:
            np.testing.assert_array_equal(ev.values[name], one.values[name])
            np.testing.assert_array_equal(ev.gradients[name], one.gradients[name])


def test_evaluate_many_returns_each_bad_items_error_in_its_place():
    out = engine.evaluate_many([("x * y", {"x": 1.0, "y": 2.0}), ("x * y", {"x": 1.0}),
                                ("log(x)", {"x": -1.0}), ("x +", {}), ("x - y", {"x": 5, "y": 2})],
                               errors="return")
    assert out[0].value == 2.0 and out[4].value == 3.0
    assert isinstance(out[1], GraphError) and out[1].path == "inputs.y"
    assert isinstance(out[2], NonFiniteError) and out[2].node == "f"
    assert isinstance(out[3], GraphError) and out[3].line == 1
    with pytest.raises(GraphError) as err:
        engine.evaluate_many([("x", {"x": 1.0}), ("x * y", {"x": 1.0})])
    assert err.value.item == 1


def test_evaluate_many_of_nothing_is_nothing():
    assert engine.evaluate_many([]) == []


def test_evaluating_new_graphs_compiles_nothing_new():
    engine.evaluate("x * y", {"x": 1.0, "y": 2.0})
    engine.evaluate("x * y", {"x": np.ones(5000), "y": 2.0})
    engine.evaluate("x * y", {"x": np.ones(300_000), "y": 2.0})
    engine.evaluate_many([("x * y", {"x": np.ones(300_000), "y": 2.0}), ("x + y", {"x": 1.0, "y": 2.0})])
    before = [len(k.signatures) for k in vm.KERNELS]
    assert before == [1, 1]
    for i in range(30):
        expr = f"sigmoid(x*{i} + y) - max(x, {i}) / (1 + y^2) + tanh(z{i})"
        engine.evaluate(expr, {"x": 0.5, "y": -1.5, f"z{i}": 0.1})
        engine.evaluate(expr, {"x": np.linspace(0, 1, 3000), "y": -1.5, f"z{i}": 0.1})
    engine.evaluate_many([(f"x^{k} + y*{k}", {"x": 2.0, "y": 1.0}) for k in range(2, 50)])
    assert [len(k.signatures) for k in vm.KERNELS] == before
    # plain dict specs take engine.spec_bulk's kernels, which compile once as well
    specs = [{"nodes": [{"id": f"n{k}", "op": "mul", "inputs": ["x", "y", k]},
                        {"id": "f", "op": "sigmoid", "inputs": [f"n{k}"]}], "output": "f"}
             for k in range(400)]
    engine.evaluate_many([(s, {"x": 0.5, "y": 1}) for s in specs[:spec_bulk.MIN_ITEMS]])
    engine.evaluate_many([(s, {"x": 0.5, "y": 1}) for s in specs])
    batch_kernels = (spec_bulk._lower, spec_bulk._item_table)
    assert [len(k.signatures) for k in batch_kernels] == [1, 1]
    assert [len(k.signatures) for k in vm.KERNELS] == before


# inputs

@pytest.mark.parametrize("inputs, path, fragment", [
    ({"x": 1.0}, "inputs.y", "missing value for input y"),
    ({"x": 1.0, "y": 2.0, "w": 3.0}, "inputs.w", "unknown input 'w'"),
    ({"x": True, "y": 2.0}, "inputs.x", "a boolean"),
    ({"x": "1", "y": 2.0}, "inputs.x", "the string '1'"),
    ({"x": None, "y": 2.0}, "inputs.x", "null"),
    ({"x": float("nan"), "y": 2.0}, "inputs.x", "not a finite number"),
    ({"x": float("inf"), "y": 2.0}, "inputs.x", "not a finite number"),
    ({"x": 10 ** 400, "y": 2.0}, "inputs.x", "too large"),
    ({"x": [1.0, "2"], "y": 2.0}, "inputs.x[1]", "must be a number"),
    ({"x": [1.0, False], "y": 2.0}, "inputs.x[1]", "a boolean"),
    ({"x": [1.0, 2.0], "y": [1.0, 2.0, 3.0]}, "inputs.y", "same length"),
    ({"x": np.ones((2, 2)), "y": 1.0}, "inputs.x", "2-D"),
    ({"x": np.array([True]), "y": 1.0}, "inputs.x", "must hold numbers"),
    ({"x": [1.0, float("nan")], "y": 2.0}, "inputs.x[1]", "not a finite number"),
    ({"x": np.array([1.0, 2.0, np.inf]), "y": 2.0}, "inputs.x[2]", "not a finite number"),
    ({"x": {"a": 1}, "y": 2.0}, "inputs.x", "must be a number"),
])
def test_bad_inputs_say_which_input_and_what_is_wrong(inputs, path, fragment):
    with pytest.raises(GraphError) as err:
        engine.evaluate("x * y", inputs)
    assert err.value.path == path
    assert fragment in err.value.message


def test_inputs_must_be_a_mapping():
    with pytest.raises(GraphError, match="must map names"):
        engine.evaluate("x", [1.0])


def test_a_batch_larger_than_the_limit_is_refused():
    with pytest.raises(GraphError, match="limit of 10"):
        engine.evaluate("x", {"x": np.ones(11)}, limits=engine.Limits(max_batch=10))


def test_numpy_scalars_are_numbers():
    ev = engine.evaluate("x * y", {"x": np.float32(2.0), "y": np.int64(3)})
    assert ev.value == 6.0


# non-finite results

def test_log_of_zero_names_the_node_and_says_it_is_minus_infinity():
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("a = log(x); f = a * y", {"x": 0.0, "y": 1.0})
    assert err.value.node == "a" and err.value.kind == "value" and err.value.index is None
    assert "-inf" in err.value.message and err.value.line == 1


def test_overflow_in_a_batch_names_the_node_and_the_batch_index():
    spec = {"nodes": [{"id": "e", "op": "exp", "inputs": ["x"]}, {"id": "f", "op": "mul", "inputs": ["e", 2]}],
            "output": "f"}
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate(spec, {"x": [1.0, 2.0, 800.0, 900.0]})
    assert (err.value.node, err.value.index, err.value.path) == ("e", 2, "nodes[0]")


def test_an_infinite_gradient_names_the_input_that_receives_it():
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("sqrt(x) + y", {"x": [4.0, 0.0], "y": 1.0})
    assert (err.value.kind, err.value.node, err.value.index) == ("gradient", "x", 1)
    assert "sqrt" in err.value.message


def test_an_intermediate_overflow_is_reported_even_when_the_output_is_finite():
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("big = exp(x); f = exp(-big)", {"x": 800.0})
    assert err.value.node == "big"


def test_a_constant_node_that_is_not_finite_is_reported_when_lowered():
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("c = log(0); f = x * c", {"x": 1.0})
    assert err.value.node == "c"


# gradient descent

def test_step_moves_every_input_against_its_gradient():
    ev = engine.evaluate("x^2 + 3*y", {"x": 2.0, "y": 1.0})
    assert ev.step(0.1) == {"x": 2.0 - 0.1 * 4.0, "y": 1.0 - 0.1 * 3.0}
    assert ev.step(0.1, wrt=["y"]) == {"y": 0.7}


def test_step_refuses_names_that_are_not_inputs():
    ev = engine.evaluate("q = x + y; f = q * z", {"x": 1.0, "y": 2.0, "z": 3.0})
    with pytest.raises(GraphError) as err:
        ev.step(0.1, wrt=["x", "q"])
    assert err.value.path == "wrt[1]"
    with pytest.raises(GraphError):
        ev.step(float("nan"))


def test_a_trajectory_of_steps_on_a_parabola_shrinks_geometrically():
    ev = engine.evaluate("x^2", {"x": 1.0})
    points = ev.trajectory(0.25, steps=3)
    # x <- x - 0.25 * 2x = x / 2
    assert [p.inputs["x"] for p in points] == [1.0, 0.5, 0.25, 0.125]
    assert [p.value for p in points] == [1.0, 0.25, 0.0625, 0.015625]


def test_program_disassembly_names_each_instructions_node():
    text = repr(engine.lower(engine.parse("(3*a*b)^2 + c*d")))
    assert "square(" in text and "# mul1" in text and "# f" in text
    assert text.count("\n") >= 6


def test_a_descent_step_that_overflows_is_reported_not_returned():
    # the gradient 1e300 is finite; 1 - 1e10 * 1e300 is not
    ev = engine.evaluate("x * y", {"x": 1.0, "y": 1e300})
    with pytest.raises(NonFiniteError) as err:
        ev.step(1e10)
    assert (err.value.kind, err.value.node) == ("step", "x")
    batch = engine.evaluate("x * y", {"x": [1.0, 1.0], "y": [1.0, 1e300]})
    assert batch.step(1e10, wrt=["y"])["y"][1] == 1e300 - 1e10
    with pytest.raises(NonFiniteError) as err:
        batch.step(1e10)
    assert err.value.index == 1


def test_evaluate_many_takes_any_iterable_and_refuses_what_is_not_one():
    assert [ev.value for ev in engine.evaluate_many((("x", {"x": float(i)}) for i in range(3)))] == [0.0, 1.0, 2.0]
    with pytest.raises(GraphError) as err:
        engine.evaluate_many(None)
    assert err.value.path == "items"


def test_limits_must_be_a_limits_object():
    with pytest.raises(TypeError, match="engine.Limits"):
        engine.evaluate("x", {"x": 1.0}, limits={"max_nodes": 3})


def test_a_parsed_graph_of_constants_is_folded_and_still_reports_its_node_gradients():
    ev = engine.evaluate("c = 3 + 4; f = c * 2", {})
    assert ev.value == 14.0 and ev.values["c"] == 7.0 and ev.gradients["c"] == 2.0


def test_a_parsed_program_s_output_may_be_an_input_itself():
    ev = engine.evaluate("x", {"x": 4.0})
    assert ev.value == 4.0 and ev.gradients["x"] == 1.0
