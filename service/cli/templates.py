"""`gradsheet check-template`: read a template file, stress-test each template and show
one sample variant with its key.

    gradsheet check-template mine.yaml [--variants 1000] [--library]
"""

from __future__ import annotations

import json

from worksheets.generator import solve
from worksheets.problems.template_problem import problem_type_of, stress
from worksheets.seeding import Stream, keys
from worksheets.template import STRESS_VARIANTS, library, read_template_file

SAMPLE_SECRET = b"gradsheet-check-template-sample"


def register(subparsers) -> None:
    c = subparsers.add_parser(
        "check-template", help="validate problem templates, stress-test them and show a sample",
        description="Read a YAML or JSON file of problem templates, check every field, draw "
                    "--variants variants of each (reporting the share of draws its conditions "
                    "reject) and print one sample variant with its statement and key. "
                    "Errors name the field and its line and column.")
    c.add_argument("file", nargs="?", metavar="FILE", help="the templates file (YAML or JSON)")
    c.add_argument("--library", action="store_true",
                   help="check the shipped example templates instead of a file")
    c.add_argument("--variants", type=int, default=STRESS_VARIANTS, metavar="N",
                   help=f"variants drawn by the stress test (default {STRESS_VARIANTS})")
    c.set_defaults(handler=check)


def check(args) -> int:
    if args.library == (args.file is not None):
        raise ValueError("give a templates file or --library (one of them)")
    if not 1 <= args.variants <= 100_000:
        raise ValueError("--variants must be between 1 and 100000")
    templates = library() if args.library else read_template_file(args.file)
    for template in templates:
        t = problem_type_of(template)
        print(stress(t, args.variants).describe())
        variant = t.sample(Stream(keys(SAMPLE_SECRET), "0" * 16, 0, t.id), {})
        answers, _ = solve(t, variant)
        print(f"  hash {template.hash}; sample variant:")
        print("  parameters: " + json.dumps(variant.parameters.get("inputs", {
            k: v for k, v in variant.parameters.items() if k not in ("template", "graph")})))
        print("  key: " + json.dumps(answers))
        print("  statement:\n" + "\n".join("    " + line
                                           for line in t.statement(variant, {}).splitlines()))
    return 0


def read_files(paths: list[str] | None) -> list:
    """The templates of every file named (for --templates), in order."""
    out = []
    for path in paths or ():
        out += read_template_file(path)
    return out
