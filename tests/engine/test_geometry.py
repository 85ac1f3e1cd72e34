"""Filter geometry: the worksheet's CNN-filter questions, and PyTorch's output-size formula."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.conv.geometry import ConvGeometry, conv_geometry, resolve_geometry, same_padding
from engine.errors import ArgumentError


def brute_force_output_size(W, F, P, S, D):
    """Count window positions by sliding the filter's span over the padded input."""
    span = D * (F - 1) + 1
    count, start = 0, 0
    while start + span <= W + 2 * P:
        count += 1
        start += S
    return count


# --- the worksheet's numbers -------------------------------------------------------

def test_width_10_filter_7_padding_3_stride_3_gives_four_outputs_centred_on_0_3_6_9():
    g = conv_geometry(10, 7, padding=3, stride=3)
    assert g.output_size == 4
    assert g.exact is True
    assert g.centers == [0, 3, 6, 9]
    assert g.padding == 3
    assert g.padded_width == 16


def test_worksheet_formula_is_written_out_with_its_numbers():
    assert conv_geometry(10, 7, 3, 3).formula == "(10 - 7 + 2*3)/3 + 1 = 4"


def test_worksheet_windows_start_in_the_left_padding_and_end_in_the_right_padding():
    g = conv_geometry(10, 7, 3, 3)
    assert g.windows == [[-3, 3], [0, 6], [3, 9], [6, 12]]
    assert g.unvisited == []


def test_width_32_filter_5_stride_1_keeps_its_width_with_padding_2():
    g = conv_geometry(32, 5, padding="same", stride=1)
    assert g.padding == 2
    assert g.output_size == 32
    assert g.formula == "(32 - 5 + 2*2)/1 + 1 = 32"


def test_positional_arguments_follow_width_filter_padding_stride():
    assert conv_geometry(32, 5, "same", 1).padding == 2


# --- exactness and unvisited units ---------------------------------------------------

def test_width_12_filter_7_stride_3_without_padding_never_visits_the_last_two_units():
    g = conv_geometry(12, 7, padding=0, stride=3)
    assert g.output_size == 2
    assert g.exact is False
    assert g.unvisited == [10, 11]
    assert g.formula == "floor((12 - 7 + 2*0)/3) + 1 = 2"


def test_width_11_filter_7_padding_3_stride_3_drops_only_a_padding_unit():
    g = conv_geometry(11, 7, padding=3, stride=3)
    assert (g.output_size, g.exact) == (4, False)
    assert g.unvisited == [13]  # index >= width: a padding cell


def test_stride_longer_than_the_filter_skips_units_between_windows():
    g = conv_geometry(10, 1, padding=0, stride=3)
    assert g.output_size == 4
    assert g.unvisited == [1, 2, 4, 5, 7, 8]


def test_dilation_2_filter_3_spans_5_units_and_reads_every_other_one():
    g = conv_geometry(10, 3, padding=0, stride=1, dilation=2)
    assert g.effective_filter_size == 5
    assert g.output_size == 6
    assert g.windows[0] == [0, 4]
    assert g.centers[0] == 2
    assert g.formula == "(10 - 2*(3 - 1) - 1 + 2*0)/1 + 1 = 6"


def test_even_filter_centre_is_the_left_one_of_the_two_middle_units():
    g = conv_geometry(8, 4, padding=0, stride=2)
    assert g.windows == [[0, 3], [2, 5], [4, 7]]
    assert g.centers == [1, 3, 5]


def test_valid_padding_means_no_padding():
    assert conv_geometry(10, 3, "valid").padding == 0


def test_integral_floats_and_numpy_integers_are_whole_numbers():
    g = conv_geometry(10.0, np.int64(7), np.int32(3), 3.0)
    assert (g.width, g.filter_size, g.padding, g.stride) == (10, 7, 3, 3)
    assert all(type(v) is int for v in (g.width, g.filter_size, g.padding, g.stride))


# --- 'same' padding ---------------------------------------------------------------

@pytest.mark.parametrize("F", [1, 3, 5, 7, 9])
def test_same_padding_for_an_odd_filter_with_stride_1_is_half_of_filter_minus_one(F):
    assert conv_geometry(20, F, "same").padding == (F - 1) // 2


def test_even_filter_with_stride_1_has_no_same_padding_and_the_error_says_both_neighbours():
    with pytest.raises(ValueError) as err:
        conv_geometry(10, 4, "same", 1)
    message = str(err.value)
    assert message.startswith("padding: 'same' has no whole-number answer")
    assert "2*P = 3, which is odd" in message
    assert "Padding 1 gives 9 outputs and padding 2 gives 11" in message


def test_same_padding_with_stride_2_is_the_smallest_that_keeps_the_width():
    g = conv_geometry(10, 3, "same", 2)
    assert g.output_size == 10
    assert g.padding == 6
    assert conv_geometry(10, 3, g.padding - 1, 2).output_size < 10


