"""Large work split across threads (engine.bulk.split): from many request threads at
once, under one_core, and in a forked child, against NumPy oracles."""

import multiprocessing
import threading

import numpy as np
import pytest

import engine
from engine import bulk
from engine.conv import conv1d, conv1d_backward, conv1d_many
from engine.conv import kernels as conv_kernels
from tests.engine.test_batch_kernel import _closed_form
from tests.engine.test_conv import reference_backward, reference_conv1d

THREADS = 8


def _chunks_seen(n, chunks):
    seen = []
    lock = threading.Lock()

    def work(k, lo, hi):
        with lock:
            seen.append((k, lo, hi, threading.current_thread().name))

    bulk.split(work, n, chunks)
    return sorted(seen)


def test_split_runs_each_chunk_once_and_the_chunks_cover_the_range_in_order():
    seen = _chunks_seen(103, 8)
    assert [(k, lo, hi) for k, lo, hi, _ in seen] == [(k, k * 103 // 8, (k + 1) * 103 // 8)
                                                      for k in range(8)]


def test_split_never_makes_more_chunks_than_items():
    assert [(k, lo, hi) for k, lo, hi, _ in _chunks_seen(3, 8)] == [(0, 0, 1), (1, 1, 2), (2, 2, 3)]


def test_one_core_runs_every_chunk_on_the_calling_thread():
    with bulk.one_core():
        seen = _chunks_seen(1000, 16)
    assert {name for *_, name in seen} == {threading.current_thread().name}
    assert len(seen) == 16


def test_an_exception_in_a_chunk_is_raised_by_split_after_every_chunk_ran():
    ran = []

    def work(k, lo, hi):
        ran.append(k)
        if k == 3:
            raise ZeroDivisionError("chunk 3")

    with pytest.raises(ZeroDivisionError, match="chunk 3"):
        bulk.split(work, 80, 8)
    assert sorted(ran) == list(range(8))


def test_a_bad_thread_count_setting_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(bulk.THREADS_ENV, "two")
    with pytest.raises(ValueError, match="GRADSHEET_KERNEL_THREADS"):
        bulk.threads()
    monkeypatch.setenv(bulk.THREADS_ENV, "3")
    assert bulk.threads() == 3


def _batch_case(rng):
    n = 60_000  # 60,000 lanes of 7 instructions: past vm.PARALLEL_MIN_WORK
    a, b, c, d = (rng.uniform(-2, 2, n) for _ in range(4))
    return {"a": a, "b": b, "c": c, "d": d}


def _check_batch(batch):
    ev = engine.evaluate("(3*a*b)^2 + c*d", batch, intermediates=False)
    want = _closed_form(batch["a"], batch["b"], batch["c"], batch["d"])
    for got, expected in zip([ev.value] + [ev.gradients[x] for x in "abcd"], want):
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)


def _check_ragged(rng):
    # many one-lane items and a few batched ones, together past vm.PARALLEL_MIN_WORK
    items = [("(3*a*b)^2 + c*d", {x: rng.uniform(-2, 2, 2000) for x in "abcd"}) for _ in range(12)]
    items += [("(3*a*b)^2 + c*d", {x: float(rng.uniform(-2, 2)) for x in "abcd"}) for _ in range(300)]
    for (_, inputs), ev in zip(items, engine.evaluate_many(items, intermediates=False)):
        want = _closed_form(*(np.asarray(inputs[x]) for x in "abcd"))
        for got, expected in zip([ev.value] + [ev.gradients[x] for x in "abcd"], want):
            np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)


def _conv_case(rng):
    x = rng.normal(size=(4, 8, 700))
    w = rng.normal(size=(6, 8, 7))
    b = rng.normal(size=6)
    gy = rng.normal(size=(4, 6, 350))
    return x, w, b, gy


def _check_conv(x, w, b, gy):
    y = conv1d(x, w, b, stride=2, padding=3)
    assert y.size * 8 * 7 >= conv_kernels.PARALLEL_MIN_WORK
    np.testing.assert_allclose(y, reference_conv1d(x, w, b, 2, 3, 1), rtol=1e-11, atol=1e-11)
    grads = conv1d_backward(x, w, gy, stride=2, padding=3)
    for got, want in zip(grads, reference_backward(x, w, gy, 2, 3, 1)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-10)
    return grads[1]


def _check_conv_many(rng):
    items = [(rng.normal(size=(2, 3, 40)), rng.normal(size=(4, 3, 5)), 1, 2) for _ in range(400)]
    for (x, w, S, P), result in zip(items, conv1d_many(items)):
        np.testing.assert_allclose(result.output, reference_conv1d(x, w, np.zeros(4), S, P, 1),
                                   rtol=1e-11, atol=1e-11)
        gx, gw, _ = reference_backward(x, w, np.ones(result.output.shape), S, P, 1)
        np.testing.assert_allclose(result.grad_input, gx, rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(result.grad_weight, gw, rtol=1e-11, atol=1e-10)


def test_large_evaluations_and_convolutions_from_eight_threads_at_once_match_their_oracles():
    rng = np.random.default_rng(14)
    batches = [_batch_case(rng) for _ in range(THREADS)]
    convs = [_conv_case(rng) for _ in range(THREADS)]
    # grad_weight sums one part per block of the batch: alone or in a crowd, one thread
    # or many, the parts and their order are the same, so the sum is the same bits
    alone = [conv1d_backward(x, w, gy, stride=2, padding=3)[1] for x, w, _, gy in convs]
    start = threading.Barrier(THREADS)
    failures, crowd = [], [None] * THREADS

    def request(t):
        try:
            local = np.random.default_rng(t)
            start.wait()
            for _ in range(2):
                if t % 4 == 3:  # the service's big lane, beside the others
                    with bulk.one_core():
                        crowd[t] = _check_conv(*convs[t])
                        _check_batch(batches[t])
                else:
                    crowd[t] = _check_conv(*convs[t])
                    _check_batch(batches[t])
                _check_ragged(local)
                _check_conv_many(local)
        except BaseException as exc:
            failures.append((t, exc))

    threads = [threading.Thread(target=request, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for t in range(THREADS):
        assert np.array_equal(crowd[t], alone[t]), t


def _evaluate_in_child(queue):
    rng = np.random.default_rng(5)
    batch = _batch_case(rng)
    try:
        _check_batch(batch)
        queue.put("ok")
    except BaseException as exc:
        queue.put(repr(exc))


def test_a_forked_child_splits_work_on_threads_of_its_own():
    _check_batch(_batch_case(np.random.default_rng(4)))  # this process's helpers exist
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_evaluate_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=120)
    child.join(timeout=30)
    assert (result, child.exitcode) == ("ok", 0)

