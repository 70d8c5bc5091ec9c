"""Who is screening: the language picker, and in network mode the operator's login."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for

from edge_app.app.i18n import LANGUAGE_COOKIE, gettext
from edge_app.app.security import session_alive
from edge_app.language import LANGUAGES
from edge_app.storage import operators

blueprint = Blueprint("users", __name__)
OPEN_ENDPOINTS = frozenset({"static", "users.login", "users.language"})


def network_mode() -> bool:
    return current_app.extensions["pneumoscan"].network


def logged_in_operator() -> str | None:
    """In network mode, the operator of this session (None when not logged in or expired)."""
    name = session.get("operator")
    if name is None or not session_alive():
        session.pop("operator", None)
        return None
    return name


@blueprint.before_app_request
def require_login():
    if network_mode() and request.endpoint not in OPEN_ENDPOINTS and logged_in_operator() is None:
        if request.method != "GET":
            abort(403)
        return redirect(url_for("users.login", next=request.full_path))
    return None


def safe_next(target: str | None) -> str:
    """A place inside the app to go back to; anything else (another site, //host) goes to the start."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("scan.new_screening")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if not network_mode():
        return redirect(url_for("scan.new_screening"))
    error = None
    if request.method == "POST":
        name, password = request.form.get("operator", "").strip(), request.form.get("password", "")
        limiter, address = current_app.extensions["login_limiter"], request.remote_addr or "?"
        if limiter.blocked(address, name):
            error = gettext("Too many wrong attempts. Wait five minutes, then try again.")
        elif operators.verify(name, password):
            session.clear()
            now = time.time()
            session.update(operator=name, started=now, seen=now)
            session.permanent = True
            return redirect(safe_next(request.args.get("next")))
        else:
            limiter.failed(address, name)
            error = gettext("That name and password do not match. Try again.")
    return render_template("login.html", error=error, names=operators.names()), 200 if error is None else 401


@blueprint.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("users.login") if network_mode() else url_for("scan.new_screening"))


@blueprint.route("/language", methods=["POST"])
def language():
    chosen = request.form.get("language", "")
    response = redirect(safe_next(request.form.get("next")), code=303)
    if chosen in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Strict", httponly=True)
    return response
