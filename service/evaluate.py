"""POST /v1/evaluate and POST /v1/evaluate/batch: every node's value and gradient.

marshmallow checks the envelope (inputs are strict numbers, learning_rate a number,
...); `Graph.from_spec` is the one pass over the graph itself, and its error paths are
prefixed with where the graph sits in the body (`graph.`, `items[4].graph.`).
"""

from __future__ import annotations

import math
import operator
from itertools import chain, repeat

from marshmallow import Schema, ValidationError, fields

import engine
from service import admission, metrics
from service.fields import FlatLoader, Inputs, JSONObject, StrictNumber, describe, settings
from service.openapi import ApiBlueprint
from service.orjson_provider import json_response
from service.problems import Problem, from_graph_error, from_validation_error
from service.runtime import runtime

blp = ApiBlueprint("evaluate", __name__, description="Forward values and reverse-mode "
                "gradients of computational graphs")

NUMBER_OR_LIST = {"oneOf": [{"type": "number"},
                            {"type": "array", "items": {"type": "number"}}]}
REF = {"oneOf": [{"type": "string"}, {"type": "number"}]}
OP = {"type": "string", "enum": [op.name for op in engine.OPS], "description": "an op of the table"}
GRAPH_DOC = {
    "description": 'An expression {"expr": "(x + y) * z"} or a node list {"nodes": '
                   '[{"id", "op", "inputs", "label"?}], "output": id, "inputs"?: [name]}; an '
                   "input of a node is a node id, a graph input's name or a number. \"inputs\" "
                   "lists the graph inputs in order of first use; it is needed only when the "
                   "output is an input that no node uses.",
    "oneOf": [
        {"type": "object", "required": ["expr"], "additionalProperties": False,
         "properties": {"expr": {"type": "string", "minLength": 1}}},
        {"type": "object", "required": ["nodes", "output"], "additionalProperties": False,
         "properties": {
             "output": {"type": "string"},
             "inputs": {"type": "array", "items": {"type": "string"}},
             "nodes": {"type": "array", "items": {
                 "type": "object", "required": ["id", "op", "inputs"],
                 "properties": {"id": {"type": "string"}, "op": OP,
                                "inputs": {"type": "array", "items": REF},
                                "label": {"type": "string"}}}}}},
    ],
}


class EvaluateRequestSchema(Schema):
    graph = JSONObject(required=True, metadata=GRAPH_DOC)
    inputs = Inputs(load_default=dict, metadata={
        "type": "object", "additionalProperties": NUMBER_OR_LIST,
        "description": "name -> number, or a list of numbers to evaluate a batch "
                       "(numbers broadcast against lists)"})
    learning_rate = StrictNumber(metadata={"type": "number", "description":
                                           "asks for one gradient-descent step"})
    wrt = fields.List(fields.String(), metadata={
        "description": "the inputs the step moves (default: all)"})
    output_gradient = StrictNumber(load_default=1.0, metadata={
        "type": "number", "description": "upstream gradient dL/d(output)"})


def wrt_needs_a_step(data: dict) -> None:
    if "wrt" in data and "learning_rate" not in data:
        raise ValidationError({"wrt": ["names the inputs a step moves; give learning_rate too"]})


class NodeResultSchema(Schema):
    id = fields.String(required=True)
    op = fields.String(required=True, metadata=OP)
    inputs = fields.List(fields.Raw(metadata=REF), required=True)
    label = fields.String(required=True)
    value = fields.Raw(required=True, metadata=NUMBER_OR_LIST)
    gradient = fields.Raw(required=True, metadata=NUMBER_OR_LIST)


class StepSchema(Schema):
    learning_rate = fields.Float(required=True)
    inputs = fields.Dict(keys=fields.String(), values=fields.Raw(metadata=NUMBER_OR_LIST),
                         required=True, metadata={"description": "x - learning_rate * df/dx"})


class EvaluateResponseSchema(Schema):
    output = fields.String(required=True, metadata={"description": "the output node's id"})
    value = fields.Raw(required=True, metadata=NUMBER_OR_LIST)
    values = fields.Dict(keys=fields.String(), values=fields.Raw(metadata=NUMBER_OR_LIST),
                         required=True)
    gradients = fields.Dict(keys=fields.String(), values=fields.Raw(metadata=NUMBER_OR_LIST),
                            required=True, metadata={"description": "d output / d node"})
    nodes = fields.List(fields.Nested(NodeResultSchema), required=True,
                        metadata={"description": "in topological order"})
    step = fields.Nested(StepSchema)


