"""How gradsheet writes a number, in one place: answer keys, worked solutions, figures,
every export and grading messages all go through this module.

Three rules:

- A key value that is a whole number (zero included) up to rounding noise *is* that
  whole number. Noise is judged against the magnitudes that produced the value, not a
  fixed epsilon: z = 0.9 - 1.8 + 0.9 comes out as 2.2e-16, a few units in the last
  place of the terms (|0.9| + |1.8| + |0.9|), so z is 0; a value of 2.2e-16 computed
  from terms that small would be kept. `settle` does this once, where a key is built,
  so every format (and the grader's expected value) shows the same number.
- A key stores each value rounded to `KEY_DIGITS` significant digits, written as the
  shortest decimal that reads back as it: 0.5, not 0.5000000000000001.
- A person reads `PLACES` decimals, and at least `SIGNIFICANT` significant digits for
  a small value, never more than `KEY_DIGITS`; a tolerance is written to the decimals
  of the value it goes with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from worksheets import backprop

KEY_DIGITS = 12
# Decimals shown: the worksheets mark values worked by hand to three decimals (HAND,
# STEP), so four shown decimals keep a copied key value well inside its tolerance.
PLACES = 4
SIGNIFICANT = 4
# A value within this many units in the last place of its terms' total magnitude of a
# whole number is that number: n-ary sums and the chain rule's products lose a few ulps
# per operation, far less than this, and a worksheet's numbers are never this close to
# a whole number on purpose (they are drawn on a 0.1 grid or are sigmoids of it).
NOISE_ULPS = 64

_SHOWN_MAX = 1 << 16
_shown: dict[float, str] = {}
_STORED_MAX = 1 << 16
_stored: dict[float, float] = {}
_stored_get = _stored.get


def snap(x: float, scale: float) -> float:
    """`x`, or the whole number it equals up to rounding noise of computing it from terms
    whose magnitudes add up to `scale`."""
    if not math.isfinite(x):
        return x
    whole = round(x)
    if abs(x - whole) <= NOISE_ULPS * math.ulp(max(scale, abs(x))):
        return float(whole) + 0.0  # + 0.0: never -0
    return x


def _snapped(names, raw: dict, scales: dict, out: dict) -> None:
    """out[name] = snap(float(raw[name]), scales[name]) for each name: `snap` written
    out in the loop (settle calls it once per value and gradient of every key)."""
    isfinite, ulp = math.isfinite, math.ulp
    for name in names:
        x = float(raw[name])
        if isfinite(x):
            whole = round(x)
            scale, ax = scales[name], abs(x)
            # max(scale, ax) as max picks it: scale unless ax is larger
            if abs(x - whole) <= NOISE_ULPS * ulp(ax if ax > scale else scale):
                x = float(whole) + 0.0
        out[name] = x


def stored(value):
    """`value` (a number, or lists and maps of them) as a key stores it: each float
    rounded to KEY_DIGITS significant digits, so it is written as the shortest decimal."""
    kind = type(value)  # exact types first: keys are mostly lists of ints and floats
    if kind is int:
        return value
    if kind is float:
        return _stored_float(value)
    # a float the map has is taken from it here, without a call
    if kind is dict:
        return {k: (hit if (hit := _stored_get(v)) is not None else _stored_float(v))
                if type(v) is float else v if type(v) is int else stored(v)
                for k, v in value.items()}
    if kind is list:
        return [(hit if (hit := _stored_get(v)) is not None else _stored_float(v))
                if type(v) is float else v if type(v) is int else stored(v)
                for v in value]
    if isinstance(value, float):
        return float(f"{value:.{KEY_DIGITS}g}") + 0.0 if math.isfinite(value) else value
    if isinstance(value, list):
        return [v if type(v) is int else stored(v) for v in value]
    if isinstance(value, dict):
        return {k: stored(v) for k, v in value.items()}
    return value


def _stored_float(x: float) -> float:
    """stored(x) of a float, remembered: a class's keys repeat the same inputs, steps
    and whole numbers thousands of times."""
    out = _stored.get(x)
    if out is None:
        out = float(f"{x:.{KEY_DIGITS}g}") + 0.0 if math.isfinite(x) else x
        if len(_stored) < _STORED_MAX and out == out:
            _stored[x] = out
    return out


def _decimals(x: float) -> int:
    """The decimals `show` writes `x` with."""
    a = abs(x)
    if a == 0:
        return 0
    exponent = math.floor(math.log10(a))
    return max(0, min(max(PLACES, SIGNIFICANT - 1 - exponent), KEY_DIGITS - 1 - exponent))


def show(x: float) -> str:
    """`x` as a person reads it: whole numbers without a point, others to PLACES
    decimals (at least SIGNIFICANT significant digits) with trailing zeros dropped; never
    "-0" and never more than KEY_DIGITS significant digits."""
    text = _shown.get(x)
    if text is not None:
        return text
    if not math.isfinite(x):
        text = str(x)
    elif x == int(x) and abs(x) < 10 ** KEY_DIGITS:
        text = str(int(x))
    elif abs(x) < 1e-4 or abs(x) >= 10 ** KEY_DIGITS:
        text = f"{x:.{SIGNIFICANT}g}"
    else:
        text = f"{x:.{_decimals(x)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
    if len(_shown) < _SHOWN_MAX:
        _shown[x] = text
    return text


def show_tolerance(width: float, value: float) -> str:
    """The half-width of an accepted interval around `value`, to the decimals `value`
    is shown with (so "0.2913 ± 0.0015", not "± 0.00145656306226"); "exactly" for 0."""
    if width == 0:
        return "exactly"
    places = max(_decimals(value), PLACES)
    text = f"{width:.{places}f}".rstrip("0").rstrip(".")
    if float(text) == 0:  # a width below the value's last shown decimal
        text = show(width)
    return f"± {text}"


def key_text(x: float) -> str:
    """A key value as an LMS reads it: at most KEY_DIGITS significant digits, the
    shortest decimal, "." decimals, no exponent for the values a worksheet holds."""
    x = stored(float(x))
    if x == int(x) and abs(x) < 10 ** KEY_DIGITS:
        return str(int(x))
    return repr(x)


@dataclass(frozen=True, slots=True)
class Settled:
    """An engine evaluation with its noise settled (see `settle`): the values and
    gradients a key is built from, and the descent step from them."""

    inputs: dict
    values: dict
    gradients: dict

    def step(self, learning_rate: float, wrt) -> dict:
        """{input: x - learning_rate * d output / d x}, the same step as the engine's,
        each new value settled against |x| + |learning_rate * gradient|."""
        out = {}
        for name in wrt:
            x, moved = self.inputs[name], learning_rate * self.gradients[name]
            out[name] = snap(x - moved, abs(x) + abs(moved))
        return out


def settle(graph, evaluation, wanted: tuple | None = None) -> Settled:
    """The evaluation of `graph` (an engine.Graph; an unbatched engine Evaluation with
    intermediates) with every value and gradient that is a whole number up to rounding
    noise made that number. A node's noise scale is the magnitudes it was computed
    from: its inputs' values (a sum of 0.9, -1.8 and 0.9 is 0); a gradient's is the
    terms the chain rule adds, upstream gradient times local factor along each edge.

    `wanted` = (node ids, names): settle only those values (besides the inputs) and
    gradients, each exactly as it is settled among all of them; default every one."""
    raw_values, raw_grads = evaluation.values, evaluation.gradients
    plan = _settle_plan(graph, wanted)
    names = graph.names
    env = dict(zip(names, map(float, map(raw_values.__getitem__, names))))
    inputs = {name: env[name] for name in graph.inputs}
    values = dict(inputs)
    value_scales = {}
    for node_id, refs in plan.value_refs:
        scale = 0  # as sum() adds, from 0
        for r in refs:
            scale += abs(env[r]) if r.__class__ is str else abs(r)
        value_scales[node_id] = scale
    # a gradient's scale: the chain rule's terms, backprop.local edge by edge, each
    # node's local derivatives taken once (the same functions on the same numbers,
    # added in the same order)
    scales = dict.fromkeys(plan.grad_names, 0.0)
    for node, is_add, edges in plan.edges:
        g = abs(float(raw_grads[node.id]))
        if g == 0:
            continue
        if is_add:  # every local factor is 1
            for k, r in edges:
                scales[r] += g
            continue
        d = backprop.local_all(node, env)
        for k, r in edges:
            scales[r] += g * abs(d[k])
    _snapped(plan.value_ids, env, value_scales, values)
    gradients = {}
    _snapped(plan.grad_names, raw_grads, scales, gradients)
    return Settled(inputs, values, gradients)


@dataclass(frozen=True, slots=True)
class _SettlePlan:
    """What `settle` reads of one graph for one `wanted`, the same for every evaluation
    of it: the values to settle with their inputs, and the edges whose terms make up
    the scale of a settled gradient."""

    graph: object       # held, so that its id is not another graph's while cached
    value_ids: tuple
    value_refs: tuple   # (node id, its inputs) of each settled value
    grad_names: tuple
    # (node, whether it is an add, its inputs that are settled names as (position,
    # name)), in graph order, for each node that has such inputs
    edges: tuple


# A class's keys evaluate a few graphs (the curated families, the logistic-regression
# circuit) thousands of times; each graph's plan is worked out once. Keyed by identity,
# not by Graph's __eq__, which compares every node.
_PLANS_MAX = 256
_plans: dict[tuple, _SettlePlan] = {}


def _settle_plan(graph, wanted: tuple | None) -> _SettlePlan:
    key = (id(graph), wanted)
    plan = _plans.get(key)
    if plan is not None and plan.graph is graph:
        return plan
    if wanted is None:
        value_ids, grad_names = tuple(node.id for node in graph.nodes), graph.names
    else:
        value_ids, grad_names = tuple(wanted[0]), tuple(wanted[1])
    settled_values, settled_grads = set(value_ids), set(grad_names)
    value_refs, edges = [], []
    for node in graph.nodes:
        if node.id in settled_values:
            value_refs.append((node.id, node.inputs))
        into = [(k, r) for k, r in enumerate(node.inputs)
                if r.__class__ is str and r in settled_grads]
        if into:  # a node no settled name feeds adds nothing to any scale
            edges.append((node, node.op == "add", tuple(into)))
    plan = _SettlePlan(graph, value_ids, tuple(value_refs), grad_names, tuple(edges))
    if len(_plans) >= _PLANS_MAX:  # random graphs come once each: start afresh
        _plans.clear()
    _plans[key] = plan
    return plan
