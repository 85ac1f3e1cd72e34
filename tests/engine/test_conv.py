"""conv1d, its gradients and conv1d_many, against an im2col reference and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.conv.api as api
import engine.conv.kernels as kernels
import engine.conv.many as many
from engine.conv import ConvResult, conv1d, conv1d_backward, conv1d_many
from engine.errors import ArgumentError, GraphError, NonFiniteError


# --- an independent oracle: im2col in NumPy --------------------------------------------

def reference_conv1d(x, w, b, S, P, D):
    """x [N, C_in, W], w [C_out, C_in, F], b [C_out] -> y [N, C_out, W_out], by im2col."""
    N, C_in, W = x.shape
    C_out, _, F = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (P, P)))
    Wo = (W + 2 * P - D * (F - 1) - 1) // S + 1
    idx = np.arange(Wo)[:, None] * S + np.arange(F)[None, :] * D  # [W_out, F]
    cols = xp[:, :, idx]                                          # [N, C_in, W_out, F]
    return np.einsum("ncof,dcf->ndo", cols, w) + b[None, :, None]


def reference_backward(x, w, gy, S, P, D):
    """Gradients of sum(y * gy) by im2col's adjoint: scatter the columns back."""
    N, C_in, W = x.shape
    C_out, _, F = w.shape
    Wo = gy.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (P, P)))
    idx = np.arange(Wo)[:, None] * S + np.arange(F)[None, :] * D
    cols = xp[:, :, idx]
    gw = np.einsum("ndo,ncof->dcf", gy, cols)
    gcols = np.einsum("ndo,dcf->ncof", gy, w)
    gxp = np.zeros_like(xp)
    np.add.at(gxp, (slice(None), slice(None), idx), gcols)
    return gxp[:, :, P:P + W], gw, gy.sum(axis=(0, 2))


def central_differences(f, a, eps=1e-6):
    """d f / d a, one element at a time: (f(a + eps) - f(a - eps)) / (2 eps)."""
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        up = f()
        a[i] = old - eps
        down = f()
        a[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


@st.composite
def problems(draw, max_width=14, max_channels=3):
    """A valid conv1d problem: arrays, geometry, and a grad_output."""
    S = draw(st.integers(1, 4))
    D = draw(st.integers(1, 3))
    F = draw(st.integers(1, 6))
    P = draw(st.integers(0, 4))
    span = D * (F - 1) + 1
    W = draw(st.integers(max(1, span - 2 * P), max(max_width, span - 2 * P)))
    N = draw(st.integers(1, 3))
    C_in = draw(st.integers(1, max_channels))
    C_out = draw(st.integers(1, max_channels))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, C_in, W))
    w = rng.normal(size=(C_out, C_in, F))
    b = rng.normal(size=C_out)
    Wo = (W + 2 * P - span) // S + 1
    gy = rng.normal(size=(N, C_out, Wo))
    return x, w, b, S, P, D, gy


# --- the worksheet ------------------------------------------------------------------

def test_width_10_filter_7_padding_3_stride_3_gives_four_outputs_centred_on_0_3_6_9():
    x = np.zeros(10)
    x[[0, 3, 6, 9]] = 1.0
    w = np.zeros(7)
    w[3] = 1.0  # a filter that picks the unit under its centre
    assert conv1d(x, w, stride=3, padding=3).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_same_padding_keeps_a_32_wide_input_32_wide_under_a_5_filter():
    y = conv1d(np.ones(32), np.ones(5), padding="same")
    assert y.shape == (32,)
    # Zero padding: the two units at each edge see fewer real inputs.
    assert y[:3].tolist() == [3.0, 4.0, 5.0]
    assert y[-3:].tolist() == [5.0, 4.0, 3.0]


def test_a_ones_filter_sums_each_window_of_the_input():
    x = np.arange(6.0)
    assert conv1d(x, np.ones(3)).tolist() == [3.0, 6.0, 9.0, 12.0]


def test_conv1d_is_cross_correlation_like_pytorch_not_flipped_convolution():
    assert conv1d(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0])).tolist() == [1.0]


# --- forward and backward against the oracle -----------------------------------------

