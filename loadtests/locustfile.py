"""Load test for the gradsheet API: a realistic, weighted mix with every answer checked.

    locust -f loadtests/locustfile.py --headless -u 40 -r 20 -t 60s -H http://127.0.0.1:8000

Students (most users) evaluate small worksheet graphs, take descent steps and ask
for conv geometry; API clients (course sites, autograders) send batches and conv
requests with gradients. Instructors make a class's problem set with answers and trace
a leaked sheet; practising students fetch their own sheet, work it and have it graded.
Payloads come from a seeded pool, and each has its answer
worked out here in plain Python (not by gradsheet), so a wrong number is a failure
just like a 500. The run exits non-zero on any failure or when the p95 response
time exceeds --p95-threshold-ms.

Self-contained (locust and the standard library only), so it also runs in the
locust image of docker-compose.yml.
"""

from __future__ import annotations

import html
import math
import os
import random
import re

from locust import HttpUser, between, events, task

SEED = 20240611
POOL_SIZE = 200
TOLERANCE = 1e-9


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    parser.add_argument("--p95-threshold-ms", type=float, default=1000.0, env_var="LOCUST_P95_MS",
                        help="fail the run when the p95 response time exceeds this")


@events.quitting.add_listener
def _judge(environment, **kwargs):
    stats = environment.stats.total
    threshold = environment.parsed_options.p95_threshold_ms if environment.parsed_options else 1000.0
    p95 = stats.get_response_time_percentile(0.95) or 0.0
    if stats.num_failures:
        environment.process_exit_code = 1
        print(f"loadtest: FAILED, {stats.num_failures} of {stats.num_requests} requests failed")
    elif stats.num_requests == 0:
        environment.process_exit_code = 1
        print("loadtest: FAILED, no request was made")
    elif p95 > threshold:
        environment.process_exit_code = 1
        print(f"loadtest: FAILED, p95 {p95:.0f} ms is over the threshold of {threshold:.0f} ms")
    else:
        environment.process_exit_code = 0
        print(f"loadtest: ok, {stats.num_requests} requests, p95 {p95:.0f} ms "
              f"(threshold {threshold:.0f} ms)")


# With GRADSHEET_LATENCY_LOG set, every request's user class, name and milliseconds
# are appended to that file (bench/bench_fairness.py reads it).
_latency_log = open(os.environ["GRADSHEET_LATENCY_LOG"], "a") if os.environ.get(
    "GRADSHEET_LATENCY_LOG") else None


@events.request.add_listener
def _log_latency(name, response_time, context, exception=None, **kwargs):
    if _latency_log is not None:
        _latency_log.write(f"{context.get('user', '')}\t{name}\t{response_time:.3f}\t"
                           f"{int(exception is not None)}\n")


@events.quitting.add_listener
def _close_latency_log(environment, **kwargs):
    if _latency_log is not None:
        _latency_log.close()


# --- the seeded payload pool, each with its expected answer ----------------------------

def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def neuron_case(rng: random.Random) -> tuple[dict, dict]:
    """f = sigmoid(w*x + b) * y: the worksheet's neuron; gradients by hand."""
    w, x, b, y = (round(rng.uniform(-3, 3), 3) for _ in range(4))
    s = sigmoid(w * x + b)
    ds = s * (1 - s)
    expected = {"value": s * y, "gradients": {"w": ds * x * y, "x": ds * w * y,
                                              "b": ds * y, "y": s}}
    body = {"graph": {"expr": "sigmoid(w * x + b) * y"},
            "inputs": {"w": w, "x": x, "b": b, "y": y}}
    return body, expected


def circuit_case(rng: random.Random) -> tuple[dict, dict]:
    """f = (x + y) * z as a node list; with a descent step of rate lr."""
    x, y, z = (round(rng.uniform(-5, 5), 2) for _ in range(3))
    lr = rng.choice([0.01, 0.1, 0.5])
    grads = {"x": z, "y": z, "z": x + y}
    body = {"graph": {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                                {"id": "f", "op": "mul", "inputs": ["q", "z"]}], "output": "f"},
            "inputs": {"x": x, "y": y, "z": z}, "learning_rate": lr}
    step = {k: v - lr * grads[k] for k, v in body["inputs"].items()}
    return body, {"value": (x + y) * z, "gradients": grads, "step": step}