class Items(fields.List):
    """The batch's items, checked only as a list here: each item is loaded on its own,
    so that one bad item answers its own error and the others still run."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not list:
            raise ValidationError(f"must be a list of evaluate requests, not {describe(value)}")
        if not value:
            raise ValidationError("must hold at least one item")
        limit = settings().max_batch_items
        if len(value) > limit:
            raise ValidationError(f"holds {len(value)} items; the limit is {limit}")
        return value


class BatchRequestSchema(Schema):
    items = Items(fields.Nested(EvaluateRequestSchema), required=True,
                  metadata={"minItems": 1})


class BatchResponseSchema(Schema):
    results = fields.List(fields.Raw(metadata={"oneOf": [
        {"$ref": "#/components/schemas/EvaluateResponse"},
        {"type": "object", "required": ["error"],
         "properties": {"error": {"$ref": "#/components/schemas/Problem"}}},
    ]}), required=True, metadata={"description": "one per item, in request order"})


class RequestLoader(FlatLoader):
    """The evaluate envelope's loader, with the common request, {"graph": {...},
    "inputs": {name: number}}, loaded without a field call per key: what the fields
    would make of it (numbers as floats; a JSON number is finite, orjson refuses the
    rest; output_gradient defaults to 1.0)."""

    def load(self, data) -> dict:
        if type(data) is dict and len(data) == 2 and type(data.get("graph")) is dict:
            inputs = data.get("inputs")
            if type(inputs) is dict:
                kinds = set(map(type, inputs.values()))
                if kinds <= _FLOAT and all(map(math.isfinite, inputs.values())):
                    return {"graph": data["graph"], "inputs": inputs, "output_gradient": 1.0}
                if kinds <= _NUMBER:
                    floats = dict(zip(inputs, map(float, inputs.values())))
                    if all(map(math.isfinite, floats.values())):
                        return {"graph": data["graph"], "inputs": floats, "output_gradient": 1.0}
        return super().load(data)


_FLOAT = {float}
_NUMBER = {float, int}
_request_loader = RequestLoader(EvaluateRequestSchema(), wrt_needs_a_step)


@blp.endpoint("/v1/evaluate", body=EvaluateRequestSchema, response=EvaluateResponseSchema,
              problems=(503,), loader=_request_loader)
def evaluate_one(req):
    """Every node's value and gradient; with learning_rate, one descent step."""
    rt = runtime()
    with rt.admission:
        graph = load_graph(req["graph"], rt.graphs, "graph")
        share = admission.admit(*evaluation_needs([(graph, req["inputs"])], "graph"))
        body = admission.in_lane(share, _evaluation_body, graph, req, rt)
    metrics.GRAPHS.inc()
    # an evaluation of one input set holds Python floats only
    return json_response(body, arrays=type(body["value"]) is not float)


def _evaluation_body(graph, req, rt) -> dict:
    """The evaluation and its response body (as large as the work, for many lanes)."""
    try:
        ev = engine.evaluate(graph, req["inputs"], output_gradient=req["output_gradient"],
                             limits=rt.engine_limits)
        return evaluation_body(ev, req)
    except engine.GraphError as exc:
        raise from_graph_error(exc) from None


@blp.endpoint("/v1/evaluate/batch", body=BatchRequestSchema, response=BatchResponseSchema,
              problems=(503,), pause_gc=True)
def evaluate_batch(req):
    """Many evaluate requests; all good items go to the engine in one evaluate_many call.

    A bad item answers {"error": problem} in its place, with field paths starting at
    items[i]; the other items are unaffected. Node-list specs go to the engine as they
    came (its bulk path reads thousands at C speed, and words the faults of any it
    cannot take); expressions are parsed here, through the graph cache.
    """
    rt = runtime()
    raw_items = req["items"]
    results: list = [None] * len(raw_items)
    with rt.admission:
        work = _plain_items(raw_items)
        plain = work is not None
        if plain:
            loaded = list(zip(range(len(work)), repeat(_PLAIN)))
        else:
            work, loaded = _load_items(raw_items, results, rt.graphs)
        # the usual batch's nodes are read once, for both the width check and the price
        lists = _node_input_lists(list(map(_FIRST, work))) if plain else None
        limit = rt.settings.max_node_inputs
        wide = _too_wide(work, limit) if lists is None or max(map(len, lists), default=0) > limit else []
        for k in wide:
            i = loaded[k][0]
            try:  # admit() words the refusal
                admission.admit(_width_need(work[k][0], f"items[{i}].graph"))
            except Problem as problem:
                problem.extensions["item"] = i
                results[i] = _item_error(problem)
        if wide:
            keep = sorted(set(range(len(work))) - set(wide))
            work, loaded = [work[k] for k in keep], [loaded[k] for k in keep]
        share = admission.admit(*(evaluation_needs(work, "items") if lists is None or wide
                                  else _plain_needs(work, lists)))
        evaluations = admission.in_lane(share, engine.evaluate_many, work,
                                        limits=rt.engine_limits, errors="return")
        if plain and not wide and all(map(isinstance, evaluations, repeat(engine.Evaluation))):
            # the usual batch, every item evaluated: in request order, none with a step
            results = list(map(evaluation_body, evaluations, repeat(_PLAIN)))
        else:
            _answer_items(evaluations, loaded, results)
    metrics.GRAPHS.inc(len(work))
    metrics.BATCH_ITEMS.observe(len(raw_items))
    return json_response({"results": results})


