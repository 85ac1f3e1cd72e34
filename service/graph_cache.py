"""Parsed graphs by spec, per worker: a worksheet's graph arrives again and again with
new inputs (a class of students, a course site's batch), and parsing it again costs
more than evaluating it.

Keys are the expression text for {"expr": ...} specs and the spec's canonical JSON
for node lists. Only graphs that parsed are kept, and one cache belongs to one app,
so its limits apply to everything in it. Eviction is first-in first-out: cheap, and
a hot graph is simply parsed again after it falls out.
"""

from __future__ import annotations

import orjson

import engine


class GraphCache:
    def __init__(self, limits, size: int = 4096):
        self.limits = limits
        self.size = size
        self._graphs: dict = {}

    def graph(self, spec: dict):
        """engine.Graph.from_spec(spec), from the cache when this spec was seen;
        raises GraphError as from_spec does."""
        expr = spec.get("expr")
        if type(expr) is str and len(spec) == 1:
            key = expr
        else:
            try:
                key = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
            except (TypeError, orjson.JSONEncodeError):
                return engine.Graph.from_spec(spec, limits=self.limits)
        graph = self._graphs.get(key)
        if graph is None:
            graph = engine.Graph.from_spec(spec, limits=self.limits)
            if len(self._graphs) >= self.size:
                try:
                    del self._graphs[next(iter(self._graphs))]
                except (KeyError, StopIteration, RuntimeError):
                    pass  # another thread evicted first
            self._graphs[key] = graph
        return graph
