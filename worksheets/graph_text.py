"""A graph problem's words: the node table of its statement and the worked forward
pass, backward pass and descent step of its solution.

The symbols depend only on the graph's structure, so they are written once per graph
(`GraphText`, built once for each curated family) and only the numbers are filled in
per student.
"""

from __future__ import annotations

from worksheets import backprop
from worksheets.problem import step
from worksheets.latex import (inline_tex, local_tex, node_tex, num, op_tex, partial,
                                       shown, signed, tex_name)


class GraphText:
    """The LaTeX of one graph: its formula, its nodes, and each edge's local factor."""

    __slots__ = ("graph", "formula", "table", "forward_sym", "edges", "output", "d_out")

    def __init__(self, graph):
        self.graph = graph
        self.output = graph.output
        self.formula = inline_tex(graph)
        self.forward_sym = {n.id: node_tex(n) for n in graph.nodes}
        self.table = "\n".join(
            ["| node | computes |", "|---|---|"]
            + [f"| ${tex_name(n.id)}$ | ${self.forward_sym[n.id]}$ |" for n in graph.nodes])
        self.d_out = {name: partial(graph.output, name) for name in graph.names}
        # name -> [(consumer, input position, symbolic factor)]
        self.edges = {name: [(node, k, local_tex(node, k)) for node, k in edges]
                      for name, edges in backprop.edges_into(graph).items()}

    def forward_steps(self, values: dict) -> list[dict]:
        out = []
        for node in self.graph.nodes:
            op, inputs = shown(node)
            args = [signed(values[r]) if r.__class__ is str else signed(r) for r in inputs]
            numeric = op_tex(op, args, numeric=True)
            out.append(step(f"Forward: {node.id}",
                            f"${tex_name(node.id)} = {self.forward_sym[node.id]} = {numeric} "
                            f"= {num(values[node.id])}$"))
        return out

    def backward_steps(self, values: dict, gradients: dict, upstream: float) -> list[dict]:
        out = []
        y = self.output
        start = "1" if upstream == 1.0 else f"{num(upstream)} \\text{{ (the upstream gradient)}}"
        out.append(step(f"Backward: {y}", f"${self.d_out[y]} = {start}$"))
        order = [n.id for n in reversed(self.graph.nodes) if n.id != y] + list(self.graph.inputs)
        for name in order:
            edges = self.edges[name]
            sym, numeric = [], []
            for node, k, factor in edges:
                g = gradients[node.id]
                d = self.d_out[node.id]
                if factor == "1":
                    sym.append(d)
                    numeric.append(signed(g))
                else:
                    sym.append(f"{d} \\cdot {_wrap(factor)}")
                    numeric.append(f"{signed(g)} \\cdot {signed(backprop.local(node, values, k))}")
            text = f"{self.d_out[name]} = {' + '.join(sym)}"
            if len(edges) > 1 or any(f != "1" for _, _, f in edges):
                text += f" = {' + '.join(numeric)}"
            text += f" = {num(gradients[name])}"
            title = "Backward: " + name
            if len(edges) > 1:
                title += f" (feeds {len(edges)} nodes: add what each passes back)"
            out.append(step(title, f"${text}$"))
        return out

    def descent_steps(self, inputs: dict, gradients: dict, learning_rate: float,
                      stepped: dict) -> list[dict]:
        out = []
        for name, new in stepped.items():
            x = tex_name(name)
            out.append(step(f"Descent step: {name}",
                            f"${x} \\leftarrow {x} - \\eta \\, {self.d_out[name]} = "
                            f"{num(inputs[name])} - {num(learning_rate)} \\cdot "
                            f"{signed(gradients[name])} = {num(new)}$"))
        return out


def _wrap(factor: str) -> str:
    """The factor in parentheses when a sum or difference at its top level needs them."""
    depth = 0
    for ch in factor:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in "+-" and depth == 0:
            return f"\\left({factor}\\right)"
    return factor