@settings(max_examples=60, deadline=None)
@given(problems())
def test_forward_matches_im2col_for_any_shape_stride_padding_and_dilation(problem):
    x, w, b, S, P, D, _ = problem
    y = conv1d(x, w, b, stride=S, padding=P, dilation=D)
    np.testing.assert_allclose(y, reference_conv1d(x, w, b, S, P, D), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_backward_matches_im2col_adjoint_for_any_shape_stride_padding_and_dilation(problem):
    x, w, b, S, P, D, gy = problem
    gx, gw, gb = conv1d_backward(x, w, gy, stride=S, padding=P, dilation=D)
    rx, rw, rb = reference_backward(x, w, gy, S, P, D)
    np.testing.assert_allclose(gx, rx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, rw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, rb, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(problems(max_width=9, max_channels=2))
def test_every_gradient_matches_central_differences(problem):
    x, w, b, S, P, D, gy = problem
    gx, gw, gb = conv1d_backward(x, w, gy, stride=S, padding=P, dilation=D)

    def loss():
        return float((conv1d(x, w, b, stride=S, padding=P, dilation=D) * gy).sum())

    np.testing.assert_allclose(gx, central_differences(loss, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gw, central_differences(loss, w), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gb, central_differences(loss, b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("stride, padding, dilation", [(2, 3, 1), (1, 0, 1), (3, 5, 2)])
def test_large_problems_take_the_parallel_kernels_and_agree_with_the_oracle(
        stride, padding, dilation):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 8, 700))
    w = rng.normal(size=(6, 8, 7))
    b = rng.normal(size=6)
    y = conv1d(x, w, b, stride, padding, dilation)
    work = y.size * 8 * 7
    assert work >= kernels.PARALLEL_MIN_WORK
    np.testing.assert_allclose(y, reference_conv1d(x, w, b, stride, padding, dilation),
                               rtol=1e-11, atol=1e-11)
    gy = rng.normal(size=y.shape)
    for got, want in zip(conv1d_backward(x, w, gy, stride, padding, dilation),
                         reference_backward(x, w, gy, stride, padding, dilation)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-10)


def test_serial_and_parallel_kernels_give_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(3, 4, 50)), rng.normal(size=(5, 4, 5))
    gy = rng.normal(size=(3, 5, 24))
    monkeypatch.setattr(api, "PARALLEL_MIN_WORK", 0)
    parallel = (conv1d(x, w, None, 2, 1), *conv1d_backward(x, w, gy, 2, 1))
    monkeypatch.setattr(api, "PARALLEL_MIN_WORK", 1 << 62)
    serial = (conv1d(x, w, None, 2, 1), *conv1d_backward(x, w, gy, 2, 1))
    for a, b in zip(parallel, serial):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


# --- rank conventions, bias, dtypes ---------------------------------------------------

def test_output_keeps_the_callers_rank_for_1d_2d_and_3d_inputs():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 12))
    w = rng.normal(size=(4, 3, 3))
    y3 = conv1d(x, w, stride=2, padding=1)
    assert y3.shape == (2, 4, 6)
    np.testing.assert_allclose(conv1d(x[1], w, stride=2, padding=1), y3[1], rtol=1e-14)
    y1 = conv1d(x[0, 0], w[0, 0], stride=2, padding=1)
    assert y1.shape == (6,)
    np.testing.assert_allclose(y1, conv1d(x[0, :1], w[:1, :1], stride=2, padding=1)[0])
    gx, gw, gb = conv1d_backward(x[0, 0], w[0, 0], np.ones(6), stride=2, padding=1)
    assert gx.shape == (12,) and gw.shape == (3,) and isinstance(gb, float) and gb == 6.0
    gx, gw, gb = conv1d_backward(x[1], w, np.ones((4, 6)), stride=2, padding=1)
    assert gx.shape == (3, 12) and gw.shape == (4, 3, 3) and gb.tolist() == [6.0] * 4


def test_a_1d_filter_works_on_single_channel_2d_and_3d_inputs():
    x = np.arange(10.0).reshape(2, 1, 5)
    y = conv1d(x, np.array([1.0, -1.0]))
    assert y.shape == (2, 1, 4)
    assert np.all(y == -1.0)


