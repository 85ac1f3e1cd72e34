"""Instructor access: the endpoints that reveal answers or identify students (a set with
`include_answers`, every export holding a key, the trace of a leaked sheet) ask for a
bearer token from GRADSHEET_INSTRUCTOR_TOKENS.

Students' sheets without answers, grading and the engine stay open. With no token
configured those endpoints answer 403; a missing, empty or unknown bearer answers 401.
The CLI needs none of this: it runs where the secret is.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from flask import Flask, current_app, request

from service.problems import Forbidden, Unauthorized

TOKENS_ENV = "GRADSHEET_INSTRUCTOR_TOKENS"
MIN_TOKEN_CHARS = 16
SCHEME = "instructorToken"
# OpenAPI security requirements: the token is needed always, or only for some bodies
# (`{}` is the requirement that asks for nothing).
INSTRUCTOR = [{SCHEME: []}]
INSTRUCTOR_FOR_ANSWERS = [{}, {SCHEME: []}]

_EXTENSION = "gradsheet.instructor_digests"
_CHALLENGE = 'Bearer realm="gradsheet instructor"'
_MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def parse_tokens(text: str) -> tuple[str, ...]:
    """The configured tokens (comma-separated, blanks ignored); ValueError for a short one."""
    tokens = tuple(t.strip() for t in text.split(",") if t.strip())
    for i, token in enumerate(tokens):
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(f"{TOKENS_ENV}: token {i + 1} has {len(token)} characters; an "
                             f"instructor token needs at least {MIN_TOKEN_CHARS} (make one "
                             f"with {_MAKE_ONE})")
    return tokens


def install(app: Flask, api, tokens: str) -> None:
    """Keep the digests of `tokens` for this app and declare the scheme in OpenAPI."""
    # Digests have one length, so compare_digest's time says nothing of a token's length.
    app.extensions[_EXTENSION] = tuple(_digest(t) for t in parse_tokens(tokens))
    api.spec.components.security_scheme(SCHEME, {
        "type": "http", "scheme": "bearer",
        "description": f"an instructor token, one of {TOKENS_ENV} on the server"})


def require_instructor() -> None:
    """Return when the request carries an instructor token; else raise the problem."""
    digests = current_app.extensions[_EXTENSION]
    if not digests:
        raise Forbidden(f"this endpoint reveals answers or identifies students, and the server "
                        f"has no instructor token: set {TOKENS_ENV} to one or more "
                        f"comma-separated tokens of at least {MIN_TOKEN_CHARS} characters "
                        f"(make one with {_MAKE_ONE}), restart it, and send one as "
                        f"Authorization: Bearer <token>")
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("this endpoint reveals answers or identifies students: send an "
                           "instructor token as Authorization: Bearer <token>",
                           headers={"WWW-Authenticate": _CHALLENGE})
    given = given.strip()
    if not given:
        raise Unauthorized("the bearer token is empty; send an instructor token",
                           headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'})
    # Every configured token is compared, so the time does not say which one was near.
    wanted = _digest(given)
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(wanted, digest)
    if not matched:
        raise Unauthorized("the bearer token is not an instructor token of this server",
                           headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'})


def instructor_only(view):
    """A view that answers only requests carrying an instructor token."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        require_instructor()
        return view(*args, **kwargs)
    return wrapper


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