def _answer_items(evaluations: list, loaded: list, results: list) -> None:
    """Each evaluation's body, or its error, in its item's place of `results`."""
    for (i, item), ev in zip(loaded, evaluations):
        try:
            if isinstance(ev, engine.GraphError):
                raise ev
            results[i] = evaluation_body(ev, item)
        except engine.GraphError as exc:
            if exc.in_graph:
                results[i] = _item_error(_graph_problem(exc, i))
            else:
                results[i] = _item_error(from_graph_error(exc, f"items[{i}]", item=i))


def _plain_items(raw_items: list) -> list | None:
    """The usual batch, every item {"graph": node-list spec, "inputs": {name: float}},
    as the (graph, inputs, output_gradient) items _load_items would make of it, read
    in C-level passes over all items; None when some item is not of that form."""
    if set(map(type, raw_items)) != _DICT or set(map(len, raw_items)) != _TWO:
        return None
    try:
        graphs = list(map(_GRAPH, raw_items))
        inputs = list(map(_INPUTS, raw_items))
    except KeyError:
        return None
    if (set(map(type, graphs)) != _DICT or set(map(type, inputs)) != _DICT
            or any(map(operator.contains, graphs, repeat("expr")))):
        return None
    numbers = list(chain.from_iterable(map(dict.values, inputs)))
    if not set(map(type, numbers)) <= _FLOAT or not all(map(math.isfinite, numbers)):
        return None
    return list(zip(graphs, inputs, repeat(1.0)))


def _load_items(raw_items: list, results: list, graphs) -> tuple[list, list]:
    """Each item's envelope loaded and, for an expression, its graph parsed (through
    the cache `graphs`): the (graph, inputs, output_gradient) items for the engine and
    their (position, loaded envelope); a bad item's error goes to its place in `results`."""
    work, loaded = [], []
    for i, raw in enumerate(raw_items):
        try:
            item = _request_loader.load(raw)
            spec = item["graph"]
            graph = graphs.graph(spec) if "expr" in spec else spec
        except ValidationError as exc:
            results[i] = _item_error(from_validation_error(exc, f"items[{i}]", item=i))
            continue
        except engine.GraphError as exc:
            results[i] = _item_error(_graph_problem(exc, i))
            continue
        work.append((graph, item["inputs"], item["output_gradient"]))
        loaded.append((i, item))
    return work, loaded


# what the loader makes of an item of graph and number inputs, past those two
_PLAIN = {"output_gradient": 1.0}
_GRAPH = operator.itemgetter("graph")
_DICT = {dict}
_TWO = {2}


def _graph_problem(exc: engine.GraphError, i: int) -> Problem:
    """An item's graph that could not be read, at items[i].graph."""
    problem = from_graph_error(exc, f"items[{i}].graph")
    problem.extensions["item"] = i
    return problem


def _node_input_lists(specs: list) -> list[list] | None:
    """The inputs list of every node of node-list specs, read in C-level passes over all
    their nodes at once; None when some graph is a Graph or some spec or node is odd
    (then each is looked at on its own)."""
    try:
        lists = list(map(_INPUTS, chain.from_iterable(map(_NODES, specs))))
    except (TypeError, KeyError):
        return None
    return lists if set(map(type, lists)) <= _LIST else None


def _too_wide(work: list, limit: int) -> list[int]:
    """The positions in `work` of node-list specs with a node of more than `limit`
    inputs, found before any is parsed (parsing a node of a million inputs takes a
    second): the usual batch is read in C-level passes over all its nodes at once."""
    specs = list(map(_FIRST, work))
    lists = _node_input_lists(specs)
    if lists is not None and max(map(len, lists), default=0) <= limit:
        return []
    return [k for k, spec in enumerate(specs) if type(spec) is dict and widest_node(spec) > limit]


def _width_need(spec: dict, where: str) -> admission.Need:
    return admission.Need("max_node_inputs", widest_node(spec), "the inputs of one node", where)


def load_graph(spec: dict, graphs, where: str):
    if type(spec.get("nodes")) is list:  # (no node list, no node to be wide: an expression)
        admission.admit(_width_need(spec, where))
    try:
        return graphs.graph(spec)
    except engine.GraphError as exc:
        raise from_graph_error(exc, where) from None


