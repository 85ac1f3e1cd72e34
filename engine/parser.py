"""Expression programs -> Graph, without Python's eval.

    (3*a*b)^2 + c*d
    q = x + y; f = q * z        (statements split by ';' or newlines; the last is the output)

Operators + - * / ^ (or **), unary minus, parentheses, numbers, names, and calls of any
op in the table (`sigmoid(x)`, `max(a, b)`, `add(a, b, c)`). `-x^2` is -(x^2) and `^`
groups to the right, as in mathematics. Unparenthesised runs of + or * become one n-ary
node (`3*a*b` is one mul gate with three inputs, as a worksheet draws it).

Nodes a statement names keep that name; other nodes get ids `<op><k>` numbered in
order of evaluation (mul1, square1, ...), skipping names the program uses; a bare final
expression is named `f` (or `out` when f is taken). Each node keeps its source text as
its label. The parser recurses only on parentheses, calls and unary minus, whose depth
is limited, so a chain of 10,000 terms parses without deep recursion.
"""

from __future__ import annotations

import bisect
import re

from engine.errors import GraphError
from engine.graph import DEFAULT_LIMITS, Graph, Limits, Node, arity_error, unknown_op_error
from engine.ops import OPS, OPS_BY_NAME

# the operators of the op table, by spelling: infix (a + b) and prefix (-a)
_INFIX = {spelling: op for op in OPS if op.infix for spelling in (op.infix, *op.also)}
_PREFIX = {op.prefix: op for op in OPS if op.prefix}
# longest spelling first, so that ** is one token and not two *
_OPERATORS = "|".join(re.escape(s) for s in sorted({*_INFIX, *_PREFIX}, key=len, reverse=True))

_TOKEN = re.compile(rf"""
    (?P<ws>[ \t\r]+|\#[^\n]*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>{_OPERATORS}|[(),=;])
  | (?P<newline>\n)
  | (?P<bad>.)
""", re.VERBOSE)


class _Term:
    """An operand while parsing: a node index, an input name, or a constant.

    A run like a + b + c stays open (`chain`) until something else needs it, so it
    becomes one n-ary node.
    """

    __slots__ = ("kind", "value", "start", "end", "chain_op", "chain")

    def __init__(self, kind, value, start, end, chain_op=None, chain=None):
        self.kind = kind  # "node" (value: index), "input" (value: name), "const" (value: float)
        self.value = value
        self.start = start
        self.end = end
        self.chain_op = chain_op
        self.chain = chain


