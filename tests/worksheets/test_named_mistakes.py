"""Mistakes an instructor saw, named in the worksheet's words: each answer below is
worked by hand here the way a student makes the mistake."""

import copy

from worksheets import generate, grade

SECRET = "named-mistakes-secret"


def parts_of(p, answers):
    return {part["part"]: part for part in grade(p["token"], answers, secret=SECRET)["parts"]}


def test_conv1d_grad_input_with_the_filter_flipped_is_named():
    s = generate(40, 30, ["conv1d_backprop"], secret=SECRET)
    named = 0
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        q = p["parameters"]
        x, w, g, S, P = q["input"], q["weight"], q["grad_output"], q["stride"], q["padding"]
        # dL/dx_i = sum over windows o reading x_i of g_o * w_(F-1-k): the filter reversed
        F = len(w)
        flipped = [sum(g[o] * w[F - 1 - (i + P - o * S)] for o in range(len(g))
                       if 0 <= i + P - o * S < F) for i in range(len(x))]
        if flipped == p["answers"]["grad_input"]:
            continue  # a symmetric filter cannot be told apart
        part = parts_of(p, {**p["answers"], "grad_input": flipped})["grad_input"]
        assert "the filter is flipped" in part["feedback"], part
        named += 1
    assert named > 5


def test_conv1d_grad_input_without_the_stride_is_named():
    s = generate(41, 40, [{"type": "conv1d_backprop", "strides": [2]}], secret=SECRET)
    named = 0
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        q = p["parameters"]
        x, w, g, P = q["input"], q["weight"], q["grad_output"], q["padding"]
        F = len(w)
        # window o taken to start at o - P, as with stride 1
        unstrided = [sum(g[o] * w[i + P - o] for o in range(len(g)) if 0 <= i + P - o < F)
                     for i in range(len(x))]
        if unstrided == p["answers"]["grad_input"]:
            continue
        part = parts_of(p, {**p["answers"], "grad_input": unstrided})["grad_input"]
        assert "stride is left out" in part["feedback"], part
        named += 1
    assert named > 5


def test_an_output_size_that_ignores_the_padding_is_named():
    s = generate(42, 80, ["conv_output_size"], secret=SECRET)
    named = 0
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        q = p["parameters"]
        W, F, P, S = q["width"], q["filter_size"], q["padding"], q["stride"]
        unpadded = (W - F) // S + 1
        one_side = (W - F + P) // S + 1   # named as "P where 2P belongs" first
        if P == 0 or unpadded in (p["answers"]["output_size"], one_side):
            continue
        part = parts_of(p, {"output_size": unpadded})["output_size"]
        assert part["feedback"].startswith("the padding is left out"), (q, part)
        named += 1
    assert named > 5


def test_a_logistic_gradient_with_y_minus_h_is_named_in_the_worksheets_symbols():
    s = generate(43, 10, ["logistic_regression"], secret=SECRET)
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        q = p["parameters"]
        y, x = q["label"], q["inputs"]
        h = p["answers"]["h"]
        answers = copy.deepcopy(p["answers"])
        answers["gradients"] = {"w1": (y - h) * x["x1"], "w2": (y - h) * x["x2"], "b": y - h}
        parts = parts_of(p, answers)
        for name in ("w1", "w2", "b"):
            feedback = parts[f"gradients.{name}"]["feedback"]
            assert feedback.startswith("the sign is flipped: ∂L/∂z = h − y, not y − h"), feedback
            assert "sub" not in feedback
