"""10,000 variants of every type: ranges, uniqueness and hand-computability, checked on
NumPy columns rather than one problem at a time."""

import collections
import math

import numpy as np
import orjson
import pytest

import engine
from worksheets import randgraph
from worksheets.problems.conv_output_size import geometries
from worksheets.seeding import Stream, keys
from worksheets.generator import Generator, read_request

N = 10_000
SECRET = "stress-test-secret"
GEN = Generator(SECRET)


@pytest.fixture(scope="module")
def worksheets():
    """10,000 whole worksheets: 10,000 variants of each of the six types, with keys."""
    return GEN.build(read_request(2024, N), include_answers=True, worked=False)["sheets"]


def of_type(sheets, index):
    return [sheet["problems"][index] for sheet in sheets]


def distinct(problems) -> collections.Counter:
    return collections.Counter(orjson.dumps(p["parameters"], option=orjson.OPT_SORT_KEYS)
                               for p in problems)


def class_collisions(counts: collections.Counter, class_size: int = 30) -> float:
    """Expected pairs of students in a class who share a variant of this problem."""
    total = sum(counts.values())
    return math.comb(class_size, 2) * sum((c / total) ** 2 for c in counts.values())


def test_ten_thousand_whole_worksheets_are_all_different(worksheets):
    sheets = {orjson.dumps([p["parameters"] for p in s["problems"]], option=orjson.OPT_SORT_KEYS)
              for s in worksheets}
    assert len(sheets) == N


