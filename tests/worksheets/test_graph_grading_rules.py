"""Error carried forward and the mistakes worksheets.graph_grading names, on small
graphs whose keys come from the plain-Python oracle (tests/oracle.py): each typical
mistake, made on purpose, gets its own words, and a number that follows from the
student's own wrong number is judged against that number."""

import dataclasses

import pytest

import engine
from tests import oracle
from worksheets.graph_grading import GraphQuestion, mark_graph
from worksheets.grading import MISSING
from worksheets.problem import Tolerance

HAND = Tolerance(0.005, 0.005)
STEP = Tolerance(0.0005)


def _question(program, inputs, upstream=1.0, lr=None):
    graph = engine.parse(program)
    parts = [(f"values.{n.id}", "value", n.id) for n in graph.nodes]
    parts += [(f"gradients.{x}", "gradient", x) for x in graph.names if x != graph.output]
    if lr is not None:
        parts += [(f"step.{x}", "step", x) for x in graph.inputs]
    q = GraphQuestion(graph, inputs, upstream, lr, tuple(parts),
                      {"value": HAND, "gradient": HAND, "step": STEP})
    env = oracle.forward(graph, inputs)
    grads = {**oracle.node_gradients_complex_step(graph, inputs),
             **oracle.complex_step_gradients(graph, inputs)}
    key = {"value": {n.id: env[n.id] for n in graph.nodes},
           "gradient": {k: upstream * g for k, g in grads.items()},
           "step": {x: inputs[x] - lr * upstream * grads[x] for x in graph.inputs} if lr else {}}
    return q, key


def _marked(q, key, **changed):
    """{part: PartResult} for the key's own numbers with `changed` ({"values.p": 7}, as
    values__p=7) put in their place."""
    leaves = {path: key[kind][name] for path, kind, name in q.parts}
    leaves.update({k.replace("__", "."): v for k, v in changed.items()})
    return {r.part: r for r in mark_graph(q, key, leaves)}


CHAIN = "p = a*b\nf = p + c"
CHAIN_AT = {"a": 2.0, "b": 3.0, "c": 1.0}


def test_a_part_left_out_scores_nothing():
    q, key = _question(CHAIN, CHAIN_AT)
    leaves = {path: key[kind][name] for path, kind, name in q.parts if path != "values.f"}
    r = {r.part: r for r in mark_graph(q, key, leaves)}["values.f"]
    assert (r.correct, r.credit, r.feedback) == (False, 0.0, MISSING)


def test_a_value_from_a_wrong_value_is_judged_against_what_it_gives():
    q, key = _question(CHAIN, CHAIN_AT)
    r = _marked(q, key, values__p=7.0, values__f=8.0)
    assert (r["values.f"].correct, r["values.f"].credit) == (True, 1.0)
    assert "error carried forward" in r["values.f"].feedback
    assert (r["values.p"].correct, r["values.p"].credit) == (False, 0.0)
    # and its sign is judged against that number too: -(7 + 1), not -(6 + 1)
    r = _marked(q, key, values__p=7.0, values__f=-8.0)
    assert r["values.f"].feedback == "the sign is flipped"


@pytest.mark.parametrize("program, inputs, node, given, words", [
    ("h = sigmoid(z)", {"z": 1.0}, "h", 0.2689414213699951,
     "σ(z) = 1/(1 + e^(−z)): the sign in the exponent is flipped"),
    ("s = square(u)", {"u": 3.0}, "s", 6.0, "u² is u·u, not 2u"),
    ("s = u^2", {"u": 3.0}, "s", 6.0, "u² is u·u, not 2u"),
    ("r = relu(z)", {"z": -2.0}, "r", -2.0, "ReLU(z) = max(z, 0): a negative input gives 0"),
    ("r = relu(z)", {"z": -0.5}, "r", -0.5, "ReLU(z) = max(z, 0): a negative input gives 0"),
    ("d = a - b", {"a": -1.0, "b": 2.0}, "d", 3.0,
     "a subtraction takes its second input from its first"),
    ("m = max(a, b)", {"a": 1.0, "b": 4.0}, "m", 1.0, "max keeps the larger input"),
    ("m = min(a, b)", {"a": 1.0, "b": 4.0}, "m", 4.0, "min keeps the smaller input"),
])
def test_each_typical_forward_mistake_is_named(program, inputs, node, given, words):
    q, key = _question(program, inputs)
    r = _marked(q, key, **{f"values__{node}": given})[f"values.{node}"]
    assert (r.correct, r.feedback) == (False, words)


@pytest.mark.parametrize("program, inputs, node, given", [
    ("s = u^3", {"u": 3.0}, "s", 6.0),            # 2u is a mistake of squares only
    ("s = u^1.5", {"u": 9.0}, "s", 18.0),
    ("r = relu(z)", {"z": 2.0}, "r", 3.0),        # a live ReLU has no dead-unit mistake
    ("s = square(u)", {"u": 3.0}, "s", 10.0),
])
def test_a_forward_mistake_it_does_not_match_is_not_named(program, inputs, node, given):
    q, key = _question(program, inputs)
    r = _marked(q, key, **{f"values__{node}": given})[f"values.{node}"]
    assert not r.correct
    assert r.feedback.endswith("does not give this from your values of its inputs"), r.feedback


