"""Routes: the ballot page, casting a vote, and the health check."""

from __future__ import annotations

import logging
import re
import secrets

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from werkzeug.exceptions import HTTPException

from .queue import VoteQueue

log = logging.getLogger(__name__)

bp = Blueprint("vote", __name__)

VOTER_COOKIE = "voter_id"
# Remembers this browser's last choice for display only: the count is the
# worker's, keyed by voter_id, so a forged cookie changes nothing but the page.
CHOICE_COOKIE = "vote"
CHOICES = ("a", "b")
COOKIE_MAX_AGE = 365 * 24 * 3600
# The cookie comes from the client: accept only what we could have issued
# (or an original app's hex id), and issue a fresh id for anything else.
VOTER_ID_PATTERN = re.compile(r"[0-9A-Za-z_-]{8,64}")
REDIS_DOWN_MESSAGE = "Your vote was not recorded: the vote queue is unavailable. Please try again in a moment."


def _queue() -> VoteQueue:
    return current_app.extensions["vote_queue"]


def _voter_id() -> tuple[str, bool]:
    """This browser's voter id, and whether it is new (needs the cookie set)."""
    cookie = request.cookies.get(VOTER_COOKIE, "")
    if VOTER_ID_PATTERN.fullmatch(cookie):
        return cookie, False
    return secrets.token_hex(16), True


def _ballot(choice: str | None, status: int = 200, error: str | None = None) -> Response:
    # The page depends only on the configuration, the choice and a fixed
    # error message: at most nine variants, rendered once per process instead
    # of once per vote (rendering was a sixth of a vote's CPU).
    pages: dict[tuple[str | None, str | None], str] = current_app.extensions.setdefault("ballot_pages", {})
    html = pages.get((choice, error))
    if html is None:
        cfg = current_app.config
        html = pages[(choice, error)] = render_template(
            "index.html",
            option_a=cfg["OPTION_A"],
            option_b=cfg["OPTION_B"],
            # The ballot names the container that served it (the spec's page);
            # an error page names no internal host.
            hostname=None if error else cfg["HOSTNAME"],
            choice=choice,
            error=error,
        )
    return Response(html, status=status, mimetype="text/html")


def _set_cookie(response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax")


@bp.get("/")
def ballot() -> Response:
    voter_id, is_new = _voter_id()
    choice = request.cookies.get(CHOICE_COOKIE) if not is_new else None
    response = _ballot(choice if choice in CHOICES else None)
    if is_new:
        _set_cookie(response, VOTER_COOKIE, voter_id)
    return response


@bp.post("/")
def cast_vote() -> Response:
    # A client that declared more than it sent has been cut off: do not count
    # what happened to arrive.  The body is at most MAX_CONTENT_LENGTH.
    if request.content_length is not None and len(request.get_data()) != request.content_length:
        return _ballot(None, 400, "The request body is incomplete.")
    values = request.form.getlist("vote")
    if len(values) != 1 or values[0] not in CHOICES:
        return _ballot(None, 400, "A vote must be exactly one of 'a' or 'b'.")
    choice = values[0]
    voter_id, is_new = _voter_id()
    try:
        _queue().push(voter_id, choice)
    except redis.RedisError as exc:
        log.warning("vote not queued: %s", exc)
        response = _ballot(None, 503, REDIS_DOWN_MESSAGE)
        response.headers["Retry-After"] = "5"
    else:
        # Post/Redirect/Get: the page that follows is a GET, so a refresh
        # does not cast the vote again (and the browser does not ask to).
        response = redirect("/", code=303)
        _set_cookie(response, CHOICE_COOKIE, choice)
    if is_new:
        _set_cookie(response, VOTER_COOKIE, voter_id)
    return response


@bp.get("/livez")
def livez() -> Response:
    """The process serves: what the probes ask, whatever Redis's state."""
    return jsonify(status="ok", version=current_app.config["APP_VERSION"])


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Redis answers (the spec's 200/503): dependency health, for people and monitoring."""
    cfg = current_app.config
    redis_up = _queue().ping()
    body = {
        "status": "ok" if redis_up else "unavailable",
        "redis": "up" if redis_up else "down",
        "version": cfg["APP_VERSION"],
        "hostname": cfg["HOSTNAME"],
    }
    return jsonify(body), 200 if redis_up else 503


@bp.after_app_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # frame-ancestors: no other site may frame the ballot (clickjacking a vote).
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def register_error_handlers(app: Flask) -> None:
    """Plain, short answers for every error: never a stack trace."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # get_response keeps the headers werkzeug adds, e.g. Allow on a 405.
        response = exc.get_response()
        response.set_data(f"{exc.code} {exc.name}: {exc.description}\n")
        response.content_type = "text/plain; charset=utf-8"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> tuple[str, int, dict[str, str]]:
        log.exception("unexpected error")
        return (
            "500 Internal Server Error: the vote was not recorded.\n",
            500,
            {"Content-Type": "text/plain; charset=utf-8"},
        )
