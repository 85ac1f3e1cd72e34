"""`gradsheet eval`, run through the real CLI entry point."""

import json

from service.cli import main


def run(capsys, *argv):
    code = main(["eval", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def rows(text):
    return {line.split()[0]: line.split() for line in text.splitlines() if line and line[0].isalnum()}


def test_the_x_plus_y_times_z_circuit_prints_values_and_gradients(capsys):
    code, out, _ = run(capsys, "q = x + y; f = q * z", "x=-2", "y=5", "z=-4")
    assert code == 0
    table = rows(out)
    assert table["x"][-2:] == ["-2", "-4"]
    assert table["z"][-2:] == ["-4", "3"]
    assert table["q"][-2:] == ["3", "-4"]
    assert table["f"][-2:] == ["-12", "1"]


def test_upstream_gradient_scales_what_the_sigmoid_gate_passes_back(capsys):
    code, out, _ = run(capsys, "sigmoid(x)", "x=0", "--upstream", "-3")
    assert code == 0 and rows(out)["x"][-1] == "-0.75"


def test_a_learning_rate_prints_the_step(capsys):
    code, out, _ = run(capsys, "(3*a*b)^2 + c*d", "a=1", "b=2", "c=3", "d=4", "--lr", "0.01")
    assert code == 0
    assert "step 1: a = 0.28, b = 1.64, c = 2.96, d = 3.97" in out


def test_json_output_and_a_spec_file(capsys, tmp_path):
    spec = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                      {"id": "f", "op": "mul", "inputs": ["q", "z"]}], "output": "f"}
    path = tmp_path / "circuit.json"
    path.write_text(json.dumps(spec))
    code, out, _ = run(capsys, f"@{path}", "x=-2", "y=5", "z=-4", "--json", "--lr", "0.1", "--wrt", "x")
    data = json.loads(out)
    assert code == 0 and data["value"] == -12.0 and data["gradients"]["z"] == 3.0
    assert data["steps"][0]["inputs"]["x"] == -2 - 0.1 * -4


def test_errors_exit_2_with_a_message_not_a_traceback(capsys):
    for argv in (["x +* y", "x=1"], ["x * y", "x=1"], ["x", "x=abc"], ["x", "x"], ["@/nonexistent.json"],
                 ["x", "x=nan"], ["log(x)", "x=0"]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("gradsheet: error: ") and "Traceback" not in err


def test_program_flag_prints_the_disassembly(capsys):
    code, out, _ = run(capsys, "(3*a*b)^2 + c*d", "a=1", "b=2", "c=3", "d=4", "--program")
    assert code == 0 and "square(" in out and "instructions" in out
