"""Parsed graphs by spec, per worker: a worksheet's graph arrives again and again with
new inputs (a class of students, a course site's batch), and parsing it again costs
more than evaluating it.

Keys are the expression text for {"expr": ...} specs and the spec's canonical JSON
for node lists. Only graphs that parsed are kept, and one cache belongs to one app,
so its limits apply to everything in it. The cache is bounded by entries and by an
estimate of the bytes it holds (key, nodes and node inputs), so a few huge specs
cannot keep a worker's memory up for good. Eviction is first-in first-out: cheap, and
a hot graph is simply parsed again after it falls out.
"""

from __future__ import annotations

import threading

import orjson

import engine

# tracemalloc on parsed specs: about 310 bytes a node (the Node, its strings, its slot
# in the graph) and 32 an input reference; doubled to allow for the lowered program an
# evaluation attaches to the graph.
NODE_BYTES = 600
INPUT_BYTES = 64


def graph_bytes(key, graph) -> int:
    """An estimate of what caching `graph` under `key` holds in memory."""
    refs = sum(len(n.inputs) for n in graph.nodes)
    return len(key) + NODE_BYTES * len(graph.nodes) + INPUT_BYTES * refs


class GraphCache:
    def __init__(self, limits, size: int = 4096, max_bytes: int = 64 * 1024 * 1024):
        self.limits = limits
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._graphs: dict = {}   # key -> (graph, its estimated bytes)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._graphs)

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
        entry = self._graphs.get(key)
        if entry is not None:
            return entry[0]
        graph = engine.Graph.from_spec(spec, limits=self.limits)
        self._keep(key, graph, graph_bytes(key, graph))
        return graph

    def _keep(self, key, graph, size: int) -> None:
        if size > self.max_bytes // 4:
            return  # one spec that would crowd out most of the cache is parsed each time
        with self._lock:
            if key in self._graphs:
                return
            while self._graphs and (len(self._graphs) >= self.size
                                    or self.bytes + size > self.max_bytes):
                _, freed = self._graphs.pop(next(iter(self._graphs)))
                self.bytes -= freed
            self._graphs[key] = (graph, size)
            self.bytes += size
