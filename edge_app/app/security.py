"""Who may use the app, and the guards on every request.

- CSRF: every state-changing request carries the session's token (datasette's csrf.py does the same).
- Content-Security-Policy: scripts, styles, images and forms from the app's own origin only.
- Login (network mode): operators with scrypt passwords; failed attempts are rate-limited per
  address and per name; a session ends after idle time and after a working day.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path

from flask import Flask, Response, abort, current_app, request, session

from edge_app.files import MISSING, NotARegularFile, atomic_write_bytes, read_regular_file

CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SLIP_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)
"""The referral slip is the offline HTML report: inline CSS and data: images, no script at all."""
IDLE_SECONDS = 30 * 60
SESSION_SECONDS = 12 * 60 * 60
MAX_FAILURES = 5
MAX_SECRET_KEY_BYTES = 64 * 1024
"""The key made here is 32 bytes."""
FAILURE_WINDOW_SECONDS = 5 * 60


def is_loopback(host: str) -> bool:
    """127.0.0.1, ::1 and localhost listen only to this device; anything else is a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secret_key(folder: Path) -> bytes:
    """The key that signs session cookies, made once per device so a restart keeps people logged in.
    NotARegularFile naming the file when something else is in its place (a folder, a pipe: never waited on)."""
    path = folder / "app-secret.key"
    try:
        key = read_regular_file(path, MAX_SECRET_KEY_BYTES, "the app's secret key")
        if len(key) >= 32:
            return key
    except NotARegularFile as exc:
        if exc.kind != MISSING:
            raise NotARegularFile(exc.kind, f"{path}: {exc} Move it away: a new key is then made.") from exc
    key = secrets.token_bytes(32)
    atomic_write_bytes(path, key)
    os.chmod(path, 0o600)
    return key


def csrf_token() -> str:
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def check_host() -> None:
    """On 127.0.0.1 only this device's own names are served: a web page whose domain an attacker points at
    127.0.0.1 (DNS rebinding) gets nothing, not even the history export."""
    if current_app.extensions["pneumoscan"].network:
        return  # every page needs a login there
    host = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else request.host[1:].split("]")[0]
    if host not in LOOPBACK_NAMES:
        abort(400, description="host")


def check_csrf() -> None:
    """Refuse (400) a state-changing request without the session's token, or sent from another origin."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin and origin != request.host_url.rstrip("/"):
        abort(400, description="cross-origin")
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="csrf")


def add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" would make browsers send Origin: null
    response.headers["X-Frame-Options"] = "DENY"
    if "Cache-Control" not in response.headers and request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"  # a back button shows a fresh form, never a stale token
    return response


def session_alive() -> bool:
    """True while the logged-in session is neither idle too long nor older than a working day."""
    now = time.time()
    started, seen = session.get("started", 0), session.get("seen", 0)
    if now - started > SESSION_SECONDS or now - seen > IDLE_SECONDS:
        return False
    session["seen"] = now
    return True


class LoginLimiter:
    """At most MAX_FAILURES failed logins per address and per name in FAILURE_WINDOW_SECONDS."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > FAILURE_WINDOW_SECONDS:
            times.popleft()
        return times

    def blocked(self, address: str, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= MAX_FAILURES for key in (f"ip:{address}", f"name:{name}"))

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"ip:{address}", f"name:{name}"):
                self._recent(key, now).append(now)


def install(app: Flask) -> None:
    app.before_request(check_host)
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
