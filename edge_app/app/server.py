"""Build the Flask app and serve it with waitress, a production WSGI server in pure Python."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, g, render_template

from edge_app.app import i18n, security
from edge_app.app.screenings import Screenings
from edge_app.app.uploads import MAX_UPLOAD_BYTES, clear_uploads, request_class

PACKAGE = Path(__file__).parent


@dataclass(frozen=True)
class Settings:
    data_folder: Path
    config_folder: Path
    network: bool = False
    """Listening beyond this device: operators must log in."""


def create_app(settings: Settings) -> Flask:
    from edge_app.app import views_device, views_scan, views_site, views_users

    app = Flask(__name__, static_folder=str(PACKAGE / "static"), template_folder=str(PACKAGE / "templates"))
    app.config.update(
        SECRET_KEY=security.secret_key(settings.config_folder),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="pneumoscan_session",
        PERMANENT_SESSION_LIFETIME=security.SESSION_SECONDS,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.request_class = request_class(settings.data_folder)
    app.extensions["pneumoscan"] = settings
    app.extensions["screenings"] = Screenings(settings.data_folder)
    app.extensions["login_limiter"] = security.LoginLimiter()
    clear_uploads(settings.data_folder)
    app.jinja_env.autoescape = True
    app.before_request(_note_arrival)
    i18n.install(app)
    security.install(app)
    for module in (views_users, views_scan, views_site, views_device):
        app.register_blueprint(module.blueprint)
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)
    return app


def _note_arrival() -> None:
    """When the request arrived, before its body is parsed: a screening's server time starts here."""
    g.received = time.time()


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    return render_template("error.html", code=code, description=getattr(error, "description", "")), code


def serve(app: Flask, host: str, port: int, announce) -> None:
    """Serve until stopped; `announce(url)` is called once the socket is listening."""
    from waitress.server import create_server

    server = create_server(app, host=host, port=port, threads=8, clear_untrusted_proxy_headers=True, ident="PneumoScan")
    bound_port = server.effective_port
    shown_host = f"[{host}]" if ":" in host else host
    announce(f"http://{shown_host}:{bound_port}/")
    server.run()
