"""The worksheet's hand-worked answers, computed by hand here and checked against the engine."""

import math

import pytest

import engine


def test_x_plus_y_times_z_at_minus2_5_minus4_gives_minus12_and_gradients_minus4_minus4_3():
    ev = engine.evaluate("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4})
    assert ev.value == -12.0
    assert ev.values["q"] == 3.0
    assert ev.gradients == {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}


def test_sigmoid_gate_at_zero_passes_a_quarter_of_the_upstream_gradient():
    ev = engine.evaluate("sigmoid(x)", {"x": 0.0}, output_gradient=-3.0)
    assert ev.value == 0.5
    assert ev.gradients["x"] == pytest.approx(-0.75, abs=1e-15)


def test_relu_gate_at_a_negative_input_passes_no_gradient():
    ev = engine.evaluate("relu(x)", {"x": -2.0}, output_gradient=5.0)
    assert ev.value == 0.0
    assert ev.gradients["x"] == 0.0


def test_relu_gate_at_a_positive_input_passes_the_upstream_gradient_unchanged():
    ev = engine.evaluate("relu(x)", {"x": 1.5}, output_gradient=5.0)
    assert ev.gradients["x"] == 5.0


def test_one_sgd_step_on_3ab_squared_plus_cd():
    a, b, c, d, lr = 1.0, 2.0, 3.0, 4.0, 0.01
    ev = engine.evaluate("(3*a*b)^2 + c*d", {"a": a, "b": b, "c": c, "d": d})
    # by hand: f = 9a^2b^2 + cd, df/da = 18ab^2, df/db = 18a^2b, df/dc = d, df/dd = c
    assert ev.value == 48.0
    assert [ev.gradients[k] for k in "abcd"] == [72.0, 36.0, 4.0, 3.0]
    step = ev.step(lr)
    assert step == pytest.approx({"a": 1 - 0.72, "b": 2 - 0.36, "c": 3 - 0.04, "d": 4 - 0.03}, rel=1e-15)
    # after the step the function is smaller, as gradient descent promises
    assert engine.evaluate("(3*a*b)^2 + c*d", step).value < ev.value


def test_the_3ab_node_gets_its_gradient_2u_from_the_square():
    ev = engine.evaluate("(3*a*b)^2 + c*d", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert ev.graph.node("mul1").label == "3*a*b"
    assert ev.values["mul1"] == 6.0
    assert ev.gradients["mul1"] == 12.0  # d(u^2)/du = 2u


LOGISTIC = """
z = w1*x1 + w2*x2 + b
h = sigmoid(z)
L = -(y*log(h) + (1 - y)*log(1 - h))
"""


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_logistic_regression_cross_entropy_gradient_is_h_minus_y_times_x(label):
    w1, w2, b, x1, x2 = 0.5, -0.25, 0.1, 2.0, 4.0
    ev = engine.evaluate(LOGISTIC, {"w1": w1, "w2": w2, "b": b, "x1": x1, "x2": x2, "y": label})
    h = 1 / (1 + math.exp(-(w1 * x1 + w2 * x2 + b)))
    loss = -(label * math.log(h) + (1 - label) * math.log(1 - h))
    assert ev.value == pytest.approx(loss, rel=1e-14)
    assert ev.gradients["w1"] == pytest.approx((h - label) * x1, rel=1e-12)
    assert ev.gradients["w2"] == pytest.approx((h - label) * x2, rel=1e-12)
    assert ev.gradients["b"] == pytest.approx(h - label, rel=1e-12)
    assert ev.gradients["z"] == pytest.approx(h - label, rel=1e-12)
    step = ev.step(0.1, wrt=["w1", "w2", "b"])
    assert set(step) == {"w1", "w2", "b"}
    assert step["w1"] == pytest.approx(w1 - 0.1 * (h - label) * x1, rel=1e-12)


def test_a_value_feeding_two_gates_gets_the_sum_of_their_gradients():
    # f = x*y + x*z: x fans out, so df/dx = y + z
    ev = engine.evaluate("x*y + x*z", {"x": 3.0, "y": 2.0, "z": -5.0})
    assert ev.gradients["x"] == -3.0


def test_x_times_x_is_two_x():
    assert engine.evaluate("x*x", {"x": 7.0}).gradients["x"] == 14.0


def test_the_public_api_names_the_issue_fixes_are_all_on_the_engine_package():
    for name in ("parse", "Graph", "lower", "evaluate", "evaluate_many", "GraphError", "conv_geometry",
                 "conv1d", "conv1d_backward", "conv1d_many"):
        assert callable(getattr(engine, name)), name
    assert engine.conv_geometry(10, 7, padding=3, stride=3).centers == [0, 3, 6, 9]
    assert engine.conv_geometry(32, 5, padding="same", stride=1).padding == 2
