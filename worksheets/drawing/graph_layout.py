"""Where each gate and wire of a computational-graph figure goes, laid out once per
graph structure by grandalf's layered (Sugiyama) layout and reused for every student.

The layout runs top to bottom; the figure turns it on its side so that data flows left
to right: a layer is a column (inputs in the first), a vertex's place in its layer is
its height. Every name (input or node) owns a horizontal wire leaving it to the right,
its *stub*, where the figure writes the forward value above and the gradient below;
edges run from the end of a stub to a port on the consuming gate. A constant input is
a small tag at its port, and pow's constant exponent is folded into the gate's label,
since no gradient flows to either.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from grandalf.graphs import Edge, Vertex, graph_core
from grandalf.layouts import SugiyamaLayout

from worksheets.drawing.svg import text_width
from worksheets.numerals import key_text

RADIUS = 17.0          # a gate's circle
STUB = 62.0            # a name's wire: room for "-12.345" at the label size
LABEL_SIZE = 12.0      # values and gradients
NAME_SIZE = 13.0       # input names and node ids
COLUMN_GAP = 26.0      # between the end of a stub and the next column
ROW_GAP = 12.0
VERTEX_HEIGHT = 58.0   # node id above the circle, value above and gradient below the wire
MARGIN = 12.0
COMMUTATIVE = frozenset({"add", "mul", "max", "min"})


@dataclass(frozen=True)
class Wire:
    """The labelled stub of one name: from (x0, y) to (x1, y)."""

    x0: float
    x1: float
    y: float


@dataclass(frozen=True)
class Gate:
    """One node's circle at (cx, cy) and the text inside it."""

    node: int
    cx: float
    cy: float
    symbol: str


@dataclass(frozen=True)
class Link:
    """A wire from a name's stub to input `k` of node `node`: `points` run from the stub's
    end through the layout's bend points to the port on the gate's circle."""

    node: int
    k: int
    points: tuple


@dataclass(frozen=True)
class ConstantTag:
    """A constant input `k` of node `node`, written at `(x, y)` left of its port."""

    node: int
    k: int
    x: float
    y: float
    port: tuple
    text: str


@dataclass(frozen=True)
class GraphLayout:
    width: float
    height: float
    wires: tuple          # Wire per name, in Graph.names order (inputs, then nodes)
    gates: tuple          # Gate per node
    links: tuple
    constants: tuple
    output: int           # index into wires of the graph's output


def structure(graph) -> tuple:
    """What the layout depends on: inputs by position, nodes as (op, references) with
    references by position, constants by value, and how long each name is."""
    where = {name: ("i", i) for i, name in enumerate(graph.inputs)}
    nodes = []
    for j, node in enumerate(graph.nodes):
        refs = tuple(where[r] if isinstance(r, str) else ("c", float(r)) for r in node.inputs)
        nodes.append((node.op, refs))
        where[node.id] = ("n", j)
    return (len(graph.inputs), tuple(nodes), where[graph.output],
            tuple(len(n) for n in graph.names))


def gate_symbol(op_symbol: str, op: str, refs: tuple) -> str:
    if op == "pow" and refs[1][0] == "c":
        return "^" + _number(refs[1][1])
    return op_symbol


def _number(x: float) -> str:
    return key_text(x)


