"""The web pages: server-rendered Jinja2 templates (service/templates/, one base
layout) in two blueprints, the student pages (practice) and the instructor page
(instructor), with their stylesheet and script served from service/static/.

Every page answers with a Content-Security-Policy that allows only this app's own
script and stylesheet (no inline script or style), nosniff, no referrer and no framing.
Flask's session (the instructor's sign-in) is signed with a key derived from
GRADSHEET_SECRET, so every replica reads it.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, request
from flask.sessions import SecureCookieSessionInterface

from worksheets.latex import num
from worksheets.seeding import signing_secret
from service.pages import instructor, practice
from service.grading_limits import GradingLimits

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_API_PATHS = ("/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json")

assets = Blueprint("assets", __name__, static_folder="../static", static_url_path="/assets")


class _SessionInterface(SecureCookieSessionInterface):
    """Only the pages have a session, and its cookie is Secure whenever the page was
    served over HTTPS. The API's requests get Flask's null session: reading the cookie
    and building its signer cost every small /v1/evaluate about 5 % of its time."""

    def open_session(self, app: Flask, request):
        # Flask opens the session before it matches the URL to a view, so the API is
        # told apart by its path
        if request.path.startswith(_API_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def session_key(secret: str | None) -> bytes:
    """The session's signing key: derived from the secret for this use alone, so it is
    never the key of problem tokens or variants."""
    root = hashlib.blake2b(signing_secret(secret), digest_size=64).digest()
    return hashlib.blake2b(b"gradsheet-pages-session", key=root, digest_size=32).digest()


def install(app: Flask, settings) -> None:
    app.secret_key = session_key(settings.secret_value)
    app.session_interface = _SessionInterface()
    app.config.update(SESSION_COOKIE_NAME="gradsheet_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict")
    app.extensions["gradsheet.page_limits"] = GradingLimits(settings, "gradsheet-pages")
    instructor.install(app, settings.instructor_tokens)
    app.add_template_filter(_number, "num")
    for bp in (assets, practice.bp, instructor.bp):
        app.register_blueprint(bp)


def _number(value) -> str:
    """A number, or a list of them, as the worksheet prints numbers."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_number(v) for v in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return num(value)
    return str(value)


# Hooks of the pages' blueprints, so Flask runs them for the pages' requests only
# (registered once, here: create_app registers these blueprints on every app it makes).
def _page_headers(response):
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _instructor_headers(response):
    _page_headers(response)
    response.headers["Cache-Control"] = "no-store"
    return response


assets.after_request(_page_headers)
practice.bp.after_request(_page_headers)
instructor.bp.after_request(_instructor_headers)
