"""The one error type a bad graph, bad input or bad numeric result raises."""

from __future__ import annotations


class GraphError(ValueError):
    """A graph, its inputs or its result is wrong, said so a student understands.

    `path` locates the fault in a node spec or inputs mapping (``nodes[3].inputs[1]``,
    ``inputs.x[4]``); `line` and `column` (1-based) locate it in expression text.
    `location` gives whichever is known as a dict, for machines.
    """

    def __init__(self, message: str, *, path: str | None = None,
                 line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    @property
    def location(self) -> dict:
        loc: dict = {}
        if self.path is not None:
            loc["path"] = self.path
        if self.line is not None:
            loc["line"] = self.line
            loc["column"] = self.column
        return loc

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f" (line {self.line}, column {self.column})"
        elif self.path is not None:
            where = f" (at {self.path})"
        return f"{self.message}{where}"


class NonFiniteError(GraphError):
    """A node's value or gradient came out NaN or infinite.

    `node` is the node (or input) where it first appears, `index` the batch index
    (None for scalar inputs), `kind` is "value", "gradient" or "step" (a descent step).
    """

    def __init__(self, message: str, *, node: str, index: int | None, kind: str, **location):
        super().__init__(message, **location)
        self.node = node
        self.index = index
        self.kind = kind