@functools.lru_cache(maxsize=512)
def layout(key: tuple, symbols: tuple) -> GraphLayout:
    """The layout of a graph whose `structure()` is `key`; `symbols` holds each node's
    gate text. Cached: every student's graph of one family shares one layout."""
    n_inputs, nodes, output, name_lengths = key
    n_names = n_inputs + len(nodes)

    def index(ref) -> int | None:
        kind, i = ref
        return i if kind == "i" else n_inputs + i if kind == "n" else None

    # widths and heights in the figure's frame; grandalf's frame is turned by 90 degrees
    head = [text_width("x" * name_lengths[i], NAME_SIZE) + 6 for i in range(n_inputs)]
    head += [2 * RADIUS] * len(nodes)
    vertices = []
    for v in range(n_names):
        vertex = Vertex(v)
        vertex.view = _View(w=VERTEX_HEIGHT, h=head[v] + STUB)
        vertices.append(vertex)
    pairs = []
    for j, (_, refs) in enumerate(nodes):
        for ref in refs:
            src = index(ref)
            if src is not None and (src, n_inputs + j) not in pairs:
                pairs.append((src, n_inputs + j))
    edges = []
    for a, b in pairs:
        e = Edge(vertices[a], vertices[b])
        e.view = _Path()
        edges.append(e)

    placed: dict[int, tuple[int, float]] = {}    # vertex -> (column, y)
    bends: dict[tuple, list] = {}                 # (src, dst) -> [(column, y)] of dummies
    top = 0.0
    for members in _components(n_names, pairs):
        comp_vertices = [vertices[v] for v in members]
        comp_edges = [e for e in edges if e.v[0].data in members]
        core = graph_core(comp_vertices, comp_edges, directed=True)
        sug = SugiyamaLayout(core)
        sug.xspace, sug.yspace = ROW_GAP, COLUMN_GAP
        sug.dw, sug.dh = 16.0, 10.0
        sug.init_all()
        sug.draw()
        lows = [v.view.xy[0] - v.view.w / 2 for v in comp_vertices]
        for layer in sug.layers:
            for item in layer:
                if not getattr(item, "dummy", 0):
                    continue
                lows.append(item.view.xy[0] - item.view.w / 2)
        low = min(lows)
        bottom = top
        for v in comp_vertices:
            y = v.view.xy[0] - low + top + VERTEX_HEIGHT / 2
            placed[v.data] = (sug.grx[v].rank, y)
            bottom = max(bottom, y + VERTEX_HEIGHT / 2)
        for e in comp_edges:
            ctrl = sug.ctrls.get(e, {})
            r0, r1 = sug.grx[e.v[0]].rank, sug.grx[e.v[1]].rank
            bends[(e.v[0].data, e.v[1].data)] = [
                (r, ctrl[r].view.xy[0] - low + top + VERTEX_HEIGHT / 2)
                for r in range(r0 + 1, r1) if r in ctrl]
        top = bottom + ROW_GAP

    columns = max(c for c, _ in placed.values()) + 1
    width_of = [0.0] * columns
    for v, (c, _) in placed.items():
        width_of[c] = max(width_of[c], head[v] + STUB)
    right = []
    x = MARGIN
    for c in range(columns):
        x += width_of[c]
        right.append(x)
        x += COLUMN_GAP

    wires = []
    for v in range(n_names):
        c, y = placed[v]
        wires.append(Wire(right[c] - STUB, right[c], y))
    gates = tuple(Gate(j, wires[n_inputs + j].x0 - RADIUS, wires[n_inputs + j].y,
                       symbols[j]) for j in range(len(nodes)))

    links, constants = [], []
    for j, (op, refs) in enumerate(nodes):
        gate = gates[j]
        shown = [k for k, ref in enumerate(refs) if not (op == "pow" and k == 1 and ref[0] == "c")]
        if op in COMMUTATIVE:
            # ports top to bottom in the order the sources sit, so wires do not cross
            shown.sort(key=lambda k: (wires[index(refs[k])].y if index(refs[k]) is not None
                                      else gate.cy, k))
        linked = [wires[index(refs[k])].y for k in shown if index(refs[k]) is not None]
        sides = {y < gate.cy for y in linked if y != gate.cy}
        if len(linked) < len(shown) and len(sides) == 1 and len(linked) == len(
                [y for y in linked if y != gate.cy]):
            # wires all from one side: a constant's tag takes the other, since a wire
            # crossing to a port beyond the tag would run through it (the gate's name
            # says which operand the constant is: 1−y)
            above = sides.pop()
            shown.sort(key=lambda k: (index(refs[k]) is None) == above)
        for slot, k in enumerate(shown):
            port = _port(gate, slot, len(shown))
            src = index(refs[k])
            if src is None:
                text = _number(refs[k][1])
                constants.append(ConstantTag(j, k, port[0] - 16, port[1], port, text))
                continue
            wire = wires[src]
            points = [(wire.x1, wire.y)]
            points += [(right[c] - STUB / 2, y) for c, y in bends.get((src, n_inputs + j), [])]
            points.append(port)
            links.append(Link(j, k, tuple(points)))

    height = max(y for _, y in placed.values()) + VERTEX_HEIGHT / 2 + 26
    # room for the output's name after its arrow
    width = right[-1] + 26 + text_width("x" * name_lengths[index(output)], NAME_SIZE)
    return GraphLayout(width=width, height=height + MARGIN, wires=tuple(wires), gates=gates,
                       links=tuple(links), constants=tuple(constants), output=index(output))


def _port(gate: Gate, slot: int, count: int) -> tuple:
    """Where input `slot` of `count` meets the gate's circle, spread over its left side."""
    if count == 1:
        dy = 0.0
    else:
        dy = (slot / (count - 1) - 0.5) * 1.3 * RADIUS
    dx = math.sqrt(RADIUS * RADIUS - dy * dy)
    return (gate.cx - dx, gate.cy + dy)


def _components(n: int, pairs: list) -> list[list[int]]:
    """Connected components in order of their first vertex (grandalf's own Graph would
    gather them through sets, whose order is not stable)."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for v in range(n):
        groups.setdefault(find(v), []).append(v)
    return list(groups.values())


class _View:
    __slots__ = ("w", "h", "xy")

    def __init__(self, w: float, h: float):
        self.w, self.h, self.xy = w, h, None


class _Path:
    __slots__ = ("points",)

    def setpath(self, points):
        self.points = points