@settings(max_examples=60, deadline=None)
@given(W=st.integers(1, 40), F=st.integers(1, 9), S=st.integers(1, 4), D=st.integers(1, 3))
def test_same_padding_is_the_smallest_that_keeps_the_width_or_says_none_exists(W, F, S, D):
    try:
        P = same_padding(W, F, S, D)
    except ValueError as exc:
        assert S == 1 and D * (F - 1) % 2 == 1, exc
        return
    assert brute_force_output_size(W, F, P, S, D) == W
    if P > 0:
        assert brute_force_output_size(W, F, P - 1, S, D) != W


# --- the formula against a brute-force count ------------------------------------

@settings(max_examples=60, deadline=None)
@given(W=st.integers(1, 40), F=st.integers(1, 9), P=st.integers(0, 5), S=st.integers(1, 5),
       D=st.integers(1, 3))
def test_output_size_counts_the_windows_that_fit_in_the_padded_input(W, F, P, S, D):
    span = D * (F - 1) + 1
    if span > W + 2 * P:
        with pytest.raises(ValueError, match="wider than the padded input"):
            conv_geometry(W, F, P, S, D)
        return
    g = conv_geometry(W, F, P, S, D)
    assert g.output_size == brute_force_output_size(W, F, P, S, D)
    assert g.exact == ((W + 2 * P - span) % S == 0)
    assert [first for first, _ in g.windows] == [o * S - P for o in range(g.output_size)]
    assert all(last - first + 1 == span for first, last in g.windows)
    assert all(first <= c <= last for c, (first, last) in zip(g.centers, g.windows))
    visited = {first + k * D for first, _ in g.windows for k in range(F)}
    assert g.unvisited == [i for i in range(-P, W + P) if i not in visited]
    if g.exact and D == 1 and S <= F:
        assert g.unvisited == []


# --- JSON for the REST service ------------------------------------------------------

def test_geometry_turns_into_json_with_plain_ints_and_lists():
    g = conv_geometry(10, 7, 3, 3)
    assert isinstance(g, ConvGeometry)
    d = g.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {"output_size", "exact", "padding", "padded_width", "windows", "centers",
            "formula"} <= set(d)
    assert d["windows"] == [[-3, 3], [0, 6], [3, 9], [6, 12]]


def test_geometry_is_frozen():
    g = conv_geometry(10, 7, 3, 3)
    with pytest.raises(AttributeError):
        g.padding = 2


# --- mistakes a student makes -------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ((0, 3), "width: must be at least 1, not 0"),
    ((10, 0), "filter_size: must be at least 1, not 0"),
    ((10, 3, 0, 0), "stride: must be at least 1, not 0"),
    ((10, 3, 0, 1, 0), "dilation: must be at least 1, not 0"),
    ((10, 3, -1), "padding: must be 0 or more, not -1"),
    ((10.5, 3), "width: must be a whole number, not 10.5"),
    ((10, True), "filter_size: must be a whole number, not True"),
    ((10, 3, 0, "2"), "stride: must be a whole number, not '2'"),
    ((10, 3, float("nan")), "padding: must be a whole number, not nan"),
    ((10, 3, "full"), "padding: must be a whole number >= 0, 'same' or 'valid', not 'full'"),
    ((5, 9, 1), "filter_size: filter of size 9 is wider than the padded input "
                "(width 5 + 2*1 padding = 7)"),
    ((5, 3, 0, 1, 3), "filter_size: filter of size 3 with dilation 3 spans 7 units, and is "
                      "wider than the padded input (width 5 + 2*0 padding = 5)"),
])
def test_bad_geometry_is_refused_in_words_a_student_understands(args, message):
    with pytest.raises(ValueError) as err:
        conv_geometry(*args)
    assert str(err.value).startswith(message)


def test_filter_too_wide_says_how_much_padding_would_fit_it():
    with pytest.raises(ValueError, match="at least 2 padding"):
        conv_geometry(5, 9, 1)


@pytest.mark.parametrize("call, path", [
    (lambda: conv_geometry(10, 4, "same", 1), "padding"),
    (lambda: conv_geometry(5, 9, 1), "filter_size"),
    (lambda: conv_geometry(10, 3, 0, 0), "stride"),
    (lambda: conv_geometry(0, 3), "width"),
    (lambda: resolve_geometry(5, 9, 0, width_name="x", filter_name="w"), "w"),
    (lambda: resolve_geometry(5, 3, "full", padding_name="items[4].padding"), "items[4].padding"),
])
def test_geometry_errors_carry_the_argument_they_name_as_their_path(call, path):
    with pytest.raises(ArgumentError) as err:
        call()
    assert err.value.path == path and err.value.position is None
    assert str(err.value) == f"{path}: {err.value.message}"
