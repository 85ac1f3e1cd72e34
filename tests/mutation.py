"""`make mutation`: cosmic-ray over the code a wrong key or tolerance would come from.

Each module listed under [tool.cosmic-ray] in pyproject.toml is mutated on its own and
each mutant is run against only the tests listed with it (most stop at the first
failure), so the run stays within what a shared machine can spare. `only` keeps the
mutants inside the named classes or functions of a module. The sessions are kept in
.venv/mutation/ and the surviving mutants are printed per module at the end.

cosmic-ray writes each mutant into the working tree and restores the file after it:
run nothing else in the same tree meanwhile.

    python -m tests.mutation [module path ...]     # default: every listed module
    python -m tests.mutation --replay [module ...]  # only the last run's survivors, again
    python -m tests.mutation --part 1/2 MODULE      # every second mutant, from the first

--part K/N runs the K-th of N interleaved shares of a module's mutants, in a session of
its own: N clones of the tree, one share each, use N cores (each clone mutates its own
files). Copy the clones' .venv/mutation/*.sqlite into one tree to replay them together.

--replay applies each mutant the last run left alive (the diffs kept in its session)
and runs the module's tests as they are now: after tests are added, it shows which
survivors they kill without mutating everything again.
"""

from __future__ import annotations

import ast
import os
import shlex
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT / ".venv" / "mutation"


def _config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["cosmic-ray"]


def _test_command(tests: list) -> str:
    return shlex.join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                       *tests])


def _session_toml(module: dict, timeout: float) -> str:
    # cosmic-ray reads its own top-level [cosmic-ray] table, not pyproject's [tool] one
    return "\n".join([
        "[cosmic-ray]",
        f"module-path = {module['path']!r}",
        f"timeout = {timeout}",
        "excluded-modules = []",
        f"test-command = {_test_command(module['tests'])!r}",
        "",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "",
    ])


def _lines_of(path: Path, names: list) -> list[tuple[int, int]]:
    """(first, last) line of each top-level class or function named in `names`."""
    tree = ast.parse(path.read_text())
    spans = [(n.lineno, n.end_lineno) for n in tree.body
             if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name in names]
    if len(spans) != len(names):
        raise SystemExit(f"{path}: not all of {names} are top-level definitions")
    return spans


def _keep_only(db: Path, spans: list[tuple[int, int]]) -> None:
    con = sqlite3.connect(db)
    with con:
        rows = con.execute("SELECT job_id, start_pos_row FROM mutation_specs").fetchall()
        drop = [(job,) for job, row in rows if not any(a <= row <= b for a, b in spans)]
        con.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
        con.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    con.close()


def _survivors(db: Path) -> list[tuple[int, str, str]]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT s.start_pos_row, s.operator_name, r.diff FROM work_results r "
        "JOIN mutation_specs s ON s.job_id = r.job_id "
        "WHERE upper(r.test_outcome) = 'SURVIVED' ORDER BY s.start_pos_row").fetchall()
    counts = con.execute("SELECT test_outcome, count(*) FROM work_results "
                         "GROUP BY test_outcome").fetchall()
    con.close()
    print(f"  outcomes: {dict(counts)}")
    return rows


def _keep_share(db: Path, part: int, parts: int) -> None:
    """Keep every parts-th mutant, from the part-th (1-based), in job order."""
    con = sqlite3.connect(db)
    with con:
        jobs = [job for (job,) in con.execute(
            "SELECT job_id FROM mutation_specs ORDER BY module_path, start_pos_row, "
            "start_pos_col, operator_name, occurrence")]
        drop = [(job,) for i, job in enumerate(jobs) if i % parts != part - 1]
        con.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
        con.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    con.close()


def _sessions(name: str) -> list[Path]:
    return sorted(SESSIONS.glob(f"{name}.sqlite")) + sorted(SESSIONS.glob(f"{name}.part*.sqlite"))


def run(module: dict, timeout: float, env: dict, share: tuple[int, int] | None = None) -> list:
    path = ROOT / module["path"]
    name = module["path"].replace("/", ".").removesuffix(".py")
    if share:
        name += f".part{share[0]}of{share[1]}"
    SESSIONS.mkdir(parents=True, exist_ok=True)
    cfg, db = SESSIONS / f"{name}.toml", SESSIONS / f"{name}.sqlite"
    cfg.write_text(_session_toml(module, timeout))
    db.unlink(missing_ok=True)
    baseline = subprocess.run(shlex.split(_test_command(module["tests"])), cwd=ROOT, env=env)
    if baseline.returncode:
        raise SystemExit(f"{module['path']}: its tests fail before any mutation")
    subprocess.run([Path(sys.executable).parent / "cosmic-ray", "init", cfg, db], cwd=ROOT,
                   env=env, check=True)
    if module.get("only"):
        _keep_only(db, _lines_of(path, module["only"]))
    if share:
        _keep_share(db, *share)
    subprocess.run([Path(sys.executable).parent / "cosmic-ray", "exec", cfg, db], cwd=ROOT,
                   env=env, check=True)
    return _survivors(db)


def replay(module: dict, env: dict) -> list:
    """The last session's survivors of `module` that its current tests still let live."""
    name = module["path"].replace("/", ".").removesuffix(".py")
    dbs = _sessions(name)
    if not dbs:
        raise SystemExit(f"{module['path']}: no session to replay; run it first")
    path = ROOT / module["path"]
    original = path.read_text()
    alive, gone = [], 0
    try:
        for row, operator, diff in sorted(s for db in dbs for s in _survivors(db)):
            patch = diff[diff.index("--- a/"):]
            applied = subprocess.run(["patch", "-s", "-p1", "--no-backup-if-mismatch", "-r", "-"],
                                     input=patch, text=True, cwd=ROOT, capture_output=True)
            if applied.returncode:  # the code it mutated has changed since
                path.write_text(original)
                gone += 1
                continue
            try:
                killed = subprocess.run(shlex.split(_test_command(module["tests"])), cwd=ROOT,
                                        env=env, capture_output=True).returncode != 0
            finally:
                path.write_text(original)
            if not killed:
                alive.append((row, operator, diff))
    finally:
        path.write_text(original)
    print(f"  {len(alive)} still survive; {gone} mutated code that has changed since")
    return alive


def main(argv: list[str]) -> int:
    config = _config()
    replaying = "--replay" in argv
    argv = [a for a in argv if a != "--replay"]
    share = None
    if "--part" in argv:
        i = argv.index("--part")
        share = tuple(int(x) for x in argv[i + 1].split("/"))
        if len(share) != 2 or not 1 <= share[0] <= share[1]:
            raise SystemExit("--part takes K/N with 1 <= K <= N")
        del argv[i:i + 2]
    modules = [m for m in config["modules"] if not argv or m["path"] in argv]
    # pytest's plugins (hypothesis, schemathesis, ...) cost seconds per mutant at start-up
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    report = {}
    for module in modules:
        print(f"== {module['path']}: {' '.join(module['tests'])}", flush=True)
        report[module["path"]] = (replay(module, env) if replaying
                                  else run(module, float(config["timeout"]), env, share))
    print("\nSurviving mutants")
    for path, survivors in report.items():
        print(f"{path}: {len(survivors)}")
        for row, operator, diff in survivors:
            print(f"  line {row}: {operator}")
            print("    " + "\n    ".join(line for line in (diff or "").splitlines()
                                          if line[:1] in "+-" and line[:3] not in ("+++", "---")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
