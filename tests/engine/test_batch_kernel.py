"""The batch kernel (engine.vm.run_batch) on the cases its row plan treats specially.

That kernel reads inputs in place, writes reported rows straight into the outputs,
computes only the adjoints that are reported or flow into one, and assigns each
adjoint's first contribution instead of zeroing it. So the checks here are: lanes in
different blocks and chunks against the complex-step oracle; an output that other
nodes use; nodes the output does not depend on; an operand used twice by one node; an
output that is an input; per-lane output gradients; the sign of a zero gradient; and
the lane a non-finite result is reported at.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
from engine import GraphError, NonFiniteError
from engine.ops import FUSIONS, INSTRUCTIONS
from engine.vm import kernels as vm
from tests import oracle
from tests.engine.test_evaluate import _reference, random_graphs

# evaluate() sends every batch to the batch kernel (one input set goes to the ragged
# kernel, which the one-lane oracle tests in test_evaluate.py cover); N spans blocks
N = 8 * vm.BLOCK + 5
LANES = (0, vm.BLOCK - 1, vm.BLOCK, N // 2, N - 1)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(random_graphs(), st.data())
def test_lanes_in_every_block_match_the_complex_step_oracle_for_any_output(case, data):
    spec, values = case
    nodes = spec["nodes"]
    output = data.draw(st.sampled_from([n["id"] for n in nodes]), label="output")
    graph = engine.Graph.from_spec({**spec, "output": output})
    intermediates = data.draw(st.booleans(), label="intermediates")
    n = N if data.draw(st.booleans(), label="serial") else 80_001  # split across threads
    lanes_checked = LANES[:-1] + (n - 1,)
    rng = np.random.default_rng(len(nodes))
    batch = {x: rng.uniform(0.3, 2.0, n).round(3) for x in graph.inputs}
    seed = rng.uniform(-2, 2, n).round(2)
    lanes = []
    for i in lanes_checked:
        one = {x: float(v[i]) for x, v in batch.items()}
        env = _reference(graph, one)
        assume(env is not None)
        lanes.append((i, one, env))
    try:
        ev = engine.evaluate(graph, batch, output_gradient=seed, intermediates=intermediates)
    except NonFiniteError as err:
        # only at a lane where plain Python also finds a gradient infinite or past 1e8
        at = {x: float(v[err.index]) for x, v in batch.items()}
        assert not oracle.bounded(graph, at), err
        return
    for i, one, env in lanes:
        assert ev.value[i] == pytest.approx(env[output], rel=1e-11, abs=1e-11)
        for x, want in oracle.complex_step_gradients(graph, one).items():
            assert ev.gradients[x][i] == pytest.approx(seed[i] * want, rel=1e-8, abs=1e-9), (x, i)
        if intermediates:
            for name, want in oracle.node_gradients_complex_step(graph, one).items():
                assert ev.gradients[name][i] == pytest.approx(seed[i] * want, rel=1e-8, abs=1e-9), (name, i)
                assert ev.values[name][i] == pytest.approx(env[name], rel=1e-11, abs=1e-11)


def test_an_output_that_other_nodes_use_starts_from_the_seed_and_they_get_zero():
    spec = {"nodes": [{"id": "q", "op": "mul", "inputs": ["x", "y"]},
                      {"id": "r", "op": "add", "inputs": ["q", "x"]},
                      {"id": "s", "op": "mul", "inputs": ["r", "q"]}], "output": "q"}
    x, y = np.linspace(-2, 2, N), np.linspace(1, 3, N)
    ev = engine.evaluate(spec, {"x": x, "y": y}, output_gradient=-3.0)
    np.testing.assert_array_equal(ev.value, x * y)
    np.testing.assert_array_equal(ev.gradients["q"], np.full(N, -3.0))
    np.testing.assert_array_equal(ev.gradients["r"], np.zeros(N))
    np.testing.assert_array_equal(ev.gradients["s"], np.zeros(N))
    np.testing.assert_array_equal(ev.gradients["x"], -3.0 * y)
    np.testing.assert_array_equal(ev.gradients["y"], -3.0 * x)
    np.testing.assert_array_equal(ev.values["s"], (x * y + x) * (x * y))


def test_an_output_used_again_adds_its_later_uses_to_the_seed():
    # f = x * y is the output and also feeds g, which feeds nothing: d f / d f is still 1
    spec = {"nodes": [{"id": "f", "op": "mul", "inputs": ["x", "y"]},
                      {"id": "g", "op": "exp", "inputs": ["f"]}], "output": "f"}
    x = np.linspace(-1, 1, N)
    ev = engine.evaluate(spec, {"x": x, "y": 2.0}, intermediates=False)
    np.testing.assert_array_equal(ev.gradients["x"], np.full(N, 2.0))
    np.testing.assert_array_equal(ev.gradients["y"], x)


def test_an_operand_used_twice_by_one_node_gets_both_contributions():
    x = np.linspace(-3, 3, N)
    ev = engine.evaluate("f = x * x + (x + x)", {"x": x}, intermediates=False)
    np.testing.assert_allclose(ev.gradients["x"], 2 * x + 2, rtol=0, atol=1e-15)
    ev = engine.evaluate("f = max(x, x)", {"x": x})
    np.testing.assert_array_equal(ev.gradients["x"], np.ones(N))  # half to each side of the tie


def test_an_output_that_is_an_input_has_the_seed_as_its_gradient():
    spec = {"nodes": [{"id": "q", "op": "square", "inputs": ["x"]}], "output": "x"}
    x = np.linspace(-1, 1, N)
    ev = engine.evaluate(spec, {"x": x}, output_gradient=np.arange(float(N)))
    np.testing.assert_array_equal(ev.value, x)
    np.testing.assert_array_equal(ev.gradients["x"], np.arange(float(N)))
    np.testing.assert_array_equal(ev.gradients["q"], np.zeros(N))


def test_a_zero_gradient_is_positive_zero_as_a_student_would_write_it():
    x = np.array([-1.0, -2.0, 3.0] * N)
    ev = engine.evaluate("relu(x) * y", {"x": x, "y": 2.0}, output_gradient=-1.0)
    signs = np.copysign(1.0, ev.gradients["x"])
    assert (signs[x < 0] == 1.0).all() and (ev.gradients["x"][x < 0] == 0).all()
    one = engine.evaluate("relu(x) * y", {"x": -1.0, "y": 2.0}, output_gradient=-1.0)
    assert math.copysign(1.0, one.gradients["x"]) == 1.0


def test_constants_and_folded_nodes_are_reported_in_every_lane():
    x = np.arange(float(N))
    ev = engine.evaluate("k = 2 * 3; f = k * x", {"x": x})
    np.testing.assert_array_equal(ev.values["k"], np.full(N, 6.0))
    np.testing.assert_array_equal(ev.gradients["k"], x)
    np.testing.assert_array_equal(ev.gradients["x"], np.full(N, 6.0))
    np.testing.assert_array_equal(ev.values["x"], x)


@pytest.mark.parametrize("n", [N, 400_000])
def test_a_non_finite_lane_is_reported_at_its_index_in_any_block_or_chunk(n):
    x = np.ones(n)
    bad = n - 300
    x[bad] = np.nan
    with pytest.raises(GraphError) as err:
        engine.evaluate("f = x * y + 1", {"x": x, "y": 2.0})
    assert err.value.path == f"inputs.x[{bad}]"
    x[bad] = 1e300
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("f = x * y + 1", {"x": x, "y": 1e10})
    assert (err.value.index, err.value.kind, err.value.node) == (bad, "value", "mul1")
    y = np.ones(n)
    y[bad] = 0.0
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("f = sqrt(y) * x", {"x": np.ones(n), "y": y})
    assert (err.value.index, err.value.kind, err.value.node) == (bad, "gradient", "y")
    seed = np.ones(n)
    seed[bad] = np.inf
    with pytest.raises(GraphError) as err:
        engine.evaluate("f = x * 2", {"x": np.ones(n)}, output_gradient=seed)
    assert err.value.path == f"output_gradient[{bad}]"


def test_the_parallel_kernel_with_broadcast_inputs_and_a_seed_per_lane():
    rng = np.random.default_rng(5)
    n = 300_001
    a, c = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    seed = rng.uniform(-1, 1, n)
    ev = engine.evaluate("(3*a*b)^2 + c*d", {"a": a, "b": 0.5, "c": c, "d": -1.25}, output_gradient=seed)
    u = 1.5 * a
    np.testing.assert_allclose(ev.value, u * u - 1.25 * c, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["a"], seed * 2 * u * 1.5, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["b"], seed * 2 * u * 3 * a, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["c"], seed * -1.25, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["d"], seed * c, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(ev.values["a"], a)


def test_the_callers_arrays_are_never_written():
    # f is the output and the second operand of g, which the output does not depend on:
    # g's (zero) contribution to f's adjoint must land in a row of the engine's own, not
    # in the caller's output_gradient array (where -0.0 + 0.0 would turn into 0.0)
    spec = {"nodes": [{"id": "f", "op": "mul", "inputs": ["x", "y"]},
                      {"id": "g", "op": "mul", "inputs": ["y", "f"]}], "output": "f"}
    x, y = np.linspace(1, 2, N), np.linspace(2, 3, N)
    seed = np.full(N, -0.0)
    kept = [a.copy() for a in (x, y, seed)]
    for intermediates in (False, True):
        ev = engine.evaluate(spec, {"x": x, "y": y}, output_gradient=seed, intermediates=intermediates)
        np.testing.assert_array_equal(ev.gradients["x"], np.zeros(N))
        for now, before in zip((x, y, seed), kept):
            assert now.tobytes() == before.tobytes()
    # the operands of an output add read the seed's row itself; nothing may write to it
    seed = np.linspace(-1, 1, N)
    kept = seed.copy()
    for intermediates in (False, True):
        ev = engine.evaluate("p = x * y; q = x + y; f = p + q", {"x": x, "y": y}, output_gradient=seed,
                             intermediates=intermediates)
        np.testing.assert_array_equal(ev.gradients["x"], seed * y + seed)
        np.testing.assert_array_equal(ev.gradients["y"], seed * x + seed)
        assert seed.tobytes() == kept.tobytes()


@pytest.mark.parametrize("n", [1, 5, N])
def test_only_gradients_someone_asked_for_can_fail_and_every_kernel_agrees(n):
    # d f / d(the literal 3) = 6e310 is nobody's answer; d f / dk is, with intermediates
    x = np.full(n, 1e300) if n > 1 else 1e300
    ev = engine.evaluate("k = 2 * 3; f = k * x * 3", {"x": x}, output_gradient=1e10, intermediates=False)
    np.testing.assert_array_equal(ev.gradients["x"], np.full(n, 1.8e11) if n > 1 else 1.8e11)
    with pytest.raises(NonFiniteError) as err:
        engine.evaluate("k = 2 * 3; f = k * x * 3", {"x": x}, output_gradient=1e10)
    assert (err.value.node, err.value.kind) == ("k", "gradient")
    assert err.value.index == (0 if n > 1 else None)


def test_operands_that_share_an_adds_adjoint_row_get_exactly_its_adjoint():
    # p and q each feed only the add; r feeds it and another node; s = t - u shares with t
    x = np.linspace(-2, 2, N)
    y = np.linspace(1, 3, N)
    ev = engine.evaluate("p = x * y; q = exp(x); r = y * y; t = p + q + r; u = r * x; s = t - u; f = s * 2",
                         {"x": x, "y": y})
    np.testing.assert_array_equal(ev.gradients["t"], np.full(N, 2.0))
    np.testing.assert_array_equal(ev.gradients["p"], np.full(N, 2.0))
    np.testing.assert_array_equal(ev.gradients["q"], np.full(N, 2.0))
    np.testing.assert_array_equal(ev.gradients["u"], np.full(N, -2.0))
    np.testing.assert_allclose(ev.gradients["r"], 2.0 - 2.0 * x, rtol=1e-15, atol=0)
    np.testing.assert_allclose(ev.gradients["x"], 2 * y + 2 * np.exp(x) - 2 * y * y, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["y"], 2 * x + (2.0 - 2.0 * x) * 2 * y, rtol=1e-14, atol=1e-14)


def _closed_form(a, b, c, d):
    """f = (3ab)^2 + cd: value and the gradients of a, b, c, d, derived by hand."""
    u = 3.0 * a * b
    return u * u + c * d, 6.0 * u * b, 6.0 * u * a, d, c


@pytest.mark.parametrize("n", [5, 37, 2 * vm.BLOCK + 33, vm.STREAM_MIN_BYTES // 40 + 33])
def test_results_match_the_closed_form_whether_streamed_or_not(n):
    rng = np.random.default_rng(n)
    a, b, c, d = (rng.uniform(-2, 2, n) for _ in range(4))
    ev = engine.evaluate("(3*a*b)^2 + c*d", {"a": a, "b": b, "c": c, "d": d}, intermediates=False)
    rows = [ev.value] + [ev.gradients[x] for x in "abcd"]
    assert all(r.ctypes.data % 64 == 0 for r in rows)  # the largest n is streamed
    for got, want in zip(rows, _closed_form(a, b, c, d)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("misalign", [0, 8])
@pytest.mark.parametrize("stream", [False, True])
def test_the_kernel_writes_rows_at_any_8_byte_boundary_streamed_or_not(misalign, stream):
    # evaluate() always hands the kernel 64-byte aligned rows; this calls the kernel
    # directly with those and with rows 8 bytes off, which it must copy plainly even
    # when asked to stream
    n = 3 * vm.BLOCK + 17
    rng = np.random.default_rng(3)
    a, b, c, d = (rng.uniform(-2, 2, n) for _ in range(4))
    graph = engine.parse("(3*a*b)^2 + c*d")
    low = engine.lowering.lowered(graph)
    arr = low.arrays()
    stride = -(-n // 8) * 8 + 8  # whole 64-byte lines per row, and some padding to watch
    buf = np.full(5 * stride + 16, np.nan)
    first = (-buf.ctypes.data % 64) // 8 + misalign // 8
    out = buf[first:first + 5 * stride].reshape(5, stride)[:, :n]
    out_at = np.array([out[j].ctypes.data for j in range(5)], dtype=np.int64)
    inputs = [a, b, c, d]
    status = np.zeros((1, 2), dtype=np.int64)
    vm.run_batch(arr.code, low.forward_start, low.n_slots, arr.const_slots, arr.const_values,
                 arr.input_slots, np.array([x.ctypes.data for x in inputs], dtype=np.int64),
                 np.full(4, n, dtype=np.int64), low.output_slot, np.array([1.0]), arr.output_slots,
                 arr.input_slots, out_at, stream, n, 0, -(-n // vm.BLOCK), status[0])
    assert status.tolist() == [[0, 0]]
    for got, want in zip(out, _closed_form(a, b, c, d)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    # nothing was written outside the rows
    padding = buf[first:first + 5 * stride].reshape(5, stride)[:, n:]
    assert np.isnan(padding).all() and np.isnan(buf[:first]).all()


def test_rows_that_stay_fixed_across_blocks_are_checked_too():
    # a batch of one lane: its rows are filled once and checked once, not per block
    with pytest.raises(GraphError) as err:  # relu(nan) is 0: only the check sees the nan
        engine.evaluate("f = relu(y) + x", {"x": [1.5], "y": [np.nan]})
    assert err.value.path == "inputs.y[0]"
    with pytest.raises(GraphError) as err:
        engine.evaluate("f = x * y", {"x": [1.5], "y": 2.0}, output_gradient=[np.nan])
    assert err.value.path == "output_gradient[0]"
    ev = engine.evaluate("f = x * y", {"x": [1.5], "y": 2.0}, output_gradient=[-2.0])
    assert (ev.value.tolist(), ev.gradients["x"].tolist(), ev.gradients["y"].tolist()) == ([3.0], [-4.0], [-3.0])



THREE_OPERANDS = next(f for f in FUSIONS if f.arity == 3)


@pytest.mark.parametrize("opcode", [len(INSTRUCTIONS), THREE_OPERANDS.opcode],
                         ids=["past the table", f"{THREE_OPERANDS.name} without its third operand"])
def test_an_instruction_the_table_does_not_have_is_refused_not_run(opcode):
    # the sweeps are C functions, which cannot raise: they answer UNKNOWN_OPCODE, and the
    # kernel raises for them. A program of 4 columns has no third operand to read.
    low = engine.lowering.lowered(engine.parse("f = x * y"))
    arr = low.arrays()
    code = arr.code.copy()
    code[low.forward_start:, 0] = opcode
    x = np.ones(3)
    out = np.empty((3, 3))
    with pytest.raises(ValueError, match="unknown opcode"):
        vm.run_batch(code, low.forward_start, low.n_slots, arr.const_slots, arr.const_values,
                     arr.input_slots, np.array([x.ctypes.data] * 2, dtype=np.int64),
                     np.full(2, 3, dtype=np.int64), low.output_slot, np.array([1.0]),
                     arr.output_slots, arr.input_slots,
                     np.array([row.ctypes.data for row in out], dtype=np.int64), False, 3, 0, 1,
                     np.zeros(2, dtype=np.int64))
