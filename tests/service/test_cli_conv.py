"""`gradsheet conv`: the worksheet's filter question on the command line."""

import json

import pytest

import service.cli as cli
from service.cli import conv as conv_command


@pytest.fixture
def gradsheet(monkeypatch, capsys):
    """Run `gradsheet ARGS...` through the real CLI frame; return (exit code, out, err)."""
    # Only this subcommand, so the test does not depend on other modules' state.
    monkeypatch.setattr(cli, "COMMAND_MODULES", (conv_command,))

    def run(*args):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_conv_is_one_of_the_cli_subcommands():
    assert conv_command in cli.COMMAND_MODULES


def test_width_10_filter_7_padding_3_stride_3_prints_four_outputs_and_the_filled_formula(
        gradsheet):
    code, out, _ = gradsheet("conv", "--width", "10", "--filter", "7", "--padding", "3",
                             "--stride", "3")
    assert code == 0
    assert out.splitlines()[0] == "output size: (10 - 7 + 2*3)/3 + 1 = 4"
    assert "padded width: 10 + 2*3 = 16" in out
    assert "centres: 0 3 6 9" in out
    assert "windows (first..last input index): [-3..3] [0..6] [3..9] [6..12]" in out


def test_the_picture_marks_padding_windows_and_centres_like_the_worksheet(gradsheet):
    _, out, _ = gradsheet("conv", "--width", "10", "--filter", "7", "--padding", "3",
                          "--stride", "3")
    lines = out.splitlines()
    picture = lines[lines.index("index    -3 -2 -1  0  1  2  3  4  5  6  7  8  9 10 11 12"):]
    assert picture[1] == "input     P  P  P  x  x  x  x  x  x  x  x  x  x  P  P  P"
    assert picture[2] == "out 0     #  #  #  *  #  #  #"
    assert picture[3] == "out 1              #  #  #  *  #  #  #"
    assert picture[5] == "out 3                                #  #  #  *  #  #  #"
    assert picture[6] == "centres            *        *        *        *"


def test_padding_same_solves_for_2_on_a_32_wide_input_with_a_5_filter(gradsheet):
    code, out, _ = gradsheet("conv", "--width", "32", "--filter", "5", "--padding", "same",
                             "--stride", "1")
    assert code == 0
    assert "output size: (32 - 5 + 2*2)/1 + 1 = 32" in out
    assert "padding 'same': P = 2 keeps 32 outputs" in out


def test_an_inexact_stride_says_which_units_are_never_visited(gradsheet):
    _, out, _ = gradsheet("conv", "-W", "12", "-F", "7", "-S", "3")
    assert "output size: floor((12 - 7 + 2*0)/3) + 1 = 2" in out
    assert "never visited: 10 (input), 11 (input)" in out


def test_dilation_marks_the_skipped_units_in_each_window(gradsheet):
    _, out, _ = gradsheet("conv", "-W", "10", "-F", "3", "-D", "2", "-P", "1", "-S", "2")
    assert "out 0     #  -  *  -  #" in out
    assert "dilated filter: 3 taps, 2 apart, span 5 units" in out


def test_wide_inputs_skip_the_picture_but_keep_the_numbers(gradsheet):
    code, out, _ = gradsheet("conv", "-W", "100", "-F", "3", "-P", "1")
    assert code == 0
    assert "(no picture: 102 padded units are more than 40)" in out
    assert "output size: (100 - 3 + 2*1)/1 + 1 = 100" in out


def test_json_output_is_the_geometry_for_machines(gradsheet):
    _, out, _ = gradsheet("conv", "-W", "10", "-F", "7", "-P", "3", "-S", "3", "--json")
    d = json.loads(out)
    assert d["output_size"] == 4 and d["centers"] == [0, 3, 6, 9]


def test_an_even_filter_with_padding_same_is_a_student_error_with_exit_2(gradsheet):
    code, out, err = gradsheet("conv", "-W", "10", "-F", "4", "-P", "same")
    assert code == 2
    assert out == ""
    assert err.startswith("gradsheet: error: padding: 'same' has no whole-number answer")
    assert "Padding 1 gives 9 outputs and padding 2 gives 11" in err


def test_a_filter_wider_than_the_padded_input_is_refused_with_exit_2(gradsheet):
    code, _, err = gradsheet("conv", "-W", "5", "-F", "9", "-P", "1")
    assert code == 2
    assert ("gradsheet: error: filter_size: filter of size 9 is wider than the padded input "
            "(width 5 + 2*1 padding = 7)") in err


def test_a_padding_that_is_not_a_number_or_same_is_a_usage_error(gradsheet):
    code, _, err = gradsheet("conv", "-W", "10", "-F", "3", "-P", "full")
    assert code == 2
    assert "must be a whole number, 'same' or 'valid', not 'full'" in err