def test_bias_is_added_to_every_output_of_its_channel():
    x = np.zeros((1, 2, 5))
    w = np.ones((3, 2, 3))
    y = conv1d(x, w, bias=[1.0, 2.0, 3.0])
    assert y[0].tolist() == [[1.0] * 3, [2.0] * 3, [3.0] * 3]
    assert conv1d(np.zeros(4), np.ones(2), bias=0.5).tolist() == [0.5] * 3


def test_lists_integers_and_non_contiguous_arrays_are_accepted_as_float64():
    x = np.arange(20, dtype=np.int32)[::2]  # strided view, ints
    y = conv1d(x.tolist(), [1, 1], stride=1)
    assert y.dtype == np.float64
    assert y.tolist() == conv1d(np.ascontiguousarray(x, dtype=float), np.ones(2)).tolist()
    xf = np.asfortranarray(np.arange(12.0).reshape(1, 3, 4).transpose(0, 1, 2))
    assert conv1d(xf, np.ones((1, 3, 2))).shape == (1, 1, 3)


def test_valid_padding_is_zero_padding():
    x = np.arange(8.0)
    assert conv1d(x, np.ones(3), padding="valid").tolist() == conv1d(x, np.ones(3)).tolist()


def test_each_kernel_compiles_exactly_one_signature_whatever_the_shapes_and_dtypes():
    rng = np.random.default_rng(4)
    calls = [
        (rng.normal(size=9), rng.normal(size=3), 1, 0, 1),
        (np.arange(9), [1, 2], 2, 1, 1),
        (rng.normal(size=(2, 11)).T.copy().T, rng.normal(size=(3, 2, 3)), 3, 2, 2),
        (rng.normal(size=(2, 8, 300)), rng.normal(size=(8, 8, 7)), 2, 3, 1),
        (rng.normal(size=(1, 1, 5)).astype(np.float32), np.ones((1, 1, 5)), 1, "same", 1),
    ]
    for x, w, S, P, D in calls:
        y = conv1d(x, w, None, S, P, D)
        conv1d_backward(x, w, np.ones_like(y), S, P, D)
        conv1d_many([(x, w, S, P), dict(x=x, w=w, stride=S, padding=P, dilation=D,
                                         grad_output=np.ones_like(y), bias=None)])
    drivers = [kernels.pack, kernels.forward, kernels.backward, kernels.many_items]
    counts = {k.__name__: len(k.signatures) for k in drivers}
    assert counts == {k.__name__: 1 for k in drivers}


# --- conv1d_many -------------------------------------------------------------------

