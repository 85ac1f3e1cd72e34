"""A graph problem's words: the node table of its statement and the worked forward
pass, backward pass and descent step of its solution.

The symbols depend only on the graph's structure, so they are written once per graph
(`GraphText`, built once for each curated family) and only the numbers are filled in
per student.

A template's program may leave nodes unnamed (`z = w*x + b` names z, not the product
w*x); the parser gives those ids (mul1) that the question never defines, so the text
writes such a node as its expression (w x) and its table lists the named nodes only.
"""

from __future__ import annotations

import re

from engine.ops import OPS_BY_NAME
from worksheets import backprop
from worksheets.problem import step
from worksheets.latex import (ATOM, inline_tex, local_tex, num, numeric_op_tex, op_tex,
                              partial, prec, shown, signed, tex_name)

# The ids the parser gives the nodes a program leaves unnamed: mul1, sub2.
_MADE_ID = re.compile(r"([a-z_]+?)(\d+)")


def unnamed_nodes(graph) -> frozenset:
    """The nodes of a parsed program that it leaves unnamed, by the parser's id (an op
    and a number: mul1), which the question never defines."""
    out = set()
    for n in graph.nodes:
        m = _MADE_ID.fullmatch(n.id)
        if m and m.group(1) == n.op and n.text and n.id != graph.output:
            out.add(n.id)
    return frozenset(out)


def plain_expression(text: str) -> str:
    """A program's expression as a figure or a heading prints it: w12*x2 -> w12·x2."""
    return text.replace("*", "·").replace(" - ", " − ").replace("-", "−")


def _qualifiers(graph, unnamed) -> dict:
    """What tells apart unnamed nodes that read the same (exp(a) twice in
    exp(a) / (exp(a) + exp(b))): id -> ("in", the node it feeds) where they feed
    different nodes, else ("copy", its place among them)."""
    into = backprop.edges_into(graph)
    same: dict = {}
    for n in graph.nodes:
        if n.id in unnamed:
            same.setdefault("".join(n.text.split()), []).append(n.id)
    out = {}
    for group in same.values():
        if len(group) == 1:
            continue
        feeds = {name: into[name][0][0].id for name in group}
        apart = len(set(feeds.values())) == len(group)
        for i, name in enumerate(group, 1):
            out[name] = ("in", feeds[name]) if apart else ("copy", i)
    return out


def shown_names(graph, unnamed=None) -> dict:
    """How a student reads each node the program leaves unnamed: its expression
    (mul1 -> "w12·x2"), told apart from another that reads the same (exp(a) in p).
    Named nodes (z, h, f) keep their names."""
    unnamed = unnamed_nodes(graph) if unnamed is None else unnamed
    by_id = {n.id: n for n in graph.nodes}

    def plain(name):
        return plain_expression(by_id[name].text) if name in unnamed else name

    out = {name: plain(name) for name in unnamed}
    for name, (how, which) in _qualifiers(graph, unnamed).items():
        out[name] += f" in {plain(which)}" if how == "in" else f" (copy {which})"
    return out


def drawn_names(graph, unnamed=None) -> dict:
    """The shown name of each unnamed node that a figure draws shorter: without what
    tells it apart from its twin (exp(a) in p -> exp(a)), which the figure's wiring says."""
    unnamed = unnamed_nodes(graph) if unnamed is None else unnamed
    shown_ = shown_names(graph, unnamed)
    by_id = {n.id: n for n in graph.nodes}
    return {shown_[name]: plain_expression(by_id[name].text)
            for name in _qualifiers(graph, unnamed)}


def _paren(tex: str, p: int) -> str:
    return tex if p >= ATOM else f"\\left({tex}\\right)"


