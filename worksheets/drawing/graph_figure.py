"""The computational-graph figure: inputs on the left, one circle per gate with its op
symbol, every wire with the forward value above it and the gradient below it (the
worksheet's and CS231n's convention).

Everything that does not change from student to student (wires, gates, names, edges)
is drawn once per graph into a template; a student's figure is that template plus a
few dozen numbers. A student's sheet shows only what the problem gives (the inputs,
the upstream gradient); the key shows every value and gradient.
"""

from __future__ import annotations

import functools

import engine

from worksheets.drawing import graph_layout as gl
from worksheets.drawing.svg import (GRADIENT, INK, MAX_WIDTH, MUTED, SMALL_TEXT, VALUE, Svg, fmt,
                                    text_width)
from engine.ops import OPS_BY_NAME

VALUE_RAISE = 5.0      # value baseline above its wire
GRADIENT_DROP = 15.0   # gradient baseline below its wire
LEGEND_SIZE = SMALL_TEXT
LEGEND_ROOM = 18.0     # what the legend adds under the last band
NAME_CENTRED = 0.6     # a gate's name wider than this share of its circle is not centred


@functools.lru_cache(maxsize=512)
def _template(key: tuple, names: tuple, symbols: tuple, of: str,
              last: bool = True) -> tuple[float, gl.GraphLayout, str]:
    lay = gl.layout(key, symbols)
    n_inputs = key[0]
    legend = ("above a wire: its value", f"below: ∂{of}/∂(wire)")
    legend_x = gl.MARGIN + text_width(legend[0], LEGEND_SIZE) + 14
    width = max(lay.width, legend_x + text_width(legend[1], LEGEND_SIZE) + gl.MARGIN)
    height = lay.height if last else lay.height - LEGEND_ROOM
    out = Svg(width, height)
    for link in lay.links:
        out.path(_curve(link.points), stroke=INK, width=1.1)
        _arrowhead(out, *link.points[-1])
    for tag in lay.constants:
        out.line(tag.port[0] - 12, tag.port[1], tag.port[0] - 6, tag.port[1], stroke=MUTED)
        _arrowhead(out, *tag.port, color=MUTED)
        out.text(tag.port[0] - 14, tag.port[1] + 4, tag.text, size=gl.LABEL_SIZE, anchor="end",
                 fill=MUTED)
    for i, wire in enumerate(lay.wires):
        out.line(wire.x0, wire.y, wire.x1, wire.y, stroke=INK, width=1.1)
        if i < n_inputs:
            out.text(wire.x0 - 4, wire.y + 4.5, names[i], size=gl.NAME_SIZE, anchor="end",
                     style="italic")
    for gate in lay.gates:
        out.circle(gate.cx, gate.cy, gl.RADIUS)
        size = 16.0 if len(gate.symbol) == 1 else 12.0 if len(gate.symbol) <= 3 else SMALL_TEXT
        out.text(gate.cx, gate.cy + size * 0.36, gate.symbol, size=size, anchor="middle",
                 fit=2 * gl.RADIUS - 5)
        name = names[n_inputs + gate.node]
        if text_width(name, gl.NAME_SIZE - 1) > NAME_CENTRED * 2 * gl.RADIUS:
            # a longer name starts right of where the wires into this column's gates
            # end (their ports lie left of 0.76 radius from a centre) and runs over the
            # gate's own output wire: never across a wire into the gate or one below it
            out.text(gate.cx - NAME_CENTRED * gl.RADIUS, gate.cy - gl.RADIUS - 5, name,
                     size=gl.NAME_SIZE - 1, style="italic", fill=MUTED)
        else:
            out.text(gate.cx, gate.cy - gl.RADIUS - 5, name, size=gl.NAME_SIZE - 1,
                     anchor="middle", style="italic", fill=MUTED)
    if last:
        end = lay.wires[lay.output]
        _arrowhead(out, end.x1 + 6, end.y)
        out.text(end.x1 + 10, end.y + 4.5, names[lay.output], size=gl.NAME_SIZE, style="italic")
        legend_y = lay.height - 8
        out.text(gl.MARGIN, legend_y, legend[0], size=LEGEND_SIZE, fill=VALUE)
        out.text(legend_x, legend_y, legend[1], size=LEGEND_SIZE, fill=GRADIENT)
    return width, height, lay, "".join(out.parts)


def graph_svg(graph, values: dict, gradients: dict, title: str = "", of: str | None = None,
              shown: dict | None = None, drawn: dict | None = None) -> str:
    """The figure of `graph` (an engine.Graph) with the given labels: `values` and
    `gradients` map names to display strings; a name not in a map gets a blank wire.
    `of` names what the gradients are of in the legend (default: the graph's output).
    `shown` writes a node as the question does where its id is no name the question
    defines (p1 -> "w1·x1"): a student never meets an internal id such as sub2. `drawn`
    writes a (shown) name shorter on the figure, where the figure's place says the rest:
    "exp(a) in p" is drawn "exp(a)" at the gate that feeds p."""
    of = of or (shown or {}).get(graph.output, graph.output)
    if shown:
        graph, values, gradients = _renamed(graph, shown), _keys(values, shown), \
            _keys(gradients, shown)
    pieces = _bands(graph)
    parts = [_part(piece, values, gradients, of, drawn or {}, last=i == len(pieces) - 1)
             for i, piece in enumerate(pieces)]
    out = Svg(max(w for w, _, _ in parts), sum(h for _, h, _ in parts), title)
    top = 0.0
    for _, height, body in parts:
        out.raw(body if top == 0 else f'<g transform="translate(0,{fmt(top)})">{body}</g>')
        top += height
    return out.tostring()


