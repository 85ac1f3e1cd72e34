"""The marking rules of worksheets.grading one by one, on hand-made keys: which
submissions are refused and with what words, how a number and a list are marked, what
credit a partly right list earns and which feedback names which mistake."""

import pytest

from worksheets import AnswerError
from worksheets.grading import (CORRECT, MISSING, WRONG, correct, diagnose, mark_list,
                                mark_number, read_submission, score, wrong)
from worksheets.problem import Tolerance

EXACT = Tolerance(0.0)
HAND = Tolerance(0.005, 0.005)


@pytest.mark.parametrize("value, kind", [
    (True, "a boolean"), (None, "null"), ("1.5", "a string"), ([1.5], "a list"),
    ({"x": 1.5}, "an object"), (1j, "complex"),
])
def test_a_number_part_names_what_it_got_instead(value, kind):
    with pytest.raises(AnswerError) as err:
        read_submission({"z": 1.0}, {"z": value})
    assert err.value.message == f"must be a number, not {kind}"
    assert err.value.path == "answers.z"


@pytest.mark.parametrize("value, kind", [
    ([1.0], "a list"), ("z", "a string"), (None, "null"), (3.0, "float"),
])
def test_a_submission_that_is_not_a_map_is_refused_whole(value, kind):
    with pytest.raises(AnswerError) as err:
        read_submission({"z": 1.0}, value)
    assert err.value.message == f"must be an object mapping part names to answers, not {kind}"
    assert err.value.path == "answers"


def test_numbers_too_large_or_not_finite_are_refused():
    for value, words in ((10 ** 400, "is too large"), (float("inf"), "must be a finite number")):
        with pytest.raises(AnswerError) as err:
            read_submission({"z": 1.0}, {"z": value})
        assert (err.value.message, err.value.path) == (words, "answers.z")
    assert read_submission({"z": 1.0}, {"z": 10 ** 300}) == {"z": 1e300}


def test_a_list_may_hold_four_times_its_length_and_sixteen_more_before_it_is_refused():
    key = {"w": [1.0, 2.0, 3.0, 4.0]}
    assert len(read_submission(key, {"w": [0.0] * 32})["w"]) == 32
    with pytest.raises(AnswerError) as err:
        read_submission(key, {"w": [0.0] * 33})
    assert err.value.message == "holds 33 elements; the answer has 4"


def test_a_list_of_pairs_reads_every_entry_as_a_pair():
    key = {"windows": [[0, 2]]}
    got = read_submission(key, {"windows": [[0, 2], [1, 3], [2.5, 4]]})
    assert got == {"windows": [[0.0, 2.0], [1.0, 3.0], [2.5, 4.0]]}
    with pytest.raises(AnswerError) as err:
        read_submission(key, {"windows": [[0, 2], 1]})
    assert err.value.path == "answers.windows[1]"


def test_a_missing_or_wrong_number_earns_nothing():
    missing = mark_number("z", None, 2.0, HAND)
    assert (missing.correct, missing.credit, missing.feedback) == (False, 0.0, MISSING)
    wrong = mark_number("z", 7.0, 2.0, HAND)
    assert (wrong.correct, wrong.credit, wrong.feedback) == (False, 0.0, WRONG)
    right = mark_number("z", 2.009, 2.0, HAND)
    assert (right.correct, right.credit, right.feedback) == (True, 1.0, CORRECT)


def test_a_number_with_its_sign_flipped_is_named_and_zero_has_no_sign_to_flip():
    assert diagnose(-2.0, 2.0, HAND, []) == "the sign is flipped"
    assert diagnose(2.001, -2.0, HAND, []) == "the sign is flipped"
    assert diagnose(2.5, 2.0, HAND, []) == WRONG
    assert diagnose(0.5, 0.0, HAND, []) == WRONG


def test_a_mistake_is_named_when_the_answer_matches_it_within_its_own_tolerance():
    mistakes = [(4.33, "not whole", Tolerance(0.01)), (5.0, "rounded up")]
    assert diagnose(4.335, 4.0, EXACT, mistakes) == "not whole"
    assert diagnose(5.0, 4.0, EXACT, mistakes) == "rounded up"
    assert diagnose(4.36, 4.0, EXACT, mistakes) == WRONG
    # a "mistake" that is the key itself names nothing
    assert diagnose(-4.0, 4.0, EXACT, [(4.0, "same as the key")]) == "the sign is flipped"


def test_a_list_earns_the_share_of_its_positions_that_are_right():
    r = mark_list("y", [1.0, 2.0, 9.0], [1.0, 2.0, 3.0], EXACT)
    assert (r.correct, r.credit, r.feedback) == (False, 2 / 3, "2 of 3 right; first wrong at position 2")
    r = mark_list("y", [9.0, 9.0, 9.0], [1.0, 2.0, 3.0], EXACT)
    assert (r.correct, r.credit, r.feedback) == (False, 0.0, "first wrong at position 0")
    r = mark_list("y", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], EXACT)
    assert (r.correct, r.credit, r.feedback) == (True, 1.0, CORRECT)


