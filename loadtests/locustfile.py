"""Load test for the gradsheet API: a realistic, weighted mix with every answer checked.

    locust -f loadtests/locustfile.py --headless -u 40 -r 20 -t 60s -H http://127.0.0.1:8000

Students (most users) evaluate small worksheet graphs, take descent steps and ask
for conv geometry; API clients (course sites, autograders) send batches and conv
requests with gradients. Payloads come from a seeded pool, and each has its answer
worked out here in plain Python (not by gradsheet), so a wrong number is a failure
just like a 500. The run exits non-zero on any failure or when the p95 response
time exceeds --p95-threshold-ms.

Self-contained (locust and the standard library only), so it also runs in the
locust image of docker-compose.yml.
"""

from __future__ import annotations

import math
import random

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

class Student(HttpUser):
    """Works through a worksheet: small graphs, a descent step, filter geometry."""

    weight = 8
    wait_time = between(0.05, 0.3)

    def on_start(self):
        self.rng = random.Random(SEED + id(self) % 997)

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


class ApiClient(HttpUser):
    """A course site or an autograder: batches of graphs, and conv with gradients."""

    weight = 2
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.rng = random.Random(SEED + 7919 + id(self) % 997)

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