def _renamed(graph, shown: dict):
    def name(r):
        return shown.get(r, r) if isinstance(r, str) else r
    nodes = [engine.Node(name(n.id), n.op, tuple(name(r) for r in n.inputs), n.text)
             for n in graph.nodes]
    return engine.Graph(nodes, [name(r) for r in graph.inputs], name(graph.output), None)


def _keys(labels_: dict, shown: dict) -> dict:
    return {shown.get(k, k): v for k, v in labels_.items()}


def _part(graph, values: dict, gradients: dict, of: str, drawn: dict,
          last: bool) -> tuple[float, float, str]:
    """(width, height, markup) of one band of a figure; the last carries the legend."""
    key = gl.structure(graph)
    names = tuple(drawn.get(n, n) for n in graph.names)
    width, height, lay, static = _template(key, names, _symbols(graph), of, last)
    out = Svg(width, height)
    out.raw(static)
    half = gl.STUB / 2
    for name, wire in zip(graph.names, lay.wires):
        v = values.get(name)
        if v is not None:
            out.text(wire.x0 + half, wire.y - VALUE_RAISE, v, size=gl.LABEL_SIZE,
                     anchor="middle", fill=VALUE, fit=gl.STUB - 6)
        g = gradients.get(name)
        if g is not None:
            out.text(wire.x0 + half, wire.y + GRADIENT_DROP, g, size=gl.LABEL_SIZE,
                     anchor="middle", fill=GRADIENT, fit=gl.STUB - 6)
    return width, height, "".join(out.parts)


def _symbols(graph) -> tuple:
    key = gl.structure(graph)
    return tuple(gl.gate_symbol(OPS_BY_NAME[n.op].symbol, n.op, refs)
                 for n, (_, refs) in zip(graph.nodes, key[1]))


def _bands(graph) -> list:
    """The graph as one or more graphs drawn one below the other, each at most
    MAX_WIDTH units wide so that the figure prints at its own size: a long graph (the
    logistic-regression circuit) is cut between columns, and what a lower band uses
    from above enters it as an input wire of the same name and numbers, as a circuit
    continued on the next line. Of the cuts that fit, the one of least total height
    (a single column wider than that stays whole)."""
    if not graph.nodes:
        return [graph]
    # a node's column counted back from the output (as late as it can be computed), so
    # that a side branch such as 1 - y joins the band that uses it
    after: dict = {}
    for n in reversed(graph.nodes):
        after.setdefault(n.id, 0)
        for r in n.inputs:
            if isinstance(r, str):
                after[r] = max(after.get(r, 0), after[n.id] + 1)
    deepest = max(after[n.id] for n in graph.nodes)
    depth = {n.id: deepest - after[n.id] for n in graph.nodes}

    def band(start: int, stop: int):
        return _band(graph, [n for n in graph.nodes if start < depth[n.id] <= stop])

    memo_key = (gl.structure(graph), graph.names)
    stops = _CUTS.get(memo_key)
    if stops is None:
        # best[s]: (height, stops) of the bands covering columns up to s
        best: dict = {-1: (0.0, ())}
        for stop in range(deepest + 1):
            options = []
            for start in range(-1, stop):
                b = band(start, stop)
                lay = gl.layout(gl.structure(b), _symbols(b))
                if lay.width <= MAX_WIDTH or start == stop - 1:
                    options.append((best[start][0] + lay.height, best[start][1] + (stop,)))
            best[stop] = min(options)
        if len(_CUTS) > 512:
            _CUTS.clear()
        stops = _CUTS[memo_key] = best[deepest][1]
    return [band(start, stop) for start, stop in zip((-1,) + stops, stops)]


_CUTS: dict = {}


def _band(graph, nodes: list):
    """The nodes as a graph whose inputs are the names they read from outside, ending
    in the graph's output or, in a band above it, in its last node."""
    own = {n.id for n in nodes}
    inputs: list = []
    for n in nodes:
        for r in n.inputs:
            if isinstance(r, str) and r not in own and r not in inputs:
                inputs.append(r)
    return engine.Graph(nodes, inputs, graph.output if graph.output in own else nodes[-1].id,
                        None)


def labels(numbers: dict, names, show) -> dict:
    """Display strings, written by `show`, for those of `names` that `numbers` holds:
    the maps graph_svg takes."""
    return {k: show(numbers[k]) for k in names if k in numbers}


def _curve(points: tuple) -> str:
    """Cubic segments through `points`, level at each end, as edges in a circuit."""
    x0, y0 = points[0]
    d = [f"M{fmt(x0)},{fmt(y0)}"]
    for x1, y1 in points[1:]:
        mid = (x1 - x0) / 2
        d.append(f"C{fmt(x0 + mid)},{fmt(y0)} {fmt(x1 - mid)},{fmt(y1)} {fmt(x1)},{fmt(y1)}")
        x0, y0 = x1, y1
    return "".join(d)


def _arrowhead(out: Svg, x: float, y: float, color: str = INK) -> None:
    out.path(f"M{fmt(x)},{fmt(y)}L{fmt(x - 7)},{fmt(y - 3.5)}L{fmt(x - 7)},{fmt(y + 3.5)}Z",
             fill=color, stroke="none", width=0)
