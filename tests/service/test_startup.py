"""First contact: where the kernel cache lives when the package's folder cannot be
written, what the CLI says when it must compile, and a server that answers /healthz
at once and /readyz 503 (warming, k of n) until its workers are warm.

"Must compile" is a cache directory without the warm-up's mark
(engine.kernel_cache.is_warm). The CLI and server tests start from a copy of this
session's warm cache without that mark: the real first-run path (the notice, the
warm-up child, the workers waiting for it), whose children load instead of spending
a minute of both cores compiling again."""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

import engine
from engine import kernel_cache
from service import warmup
from service.local_server import LocalServer, call

ENGINE = pathlib.Path(engine.__file__).parent
NOTICE = "compiling gradsheet's kernels once"


def cache_dir_of(package: pathlib.Path, env: dict) -> pathlib.Path:
    """CACHE_DIR as a fresh interpreter that imports the engine at `package` sees it."""
    done = subprocess.run(
        [sys.executable, "-c", "from engine import kernel_cache; print(kernel_cache.CACHE_DIR)"],
        cwd=package, env=dict(env, PYTHONPATH=str(package)), capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return pathlib.Path(done.stdout.strip())


@pytest.fixture
def unwritable_engine(tmp_path):
    """A copy of the engine whose own cache folder cannot be made: engine/__pycache__ is a
    file (which stops root too, unlike a read-only mode), and a HOME of its own."""
    package = tmp_path / "pkg"
    shutil.copytree(ENGINE, package / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (package / "engine" / "__pycache__").write_text("not a directory")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    return package, home, env


def test_an_unwritable_package_folder_puts_the_cache_in_the_users_cache_directory(
        unwritable_engine):
    package, home, env = unwritable_engine
    where = cache_dir_of(package, env)
    key = kernel_cache.cache_key(package / "engine")
    assert where == home / ".cache" / "gradsheet" / "numba" / f"gradsheet-{key}"
    assert where.is_dir()


def test_with_no_writable_cache_directory_at_all_a_temporary_one_is_used(unwritable_engine):
    package, home, env = unwritable_engine
    blocked = home / "cache-is-a-file"
    blocked.write_text("")
    where = cache_dir_of(package, dict(env, XDG_CACHE_HOME=str(blocked)))
    key = kernel_cache.cache_key(package / "engine")
    assert where.name == f"gradsheet-{key}" and where.parent.name.startswith("gradsheet-numba-")
    assert not where.exists()  # removed when that process exited


def test_numba_cache_dir_when_set_is_where_the_cache_lives(unwritable_engine, tmp_path):
    package, _, env = unwritable_engine
    where = cache_dir_of(package, dict(env, NUMBA_CACHE_DIR=str(tmp_path / "chosen")))
    assert where.parent == tmp_path / "chosen"


@pytest.fixture(scope="module")
def warm_cache() -> pathlib.Path:
    warmup.fill_cache()
    assert kernel_cache.is_warm()
    return kernel_cache.CACHE_DIR


@pytest.fixture
def unmarked_cache(warm_cache, tmp_path) -> pathlib.Path:
    """NUMBA_CACHE_DIR for a copy of the warm cache without the warm-up's mark."""
    base = tmp_path / "numba"
    shutil.copytree(warm_cache, base / warm_cache.name)
    (base / warm_cache.name / "warm").unlink()
    return base


# Run in a fresh interpreter on the warm cache: warm_up (what each gunicorn worker runs),
# then every kind of engine work the service and the CLI do. No kernel may gain a
# signature on the way: a worker must not compile, nor load a kernel warm_up left out
# (fill_cache, which runs the same jobs, never put that one in the cache either, so the
# first request to need it in each worker would compile it).
AFTER_WARM_UP = """
import json, sys
import numpy as np
from numba.extending import is_jitted
import engine, engine.conv, worksheets
from service import warmup

def signatures():
    return {f"{name}.{attr}": len(obj.signatures) for name, module in list(sys.modules.items())
            if name.startswith("engine") for attr, obj in vars(module).items() if is_jitted(obj)}

warmup.warm_up()
before = signatures()
spec = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"], "label": "x + y"},
                  {"id": "f", "op": "mul", "inputs": ["q", 3]}], "output": "f"}
engine.evaluate_many([(spec, {"x": float(k), "y": 2.0}) for k in range(40)])  # the bulk path
engine.evaluate_many([(engine.Graph.from_spec(spec), {"x": 1.0, "y": 2.0})] * 40)
engine.evaluate_many([("f = sigmoid(x) * y", {"x": np.arange(600.0), "y": 0.5}),
                      ("x * y", {"x": 1, "y": 2})])
engine.evaluate("f = log(x) + tanh(x*y)", {"x": np.linspace(1, 2, 300_000), "y": 2.0})  # threads
try:
    engine.evaluate("log(x)", {"x": [1.0, 0.0]})
except engine.NonFiniteError:
    pass
x = np.linspace(-1, 1, 3 * 4 * 600).reshape(3, 4, 600)
w = np.ones((5, 4, 7))
y = engine.conv1d(x, w, bias=np.zeros(5), stride=3, padding=2, dilation=2)
engine.conv1d_backward(x, w, np.ones_like(y), stride=3, padding=2, dilation=2)
engine.conv1d_many([{"x": np.ones((1, 10)), "w": np.ones((1, 1, 3)), "stride": 2, "padding": 1}] * 30)
engine.conv.conv1d_packed(np.ones(30), [0, 10, 20, 30], np.ones(9), [0, 3, 6, 9], stride=2, padding=1)
worksheets.generate(7, 3, secret="s" * 32)
after = signatures()
print(json.dumps({k: [before.get(k, 0), n] for k, n in after.items() if n != before.get(k, 0)}))
"""


def test_after_the_warm_up_no_kernel_the_service_or_cli_calls_compiles_or_loads(warm_cache):
    done = subprocess.run([sys.executable, "-c", AFTER_WARM_UP], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(warm_cache.parent)), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {}  # kernel: [signatures before, after]


def test_every_warm_up_job_comes_after_the_jobs_it_needs_so_one_interpreter_can_run_them_all():
    names = list(warmup.KERNELS)
    assert set(warmup.NEEDS) <= set(names)
    for name, needs in warmup.NEEDS.items():
        assert needs <= set(names[:names.index(name)]), name


def test_a_fill_cache_child_answers_each_job_it_is_handed_with_its_seconds(warm_cache):
    out = io.StringIO()
    warmup.run_jobs(["conv1d_many\n", "lowering\n"], out)
    answers = [line.split() for line in out.getvalue().splitlines()]
    assert [name for name, _ in answers] == ["conv1d_many", "lowering"]
    assert all(float(seconds) >= 0 for _, seconds in answers)


def gradsheet(*args: str, cache: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env=env,
                          capture_output=True, text=True, timeout=900)


def test_the_cli_says_once_that_it_compiles_and_never_with_quiet(unmarked_cache):
    quiet = gradsheet("eval", "x*y", "x=2", "y=3", "--quiet", cache=unmarked_cache)
    assert quiet.returncode == 0, quiet.stderr
    assert NOTICE not in quiet.stderr
    # the quiet run filled the cache; mark removed again to hear the notice
    (next(unmarked_cache.iterdir()) / "warm").unlink()
    first = gradsheet("eval", "x*y", "x=2", "y=3", cache=unmarked_cache)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(NOTICE) == 1 and str(unmarked_cache) in first.stderr
    assert "6" in first.stdout.split()  # f = x*y = 6
    second = gradsheet("eval", "x*y", "x=2", "y=3", cache=unmarked_cache)
    assert second.returncode == 0 and NOTICE not in second.stderr


def test_warmup_says_where_the_cache_is(unmarked_cache):
    done = gradsheet("warmup", cache=unmarked_cache)
    assert done.returncode == 0, done.stderr
    assert "compiling" in done.stdout and str(unmarked_cache) in done.stdout
    again = gradsheet("warmup", cache=unmarked_cache)
    assert "already compiled in" in again.stdout and str(unmarked_cache) in again.stdout


def test_a_starting_server_answers_healthz_and_readyz_503_warming_then_200(unmarked_cache):
    server = LocalServer.gradsheet(workers=1, env={"NUMBA_CACHE_DIR": str(unmarked_cache)})
    warming: list[dict] = []
    try:
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            assert server.proc.poll() is None, server.log()
            try:
                health = call(server.base, "/healthz", timeout=5)[0]
                status, headers, body = call(server.base, "/readyz", timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            assert health == 200
            if status == 200:
                break
            assert status == 503 and headers["Content-Type"] == "application/problem+json"
            warming.append(json.loads(body))
            time.sleep(0.05)
        else:
            pytest.fail(f"never ready:\n{server.log()}")
    finally:
        log = server.stop()
    assert warming, "the port opened only once the worker was warm"
    n = len(warmup.KERNELS)
    for body in warming:
        assert body["warming"] is True and body["of"] == n and 0 <= body["done"] <= n
        assert body["phase"] in ("starting", "compiling", "loading")
    assert "gradsheet: compiling" in log and "worker" in log and "ready in" in log
