"""Answer keys against independent oracles.

Keys come from the engine (evaluate_many, conv1d_many, geometry). Here they are redone
without it: graph values by plain Python and gradients by complex-step differentiation
(tests/oracle.py), the logistic unit in closed form, convolutions with NumPy windows and
finite differences, geometry by listing every window. A wrong number in a key is the
worst bug this layer can have.
"""

import math

import numpy as np
import pytest

import engine
import worksheets
from worksheets import generate
from tests import oracle

SECRET = "keys-test-secret"


def problems_of(type_id, students=300, seed=11, **options):
    s = generate(seed, students, [{"type": type_id, **options}], secret=SECRET, worked=False)
    return [sheet["problems"][0] for sheet in s["sheets"]]


def assert_graph_key(p):
    params, answers = p["parameters"], p["answers"]
    graph = engine.Graph.from_spec(params["graph"])
    inputs = params["inputs"]
    values = oracle.forward(graph, inputs)
    node_grads = oracle.node_gradients_complex_step(graph, inputs)
    input_grads = oracle.complex_step_gradients(graph, inputs)
    for name in graph.names:
        assert answers["values"][name] == pytest.approx(values[name],
                rel=1e-12 + oracle.KEY_REL, abs=1e-12), name
    for name, g in {**node_grads, **input_grads}.items():
        assert answers["gradients"][name] == pytest.approx(g,
                rel=1e-9 + oracle.KEY_REL, abs=1e-12), name
    lr = params["learning_rate"]
    assert answers["step"] == pytest.approx(
        {k: inputs[k] - lr * input_grads[k] for k in answers["step"]},
                rel=1e-9 + oracle.KEY_REL, abs=1e-12)


def test_every_curated_graph_key_matches_plain_python_and_complex_step():
    problems = problems_of("graph_backprop")
    assert {p["parameters"]["family"] for p in problems} == set(
        worksheets.TYPES["graph_backprop"].defaults["families"])
    for p in problems:
        assert_graph_key(p)


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4, 5])
def test_random_graph_keys_match_plain_python_and_complex_step(difficulty):
    for p in problems_of("graph_backprop", 60, seed=difficulty, families=["random"],
                         difficulty=difficulty):
        assert p["parameters"]["family"] == "random"
        assert_graph_key(p)


def test_logistic_regression_key_is_h_minus_y_times_x_in_closed_form():
    for p in problems_of("logistic_regression"):
        w, x, y = p["parameters"]["weights"], p["parameters"]["inputs"], p["parameters"]["label"]
        lr = p["parameters"]["learning_rate"]
        z = w["w1"] * x["x1"] + w["w2"] * x["x2"] + w["b"]
        h = 1 / (1 + math.exp(-z))
        a = p["answers"]
        assert a["z"] == pytest.approx(z, abs=1e-14)
        assert a["h"] == pytest.approx(h, rel=1e-13 + oracle.KEY_REL)
        assert a["loss"] == pytest.approx(-(y * math.log(h) + (1 - y) * math.log(1 - h)),
                rel=1e-12 + oracle.KEY_REL)
        grads = {"w1": (h - y) * x["x1"], "w2": (h - y) * x["x2"], "b": h - y}
        assert a["gradients"] == pytest.approx(grads, rel=1e-11 + oracle.KEY_REL, abs=1e-14)
        assert a["updated"] == pytest.approx({k: w[k] - lr * g for k, g in grads.items()},
                                             rel=1e-12 + oracle.KEY_REL)


def test_gate_keys_in_closed_form():
    local = {"sigmoid": lambda x: (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x))),
             "tanh": lambda x: 1 - math.tanh(x) ** 2,
             "relu": lambda x: 1.0 if x > 0 else 0.0}
    forward = {"sigmoid": lambda x: 1 / (1 + math.exp(-x)), "tanh": math.tanh,
               "relu": lambda x: max(x, 0.0)}
    problems = problems_of("gate_gradient")
    assert {p["parameters"]["gate"] for p in problems} == {"sigmoid", "relu", "tanh"}
    for p in problems:
        gate, x, g = (p["parameters"][k] for k in ("gate", "input", "upstream_gradient"))
        assert p["answers"]["output"] == pytest.approx(forward[gate](x),
                rel=1e-14 + oracle.KEY_REL, abs=1e-15)
        assert p["answers"]["gradient"] == pytest.approx(g * local[gate](x),
                rel=1e-12 + oracle.KEY_REL, abs=1e-15)


def numpy_conv(x, w, S, P):
    """y[o] = sum_k w[k] xp[o*S + k], by NumPy windows over the zero-padded input."""
    xp = np.pad(np.asarray(x, dtype=float), P)
    windows = np.lib.stride_tricks.sliding_window_view(xp, len(w))[::S]
    return windows @ np.asarray(w, dtype=float)


def test_conv1d_keys_match_numpy_windows_and_finite_differences():
    for p in problems_of("conv1d_backprop"):
        q = p["parameters"]
        x, w, g, S, P = (np.asarray(q["input"], float), np.asarray(q["weight"], float),
                         np.asarray(q["grad_output"], float), q["stride"], q["padding"])
        y = numpy_conv(x, w, S, P)
        np.testing.assert_allclose(p["answers"]["output"], y, atol=1e-12)

        def loss(xx, ww):
            return float(numpy_conv(xx, ww, S, P) @ g)
        # L = sum(y * g) is linear in x and in w, so a central difference is exact
        gx = [(loss(x + e, w) - loss(x - e, w)) / 2 for e in np.eye(len(x))]
        gw = [(loss(x, w + e) - loss(x, w - e)) / 2 for e in np.eye(len(w))]
        np.testing.assert_allclose(p["answers"]["grad_input"], gx, atol=1e-12)
        np.testing.assert_allclose(p["answers"]["grad_weight"], gw, atol=1e-12)


@pytest.mark.parametrize("exact", [True, False])
def test_output_size_windows_and_centres_by_listing_every_window(exact):
    for p in problems_of("conv_output_size", exact=exact):
        W, F, P, S = (p["parameters"][k] for k in ("width", "filter_size", "padding", "stride"))
        starts = list(range(-P, W + P - F + 1, S))
        assert p["answers"]["output_size"] == len(starts)
        assert p["answers"]["windows"] == [[s, s + F - 1] for s in starts]
        assert p["answers"]["centers"] == [s + F // 2 for s in starts]
        assert ((W - F + 2 * P) % S == 0) == exact


def test_same_padding_by_trying_every_padding():
    for p in problems_of("conv_same_padding", filter_sizes=[3, 5, 7, 9, 11, 13, 15],
                         dilations=[1, 2, 3]):
        W, F = p["parameters"]["width"], p["parameters"]["filter_size"]
        D = p["parameters"].get("dilation", 1)
        span = D * (F - 1) + 1
        keeps = [P for P in range(0, 64) if W + 2 * P - span + 1 == W]
        assert p["answers"]["padding"] == keeps[0]