@st.composite
def many_items(draw):
    """A mixed batch: 4- and 5-tuples and dicts, 1-D and multi-channel, 'same' padding."""
    count = draw(st.integers(1, 12))
    items = []
    for _ in range(count):
        x, w, b, S, P, D, gy = draw(problems(max_width=12, max_channels=2))
        kind = draw(st.sampled_from(["1d4", "1d5", "3d4", "2d5", "dict"]))
        if kind in ("1d4", "1d5"):
            x, w, gy, D = x[0, 0], w[0, 0], None, 1
            span = w.size
            if span > x.size + 2 * P:
                P = span
            if kind == "1d5":
                Wo = (x.size + 2 * P - span) // S + 1
                gy = np.linspace(-1, 1, Wo)
            items.append((x, w, S, P) if gy is None else (x, w, S, P, gy))
        elif kind == "3d4":
            D = 1
            if w.shape[2] > x.shape[2] + 2 * P:
                P = w.shape[2]
            items.append((x, w, S, P))
        elif kind == "2d5":
            D, S = 1, 1
            if w.shape[2] % 2 == 0:
                w = w[:, :, 1:]
            y = reference_conv1d(x[:1], w, np.zeros(w.shape[0]), 1, (w.shape[2] - 1) // 2, 1)
            items.append((x[0], w, 1, "same", np.cos(y[0])))
        else:
            items.append(dict(x=x, w=w, bias=b, stride=S, padding=P, dilation=D,
                              grad_output=gy))
    return items


def one_by_one(item):
    """conv1d and conv1d_backward on one conv1d_many item."""
    if isinstance(item, dict):
        x, w, b, S, P = item["x"], item["w"], item["bias"], item["stride"], item["padding"]
        D, gy = item["dilation"], item["grad_output"]
    else:
        x, w, S, P, *rest = item
        b, D, gy = None, 1, rest[0] if rest else None
    y = conv1d(x, w, b, S, P, D)
    grads = conv1d_backward(x, w, np.ones_like(y) if gy is None else gy, S, P, D)
    return y, *grads


@settings(max_examples=60, deadline=None)
@given(many_items())
def test_conv1d_many_equals_conv1d_one_by_one(items):
    results = conv1d_many(items)
    assert len(results) == len(items)
    for item, result in zip(items, results):
        assert isinstance(result, ConvResult)
        y, gx, gw, gb = one_by_one(item)
        for got, want in [(result.output, y), (result.grad_input, gx),
                          (result.grad_weight, gw), (result.grad_bias, gb)]:
            assert np.shape(got) == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv1d_many_without_grad_output_gives_gradients_of_the_sum_of_outputs():
    (r,) = conv1d_many([(np.arange(5.0), np.array([1.0, 2.0]), 1, 0)])
    assert r.output.tolist() == [2.0, 5.0, 8.0, 11.0]
    assert r.grad_weight.tolist() == [0 + 1 + 2 + 3, 1 + 2 + 3 + 4]
    assert r.grad_input.tolist() == [1.0, 3.0, 3.0, 3.0, 2.0]
    assert r.grad_bias == 4.0


def test_conv1d_many_takes_thousands_of_worksheet_problems_in_one_call():
    rng = np.random.default_rng(5)
    items = []
    while len(items) < 3000:
        W, F = int(rng.integers(5, 33)), int(rng.choice([1, 3, 5, 7]))
        S, P = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        if F <= W + 2 * P:
            items.append((rng.normal(size=W), rng.normal(size=F), S, P))
    results = conv1d_many(items)
    for i in range(0, 3000, 97):
        x, w, S, P = items[i]
        np.testing.assert_allclose(results[i].output, conv1d(x, w, stride=S, padding=P),
                                   rtol=1e-13, atol=1e-13)
        gx, gw, gb = conv1d_backward(x, w, np.ones_like(results[i].output), S, P)
        np.testing.assert_allclose(results[i].grad_input, gx, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(results[i].grad_weight, gw, rtol=1e-13, atol=1e-13)


def test_conv1d_many_names_a_bad_item_by_its_place_in_the_whole_list():
    items = [(np.ones(8), np.ones(3), 1, 0)] * (many.MANY_CHUNK + 500)
    items[many.MANY_CHUNK + 17] = (np.ones(8), np.ones(3), 1, -1)
    with pytest.raises(ValueError, match=rf"^items\[{many.MANY_CHUNK + 17}\]\.padding: "):
        conv1d_many(items)


def test_conv1d_many_of_nothing_is_nothing():
    assert conv1d_many([]) == []
    assert conv1d_many(iter([])) == []


def test_conv1d_many_accepts_a_generator_and_list_items():
    results = conv1d_many(([np.ones(4), np.ones(2), 2, 0] for _ in range(3)))
    assert [r.output.tolist() for r in results] == [[2.0, 2.0]] * 3


def test_conv1d_many_results_index_like_a_list_across_chunks():
    rng = np.random.default_rng(11)
    count = many.MANY_CHUNK + 3
    items = [(rng.normal(size=6), rng.normal(size=3), 1, 1) for _ in range(count)]
    results = conv1d_many(items)
    assert len(results) == count
    for i in (0, many.MANY_CHUNK - 1, many.MANY_CHUNK, -1, -count):
        x, w, S, P = items[i]
        np.testing.assert_allclose(results[i].output, reference_conv1d(
            x[None, None], w[None, None], np.zeros(1), S, P, 1)[0, 0], rtol=1e-13, atol=1e-13)
    assert [r.output.tolist() for r in results[-3:]] == [results[i].output.tolist()
                                                       for i in range(count - 3, count)]
    assert sum(1 for _ in results) == count
    with pytest.raises(IndexError, match=f"index {count} out of range for {count} items"):
        results[count]
    with pytest.raises(IndexError):
        results[-count - 1]


@pytest.mark.parametrize("make_x", [
    lambda x: x.astype(np.float32),                       # another dtype: converted
    lambda x: np.repeat(x, 2)[::2],                       # a strided view: copied
    lambda x: x.tolist(),                                 # a plain list
    lambda x: x.reshape(1, -1),                           # [C_in, W]: a 2-D item
    lambda x: x.reshape(-1, 1).T.copy(),                  # [1, W] again, but contiguous
], ids=["float32", "strided", "list", "2d", "2d-contiguous"])
def test_conv1d_many_reads_unusual_arrays_as_conv1d_does(make_x):
    rng = np.random.default_rng(12)
    plain = [(rng.normal(size=9), rng.normal(size=3), 2, 1) for _ in range(5)]
    odd = (make_x(rng.normal(size=7)), rng.normal(size=3), 1, 2)
    items = plain[:2] + [odd] + plain[2:]
    results = conv1d_many(items)
    for item, result in zip(items, results):
        y, gx, gw, gb = one_by_one(item)
        np.testing.assert_allclose(result.output, y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(result.grad_input, gx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(result.grad_weight, gw, rtol=1e-12, atol=1e-12)
        assert np.shape(result.grad_input) == np.shape(item[0])


# --- mistakes ------------------------------------------------------------------------

GOOD_X, GOOD_W = np.ones((1, 2, 6)), np.ones((3, 2, 3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.ones((1, 2, 0))), "x: is empty (shape (1, 2, 0))"),
    (dict(w=np.ones((3, 2, 0))), "w: is empty (shape (3, 2, 0))"),
    (dict(x=[]), "x: is empty (shape (0,))"),
    (dict(x=np.array([[[0, 0, 0, np.nan, 0, 0]] * 2])), "x[0, 0, 3]: is nan; values must be finite"),
    (dict(w=np.full((3, 2, 3), np.inf)), "w[0, 0, 0]: is inf; values must be finite"),
    (dict(x=np.ones((1, 1, 2, 6))), "x: must be [W], [C_in, W] or [N, C_in, W], got 4 dimensions"),
    (dict(w=np.ones((2, 3))), "w: must be [F] or [C_out, C_in, F], got 2 dimensions"),
    (dict(x=np.ones(6)), "x: a 1-D input [W] goes with a 1-D filter [F]"),
    (dict(w=np.ones((3, 4, 3))), "w: expects 4 input channel(s) (shape (3, 4, 3)) but x has 2"),
    (dict(w=np.ones((3, 2, 9)), padding=1),
     "w: filter of size 9 is wider than the padded input (width 6 + 2*1 padding = 8)"),
    (dict(stride=True), "stride: must be a whole number, not True"),
    (dict(stride=0), "stride: must be at least 1, not 0"),
    (dict(stride=1.5), "stride: must be a whole number, not 1.5"),
    (dict(padding=-1), "padding: must be 0 or more, not -1"),
    (dict(padding="full"), "padding: must be a whole number >= 0, 'same' or 'valid'"),
    (dict(w=np.ones((3, 2, 4)), padding="same"), "padding: 'same' has no whole-number answer"),
    (dict(dilation=0), "dilation: must be at least 1, not 0"),
    (dict(bias=np.ones(2)), "bias: must be shape (3,), one per output channel, got shape (2,)"),
    (dict(bias=[1.0, np.nan, 1.0]), "bias[1]: is nan"),
    (dict(x=np.ones((1, 2, 6), dtype=bool)), "x: must hold real numbers, not booleans"),
    (dict(x=[["a"] * 6] * 2), "x: must hold real numbers, not <U1 values"),
    (dict(x=[[1.0, 2.0], [1.0]]), "x: not a rectangular array of numbers"),
    (dict(w=np.ones((3, 2, 3), dtype=complex)), "w: must hold real numbers, not complex128"),
])
def test_conv1d_refuses_bad_arguments_naming_the_argument(kwargs, message):
    args = dict(x=GOOD_X, w=GOOD_W, bias=None, stride=1, padding=0, dilation=1)
    args.update(kwargs)
    with pytest.raises(ValueError) as err:
        conv1d(**args)
    assert str(err.value).startswith(message)


def test_a_1d_filter_takes_one_number_as_bias():
    with pytest.raises(ValueError, match=r"bias: must be one number, got shape \(2,\)"):
        conv1d(np.ones(5), np.ones(3), bias=[1.0, 2.0])


@pytest.mark.parametrize("grad_output, message", [
    (np.ones((1, 3, 5)), "grad_output: must have the output's shape (1, 3, 4), got (1, 3, 5)"),
    (np.full((1, 3, 4), np.nan), "grad_output[0, 0, 0]: is nan"),
    (np.ones((1, 3, 0)), "grad_output: is empty"),
])
def test_conv1d_backward_refuses_a_grad_output_that_does_not_fit(grad_output, message):
    with pytest.raises(ValueError) as err:
        conv1d_backward(GOOD_X, GOOD_W, grad_output)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("items, message", [
    ([(np.ones(5), np.ones(3), 1)], "items[0]: must be (x, w, stride, padding) or "
                                     "(x, w, stride, padding, grad_output), got 3 elements"),
    ([(np.ones(5), np.ones(3), 1, 0), "x"], "items[1]: must be a tuple"),
    ([dict(x=np.ones(5), w=np.ones(3), strides=2)], "items[0]: unknown key(s) ['strides']"),
    ([dict(x=np.ones(5))], "items[0]: missing 'w'"),
    ([(np.ones(5), np.ones(3), 1, 0), (np.ones(5), np.ones(9), 1, 0)],
     "items[1].w: filter of size 9 is wider than the padded input (width 5 + 2*0 padding = 5)"),
    ([(np.ones(5), np.ones(3), 1, 0), (np.ones(5), np.ones(3), 0, 0)],
     "items[1].stride: must be at least 1, not 0"),
    ([(np.ones(5), np.ones(3), True, 0)], "items[0].stride: must be a whole number, not True"),
    ([(np.ones(5), np.ones(3), 1, -2)], "items[0].padding: must be 0 or more, not -2"),
    ([(np.ones(5), np.ones(4), 1, "same")], "items[0].padding: 'same' has no whole-number"),
    ([(np.ones(5), np.ones(3), 1, 0), (np.array([1.0, np.inf]), np.ones(1), 1, 0)],
     "items[1].x[1]: is inf"),
    ([(np.ones(5), np.array([np.nan]), 1, 0)], "items[0].w[0]: is nan"),
    ([(np.ones(0), np.ones(1), 1, 0)], "items[0].x: is empty"),
    ([(np.ones(5), np.ones(3), 1, 0, np.ones(4))],
     "items[0].grad_output: must have the output's shape (3,), got (4,)"),
    ([(np.ones(5), np.ones(3), 1, 0, [1.0, np.nan, 1.0])], "items[0].grad_output[1]: is nan"),
    ([(np.ones((2, 5)), np.ones((1, 3, 3)), 1, 0)],
     "items[0].w: expects 3 input channel(s) (shape (1, 3, 3)) but x has 2"),
    ([(np.ones(5), np.ones((1, 1, 3)), 1, 0)],
     "items[0].x: a 1-D input [W] goes with a 1-D filter [F]"),
    ([(np.ones(5, dtype=bool), np.ones(3), 1, 0)], "items[0].x: must hold real numbers"),
    ([dict(x=np.ones(5), w=np.ones(3), bias=[1.0, 2.0])], "items[0].bias: must be one number"),
    ([dict(x=np.ones(5), w=np.ones(3), dilation=0)],
     "items[0].dilation: must be at least 1, not 0"),
])
def test_conv1d_many_names_the_item_at_fault(items, message):
    with pytest.raises(ValueError) as err:
        conv1d_many(items)
    assert str(err.value).startswith(message)


# --- errors as data: what is wrong in `message`, where in `path` --------------------

def _x_with_nan_at_0_1_2():
    x = np.ones((1, 2, 6))
    x[0, 1, 2] = np.nan
    return x


@pytest.mark.parametrize("kwargs, argument, position, path, text", [
    (dict(x=_x_with_nan_at_0_1_2()), "x", (0, 1, 2), "x[0][1][2]",
     "x[0, 1, 2]: is nan; values must be finite"),
    (dict(w=np.ones((3, 2, 3, 1))), "w", None, "w",
     "w: must be [F] or [C_out, C_in, F], got 4 dimensions (shape (3, 2, 3, 1))"),
    (dict(stride=0), "stride", None, "stride", "stride: must be at least 1, not 0"),
    (dict(padding="full"), "padding", None, "padding",
     "padding: must be a whole number >= 0, 'same' or 'valid', not 'full'"),
    (dict(bias=[1.0, 1.0, np.inf]), "bias", (2,), "bias[2]", "bias[2]: is inf; values must be finite"),
])
def test_conv1d_errors_carry_the_argument_and_the_element_as_data(kwargs, argument, position,
                                                                   path, text):
    args = dict(x=GOOD_X, w=GOOD_W, bias=None, stride=1, padding=0, dilation=1)
    args.update(kwargs)
    with pytest.raises(GraphError) as err:
        conv1d(**args)
    e = err.value
    assert isinstance(e, ArgumentError)
    assert (e.argument, e.position, e.path, str(e)) == (argument, position, path, text)
    assert text.endswith(e.message)  # the message says what; the path says where


def test_conv1d_backward_locates_a_bad_grad_output_element():
    gy = np.ones((1, 3, 4))
    gy[0, 2, 1] = -np.inf
    with pytest.raises(ArgumentError) as err:
        conv1d_backward(GOOD_X, GOOD_W, gy)
    assert (err.value.path, err.value.position) == ("grad_output[0][2][1]", (0, 2, 1))
    assert err.value.message == "is -inf; values must be finite"


@pytest.mark.parametrize("bad, path", [
    (dict(x=_x_with_nan_at_0_1_2()), "items[1].x[0][1][2]"),
    (dict(w=np.ones((3, 2, 3, 1))), "items[1].w"),
    (dict(stride=0), "items[1].stride"),
    (dict(padding=-1), "items[1].padding"),
    (dict(grad_output=np.ones((1, 3, 5))), "items[1].grad_output"),
])
def test_conv1d_many_errors_carry_the_item_and_the_element_as_data(bad, path):
    good = dict(x=GOOD_X, w=GOOD_W, stride=1, padding=0)
    items = [good, {**good, **bad}, good]
    with pytest.raises(ArgumentError) as err:
        conv1d_many(items)
    assert err.value.path == path
    assert str(err.value).startswith(str(err.value.argument))


def test_a_tuple_item_with_a_nan_names_the_element_by_its_place_in_the_list():
    items = [(np.ones(5), np.ones(3), 1, 0)] * 3
    items[2] = (np.array([1.0, 2.0, 3.0, np.nan, 5.0]), np.ones(3), 1, 0)
    with pytest.raises(ArgumentError) as err:
        conv1d_many(items)
    assert (err.value.argument, err.value.position, err.value.path) == ("items[2].x", (3,),
                                                                         "items[2].x[3]")


def test_an_output_that_overflows_float64_is_a_non_finite_error_naming_the_element():
    # y = [1 * 1e200, 1e200 * 1e200, 2 * 1e200]: only the middle one overflows.
    with pytest.raises(NonFiniteError) as err:
        conv1d(np.array([1.0, 1e200, 2.0]), np.array([1e200]))
    e = err.value
    assert (e.node, e.kind, e.index, e.position) == ("output", "value", None, (1,))
    assert e.message == "output[1] is inf: the numbers are too large for float64"


def test_a_gradient_that_overflows_float64_is_named_with_its_element():
    # grad_input = w * g stays finite; grad_weight = sum x * g = 1e200 * 1e200 + ... overflows.
    x, w, gy = np.array([1e200, 1.0, 2.0]), np.array([1.0]), np.array([1e200, 1e200, 1.0])
    with pytest.raises(NonFiniteError) as err:
        conv1d_backward(x, w, gy)
    assert (err.value.node, err.value.kind, err.value.position) == ("grad_weight", "gradient", (0,))


def test_conv1d_many_names_the_first_item_whose_results_overflow_and_the_element():
    x = np.zeros((1, 2, 3))
    x[0, 1, 2] = 1e200
    items = [(np.ones(4), np.ones(2), 1, 0),
             dict(x=x, w=np.full((2, 2, 1), 1e200)),    # y[0, :, 2] = 1e200 * 1e200
             (np.array([1.0, 1e200, 2.0]), np.array([1e200]), 1, 0)]
    with pytest.raises(NonFiniteError) as err:
        conv1d_many(items)
    e = err.value
    assert (e.node, e.kind, e.position) == ("items[1].output", "value", (0, 0, 2))


def test_conv1d_many_names_an_earlier_items_gradient_before_a_later_items_output():
    items = [(np.array([1e200, 1.0]), np.array([1.0]), 1, 0, np.array([1e200, 1e200])),
             (np.array([1.0, 1e200, 2.0]), np.array([1e200]), 1, 0, np.ones(3))]
    with pytest.raises(NonFiniteError) as err:
        conv1d_many(items)
    assert (err.value.node, err.value.position) == ("items[0].grad_weight", (0,))


@settings(max_examples=40, deadline=None)
@given(many_items())
def test_packed_results_hold_what_the_per_item_results_hold(items):
    results = conv1d_many(items)
    packed = results.packed()
    assert len(packed) == len(items)
    for k, result in enumerate(results):
        got = packed.item(k)
        for name in ("output", "grad_input", "grad_weight"):
            assert np.shape(getattr(got, name)) == np.shape(getattr(result, name))
            assert np.array_equal(getattr(got, name), getattr(result, name))
        assert np.array_equal(got.grad_bias, result.grad_bias)
        assert np.array_equal(packed.output[packed.output_at[k]:packed.output_at[k + 1]],
                              np.ravel(result.output))


def test_packed_problems_in_and_out_match_the_im2col_oracle_across_chunks():
    rng = np.random.default_rng(5)
    count = many.MANY_CHUNK + 300
    W = rng.integers(5, 33, count)
    F = rng.choice([1, 3, 5, 7], count)
    P = rng.integers(0, 4, count)
    S = rng.integers(1, 4, count)
    P = np.maximum(P, (F - W + 1) // 2)  # every filter fits its padded input
    x, w = rng.normal(size=W.sum()), rng.normal(size=F.sum())
    x_at, w_at = np.concatenate([[0], np.cumsum(W)]), np.concatenate([[0], np.cumsum(F)])
    out = many.conv1d_packed(x, x_at, w, w_at, S, P)
    listed = conv1d_many([(x[x_at[i]:x_at[i + 1]], w[w_at[i]:w_at[i + 1]], int(S[i]), int(P[i]))
                          for i in range(count)]).packed()
    for name in ("output", "output_at", "grad_input", "grad_input_at", "grad_weight", "grad_weight_at",
                 "grad_bias", "grad_bias_at"):
        assert np.array_equal(getattr(out, name), getattr(listed, name)), name
    for i in (0, 1, many.MANY_CHUNK - 1, many.MANY_CHUNK, count - 1):
        xi, wi = x[x_at[i]:x_at[i + 1]].reshape(1, 1, -1), w[w_at[i]:w_at[i + 1]].reshape(1, 1, -1)
        y = reference_conv1d(xi, wi, np.zeros(1), int(S[i]), int(P[i]), 1)
        gx, gw, gb = reference_backward(xi, wi, np.ones_like(y), int(S[i]), int(P[i]), 1)
        result = out[i]
        np.testing.assert_allclose(result.output, y[0, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(result.grad_input, gx[0, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(result.grad_weight, gw[0, 0], rtol=1e-12, atol=1e-12)
        assert result.grad_bias == pytest.approx(gb[0])


@pytest.mark.parametrize("kwargs, argument, message", [
    (dict(x_at=[0, 4, 9]), "x_at", "must run from 0 to the array's length 10"),
    (dict(x_at=[0, 0, 10]), "x_at", "makes problem 0 empty"),
    (dict(w=np.ones(3), w_at=[0, 3]), "w_at", "has 1 problems but x_at has 2"),
    (dict(stride=[1, 0]), "items[1].stride", ""),
    (dict(padding=0, w=np.ones(6), w_at=[0, 3, 6], x_at=[0, 2, 10]), "items[0].w", "wider"),
    (dict(grad_output=np.ones(3)), "grad_output", "has 3 numbers"),
])
def test_packed_problems_name_what_is_wrong(kwargs, argument, message):
    args = dict(x=np.ones(10), x_at=[0, 5, 10], w=np.ones(6), w_at=[0, 3, 6], stride=1, padding=1)
    args.update(kwargs)
    with pytest.raises(ArgumentError) as caught:
        many.conv1d_packed(**args)
    assert caught.value.argument == argument and message in str(caught.value)