class _Parser:
    def __init__(self, text: str, limits: Limits, path: str | None):
        self.text = text
        self.limits = limits
        self.path = path
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tokens = self._tokenize()
        self.pos = 0
        self.depth = 0
        # nodes under construction: [op, refs, start, end, name]
        self.nodes: list[list] = []
        self.defined: dict[str, int] = {}  # statement name -> node index
        self.input_uses: dict[str, int] = {}  # input name -> first use offset
        self.taken = {t[1] for t in self.tokens if t[0] == "name"}

    # -- locations -------------------------------------------------------------------
    def linecol(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def error(self, message: str, offset: int) -> GraphError:
        line, col = self.linecol(offset)
        return GraphError(message, path=self.path, line=line, column=col)

    # -- tokens ----------------------------------------------------------------------
    def _tokenize(self):
        tokens = []
        depth = 0
        for m in _TOKEN.finditer(self.text):
            kind = m.lastgroup
            text = m.group()
            if kind == "ws":
                continue
            if kind == "bad":
                raise self.error(f"unexpected character {text!r}", m.start())
            if kind == "newline":
                if depth > 0:  # a newline inside parentheses continues the expression
                    continue
                kind, text = "op", ";"
            elif kind == "op":
                if text == "(":
                    depth += 1
                elif text == ")":
                    depth = max(depth - 1, 0)
            tokens.append((kind, text, m.start(), m.end()))
        tokens.append(("end", "", len(self.text), len(self.text)))
        return tokens

    def peek(self):
        return self.tokens[self.pos]

    def take(self):
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, text: str, context: str):
        tok = self.peek()
        if tok[1] != text or tok[0] == "end":
            found = "the end of the expression" if tok[0] == "end" else repr(tok[1])
            raise self.error(f"expected {text!r} {context}, found {found}", tok[2])
        return self.take()

    # -- nodes -----------------------------------------------------------------------
    def emit(self, op: str, terms: list[_Term], start: int, end: int) -> _Term:
        if len(self.nodes) >= self.limits.max_nodes:
            raise self.error(f"the expression has more than {self.limits.max_nodes} nodes", start)
        refs = [self.ref(t) for t in terms]
        self.nodes.append([op, refs, start, end, None])
        return _Term("node", len(self.nodes) - 1, start, end)

    def close(self, term: _Term) -> _Term:
        """Turn an open chain into its n-ary node."""
        if term.chain is None:
            return term
        return self.emit(term.chain_op, term.chain, term.start, term.end)

    def ref(self, term: _Term):
        term = self.close(term)
        return term.value if term.kind != "node" else ("#", term.value)

    # -- grammar ---------------------------------------------------------------------
    def program(self) -> Graph:
        if not self.text.strip():
            raise GraphError("the expression is empty", path=self.path, line=1, column=1)
        last = None
        while True:
            while self.peek()[1] == ";" and self.peek()[0] == "op":
                self.take()
            if self.peek()[0] == "end":
                break
            if last is not None and last[0] is None:
                raise self.error("only the last statement may be a bare expression; give this one a "
                                 "name (for example q = ...) or remove it", last[1].start)
            last = self.statement()
            tok = self.peek()
            if tok[0] != "end" and tok[1] != ";":
                raise self._unexpected(tok)
        if last is None:
            raise GraphError("the expression is empty", path=self.path, line=1, column=1)
        return self.finish(*last)

    def statement(self):
        tok = self.peek()
        nxt = self.tokens[self.pos + 1]
        if tok[0] == "name" and nxt[1] == "=" and nxt[0] == "op":
            name, start = tok[1], tok[2]
            self.pos += 2
            term = self.close(self.expr(0))
            if name in self.defined:
                first = self.nodes[self.defined[name]][2]
                raise self.error(f"{name!r} is defined twice (first on line {self.linecol(first)[0]})", start)
            if name in self.input_uses:
                used = self.linecol(self.input_uses[name])
                raise self.error(f"{name!r} is used on line {used[0]}, column {used[1]} before it is defined "
                                 "here; define it before its first use", start)
            if term.kind != "node" or self.nodes[term.value][4] is not None:
                what = ("another name for " + (self.nodes[term.value][4] if term.kind == "node"
                                               else repr(term.value)))
                raise self.error(f"'{name} = {self.text[term.start:term.end].strip()}' only makes {name} "
                                 f"{what}; write the expression where it is used, or pass {name} as an "
                                 "input", start)
            self.nodes[term.value][4] = name
            self.defined[name] = term.value
            return name, term
        return None, self.close(self.expr(0))

    def expr(self, min_power: int) -> _Term:
        left = self.unary()
        while True:
            tok = self.peek()
            op = _INFIX.get(tok[1]) if tok[0] == "op" else None
            if op is None or op.power < min_power:
                return left
            self.take()
            # a right-grouping operator (2^3^2 = 2^9) lets its own kind bind its right operand
            right = self.close(self.expr(op.power if op.right else op.power + 1))
            if op.arity is not None:
                left = self.emit(op.name, [left, right], left.start, right.end)
            elif left.chain_op == op.name:
                left.chain.append(right)
                left.end = right.end
            else:
                left = _Term("chain", None, left.start, right.end, op.name, [self.close(left), right])

    def unary(self) -> _Term:
        tok = self.peek()
        op = _PREFIX.get(tok[1]) if tok[0] == "op" else None
        if op is not None:
            self.take()
            self.enter(tok[2])
            operand = self.close(self.expr(op.power))
            self.depth -= 1
            if operand.kind == "const" and tok[1] == "-":  # -3 is a number, not a gate
                return _Term("const", -operand.value + 0.0, tok[2], operand.end)
            return self.emit(op.name, [operand], tok[2], operand.end)
        if tok[1] == "+" and tok[0] == "op":
            raise self.error("unary plus is not supported; remove the '+'", tok[2])
        return self.atom()

    def enter(self, offset: int):
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise self.error(f"the expression nests deeper than {self.limits.max_depth} levels", offset)

    def atom(self) -> _Term:
        tok = self.take()
        kind, text, start, end = tok
        if kind == "number":
            value = float(text)
            if value == float("inf"):
                raise self.error(f"the number {text} is too large for float64", start)
            term = _Term("const", value, start, end)
        elif kind == "name" and self.peek()[1] == "(":
            term = self.call(text, start)
        elif kind == "name":
            if text in self.defined:
                term = _Term("node", self.defined[text], start, end)
            else:
                self.input_uses.setdefault(text, start)
                term = _Term("input", text, start, end)
        elif text == "(" and kind == "op":
            self.enter(start)
            inner = self.close(self.expr(0))
            close = self.expect(")", f"to close the '(' at column {self.linecol(start)[1]}")
            self.depth -= 1
            term = _Term(inner.kind, inner.value, start, close[3])
        else:
            self.pos -= 1
            raise self._unexpected(tok, expecting="a number, a name or '('")
        nxt = self.peek()
        if nxt[0] in ("number", "name") or (nxt[1] == "(" and nxt[0] == "op"):
            raise self.error(f"missing operator before {nxt[1]!r}: multiplication must be written "
                             f"with '*' (for example 3*a, not 3a)", nxt[2])
        return term

    def call(self, name: str, start: int) -> _Term:
        op = OPS_BY_NAME.get(name)
        if op is None:
            line, col = self.linecol(start)
            raise unknown_op_error(name, path=self.path, line=line, column=col)
        self.take()  # (
        self.enter(start)
        args = []
        if self.peek()[1] != ")":
            while True:
                args.append(self.close(self.expr(0)))
                if self.peek()[1] != ",":
                    break
                self.take()
        close = self.expect(")", f"to close the call of {name}")
        self.depth -= 1
        if len(args) != op.arity and (op.arity is not None or len(args) < 2):
            line, col = self.linecol(start)
            raise arity_error(op, len(args), path=self.path, line=line, column=col)
        return self.emit(name, args, start, close[3])

    def _unexpected(self, tok, expecting: str | None = None) -> GraphError:
        if tok[0] == "end":
            return self.error(f"the expression ends too early; expected {expecting or 'more'}", tok[2])
        if tok[1] == ")":
            return self.error("unmatched ')'", tok[2])
        if tok[1] == "=":
            return self.error("'=' must follow a single name at the start of a statement (name = expr)", tok[2])
        tail = f"; expected {expecting}" if expecting else ""
        return self.error(f"unexpected {tok[1]!r}{tail}", tok[2])

    # -- the Graph -------------------------------------------------------------------
    def finish(self, name, term: _Term) -> Graph:
        if term.kind == "const":
            raise self.error("the expression is a constant number; there is nothing to differentiate",
                             term.start)
        taken = set(self.taken)
        if term.kind == "node" and name is None and self.nodes[term.value][4] is None:
            out = next((c for c in ("f", "out") if c not in taken), None)
            if out is not None:
                self.nodes[term.value][4] = out
                taken.add(out)
        counters: dict[str, int] = {}
        ids = []
        for op, _, _, _, given in self.nodes:
            if given is None:
                k = counters.get(op, 0)
                while True:
                    k += 1
                    given = f"{op}{k}"
                    if given not in taken:
                        break
                counters[op] = k
            ids.append(given)
        nodes, where, inputs = [], [], {}
        for (op, refs, start, end, _), nid in zip(self.nodes, ids):
            resolved = []
            for r in refs:
                if type(r) is tuple:
                    resolved.append(ids[r[1]])
                else:
                    if type(r) is str:
                        inputs.setdefault(r, None)
                    resolved.append(r)
            label = " ".join(self.text[start:end].split())
            nodes.append(Node(nid, op, tuple(resolved), label))
            where.append(self.linecol(start))
        if term.kind == "node":
            output = ids[term.value]
        else:
            output = term.value
            inputs.setdefault(output, None)
        return Graph(nodes, list(inputs), output, where)


def parse(text, *, limits: Limits | None = None, path: str | None = None) -> Graph:
    """Parse an expression program into a Graph; errors carry line and column."""
    limits = limits or DEFAULT_LIMITS
    if type(text) is not str:
        raise GraphError(f"an expression must be a string, not {type(text).__name__}", path=path)
    if len(text) > limits.max_expr_chars:
        raise GraphError(f"the expression is {len(text)} characters long, more than the limit of "
                         f"{limits.max_expr_chars}", path=path, line=1, column=1)
    parser = _Parser(text, limits, path)
    try:
        return parser.program()
    except RecursionError:
        raise GraphError("the expression nests too deeply to parse", path=path, line=1, column=1) from None
