"""Random computational graphs with a difficulty knob.

Difficulty 1..5 sets how many inputs and nodes a graph has, how deep it runs (the
chance that a node takes the newest node as an input), how often a value feeds more
than one node (fan-out), and which ops appear. Every candidate is built together with
its numbers and kept only if it is nice: every input and node matters (a gradient of
at least 0.05 in size), no gate sits at or near a kink or a tie, exp, sigmoid and tanh
stay where their values are worth working out, and every value and gradient stays
small. The keys still come from the engine; these checks only decide what to draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import engine
from engine.graph import Node
from engine.ops import OPS, OPS_BY_NAME
from worksheets import backprop

INPUT_NAMES = ("a", "b", "c", "d", "e")
MAX_ATTEMPTS = 400


@dataclass(frozen=True)
class Level:
    inputs: tuple[int, int]
    nodes: tuple[int, int]
    ops: tuple[str, ...]
    fan_out: float   # chance that an operand is a value already used
    depth: float     # chance that the first operand is the newest node


def drawn_at(difficulty: int) -> tuple[str, ...]:
    """The ops a graph of this difficulty draws from (OpDef.drawn), in the order the
    draw indexes them."""
    return tuple(op.name for op in sorted((op for op in OPS if op.drawn and op.drawn[0] <= difficulty),
                                          key=lambda op: op.drawn))


LEVELS = {
    1: Level((2, 2), (2, 3), drawn_at(1), 0.0, 0.5),
    2: Level((2, 3), (3, 4), drawn_at(2), 0.15, 0.55),
    3: Level((3, 3), (4, 5), drawn_at(3), 0.25, 0.6),
    4: Level((3, 4), (5, 7), drawn_at(4), 0.3, 0.7),
    5: Level((4, 4), (6, 8), drawn_at(5), 0.35, 0.75),
}


class _Draft:
    """Just enough of a Graph for worksheets.backprop to check a candidate."""

    __slots__ = ("nodes", "inputs", "output", "names", "_index")

    def __init__(self, nodes, inputs, output):
        self.nodes, self.inputs, self.output = nodes, inputs, output
        self.names = inputs + tuple(n.id for n in nodes)
        self._index = {n.id: n for n in nodes}

    def node(self, node_id):
        return self._index[node_id]


@dataclass(frozen=True)
class RandomGraph:
    graph: engine.Graph
    inputs: dict
    learning_rate: float
    attempts: int


def random_graph(rng, difficulty: int) -> RandomGraph:
    """A nice random graph at this difficulty, with its inputs and learning rate."""
    level = LEVELS[difficulty]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        draft, inputs = _candidate(rng, level)
        lr = _nice(draft, inputs)
        if lr is not None:
            spec = {"nodes": [{"id": n.id, "op": n.op, "inputs": list(n.inputs)}
                              for n in draft.nodes], "output": draft.output}
            return RandomGraph(engine.Graph.from_spec(spec), inputs, lr, attempt)
    # Not reached in practice (the stress test counts attempts); a plain sum-times keeps
    # the sheet whole rather than failing it.
    spec = {"nodes": [{"id": "n1", "op": "add", "inputs": ["a", "b"]},
                      {"id": "f", "op": "mul", "inputs": ["n1", "c"]}], "output": "f"}
    return RandomGraph(engine.Graph.from_spec(spec), {"a": 1.0, "b": 2.0, "c": -3.0}, 0.1,
                       MAX_ATTEMPTS)


def _candidate(rng, level: Level):
    n_inputs = rng.integer(*level.inputs)
    names = INPUT_NAMES[:n_inputs]
    inputs = {name: float(rng.nonzero(-3, 3)) if rng.chance(0.7) else rng.decimal(-2, 2, 0.5)
              for name in names}
    pool = list(names)
    unused = list(names)
    nodes = []
    for i in range(rng.integer(*level.nodes)):
        op = rng.choice(level.ops)
        first = _pick(rng, level, pool, unused, newest=nodes[-1].id if nodes else None)
        if OPS_BY_NAME[op].arity == 1:
            args = (first,)
        else:
            second = _pick(rng, level, pool, unused, newest=None, avoid=first)
            args = (first, second)
            if op == "mul" and rng.chance(0.15):
                args = (float(rng.integer(2, 3)),) + args
        node = Node(f"n{i + 1}", op, args)
        nodes.append(node)
        pool.append(node.id)
        unused.append(node.id)
    # whatever is still unused is summed into the output, so nothing is ignored
    if len(unused) == 1 and unused[0] == nodes[-1].id:
        last = nodes[-1]
        nodes[-1] = Node("f", last.op, last.inputs)
    else:
        nodes.append(Node("f", "add", tuple(unused)))
    return _Draft(tuple(nodes), tuple(names), "f"), inputs


def _pick(rng, level: Level, pool: list, unused: list, newest, avoid=None):
    if newest is not None and newest in unused and rng.chance(level.depth):
        choice = newest
    elif unused and not rng.chance(level.fan_out):
        candidates = [u for u in unused if u != avoid] or unused
        choice = rng.choice(candidates)
    else:
        candidates = [p for p in pool if p != avoid] or pool
        choice = rng.choice(candidates)
    if choice in unused:
        unused.remove(choice)
    return choice


def _nice(draft: _Draft, inputs: dict) -> float | None:
    """The learning rate that makes the draft a good problem, or None to draw again."""
    env, _ = backprop.forward(draft, inputs)
    for node in draft.nodes:
        v = env[node.id]
        if not abs(v) <= 100:  # also refuses NaN
            return None
        awkward = OPS_BY_NAME[node.op].awkward
        if awkward is not None and awkward([env[r] if isinstance(r, str) else r for r in node.inputs]):
            return None
    grads = backprop.backward(draft, env, 1.0)
    for name in draft.names:
        g = grads[name]
        if not 0.05 <= abs(g) <= 500:
            return None
    biggest = max(abs(grads[name]) for name in draft.inputs)
    lr = 0.1 if biggest <= 10 else 0.01
    if min(abs(grads[name]) for name in draft.inputs) * lr < 0.002:
        return None
    return lr