def test_a_path_left_out_is_named_only_where_the_value_fans_out():
    # u feeds p and q; a and z feed u alone: dropping u's path through q is named at u,
    # and at a or z the same wrong number is just wrong (one consumer has nothing to sum)
    q, key = _question("u = a*z\np = u*c\nq = u*d\nf = p + q",
                       {"a": 1.0, "z": 1.0, "c": 3.0, "d": 4.0})
    r = _marked(q, key, gradients__u=3.0)["gradients.u"]
    assert r.feedback.startswith("gradients not summed: u feeds p, q")
    # (u's own gradient left unanswered, so z's is judged from the key's)
    leaves = {path: key[kind][name] for path, kind, name in q.parts if path != "gradients.u"}
    for name in ("a", "z"):
        r = {r.part: r for r in mark_graph(q, key, {**leaves, f"gradients.{name}": 3.0})}
        r = r[f"gradients.{name}"]
        assert not r.correct and not r.feedback.startswith("gradients not summed"), r.feedback
    r = _marked(q, key, gradients__c=0.0)["gradients.c"]
    assert not r.correct and not r.feedback.startswith("gradients not summed"), r.feedback


def test_a_gradient_that_leaves_out_one_path_of_a_fan_out_is_named():
    q, key = _question("p = x*y\nq = x*z\nf = p + q", {"x": 2.0, "y": 3.0, "z": 4.0})
    assert key["gradient"]["x"] == pytest.approx(7.0)
    r = _marked(q, key, gradients__x=3.0)["gradients.x"]
    assert not r.correct
    assert r.feedback.startswith("gradients not summed: x feeds p, q, so its gradient is the sum")


def test_a_path_left_out_of_a_value_feeding_three_gates_is_named():
    # xx feeds p, q and r: df/dxx = yy + zz + ww = 12; leaving out r's path gives 7. The
    # question's part names and kinds are built anew, as a question read from a token has
    # them: they are compared as strings, not as the graph's or the code's own objects
    q, key = _question("p = xx*yy\nq = xx*zz\nr = xx*ww\nf = p + q + r",
                       {"xx": 2.0, "yy": 3.0, "zz": 4.0, "ww": 5.0})
    q = dataclasses.replace(q, parts=tuple((path, "".join(list(kind)), "".join(list(name)))
                                           for path, kind, name in q.parts))
    assert key["gradient"]["xx"] == pytest.approx(12.0)
    r = _marked(q, key, gradients__xx=7.0)["gradients.xx"]
    assert not r.correct
    assert r.feedback.startswith("gradients not summed: xx feeds p, q, r, so its gradient")
    assert r.feedback.endswith("(the path through r is missing)")
    r = _marked(q, key, values__q=99.0)["values.q"]
    assert (r.correct, r.feedback) == (
        False, "q = xx*zz does not give this from your values of its inputs")


@pytest.mark.parametrize("upstream", [0.0, 2.0])
def test_a_local_gradient_not_multiplied_by_the_upstream_one_is_named(upstream):
    q, key = _question("y = sigmoid(x)", {"x": 0.0}, upstream=upstream)
    r = _marked(q, key, gradients__x=0.25)["gradients.x"]
    assert not r.correct
    assert r.feedback.startswith("the local gradient is not multiplied by the upstream gradient")


@pytest.mark.parametrize("given, words", [
    (2.0 - 3.0, "the learning rate is missing"),
    (-0.1 * 3.0, "this is the change −η ∂f/∂x"),
    (0.1 * 3.0, "this is η ∂f/∂x"),
    (2.0 + 0.1 * 3.0, "the update is taken with the wrong sign"),
])
def test_each_typical_descent_step_mistake_is_named(given, words):
    q, key = _question(CHAIN, CHAIN_AT, lr=0.1)
    assert key["step"]["a"] == pytest.approx(1.7)
    r = _marked(q, key, step__a=given)["step.a"]
    assert not r.correct and r.feedback.startswith(words), r.feedback


def test_a_step_taken_uphill_with_the_keys_gradient_is_named_after_a_wrong_gradient():
    q, key = _question(CHAIN, CHAIN_AT, lr=0.1)
    for wrong_gradient in (5.0, 1.0):
        r = _marked(q, key, gradients__a=wrong_gradient, step__a=2.0 + 0.1 * 3.0)
        assert r["step.a"].feedback.startswith("the update is taken with the wrong sign")
    # the same step from the student's own gradient carries forward
    r = _marked(q, key, gradients__a=5.0, step__a=2.0 - 0.1 * 5.0)
    assert r["step.a"].correct and "error carried forward" in r["step.a"].feedback


def test_a_graph_question_cannot_be_changed_once_made():
    q, _ = _question(CHAIN, CHAIN_AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.upstream = 2.0


def test_a_gate_whose_first_input_is_a_number_still_names_the_slip_of_a_later_input():
    # f = 3*x*y is one mul gate with inputs (3, x, y): df/dx = 3y = 15. Multiplying the
    # upstream gradient by x's own value (2) instead of the others' is the mul slip,
    # named although the gate's first input is a constant and not a name
    q, key = _question("f = 3*x*y", {"x": 2.0, "y": 5.0})
    assert key["gradient"]["x"] == pytest.approx(15.0)
    r = _marked(q, key, gradients__x=2.0)["gradients.x"]
    assert not r.correct
    assert "multiplied by the input's own value" in r.feedback


def test_a_sigmoid_far_above_zero_is_graded_though_its_slip_overflows():
    # sigmoid(800) is 1 to double precision; the value slip 1/(1 + e^z) overflows at
    # z = 800, and a slip that cannot be computed is left out rather than raised
    q, key = _question("f = sigmoid(z)", {"z": 800.0})
    assert key["value"]["f"] == 1.0
    r = _marked(q, key, values__f=0.5)["values.f"]
    assert not r.correct and r.credit == 0.0
