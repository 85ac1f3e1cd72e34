"""Curated graph families: the worksheet's circuits and their close relatives.

Each family is an expression program (its statements name the nodes a student fills
in) and a sampler that draws nice inputs by construction: small whole numbers or
halves, chosen so that no input is ignored (every input's gradient is non-zero), no
gate sits at a kink, and every number stays small enough to work by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import engine
from worksheets.graph_text import GraphText

HALVES = (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class Family:
    name: str
    program: str
    teaches: str
    sample: Callable    # Stream -> {input: value}
    steepest: Callable  # {input: value} -> the largest |gradient| of a stepped input
    wrt: tuple = ()     # the inputs a descent step moves; () moves all of them

    def learning_rate(self, inputs: dict) -> float:
        """0.1 keeps a step visible; 0.01 keeps it small where gradients reach into the
        tens. (The closed-form gradient only chooses the rate; the key is the engine's.)"""
        return 0.1 if self.steepest(inputs) <= 10 else 0.01


def _square_plus_product(rng) -> dict:
    # the worksheet's question 2: f = (3ab)^2 + cd
    return {"a": rng.choice(HALVES), "b": rng.choice(HALVES),
            "c": float(rng.nonzero(-4, 4)), "d": float(rng.nonzero(-4, 4))}


def _sum_times(rng) -> dict:
    # the worksheet's question 6: f = (x + y)z; x + y = 0 would zero z's gradient
    while True:
        x, y = rng.nonzero(-9, 9), rng.nonzero(-9, 9)
        if x + y:
            return {"x": float(x), "y": float(y), "z": float(rng.nonzero(-9, 9))}


def _neuron(rng) -> dict:
    # |z| <= 2 keeps sigma'(z) >= 0.1, so every gradient is worth working out
    while True:
        w, x = rng.choice(HALVES), rng.choice(HALVES)
        b = rng.decimal(-1.0, 1.0, 0.1, nonzero=False)
        if abs(w * x + b) <= 2.0:
            return {"w": w, "x": x, "b": b}


def _shared_input(rng) -> dict:
    # x feeds two products: its gradient is y + z, which must not vanish
    while True:
        x, y, z = rng.nonzero(-6, 6), rng.nonzero(-6, 6), rng.nonzero(-6, 6)
        if y + z:
            return {"x": float(x), "y": float(y), "z": float(z)}


def _product_of_sums(rng) -> dict:
    # b feeds both sums: its gradient is q + p
    while True:
        a, b, c = rng.nonzero(-6, 6), rng.nonzero(-6, 6), rng.nonzero(-6, 6)
        p, q = a + b, b + c
        if p and q and p + q:
            return {"a": float(a), "b": float(b), "c": float(c)}


def _squared_error(rng) -> dict:
    while True:
        w, x = rng.choice(HALVES), float(rng.nonzero(-3, 3))
        b, y = float(rng.integer(-2, 2)), float(rng.integer(-3, 3))
        r = w * x + b - y
        if r and abs(r) <= 5:
            return {"w": w, "x": x, "b": b, "y": y}


def _relu_unit(rng) -> dict:
    # a live ReLU: a dead one would zero every gradient but c's
    while True:
        w, x, b = rng.nonzero(-3, 3), rng.nonzero(-3, 3), rng.integer(-3, 3)
        if w * x + b > 0:
            return {"w": float(w), "x": float(x), "b": float(b), "c": float(rng.nonzero(-5, 5))}


def _max_gate(rng) -> dict:
    # y wins the max (by at least 1), so x's gradient comes only through s = x + z
    while True:
        x, z = rng.nonzero(-6, 6), rng.nonzero(-6, 6)
        y = x + rng.integer(1, 4)
        if y and x + z:
            return {"x": float(x), "y": float(y), "z": float(z)}


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("square_plus_product", "q = 3*a*b; s = q^2; p = c*d; f = s + p",
           "the worksheet's (3ab)² + cd: a three-input product and a square", _square_plus_product,
           lambda i: max(abs(18 * i["a"] * i["b"] ** 2), abs(18 * i["a"] ** 2 * i["b"]),
                         abs(i["c"]), abs(i["d"]))),
    Family("sum_times", "q = x + y; f = q * z",
           "the worksheet's (x + y)z: an add gate passes its gradient on unchanged", _sum_times,
           lambda i: max(abs(i["z"]), abs(i["x"] + i["y"]))),
    Family("neuron", "s = w*x; z = s + b; f = sigmoid(z)",
           "a sigmoid neuron: σ'(z) = σ(z)(1 − σ(z))", _neuron,
           lambda i: abs(i["x"]) / 4, ("w", "b")),
    Family("shared_input", "p = x*y; q = x*z; f = p + q",
           "x feeds two nodes: its gradient is the sum of both paths", _shared_input,
           lambda i: max(abs(i["y"] + i["z"]), abs(i["x"]))),
    Family("product_of_sums", "p = a + b; q = b + c; f = p * q",
           "b feeds two sums: its gradient is the sum of both paths", _product_of_sums,
           lambda i: max(abs(i["a"] + i["b"]), abs(i["b"] + i["c"]),
                         abs(i["a"] + 2 * i["b"] + i["c"]))),
    Family("squared_error", "p = w*x; z = p + b; r = z - y; f = r^2",
           "a squared error: d(r²)/dr = 2r, and the minus of the subtraction", _squared_error,
           lambda i: 2 * abs(i["w"] * i["x"] + i["b"] - i["y"]) * max(abs(i["x"]), 1.0),
           ("w", "b")),
    Family("relu_unit", "p = w*x; z = p + b; h = relu(z); f = h * c",
           "a ReLU unit: the gate passes the gradient where its input is positive", _relu_unit,
           lambda i: max(abs(i["c"] * i["x"]), abs(i["c"]), i["w"] * i["x"] + i["b"]),
           ("w", "b", "c")),
    Family("max_gate", "m = max(x, y); s = x + z; f = m * s",
           "a max gate routes the gradient to the larger input only", _max_gate,
           lambda i: max(abs(i["y"]), abs(i["x"] + i["z"]))),
)}

WORKSHEET_FAMILIES = ("square_plus_product", "sum_times")


class Compiled:
    """A family's parsed graph, its spec and its text, made once per process."""

    __slots__ = ("family", "graph", "spec", "text", "wrt")

    def __init__(self, family: Family):
        self.family = family
        self.graph = engine.parse(family.program)
        self.wrt = family.wrt or self.graph.inputs
        self.spec = self.graph.to_spec()
        self.text = GraphText(self.graph)


_compiled: dict[str, Compiled] = {}


def compiled(name: str) -> Compiled:
    c = _compiled.get(name)
    if c is None:
        c = _compiled[name] = Compiled(FAMILIES[name])
    return c
