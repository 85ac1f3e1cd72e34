"""The errors a problem set raises: all ValueErrors that name what is wrong and where."""

from __future__ import annotations


class ProblemSetError(ValueError):
    """A request for a problem set, a token or a submission is wrong.

    `path` locates the fault in the request (``problems[2].type``, ``students[4]``,
    ``answers.values.q``, ``token``), so the service can key its problem+json errors
    by it and the CLI can print it.
    """

    def __init__(self, message: str, *, path: str = "body"):
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


class TokenError(ProblemSetError):
    """A token that was changed, signed with another secret, or made by another
    generator version: the problem it names cannot be regenerated here."""

    def __init__(self, message: str):
        super().__init__(message, path="token")


class AnswerError(ProblemSetError):
    """A submission whose shape does not fit the problem (a string for a number, a
    map for a list, a part the problem does not have)."""