def geometry_case(rng: random.Random) -> tuple[dict, dict]:
    width = rng.randint(5, 64)
    filter_size = rng.choice([1, 3, 5, 7])
    stride = rng.randint(1, 3)
    padding = rng.randint(0, 3)
    while filter_size > width + 2 * padding:
        padding += 1
    out = (width + 2 * padding - filter_size) // stride + 1
    body = {"width": width, "filter_size": filter_size, "padding": padding, "stride": stride}
    return body, {"output_size": out, "padded_width": width + 2 * padding,
                  "centers": [o * stride - padding + (filter_size - 1) // 2 for o in range(out)]}


def conv_case(rng: random.Random) -> tuple[dict, dict]:
    """Single-channel cross-correlation with stride, by definition, and its gradients."""
    width = rng.randint(6, 24)
    k = rng.choice([2, 3, 4])
    stride = rng.randint(1, 2)
    x = [round(rng.uniform(-1, 1), 3) for _ in range(width)]
    w = [round(rng.uniform(-1, 1), 3) for _ in range(k)]
    out = (width - k) // stride + 1
    y = [sum(w[j] * x[o * stride + j] for j in range(k)) for o in range(out)]
    g = [round(rng.uniform(-1, 1), 3) for _ in range(out)]
    gx = [0.0] * width
    gw = [0.0] * k
    for o in range(out):
        for j in range(k):
            gx[o * stride + j] += w[j] * g[o]
            gw[j] += x[o * stride + j] * g[o]
    body = {"input": x, "weight": w, "stride": stride, "grad_output": g}
    return body, {"output": y, "grad_input": gx, "grad_weight": gw, "grad_bias": sum(g)}


def build_pool(seed: int = SEED) -> dict[str, list]:
    rng = random.Random(seed)
    return {
        "neuron": [neuron_case(rng) for _ in range(POOL_SIZE)],
        "circuit": [circuit_case(rng) for _ in range(POOL_SIZE)],
        "geometry": [geometry_case(rng) for _ in range(POOL_SIZE)],
        "conv": [conv_case(rng) for _ in range(POOL_SIZE)],
    }


POOL = build_pool()


def close(a, b) -> bool:
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(close(u, v) for u, v in zip(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and all(k in a and close(a[k], v) for k, v in b.items())
    return isinstance(a, (int, float)) and not isinstance(a, bool) and \
        math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def check(response, expected: dict) -> None:
    """Mark `response` failed unless it is a 200 whose fields match `expected`."""
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
        return
    try:
        answer = response.json()
    except ValueError:
        response.failure("not JSON")
        return
    wrong = [k for k, v in expected.items() if k not in answer or not close(answer[k], v)]
    if wrong:
        response.failure(f"wrong {', '.join(wrong)}")
    else:
        response.success()


# --- users -----------------------------------------------------------------------------

class SeededUser(HttpUser):
    """A user with its own random stream for picking payloads from the pool; `stream`
    keeps the kinds of users' streams apart."""

    abstract = True
    stream = 0

    def on_start(self):
        self.rng = random.Random(SEED + self.stream + id(self) % 997)

    def context(self):
        return {"user": type(self).__name__}


class Student(SeededUser):
    """Works through a worksheet: small graphs, a descent step, filter geometry."""

    weight = 8
    wait_time = between(0.05, 0.3)

    @task(5)
    def evaluate_neuron(self):
        body, expected = self.rng.choice(POOL["neuron"])
        with self.client.post("/v1/evaluate", json=body, name="/v1/evaluate",
                              catch_response=True) as resp:
            check(resp, expected)

    @task(2)
    def descent_step(self):
        body, expected = self.rng.choice(POOL["circuit"])
        with self.client.post("/v1/evaluate", json=body, name="/v1/evaluate (step)",
                              catch_response=True) as resp:
            if resp.status_code == 200:
                step = resp.json().get("step", {}).get("inputs")
                if not close(step, expected["step"]):
                    resp.failure("wrong step")
                    return
            check(resp, {k: v for k, v in expected.items() if k != "step"})

    @task(3)
    def geometry(self):
        body, expected = self.rng.choice(POOL["geometry"])
        with self.client.post("/v1/conv1d/geometry", json=body, catch_response=True) as resp:
            check(resp, expected)


class ApiClient(SeededUser):
    """A course site or an autograder: batches of graphs, and conv with gradients."""

    weight = 2
    wait_time = between(0.2, 1.0)
    stream = 7919

    @task(3)
    def batch(self):
        size = self.rng.choice([10, 100, 500])
        cases = [self.rng.choice(POOL["neuron"]) for _ in range(size)]
        with self.client.post("/v1/evaluate/batch", json={"items": [b for b, _ in cases]},
                              name=f"/v1/evaluate/batch ({size})", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return
            results = resp.json().get("results", [])
            if len(results) != size:
                resp.failure(f"{len(results)} results for {size} items")
                return
            for i, (result, (_, expected)) in enumerate(zip(results, cases)):
                if not all(close(result.get(k), v) for k, v in expected.items()):
                    resp.failure(f"item {i} wrong")
                    return
            resp.success()

    @task(2)
    def conv(self):
        body, expected = self.rng.choice(POOL["conv"])
        with self.client.post("/v1/conv1d", json=body, catch_response=True) as resp:
            check(resp, expected)


class HeavyClient(HttpUser):
    """Now and then a request at the edge of the admission limits: the largest conv and
    the widest evaluate the defaults admit. Each must succeed with the right numbers, or
    be turned away with 503 and Retry-After when another big job holds the worker's lane
    (that answer is the service working as designed, so it is not a failure)."""

    weight = 1
    wait_time = between(2.0, 4.0)

    def context(self):
        return {"user": type(self).__name__}

    # W_out = 40,000 + 2*49,999 - 99,999 = 39,999 outputs of 100,000 multiply-adds each:
    # 3.9999e9, just under max_conv_multiply_adds. Window o spans input units
    # o - 49,999 .. o + 50,000, which holds the whole input of ones: every output is
    # 0.5 * 40,000.
    MAX_CONV = {"input": [[[1.0] * 40_000]], "weight": [[[0.5] * 100_000]], "padding": 49_999}
    # 48 tanh nodes and x over 20,000 lanes: 4 * 49 * 20,000 = 3.92e6 numbers in the
    # response, just under max_response_numbers; tanh(0) = 0 all the way up.
    CHAIN = 48

    def _big(self, path: str, body: dict, name: str, expected) -> None:
        with self.client.post(path, json=body, name=name, catch_response=True) as resp:
            if resp.status_code == 503 and resp.headers.get("Retry-After"):
                resp.success()
                return
            check(resp, expected)

    @task(1)
    def maximal_conv(self):
        self._big("/v1/conv1d", self.MAX_CONV, "/v1/conv1d (maximal)",
                  {"output_size": 39_999, "output": [[[20_000.0] * 39_999]]})

    @task(1)
    def maximal_evaluate(self):
        expr = "x"
        for _ in range(self.CHAIN):
            expr = f"tanh({expr})"
        body = {"graph": {"expr": expr}, "inputs": {"x": [0.0] * 20_000}}
        self._big("/v1/evaluate", body, "/v1/evaluate (maximal)", {"value": [0.0] * 20_000})


# --- problem sets: instructors make them, students practise on them ----------------------
# Answers are worked here in plain Python from each problem's parameters, as a student
# would, and graded through /v1/grade: a right answer must score full marks, a wrong one
# less, and a set's keys must agree with the same plain-Python work.

CLASS_SIZE = 30
WORKSHEET = ("conv_output_size", "conv_same_padding", "graph_backprop", "logistic_regression",
             "gate_gradient", "conv1d_backprop")
_FORWARD = {
    "add": lambda *a: sum(a), "sub": lambda a, b: a - b, "neg": lambda a: -a,
    "mul": lambda *a: math.prod(a), "div": lambda a, b: a / b, "square": lambda a: a * a,
    "pow": lambda a, p: a ** p, "exp": math.exp, "tanh": math.tanh, "sigmoid": sigmoid,
    "relu": lambda a: max(a, 0.0), "max": max, "min": min,
}


def _local(op: str, args: list, y: float, k: int) -> float:
    a = args[0]
    if op in ("add",):
        return 1.0
    if op == "sub":
        return 1.0 if k == 0 else -1.0
    if op == "neg":
        return -1.0
    if op == "mul":
        return math.prod(v for i, v in enumerate(args) if i != k)
    if op == "div":
        return 1 / args[1] if k == 0 else -a / args[1] ** 2
    if op == "square":
        return 2 * a
    if op == "pow":
        return args[1] * a ** (args[1] - 1) if k == 0 else 0.0
    if op == "exp":
        return y
    if op == "tanh":
        return 1 - y * y
    if op == "sigmoid":
        return y * (1 - y)
    if op == "relu":
        return 1.0 if a > 0 else 0.0
    if op in ("max", "min"):
        won = (args[0] >= args[1]) if op == "max" else (args[0] <= args[1])
        return float(won) if k == 0 else float(not won)
    raise ValueError(op)


def graph_by_hand(q: dict) -> dict:
    """values, gradients and step of a graph_backprop problem, node by node."""
    env = dict(q["inputs"])
    nodes = q["graph"]["nodes"]
    for n in nodes:
        env[n["id"]] = _FORWARD[n["op"]](*[env[r] if isinstance(r, str) else r for r in n["inputs"]])
    grads = dict.fromkeys(env, 0.0)
    grads[q["graph"]["output"]] = 1.0
    for n in reversed(nodes):
        args = [env[r] if isinstance(r, str) else r for r in n["inputs"]]
        for k, r in enumerate(n["inputs"]):
            if isinstance(r, str):
                grads[r] += grads[n["id"]] * _local(n["op"], args, env[n["id"]], k)
    return {"values": env, "gradients": grads}


def answers_by_hand(p: dict) -> dict:
    q = p["parameters"]
    kind = p["type"]
    if kind == "conv_output_size":
        W, F, P, S = q["width"], q["filter_size"], q["padding"], q["stride"]
        starts = list(range(-P, W + P - F + 1, S))
        return {"output_size": len(starts), "windows": [[s, s + F - 1] for s in starts],
                "centers": [s + F // 2 for s in starts]}
    if kind == "conv_same_padding":
        return {"padding": q.get("dilation", 1) * (q["filter_size"] - 1) // 2}
    if kind == "graph_backprop":
        work = graph_by_hand(q)
        g, lr = work["gradients"], q["learning_rate"]
        return {"values": {n["id"]: work["values"][n["id"]] for n in q["graph"]["nodes"]},
                "gradients": {k: v for k, v in g.items() if k != q["graph"]["output"]},
                "step": {k: q["inputs"][k] - lr * g[k] for k in q["wrt"]}}
    if kind == "logistic_regression":
        w, x, y, lr = q["weights"], q["inputs"], q["label"], q["learning_rate"]
        z = w["w1"] * x["x1"] + w["w2"] * x["x2"] + w["b"]
        h = sigmoid(z)
        g = {"w1": (h - y) * x["x1"], "w2": (h - y) * x["x2"], "b": h - y}
        return {"z": z, "h": h, "loss": -(y * math.log(h) + (1 - y) * math.log(1 - h)),
                "gradients": g, "updated": {k: w[k] - lr * v for k, v in g.items()}}
    if kind == "gate_gradient":
        x, up = q["input"], q["upstream_gradient"]
        y = {"sigmoid": sigmoid, "tanh": math.tanh, "relu": lambda v: max(v, 0.0)}[q["gate"]](x)
        local = {"sigmoid": y * (1 - y), "tanh": 1 - y * y, "relu": float(x > 0)}[q["gate"]]
        return {"output": y, "gradient": up * local}
    x, w, g, S, P = q["input"], q["weight"], q["grad_output"], q["stride"], q["padding"]
    xp = [0] * P + x + [0] * P
    out = (len(xp) - len(w)) // S + 1
    y = [sum(w[k] * xp[o * S + k] for k in range(len(w))) for o in range(out)]
    gw = [sum(g[o] * xp[o * S + k] for o in range(out)) for k in range(len(w))]
    gxp = [0.0] * len(xp)
    for o in range(out):
        for k in range(len(w)):
            gxp[o * S + k] += g[o] * w[k]
    return {"output": y, "grad_input": gxp[P:len(xp) - P], "grad_weight": gw}


class Instructor(SeededUser):
    """Makes a class's problem set with answers, checks every key by hand, and traces a
    leaked sheet back to its student, with the instructor token in
    $GRADSHEET_INSTRUCTOR_TOKEN (one of the server's GRADSHEET_INSTRUCTOR_TOKENS)."""

    weight = 1
    wait_time = between(1.0, 3.0)
    stream = 104729

    def on_start(self):
        super().on_start()
        self.client.headers["Authorization"] = \
            f"Bearer {os.environ.get('GRADSHEET_INSTRUCTOR_TOKEN', '')}"
        self.client.get("/v1/problem-types")

    @task(3)
    def make_a_set(self):
        roster = [f"student{i:02d}@example.edu" for i in range(CLASS_SIZE)]
        body = {"seed": self.rng.randrange(1 << 30), "students": roster, "include_answers": True}
        with self.client.post("/v1/problem-sets", json=body, name="/v1/problem-sets (class)",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return
            sheets = resp.json().get("sheets", [])
            if [s.get("student") for s in sheets] != roster:
                resp.failure("the sheets do not follow the roster")
                return
            for s in sheets:
                for p in s["problems"]:
                    if not close(p.get("answers"), answers_by_hand(p)):
                        resp.failure(f"wrong key for {p['type']} {p['id']}")
                        return
            resp.success()
            self.leaked = (body["seed"], roster, sheets[self.rng.randrange(CLASS_SIZE)])

    @task(1)
    def trace_a_leak(self):
        if not getattr(self, "leaked", None):
            return
        seed, roster, sheet = self.leaked
        body = {"seed": seed, "students": roster, "token": sheet["problems"][0]["token"]}
        with self.client.post("/v1/problem-sets/trace", json=body, catch_response=True) as resp:
            if resp.status_code == 200 and resp.json().get("students") == [sheet["student"]]:
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")


class JobInstructor(SeededUser):
    """Submits a small problem-set job, polls it until it is done, and checks the zip
    holds every student's sheet and the key; a 429 (this token's cap of active jobs,
    shared by every such user) is the server pacing it, not a failure."""

    weight = 1
    wait_time = between(2.0, 5.0)
    stream = 7919
    POLL_SECONDS = 60

    def on_start(self):
        super().on_start()
        self.client.headers["Authorization"] = \
            f"Bearer {os.environ.get('GRADSHEET_INSTRUCTOR_TOKEN', '')}"

    @task
    def run_a_job(self):
        import io
        import time
        import zipfile
        roster = [f"job{i}@example.edu" for i in range(3)]
        body = {"seed": self.rng.randrange(1 << 30), "students": roster, "format": "json"}
        with self.client.post("/v1/jobs/problem-sets", json=body, catch_response=True) as resp:
            if resp.status_code == 429:
                resp.success()
                return
            if resp.status_code != 202:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return
            status_url = resp.headers.get("Location")
        deadline = time.monotonic() + self.POLL_SECONDS
        while True:
            with self.client.get(status_url, name="/v1/jobs/[id]", catch_response=True) as resp:
                job = resp.json() if resp.status_code == 200 else {}
                if job.get("status") in ("failed", "cancelled") or resp.status_code != 200:
                    resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                    return
                if job["status"] == "done":
                    break
                if time.monotonic() > deadline:
                    resp.failure(f"not done in {self.POLL_SECONDS} s: {job}")
                    return
            time.sleep(0.5)
        with self.client.get(job["result_url"], name="/v1/jobs/[id]/result",
                             catch_response=True) as resp:
            names = set(zipfile.ZipFile(io.BytesIO(resp.content)).namelist()) \
                if resp.status_code == 200 else set()
            # one sheet per student (@ makes _ in a file name), the key and the manifest
            if names != ({f"{s.replace('@', '_')}.json" for s in roster}
                         | {"answer-key.json", "gradsheet-manifest.json"}):
                resp.failure(f"HTTP {resp.status_code}: the zip holds {sorted(names)}")


class PracticeStudent(SeededUser):
    """Fetches their own sheet (no answers), works each problem by hand and has it graded;
    now and then submits a slip on purpose and expects to lose marks for it."""

    weight = 3
    wait_time = between(0.1, 0.5)
    stream = 15485863

    def on_start(self):
        super().on_start()
        self.me = f"practice{id(self) % 100000}"
        self.problems = []

    def fetch_sheet(self):
        body = {"seed": 2024, "students": [self.me], "problems": list(WORKSHEET)}
        with self.client.post("/v1/problem-sets", json=body, name="/v1/problem-sets (own sheet)",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return
            problems = resp.json()["sheets"][0]["problems"]
            if any("answers" in p for p in problems):
                resp.failure("a student's sheet carries answers")
                return
            resp.success()
            self.problems = problems

    @task
    def answer_a_problem(self):
        if not self.problems:
            self.fetch_sheet()
            return
        p = self.rng.choice(self.problems)
        answers = answers_by_hand(p)
        slip = self.rng.random() < 0.3
        if slip:
            part = next(iter(answers))
            value = answers[part]
            answers[part] = {k: v + 1 for k, v in value.items()} if isinstance(value, dict) else \
                [v + 1 for v in value] if isinstance(value, list) else value + 1
        with self.client.post("/v1/grade", json={"token": p["token"], "answers": answers},
                              name=f"/v1/grade ({'slip' if slip else 'right'})",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return
            result = resp.json()
            full = result.get("score") == result.get("max_score")
            if full == slip:
                resp.failure(f"{p['type']}: {result.get('score')} of {result.get('max_score')} "
                             f"for a {'slip' if slip else 'right answer'}")
            else:
                resp.success()


class PageStudent(SeededUser):
    """Practises in the browser pages: GETs a fresh variant of a short problem type,
    reads its numbers from the figure's text alternative, works the answer by hand and
    POSTs the form; a full score for right numbers, a part marked wrong for a slip."""

    weight = 2
    wait_time = between(0.1, 0.5)
    stream = 32452843
    TYPES = ("gate_gradient", "conv_same_padding", "conv_output_size")
    _CAPTION = re.compile(r"<figcaption>(.*?)</figcaption>", re.S)
    _TOKEN = re.compile(r'name="token" value="([^"]+)"')

    @staticmethod
    def parameters(caption: str) -> dict:
        """{"upstream_gradient": -1.8, "gate": "sigmoid", ...} from "The gate. gate
        sigmoid; input 1.4; upstream gradient -1.8." (service/pages/figure_text.py)."""
        out = {}
        for piece in caption.split(". ", 1)[1].rstrip(".").split("; "):
            name, _, value = piece.rpartition(" ")
            try:
                out[name.replace(" ", "_")] = float(value)
            except ValueError:
                out[name.replace(" ", "_")] = value
        return out

    @staticmethod
    def form_fields(answers: dict) -> dict:
        fields = {}

        def walk(value, name):
            if isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, f"{name}[{i}]")
            else:
                fields[f"p1-{name}"] = repr(float(value))
        for part, value in answers.items():
            walk(value, part)
        return fields

    @task
    def practise(self):
        kind = self.rng.choice(self.TYPES)
        with self.client.get(f"/practice/{kind}", name="/practice/[type]",
                             catch_response=True) as resp:
            caption, token = self._CAPTION.search(resp.text), self._TOKEN.search(resp.text)
            if resp.status_code != 200 or caption is None or token is None:
                resp.failure(f"HTTP {resp.status_code}: no figure or token")
                return
            resp.success()
        p = self.parameters(html.unescape(caption.group(1)))
        if kind == "conv_output_size":
            p = {**p, "width": int(p["width"]), "filter_size": int(p["filter_size"]),
                 "padding": int(p["padding"]), "stride": int(p["stride"])}
        if kind == "conv_same_padding":
            p = {**p, "filter_size": int(p["filter_size"]), "dilation": int(p.get("dilation", 1))}
        answers = answers_by_hand({"type": kind, "parameters": p})
        slip = self.rng.random() < 0.3
        first = next(iter(answers))
        if slip:
            answers[first] = answers[first] + 1
        form = {"token": token.group(1), "check": "1", **self.form_fields(answers)}
        with self.client.post(f"/practice/{kind}", data=form, catch_response=True,
                              name=f"/practice/[type] check ({'slip' if slip else 'right'})") \
                as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
            elif slip != ('id="p1-' + first + '-fb">' in resp.text
                          and "✗ Wrong" in resp.text.split(f'id="p1-{first}-fb">', 1)[1][:200]):
                resp.failure(f"{kind}: the slip in {first} was not marked wrong" if slip else
                             f"{kind}: right numbers were not all marked right")
            elif not slip and "every part right" not in resp.text:
                resp.failure(f"{kind}: right numbers did not get full marks")
            else:
                resp.success()