def test_conv_output_size_variants_are_exact_small_and_spread_over_every_setting(worksheets):
    problems = of_type(worksheets, 0)
    W, F, P, S, out = np.array([[p["parameters"][k] for k in ("width", "filter_size", "padding",
                                                              "stride")] + [p["answers"]["output_size"]]
                                for p in problems]).T
    assert set(F) <= {3, 5, 7, 9} and (P >= 0).all() and (P <= (F - 1) // 2).all()
    assert ((4 <= W) & (W <= 32) & (1 <= S) & (S <= 4)).all()
    assert ((W - F + 2 * P) % S == 0).all()
    assert ((2 <= out) & (out <= 12)).all()
    assert all(len(p["answers"]["windows"]) == p["answers"]["output_size"] for p in problems)
    counts = distinct(problems)
    space = len(geometries(True, 32, (1, 2, 3, 4)))
    assert len(counts) == space  # every setting is reachable
    assert max(counts.values()) < 2.5 * N / space  # and drawn evenly


def test_inexact_strides_are_never_exact():
    s = GEN.build(read_request(7, N, [{"type": "conv_output_size", "exact": False}]),
                  include_answers=False)
    W, F, P, S = np.array([[sh["problems"][0]["parameters"][k] for k in
                            ("width", "filter_size", "padding", "stride")]
                           for sh in s["sheets"]]).T
    assert ((W - F + 2 * P) % S != 0).all() and (S >= 2).all()


def test_same_padding_variants_keep_odd_filters_on_inputs_wider_than_them(worksheets):
    problems = of_type(worksheets, 1)
    W, F, P = np.array([[p["parameters"]["width"], p["parameters"]["filter_size"],
                         p["answers"]["padding"]] for p in problems]).T
    assert set(F) == {3, 5, 7, 9, 11} and (F % 2 == 1).all()
    assert ((W >= 8) & (W >= F) & (W <= 64)).all()
    assert (2 * P == F - 1).all()
    assert len(distinct(problems)) >= 280


def test_graph_variants_are_nice_and_never_ignore_an_input(worksheets):
    problems = of_type(worksheets, 2)
    inputs = np.array([v for p in problems for v in p["parameters"]["inputs"].values()])
    # whole numbers, halves, or one decimal (a neuron's bias)
    assert (inputs * 10 == np.round(inputs * 10)).all() and (np.abs(inputs) <= 10).all()
    values = np.array([v for p in problems for v in p["answers"]["values"].values()])
    grads = np.array([g for p in problems for g in p["answers"]["gradients"].values()])
    assert np.isfinite(values).all() and (np.abs(values) <= 1000).all()
    # every node and input matters, and every gradient is ten times the tolerance
    assert (np.abs(grads) >= 0.05).all() and (np.abs(grads) <= 1000).all()
    lrs = np.array([p["parameters"]["learning_rate"] for p in problems])
    assert set(lrs) == {0.1, 0.01}
    moves = np.array([abs(p["parameters"]["inputs"][k] - v) for p in problems
                      for k, v in p["answers"]["step"].items()])
    assert (moves >= 0.002).all() and (moves <= 5).all()  # visible, well above 0.0005
    families = collections.Counter(p["parameters"]["family"] for p in problems)
    assert len(families) == 8 and min(families.values()) > N / 8 * 0.8
    counts = distinct(problems)
    assert len(counts) >= 6000 and class_collisions(counts) < 0.3


def test_logistic_variants_keep_h_away_from_0_and_1(worksheets):
    problems = of_type(worksheets, 3)
    z, h = np.array([[p["answers"]["z"], p["answers"]["h"]] for p in problems]).T
    assert (np.abs(z) <= 2.5 + 1e-12).all() and ((0.07 < h) & (h < 0.93)).all()
    grads = np.array([list(p["answers"]["gradients"].values()) for p in problems])
    assert (np.abs(grads) >= 0.05).all()
    weights = np.array([list(p["parameters"]["weights"].values()) for p in problems])
    assert (np.round(weights * 10) == weights * 10).all() and (np.abs(weights) <= 1).all()
    assert {p["parameters"]["label"] for p in problems} == {0.0, 1.0}
    assert len(distinct(problems)) >= 9800


def test_gate_variants_pass_back_a_workable_gradient_or_a_dead_relus_zero(worksheets):
    problems = of_type(worksheets, 4)
    gate = np.array([p["parameters"]["gate"] for p in problems])
    x, up, grad = np.array([[p["parameters"]["input"], p["parameters"]["upstream_gradient"],
                             p["answers"]["gradient"]] for p in problems]).T
    assert (np.round(x * 10) == x * 10).all() and (np.round(up * 10) == up * 10).all()
    assert ((1 <= np.abs(up)) & (np.abs(up) <= 3)).all()
    dead = (gate == "relu") & (x < 0)
    assert (grad[dead] == 0).all() and dead.sum() > 500  # a dead ReLU is part of the lesson
    assert (np.abs(grad[~dead]) >= 0.05).all()
    assert not ((gate == "relu") & (x == 0)).any()  # no ReLU at its kink
    counts = distinct(problems)
    assert len(counts) >= 4000 and class_collisions(counts) < 0.3


def test_conv1d_variants_are_small_whole_numbers_and_nothing_vanishes(worksheets):
    problems = of_type(worksheets, 5)
    for key in ("output", "grad_input", "grad_weight"):
        lists = [np.array(p["answers"][key]) for p in problems]
        assert all(a.any() for a in lists)
        flat = np.concatenate(lists)
        assert (flat == np.round(flat)).all() and (np.abs(flat) <= 60).all()
    widths = np.array([len(p["parameters"]["input"]) for p in problems])
    assert ((3 <= widths) & (widths <= 8)).all()
    assert len(distinct(problems)) >= 9900


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4, 5])
def test_random_graphs_are_found_quickly_and_grow_with_difficulty(difficulty):
    k = keys(SECRET.encode())
    drawn = [randgraph.random_graph(Stream(k, f"{i:x}", 0, "graph_backprop"), difficulty)
             for i in range(N // 5)]
    assert max(r.attempts for r in drawn) < randgraph.MAX_ATTEMPTS  # never the fallback
    sizes = np.array([len(r.graph.nodes) for r in drawn])
    level = randgraph.LEVELS[difficulty]
    assert sizes.min() >= level.nodes[0] and sizes.max() <= level.nodes[1] + 1
    ops = {n.op for r in drawn for n in r.graph.nodes}
    assert ops <= set(level.ops) | {"add"} and len(ops) >= len(level.ops) - 1
    # keys of a sample, from the engine, stay in the nice ranges the generator promised
    evs = engine.evaluate_many([(r.graph, r.inputs) for r in drawn[:500]])
    for r, ev in zip(drawn[:500], evs):
        grads = np.array(list(ev.gradients.values()))
        assert (np.abs(grads) >= 0.05 - 1e-12).all()
        assert all(abs(v) <= 100 for v in ev.values.values())
    structures = {tuple((n.op, n.inputs) for n in r.graph.nodes) for r in drawn}
    # two add/mul gates over two inputs have few shapes: 287 of these 2000 differ
    assert len(structures) >= (0.1 if difficulty == 1 else 0.5) * len(drawn)
