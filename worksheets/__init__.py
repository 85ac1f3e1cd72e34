"""Problem sets: randomized per-student variants of the worksheet, with answer keys,
worked solutions and stateless grading.

    >>> import worksheets
    >>> s = worksheets.generate(7, 30)                  # 30 students, the whole worksheet
    >>> p = s["sheets"][0]["problems"][0]
    >>> worksheets.grade(p["token"], p["answers"])["score"] == len(p["answers"])  # doctest: +SKIP

Every number of a problem comes from a keyed hash of (secret, set seed, student id,
problem index), so the same request gives the same sheets on any machine that has the
same GRADSHEET_SECRET. Keys come from the engine (engine.evaluate_many, engine.conv),
and a token carries what is needed to regenerate its problem, so grading keeps no state.
"""

from worksheets.errors import AnswerError, ProblemSetError, TokenError
from worksheets.problems import TYPES, WORKSHEET
from worksheets.seeding import GENERATOR_VERSION, SECRET_ENV, DevelopmentSecretWarning
from worksheets.generator import Generator, generate, grade, problem_types, trace

__all__ = [
    "AnswerError", "ProblemSetError", "TokenError", "TYPES", "WORKSHEET", "GENERATOR_VERSION",
    "SECRET_ENV", "DevelopmentSecretWarning", "Generator", "generate", "grade",
    "problem_types", "trace",
]
