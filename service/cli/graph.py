"""`gradsheet eval`: every node's value and gradient, as a worksheet writes them.

    gradsheet eval "(x + y) * z" x=-2 y=5 z=-4 [--upstream -3] [--lr 0.1 [--wrt x,y] [--steps 3]]

The graph is an expression program, or @FILE for a node spec in JSON.
"""

from __future__ import annotations

import json
import math

from engine.errors import GraphError
from engine.evaluation import evaluate
from engine.graph import Graph
from engine.lowering import lower
from engine.parser import parse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a graph: every node's value and gradient",
        description="Evaluate a computational graph forward and backward and print every node's value "
                    "(what a worksheet writes above the line) and gradient d output / d node (below it).")
    p.add_argument("graph", help='an expression such as "(x + y) * z" or "q = x + y; f = q * z", '
                                 "or @FILE with a JSON node spec")
    p.add_argument("inputs", nargs="*", metavar="NAME=VALUE", help="a value for each input")
    p.add_argument("--upstream", type=float, default=1.0, metavar="G",
                   help="gradient arriving at the output (default 1)")
    p.add_argument("--lr", type=float, metavar="RATE", help="also take a gradient-descent step at this rate")
    p.add_argument("--wrt", metavar="NAMES", help="comma-separated inputs the step updates (default: all); needs --lr")
    p.add_argument("--steps", type=int, default=1, metavar="N", help="number of descent steps (default 1); needs --lr")
    p.add_argument("--program", action="store_true", help="also print the lowered program")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run, kernels=True)


def _read_graph(text: str) -> Graph:
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                spec = json.load(f)
        except OSError as exc:
            raise GraphError(f"cannot read {text[1:]}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise GraphError(f"{text[1:]} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") \
                from None
        return Graph.from_spec(spec)
    return parse(text)


def _read_inputs(pairs: list[str]) -> dict[str, float]:
    inputs: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise GraphError(f"an input must be written NAME=VALUE, not {pair!r}")
        try:
            number = float(value)
        except ValueError:
            raise GraphError(f"the value of {name} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise GraphError(f"the value of {name} must be finite, not {value}")
        if name in inputs:
            raise GraphError(f"{name} is given twice")
        inputs[name] = number
    return inputs


def fmt(x: float) -> str:
    return f"{x:.6g}" if x != 0 else "0"


def run(args) -> int:
    graph = _read_graph(args.graph)
    ev = evaluate(graph, _read_inputs(args.inputs), output_gradient=args.upstream)
    if args.lr is None and (args.wrt is not None or args.steps != 1):
        given = "--wrt" if args.wrt is not None else "--steps"
        raise GraphError(f"{given} says which descent step to take; give the learning rate "
                         f"with --lr as well")
    wrt = args.wrt.split(",") if args.wrt else None
    trajectory = ev.trajectory(args.lr, args.steps, wrt=wrt) if args.lr is not None else None
    if args.json:
        out = {"output": ev.output, "value": ev.value, "values": ev.values, "gradients": ev.gradients}
        if trajectory:
            out["steps"] = [{"inputs": p.inputs, "value": p.value} for p in trajectory[1:]]
        print(json.dumps(out, indent=2))
        return 0

    print(f"{ev.output} = {graph.node(ev.output).label if ev.output in graph.index else ev.output}")
    if args.upstream != 1.0:
        print(f"upstream gradient d(loss)/d({ev.output}) = {fmt(args.upstream)}")
    rows = [(name, "input", "", fmt(ev.values[name]), fmt(ev.gradients[name])) for name in graph.inputs]
    rows += [(n.id, n.op, n.label, fmt(ev.values[n.id]), fmt(ev.gradients[n.id])) for n in graph.nodes]
    head = ("node", "op", "expression", "value", f"d{ev.output}/dnode" if args.upstream == 1.0 else "gradient")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    line = "  ".join(f"{{:<{widths[0]}}} {{:<{widths[1]}}} {{:<{widths[2]}}} {{:>{widths[3]}}} {{:>{widths[4]}}}"
                     .split(" "))
    print()
    print(line.format(*head))
    for row in rows:
        print(line.format(*row))
    if trajectory:
        names = wrt or list(graph.inputs)
        print(f"\ngradient descent, learning rate {fmt(args.lr)}: x <- x - {fmt(args.lr)} * d{ev.output}/dx")
        for k, point in enumerate(trajectory[1:], start=1):
            moved = ", ".join(f"{n} = {fmt(point.inputs[n])}" for n in names)
            print(f"  step {k}: {moved}   ({ev.output} = {fmt(point.value)})")
    if args.program:
        print()
        print(repr(lower(graph)))
    return 0
