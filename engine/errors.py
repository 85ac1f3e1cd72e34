"""The one error type a bad graph, bad input or bad numeric result raises."""

from __future__ import annotations


class GraphError(ValueError):
    """A graph, its inputs or its result is wrong, said so a student understands.

    `path` locates the fault in a node spec or inputs mapping (``nodes[3].inputs[1]``,
    ``inputs.x[4]``); `line` and `column` (1-based) locate it in expression text.
    `location` gives whichever is known as a dict, for machines.
    """

    # evaluate_many sets it on an item's error from reading the item's graph: its `path`
    # is then within the graph spec (nodes[3].op), not within the item (inputs.x)
    in_graph = False

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
    For a tensor result (conv1d's output, say) `node` names the result and `position`
    is the element's index in it; otherwise `position` is None.
    """

    def __init__(self, message: str, *, node: str, index: int | None, kind: str,
                 position: tuple[int, ...] | None = None, **location):
        super().__init__(message, **location)
        self.node = node
        self.index = index
        self.kind = kind
        self.position = position


class ArgumentError(GraphError):
    """An argument of an array function (conv1d's `x`, conv1d_many's `items[12].w`) is wrong.

    `argument` names it as the caller gave it, `position` is the index of the one
    element at fault (None when the fault is the whole argument), and `path` joins
    them: ``x[0][3][17]``. `message` says what is wrong without saying where, so a
    caller with its own names for the arguments can put them in front; str() puts
    the argument's: ``x[0, 3, 17]: is nan; values must be finite``.
    """

    def __init__(self, message: str, *, argument: str, position: tuple[int, ...] | None = None):
        self.argument = argument
        self.position = position
        super().__init__(message, path=argument + "".join(f"[{i}]" for i in position or ()))

    def __str__(self) -> str:
        where = f"[{', '.join(map(str, self.position))}]" if self.position else ""
        return f"{self.argument}{where}: {self.message}"