def test_extra_or_missing_entries_cost_as_much_as_wrong_ones():
    r = mark_list("y", [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0], EXACT)
    assert (r.correct, r.credit) == (False, 3 / 4)
    assert r.feedback == "4 elements where the answer has 3; 3 of 3 right"
    r = mark_list("y", [1.0], [1.0, 2.0, 3.0], EXACT)
    assert (r.correct, r.credit) == (False, 1 / 3)
    assert r.feedback == "1 elements where the answer has 3; 1 of 3 right"


def test_pairs_of_the_wrong_length_are_wrong():
    want = [[0.0, 2.0], [1.0, 3.0]]
    for got in ([[0.0], [1.0, 3.0]], [[0.0, 2.0, 5.0], [1.0, 3.0]]):
        r = mark_list("windows", got, want, EXACT)
        assert (r.correct, r.credit) == (False, 0.5), got


def test_a_list_that_matches_a_known_mistake_names_it_and_keeps_its_partial_credit():
    r = mark_list("w", [3.0, 2.0, 1.0], [1.0, 2.0, 3.0], EXACT, [([3.0, 2.0, 1.0], "reversed")])
    assert (r.correct, r.credit, r.feedback) == (False, 1 / 3, "reversed")


def test_a_mistake_made_throughout_is_named_though_some_positions_came_out_right():
    # the key is 1, 2, 3; doubling gives 2, 4, 6, and this student doubled all but the first
    doubled = [([2.0, 4.0, 6.0], "doubled")]
    r = mark_list("y", [1.0, 4.0, 6.0], [1.0, 2.0, 3.0], EXACT, doubled)
    assert (r.correct, r.credit, r.feedback) == (False, 1 / 3, "doubled (1 of 3 right)")
    # a wrong position the mistake does not explain: not named
    r = mark_list("y", [1.0, 4.0, 7.0], [1.0, 2.0, 3.0], EXACT, doubled)
    assert (r.credit, r.feedback) == (1 / 3, "1 of 3 right; first wrong at position 1")
    # nor when the answer's length differs from the key's, even if the mistake's agrees
    r = mark_list("y", [1.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0], EXACT,
                  [([2.0, 4.0, 6.0, 8.0], "doubled")])
    assert (r.credit, r.feedback) == (
        1 / 4, "4 elements where the answer has 3; 1 of 3 right; first wrong at position 1")
    # nor when the mistake's length differs
    r = mark_list("y", [1.0, 4.0, 6.0], [1.0, 2.0, 3.0], EXACT, [([2.0, 4.0, 6.0, 8.0], "x")])
    assert r.feedback == "1 of 3 right; first wrong at position 1"
    # nor for a short answer whose every entry the (as short) mistake explains
    r = mark_list("y", [1.0, 4.0], [1.0, 2.0, 3.0], EXACT, [([2.0, 4.0], "doubled")])
    assert (r.credit, r.feedback) == (
        1 / 3, "2 elements where the answer has 3; 1 of 3 right; first wrong at position 1")


def test_a_long_list_is_marked_by_its_counts_not_by_object_identity():
    # counts past 256, where CPython no longer shares int objects
    want = [float(i) for i in range(300)]
    assert mark_list("y", list(want), want, EXACT).correct
    got = list(want)
    got[7] = -1.0
    r = mark_list("y", got, want, EXACT)
    assert (r.credit, r.feedback) == (299 / 300, "299 of 300 right; first wrong at position 7")
    # a mistake made throughout a long list is named as in a short one
    want = [float(i + 1) for i in range(300)]
    doubled = [2.0 * w for w in want]
    got = [want[0], *doubled[1:]]
    r = mark_list("y", got, want, EXACT, [(doubled, "doubled")])
    assert r.feedback == "doubled (1 of 300 right)"


def test_points_are_shared_within_a_part_and_rounded_to_a_millionth():
    # graph_backprop: values 2 points, gradients 3, step 1, each shared among its entries
    results = [correct("values.u", 1.0), wrong("values.v", 2.0), correct("values.f", 3.0),
               correct("gradients.x", 1.0), correct("gradients.y", 1.0),
               correct("gradients.z", 1.0), wrong("step.x", 0.5)]
    assert score("graph_backprop", results) == (4.333333, 6.0)  # 2/3 + 2/3 + 3


def test_a_slip_is_worked_out_only_for_a_wrong_answer_and_then_named():
    made = []

    def number_mistakes():
        made.append("number")
        return [(6.0, "2P where P belongs")]

    def list_mistakes():
        made.append("list")
        return [([2.0, 4.0], "indices count from the first real input unit")]
    assert mark_number("padding", 3, 3.0, EXACT, number_mistakes).correct
    assert mark_list("centers", [1, 3], [1.0, 3.0], EXACT, list_mistakes).correct
    assert made == []
    assert mark_number("padding", 6, 3.0, EXACT, number_mistakes).feedback == \
        "2P where P belongs"
    assert mark_list("centers", [2, 4], [1.0, 3.0], EXACT, list_mistakes).feedback == \
        "indices count from the first real input unit"
    assert made == ["number", "list"]


def test_a_whole_number_answer_is_read_as_a_float_and_a_huge_one_is_refused():
    assert read_submission({"z": 1.0, "w": [0.0]}, {"z": 3, "w": [2]}) == {"z": 3.0, "w": [2.0]}
    with pytest.raises(AnswerError) as err:
        read_submission({"w": [0.0]}, {"w": [10 ** 400]})
    assert (err.value.message, err.value.path) == ("is too large", "answers.w[0]")
