"""A page's errors are pages too (the API's stay problem+json): each page blueprint
answers its problems and HTTP errors with the error template."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from service.problems import Problem


def answer_errors_with_pages(bp: Blueprint) -> None:
    bp.register_error_handler(Problem, _problem_page)
    bp.register_error_handler(HTTPException, _http_error_page)


def _problem_page(exc: Problem):
    return render_template("error.html", title=exc.title, detail=exc.detail), exc.status, \
        exc.headers


def _http_error_page(exc: HTTPException):
    return render_template("error.html", title=exc.name, detail=exc.description), exc.code
