"""Numba's on-disk cache of the kernels (engine.kernel_cache), in fresh processes: a
copy of the engine under a temporary directory is run against a temporary
NUMBA_CACHE_DIR, warm, then again unchanged (every kernel loads, none compiles) and
with the item table's columns reordered (a value compiled into two files' kernels: it
must never load the other file's stale machine code)."""

from __future__ import annotations

import inspect
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from numba.extending import is_jitted

import engine
from engine import kernel_cache

ENGINE = pathlib.Path(engine.__file__).parent

# Plain dict specs with number inputs take evaluate_many's bulk path: spec_bulk's
# compiled item table, written with the vm.C_* columns, read by the ragged kernel.
SCRIPT = """
import json, sys
import engine
from engine import kernel_cache
Q_F = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                 {"id": "f", "op": "mul", "inputs": ["q", "z"]}], "output": "f"}
S_F = {"nodes": [{"id": "s", "op": "sigmoid", "inputs": ["x"]},
                 {"id": "f", "op": "mul", "inputs": ["s", "y"]}], "output": "f"}
items = [(Q_F if i % 2 else S_F, {"x": i - 2.5, "y": 2.0 * i + 1, "z": 0.5 - i})
         for i in range(6)]
items = [(spec, {k: v for k, v in inputs.items() if spec is Q_F or k != "z"})
         for spec, inputs in items]
results = engine.evaluate_many(items)
json.dump({"engine": engine.__file__, "cache_dir": str(kernel_cache.CACHE_DIR),
           "results": [[ev.value, {k: ev.gradients[k] for k in inputs}]
                       for ev, (_, inputs) in zip(results, items)]}, sys.stdout)
"""


def oracle(i: int) -> tuple[float, dict]:
    """By hand: f = (x + y) z, or f = sigmoid(x) y with sigmoid' = s (1 - s)."""
    x, y, z = i - 2.5, 2.0 * i + 1, 0.5 - i
    if i % 2:
        return (x + y) * z, {"x": z, "y": z, "z": x + y}
    s = 1 / (1 + math.exp(-x))
    return s * y, {"x": y * s * (1 - s), "y": s}


def run_copy(package: pathlib.Path, cache: pathlib.Path) -> dict:
    """SCRIPT in a fresh interpreter that imports the engine at `package`."""
    env = dict(os.environ, PYTHONPATH=str(package), NUMBA_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=package, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    answer = json.loads(done.stdout)
    assert pathlib.Path(answer["engine"]).is_relative_to(package)
    for i, (value, gradients) in enumerate(answer["results"]):
        want_value, want_gradients = oracle(i)
        assert value == pytest.approx(want_value, rel=1e-12)
        assert gradients == pytest.approx(want_gradients, rel=1e-12)
    return answer


def cache_files(cache: pathlib.Path) -> dict[str, int]:
    """Numba's index (.nbi) and object-code (.nbc) files under `cache`, by path, with
    their modification times: Numba writes both when it compiles, and only reads them
    when it loads."""
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns
            for p in cache.rglob("*") if p.suffix in (".nbi", ".nbc")}


@pytest.fixture(scope="module")
def warm_copy(tmp_path_factory):
    """A copy of the engine and a cache that its first run filled."""
    root = tmp_path_factory.mktemp("kernel-cache")
    package, cache = root / "package", root / "numba-cache"
    shutil.copytree(ENGINE, package / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    answer = run_copy(package, cache)
    return package, cache, pathlib.Path(answer["cache_dir"])


def test_the_cache_lives_under_numba_cache_dir_in_a_directory_named_for_the_sources(warm_copy):
    package, cache, used = warm_copy
    assert used.parent == cache and used.name.startswith("gradsheet-")
    kernels = {pathlib.Path(name).name.split("-")[0] for name in cache_files(used)}
    # the ragged kernel, the op cases it calls by address and spec_bulk's item table all cached
    assert {"kernels._run_ragged", "cases.reverse_rows", "spec_bulk._item_table"} <= kernels


def test_an_unchanged_engine_loads_every_kernel_from_the_cache_without_compiling(warm_copy):
    package, cache, used = warm_copy
    before = cache_files(cache)
    assert before
    answer = run_copy(package, cache)
    assert pathlib.Path(answer["cache_dir"]) == used
    assert cache_files(cache) == before


def test_reordered_item_columns_under_a_warm_cache_give_the_right_numbers(warm_copy):
    package, cache, used = warm_copy
    kernels_py = package / "engine" / "vm" / "kernels.py"
    original = kernels_py.read_text()
    columns = " C_V0, C_V1, C_VOUT, C_G0, C_G1, C_GOUT) = range(18)"
    assert columns in original, "the C_* columns are no longer numbered by range(18)"
    kernels_py.write_text(original.replace(columns, columns.replace("range(18)",
                                                                    "range(17, -1, -1)")))
    try:
        answer = run_copy(package, cache)
    finally:
        kernels_py.write_text(original)
    assert pathlib.Path(answer["cache_dir"]) != used


def test_every_module_that_defines_a_kernel_is_hashed():
    hashed = {path.relative_to(ENGINE).as_posix() for path in kernel_cache.sources()}
    defining = {pathlib.Path(inspect.getfile(value.py_func)).relative_to(ENGINE).as_posix()
                for name, module in list(sys.modules.items())
                if name == "engine" or name.startswith("engine.")
                for value in vars(module).values() if is_jitted(value)}
    assert {"ops.py", "spec_bulk.py", "vm/kernels.py", "conv/kernels.py"} <= defining
    assert defining <= hashed
    assert {"ops.py", "spec_bulk.py", "vm/kernels.py", "vm/cases.py", "vm/addresses.py", "lowering.py",
            "conv/api.py"} <= hashed


def test_the_key_changes_with_a_kernel_source_and_nothing_else(tmp_path):
    copy = tmp_path / "engine"
    shutil.copytree(ENGINE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    key = kernel_cache.cache_key(copy)
    assert key == kernel_cache.cache_key(ENGINE)
    (copy / "parser.py").write_text((copy / "parser.py").read_text() + "\n# an edit\n")
    assert kernel_cache.cache_key(copy) == key
    for source in ("ops.py", "spec_bulk.py", "vm/kernels.py", "conv/api.py"):
        (copy / source).write_text((copy / source).read_text() + "\n# an edit\n")
        assert kernel_cache.cache_key(copy) != key
        key = kernel_cache.cache_key(copy)
