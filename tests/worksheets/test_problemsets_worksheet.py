"""The worksheet's hand-worked answers, asked as problems and keyed by the problem types.

Each variant is built with the worksheet's own numbers; the key must agree with the
answer worked by hand here, and submitting that hand-worked answer must score full marks.
"""

import pytest

from worksheets.grading import read_submission
from worksheets.problem import Variant
from worksheets.problems import TYPES
from worksheets.generator import solve
from tests.oracle import KEY_REL


def key_of(type_id, variant):
    return solve(TYPES[type_id], variant)


def marks(type_id, variant, submitted):
    t = TYPES[type_id]
    answers, _ = solve(t, variant, worked=False)
    return t.grade(variant, t.with_defaults({}), answers, read_submission(answers, submitted))


def test_w10_f7_p3_s3_gives_four_outputs_centred_on_0_3_6_9():
    v = Variant({"width": 10, "filter_size": 7, "padding": 3, "stride": 3})
    answers, solution = key_of("conv_output_size", v)
    assert answers["output_size"] == 4
    assert answers["centers"] == [0, 3, 6, 9]
    assert answers["windows"] == [[-3, 3], [0, 6], [3, 9], [6, 12]]
    assert "{10 - 7 + 2 \\cdot 3}{3} + 1" in solution[0]["text"]
    hand = {"output_size": 4, "windows": [[-3, 3], [0, 6], [3, 9], [6, 12]], "centers": [0, 3, 6, 9]}
    assert all(r.correct for r in marks("conv_output_size", v, hand))


def test_w32_f5_s1_needs_padding_2_to_keep_the_width():
    v = Variant({"width": 32, "filter_size": 5, "stride": 1})
    answers, solution = key_of("conv_same_padding", v)
    assert answers == {"padding": 2}
    assert "= 32" in solution[-1]["text"]
    assert marks("conv_same_padding", v, {"padding": 2})[0].credit == 1.0


def test_x_plus_y_times_z_at_minus2_5_minus4_gives_minus12_and_gradients_minus4_minus4_3():
    t = TYPES["graph_backprop"]
    v = t.variant_of("sum_times", {"x": -2.0, "y": 5.0, "z": -4.0}, learning_rate=0.1)
    answers, _ = solve(t, v)
    assert answers["values"]["q"] == 3.0 and answers["values"]["f"] == -12.0
    assert [answers["gradients"][k] for k in "xyz"] == [-4.0, -4.0, 3.0]
    assert answers["gradients"]["q"] == -4.0
    assert answers["step"] == pytest.approx({"x": -1.6, "y": 5.4, "z": -4.3}, abs=1e-12)


def test_sigmoid_gate_at_zero_passes_a_quarter_of_the_upstream_gradient():
    v = Variant({"gate": "sigmoid", "input": 0.0, "upstream_gradient": -3.0})
    answers, solution = key_of("gate_gradient", v)
    assert answers["output"] == 0.5
    assert answers["gradient"] == pytest.approx(-0.75, abs=1e-15)
    assert "0.25" in solution[1]["text"]


def test_a_dead_relu_passes_back_nothing_and_a_live_one_everything():
    dead, _ = key_of("gate_gradient", Variant({"gate": "relu", "input": -1.5,
                                               "upstream_gradient": 2.0}))
    live, _ = key_of("gate_gradient", Variant({"gate": "relu", "input": 1.5,
                                               "upstream_gradient": 2.0}))
    assert dead == {"output": 0.0, "gradient": 0.0}
    assert live == {"output": 1.5, "gradient": 2.0}


def test_tanh_gate_passes_one_minus_tanh_squared_of_the_upstream_gradient():
    import math
    answers, _ = key_of("gate_gradient", Variant({"gate": "tanh", "input": 0.5,
                                                  "upstream_gradient": 2.0}))
    assert answers["gradient"] == pytest.approx(2 * (1 - math.tanh(0.5) ** 2), rel=1e-14 + KEY_REL)


def test_one_sgd_step_on_3ab_squared_plus_cd():
    t = TYPES["graph_backprop"]
    v = t.variant_of("square_plus_product", {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})
    answers, solution = solve(t, v)
    # by hand: q = 3ab = 6, f = q^2 + cd = 36 + 12 = 48; df/dq = 2q = 12,
    # df/da = 12 * 3b = 72, df/db = 12 * 3a = 36, df/dc = d = 4, df/dd = c = 3
    assert v.parameters["learning_rate"] == 0.01  # gradients into the tens: a small step
    assert answers["values"]["f"] == 48.0 and answers["gradients"]["q"] == 12.0
    assert [answers["gradients"][k] for k in "abcd"] == [72.0, 36.0, 4.0, 3.0]
    assert answers["step"] == pytest.approx({"a": 0.28, "b": 1.64, "c": 2.96, "d": 3.97}, abs=1e-12)
    assert any("1 - 0.01 \\cdot 72 = 0.28" in s["text"] for s in solution)


def test_logistic_regression_gradient_is_h_minus_y_times_x():
    import math
    v = Variant({"inputs": {"x1": 2.0, "x2": -1.0}, "label": 1.0,
                 "weights": {"w1": 0.5, "w2": 0.5, "b": 0.0}, "learning_rate": 0.1})
    answers, _ = key_of("logistic_regression", v)
    h = 1 / (1 + math.exp(-0.5))  # z = 1 - 0.5 + 0
    assert answers["z"] == 0.5
    assert answers["h"] == pytest.approx(h, rel=1e-15 + KEY_REL)
    assert answers["loss"] == pytest.approx(-math.log(h), rel=1e-14 + KEY_REL)
    assert answers["gradients"] == pytest.approx({"w1": 2 * (h - 1), "w2": -(h - 1), "b": h - 1},
                                                 rel=1e-13 + KEY_REL)
    assert answers["updated"]["w1"] == pytest.approx(0.5 - 0.1 * 2 * (h - 1), rel=1e-14 + KEY_REL)


def test_conv1d_example_of_the_service_by_hand():
    v = Variant({"input": [1, 2, 3, 4], "weight": [1, 0, -1], "stride": 1, "padding": 0,
                 "grad_output": [1, 1]})
    answers, _ = key_of("conv1d_backprop", v)
    # y0 = 1 - 3, y1 = 2 - 4; dL/dw_k = x_k + x_(k+1); dL/dx = [1, 1, -1, -1]
    assert answers == {"output": [-2.0, -2.0], "grad_input": [1.0, 1.0, -1.0, -1.0],
                       "grad_weight": [3.0, 5.0, 7.0]}