def widest_node(spec: dict) -> int:
    """The most inputs one node of a node-list spec lists, read before the spec is parsed
    (parsing a node of a million inputs takes a second); the engine names any fault."""
    nodes = spec.get("nodes")
    if type(nodes) is not list:
        return 0
    try:  # the usual spec, at C speed; any odd node is looked at one by one below
        lists = list(map(_INPUTS, nodes))
        if set(map(type, lists)) <= _LIST:
            return max(map(len, lists), default=0)
    except (TypeError, KeyError):
        pass
    return max((len(n["inputs"]) for n in nodes
                if type(n) is dict and type(n.get("inputs")) is list), default=0)


_INPUTS = operator.itemgetter("inputs")
_NODES = operator.itemgetter("nodes")
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
_NODE_INPUTS = operator.attrgetter("inputs")
_LABEL = operator.attrgetter("label")
_LIST = {list}


def evaluation_needs(work, path: str) -> list:
    """What evaluating (graph, inputs, ...) items costs: node-lanes of kernel work, and
    the numbers of the response (each node's value and gradient, by id and node by node).

    A graph is a Graph or a node-list spec not read yet. A spec is priced by its nodes
    and node inputs as given, and by the inputs the item gives: an item evaluates only
    when they are exactly the graph's inputs, and one that does not answers an error."""
    node_lanes = numbers = 0
    plain = []
    for graph, inputs, *_ in work:
        if set(map(type, inputs.values())) <= _FLOAT:
            if type(graph) is dict:
                plain.append(graph)
                numbers += 4 * len(inputs)
                continue
            lanes = 1
        else:
            lanes = max((v.size for v in inputs.values() if hasattr(v, "size")), default=1)
        n_nodes, n_refs, n_inputs = _size(graph, inputs)
        # a node's kernel work grows with its inputs (a sum of a thousand terms)
        node_lanes += (n_nodes + n_refs) * lanes
        numbers += 4 * (n_nodes + n_inputs) * lanes
    if plain:  # one lane each, counted over all their nodes at once
        n_nodes, n_refs = _spec_sizes(plain)
        node_lanes += n_nodes + n_refs
        numbers += 4 * n_nodes
    return _needs(node_lanes, numbers, path)


def _plain_needs(work: list, lists: list[list]) -> list:
    """evaluation_needs of the usual batch (node-list specs, inputs all floats: one lane
    each), from the input lists of all its nodes, `lists`, read once."""
    n_nodes, n_refs = len(lists), sum(map(len, lists))
    n_inputs = sum(map(len, map(_SECOND, work)))
    return _needs(n_nodes + n_refs, 4 * (n_inputs + n_nodes), "items")


def _needs(node_lanes: int, numbers: int, path: str) -> list:
    return [admission.Need("max_node_lanes", node_lanes, "node inputs x lanes to evaluate",
                           path),
            admission.Need("max_response_numbers", numbers, "numbers in the response", path)]


def _size(graph, inputs: dict) -> tuple[int, int, int]:
    """Nodes, node inputs and graph inputs of a Graph or a spec (see evaluation_needs)."""
    if type(graph) is dict:
        n_nodes, n_refs = _spec_sizes([graph])
        return n_nodes, n_refs, len(inputs)
    nodes = graph.nodes
    return len(nodes), sum(map(len, map(_NODE_INPUTS, nodes))), len(graph.inputs)


def _spec_sizes(specs: list[dict]) -> tuple[int, int]:
    """Nodes and node inputs of node-list specs, counting what is countable of odd ones."""
    try:
        nodes = list(chain.from_iterable(map(_NODES, specs)))
        lists = list(map(_INPUTS, nodes))
        if set(map(type, lists)) <= _LIST:
            return len(nodes), sum(map(len, lists))
    except (TypeError, KeyError):
        pass
    n_nodes = n_refs = 0
    for spec in specs:
        nodes = spec.get("nodes")
        if type(nodes) is list:
            n_nodes += len(nodes)
            n_refs += sum(len(n["inputs"]) for n in nodes
                          if type(n) is dict and type(n.get("inputs")) is list)
    return n_nodes, n_refs


def evaluation_body(ev, req: dict) -> dict:
    """An Evaluation as the response: values and gradients by id and node by node."""
    values, gradients = ev.values, ev.gradients
    nodes = ev.nodes
    output = ev.output
    body = {
        "output": output,
        "value": values[output],
        "values": values,
        "gradients": gradients,
        "nodes": [{"id": i, "op": op, "inputs": refs, "label": label,
                   "value": values[i], "gradient": gradients[i]}
                  for (i, op, refs, _), label in zip(nodes, map(_LABEL, nodes))],
    }
    rate = req.get("learning_rate")
    if rate is not None:
        # Evaluation.step raises NonFiniteError (path learning_rate) when x - rate * g overflows
        body["step"] = {"learning_rate": rate, "inputs": ev.step(rate, req.get("wrt"))}
    return body


def _item_error(problem: Problem) -> dict:
    return {"error": problem.to_dict()}