class GraphText:
    """The LaTeX of one graph: its formula, its nodes, and each edge's local factor.
    Nodes in `unnamed` are written as their expressions in the names of the others."""

    __slots__ = ("graph", "formula", "table", "forward_sym", "edges", "output", "d_out",
                 "unnamed", "expr", "words", "_forward_plan", "_backward_plan", "_descent_heads")

    def __init__(self, graph, unnamed=frozenset()):
        self.graph = graph
        self.output = graph.output
        self.unnamed = frozenset(unnamed)
        self.formula = inline_tex(graph)
        # id -> (LaTeX, precedence) of the node as the others' formulas write it
        self.expr: dict = {name: (tex_name(name), ATOM) for name in graph.inputs}
        self.forward_sym = {}
        for n in graph.nodes:
            op, inputs = shown(n)
            args = [self.expr[r] if r.__class__ is str else (signed(r), ATOM) for r in inputs]
            body = op_tex(op, [t for t, _ in args], [p for _, p in args])
            self.forward_sym[n.id] = body
            self.expr[n.id] = (body, prec(op)) if n.id in self.unnamed else (tex_name(n.id),
                                                                              ATOM)
        # name -> how a heading and a partial derivative name it on its own
        self.words, alone = self._alone()
        self.table = "\n".join(
            ["| node | computes |", "|---|---|"]
            + [f"| ${tex_name(n.id)}$ | ${self.forward_sym[n.id]}$ |" for n in graph.nodes
               if n.id not in self.unnamed])
        self.d_out = {name: (partial(graph.output, name) if name not in self.unnamed else
                             f"\\frac{{\\partial {tex_name(graph.output)}}}"
                             f"{{\\partial {alone[name]}}}")
                      for name in graph.names}
        # name -> [(consumer, input position, symbolic factor)]
        self.edges = {name: [(node, k, local_tex(node, k, self._ref, self._ref(node.id)))
                             for node, k in edges]
                      for name, edges in backprop.edges_into(graph).items()}
        # the symbols of the worked passes, written when a solution first needs them
        self._forward_plan = self._backward_plan = self._descent_heads = None

    def _ref(self, r) -> str:
        """An input of a local factor: a name, a number or an unnamed node's expression,
        parenthesised unless atomic."""
        if r.__class__ is not str:
            return signed(r)
        return _paren(*self.expr[r])

    def _alone(self) -> tuple[dict, dict]:
        """(words, LaTeX) naming each node on its own: a named node by its name, an
        unnamed one by its expression, told apart from another that reads the same."""
        words = {name: name for name in self.graph.names}
        words.update(shown_names(self.graph, self.unnamed))
        alone = {name: _paren(*self.expr[name]) for name in self.unnamed}
        for name, (how, which) in _qualifiers(self.graph, self.unnamed).items():
            tex = self.expr[name][0]
            alone[name] = (f"\\left({tex} \\;\\text{{in}}\\; {self.expr[which][0]}\\right)"
                           if how == "in" else f"\\left({tex}\\right)_{{({which})}}")
        return words, alone

    def forward_steps(self, values: dict) -> list[dict]:
        if self._forward_plan is None:
            self._forward_plan = self._plan_forward()
        out = []
        for node, fill, inputs, write, title, head in self._forward_plan:
            args = [write(values[r]) if r.__class__ is str else write(r) for r in inputs]
            out.append(step(title, f"{head}{fill(args)} = {num(values[node.id])}$"))
        return out

    def _plan_forward(self) -> list[tuple]:
        """Per node: (node, its gate as a function of its inputs' numbers, its inputs as
        shown, how a number is written, the step's title, its text up to the numbers),
        the same for every student."""
        plan = []
        for node in self.graph.nodes:
            op, inputs = shown(node)
            # a prefix op puts its argument in parentheses itself: -(-1.3), not -((-1.3))
            write = num if OPS_BY_NAME[op].prefix else signed
            # an unnamed node is its expression: w x = 1 \cdot 2, not w x = w x = ...
            head = ("" if node.id in self.unnamed else f"{tex_name(node.id)} = ")
            plan.append((node, numeric_op_tex(op, len(inputs)), inputs, write,
                         f"Forward: {self.words[node.id]}",
                         f"${head}{self.forward_sym[node.id]} = "))
        return plan

    def backward_steps(self, values: dict, gradients: dict, upstream: float) -> list[dict]:
        if self._backward_plan is None:
            self._backward_plan = self._plan_backward()
        y = self.output
        start = "1" if upstream == 1.0 else f"{num(upstream)} \\text{{ (the upstream gradient)}}"
        out = [step(f"Backward: {y}", f"${self.d_out[y]} = {start}$")]
        locals_: dict = {}
        for name, title, head, edges, worked in self._backward_plan:
            text = head
            if worked:
                numeric = []
                for node, k, one in edges:
                    g = gradients[node.id]
                    if one:
                        numeric.append(signed(g))
                    else:
                        d = locals_.get(node.id)
                        if d is None:
                            d = locals_[node.id] = backprop.local_all(node, values)
                        numeric.append(f"{signed(g)} \\cdot {signed(d[k])}")
                text += f" = {' + '.join(numeric)}"
            out.append(step(title, f"${text} = {num(gradients[name])}$"))
        return out

    def _plan_backward(self) -> list[tuple]:
        """Per name, in the order a solution works them: (name, the step's title, its
        symbolic sum, its edges as (consumer, input position, factor is 1), whether the
        numbers of the sum are written out), the same for every student."""
        plan = []
        y = self.output
        order = [n.id for n in reversed(self.graph.nodes) if n.id != y] + list(self.graph.inputs)
        for name in order:
            edges = self.edges[name]
            sym = [self.d_out[node.id] if factor == "1" else
                   f"{self.d_out[node.id]} \\cdot {_wrap(factor)}" for node, k, factor in edges]
            title = "Backward: " + self.words[name]
            if len(edges) > 1:
                title += f" (feeds {len(edges)} nodes: add what each passes back)"
            worked = len(edges) > 1 or any(f != "1" for _, _, f in edges)
            plan.append((name, title, f"{self.d_out[name]} = {' + '.join(sym)}",
                         tuple((node, k, factor == "1") for node, k, factor in edges), worked))
        return plan

    def descent_steps(self, inputs: dict, gradients: dict, learning_rate: float,
                      stepped: dict) -> list[dict]:
        if self._descent_heads is None:
            # per name: the step's title and its text up to the numbers, the same for
            # every student
            self._descent_heads = {
                name: (f"Descent step: {name}",
                       f"${tex_name(name)} \\leftarrow {tex_name(name)} - \\eta \\, {d} = ")
                for name, d in self.d_out.items()}
        heads = self._descent_heads
        rate = num(learning_rate)
        out = []
        for name, new in stepped.items():
            title, head = heads[name]
            out.append(step(title, f"{head}{num(inputs[name])} - {rate} \\cdot "
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
