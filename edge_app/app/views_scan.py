"""New screening, its result, the referral slip, and the history: thin views over screenings and history."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from edge_app.app import results, site_messages
from edge_app.app.i18n import gettext
from edge_app.app.screenings import TOKEN, Job, Screenings
from edge_app.app.uploads import MAX_FILES, save_uploads, upload_root
from edge_app.app.views_users import logged_in_operator, network_mode
from edge_app.files import JsonFileError
from edge_app.language import N_
from edge_app.storage import operators, outcomes

blueprint = Blueprint("scan", __name__)
MAX_TEXT = 120
SHOW_RESULT_WITHIN_S = 3.0
"""How long the form's answer waits for its screening: a few images finish within it and their results show
at once; a longer batch shows its progress page, which reloads itself every 2 s."""


def screenings() -> Screenings:
    return current_app.extensions["screenings"]


def _remembered_operators() -> list[str]:
    return results.with_history(lambda db, history: history.operators(db), default=[])


@blueprint.route("/")
def home():
    return redirect(url_for("scan.new_screening"))


@blueprint.route("/scan/new")
def new_screening(error: str | None = None, status: int = 200):
    return (
        render_template(
            "new_screening.html",
            form_token=secrets.token_hex(16),
            remembered=_remembered_operators(),
            last_operator=session.get("last_operator", ""),
            network=network_mode(),
            operator=logged_in_operator() if network_mode() else None,
            max_files=MAX_FILES,
            error=error,
            form=request.form,
        ),
        status,
    )


def _text_field(name: str) -> str | None:
    value = " ".join(request.form.get(name, "").split())
    return value[:MAX_TEXT] or None


@blueprint.route("/scan", methods=["POST"])
def start_screening():
    token = request.form.get("form_token", "")
    if not TOKEN.match(token):
        abort(400)
    store = screenings()
    if store.state_path(token).exists():
        return redirect(url_for("scan.screening", token=token), code=303)  # sent twice: show the first one
    operator = logged_in_operator() if network_mode() else _text_field("operator")
    files = [f for f in request.files.getlist("images") if f.filename]
    if operator is None:
        return new_screening(gettext("Type your name in Operator."), 400)
    try:
        operators.check_name(operator)
    except operators.OperatorError:
        return new_screening(gettext("An operator name is 1 to 80 printable characters."), 400)
    if not files:
        return new_screening(gettext("Choose at least one X-ray image."), 400)
    if len(files) > MAX_FILES:
        return new_screening(gettext("Choose at most %(n)s images at a time.", n=MAX_FILES), 400)
    patient_id = _text_field("patient_id")
    if not store.claim(token, patient_id, operator, g.received):
        return redirect(url_for("scan.screening", token=token), code=303)
    folder = upload_root(current_app.extensions["pneumoscan"].data_folder) / token
    try:
        uploads = save_uploads(files, folder)
    except OSError as exc:
        store.abandon(token, results.stop_reason(exc))
        return redirect(url_for("scan.screening", token=token), code=303)
    session["last_operator"] = operator
    photos = request.form.get("photo") == "on"
    store.submit(Job(token, uploads, folder, patient_id, operator, request.form.get("heatmaps") == "on", photos))
    store.wait(token, SHOW_RESULT_WITHIN_S)
    return redirect(url_for("scan.screening", token=token), code=303)


def _state_or_404(token: str) -> dict:
    """A screening's state; 404 when there is none, or when its file is damaged (its scans are in the history)."""
    try:
        return screenings().state(token)
    except (KeyError, JsonFileError):
        abort(404)


@blueprint.route("/screening/<token>")
def screening(token: str):
    state = _state_or_404(token)
    records = results.records(state["ids"])
    running = not state["done"] and not state["stopped"]
    return render_template(
        "screening.html",
        token=token,
        state=state,
        cards=[results.card(r, screenings()) for r in records],
        refused=state["refused"],
        running=running,
        total=len(state["files"]),
    )


@blueprint.route("/screening/<token>/slip")
def screening_slip(token: str):
    state = _state_or_404(token)
    return _slip_response(results.records(state["ids"]), state["operator"])


@blueprint.route("/result/<int:row_id>")
def result(row_id: int):
    records = results.records([row_id])
    if not records:
        abort(404)
    return render_template("result.html", card=results.card(records[0], screenings()))


@blueprint.route("/result/<int:row_id>/slip")
def result_slip(row_id: int):
    records = results.records([row_id])
    if not records:
        abort(404)
    return _slip_response(records, records[0]["operator"])


def _slip_response(records: list[dict], operator: str | None) -> Response:
    if not records:
        abort(404)
    response = Response(results.slip_html(records, operator, screenings()), mimetype="text/html")
    response.headers["Content-Security-Policy"] = results.SLIP_SECURITY_POLICY
    return response


@blueprint.route("/heatmap/<int:row_id>/<any(xray, overlay):kind>.png")
def heatmap(row_id: int, kind: str):
    path = screenings().heatmap(row_id, kind)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/png", max_age=3600)


OUTCOME_CHOICES = (
    ("pneumonia", N_("Pneumonia")),
    ("no_pneumonia", N_("No pneumonia")),
    ("not_known", N_("Not known")),
)
METHOD_CHOICES = (
    ("xray_read", N_("Chest X-ray read by a clinician")),
    ("clinical", N_("Clinical diagnosis")),
    ("follow_up", N_("Follow-up")),
)


@blueprint.route("/history/outcome", methods=["POST"])
def record_outcome():
    """A clinician's confirmed outcome for one scan, as edge-scan outcome records it: a new row, never an edit."""
    from edge_app.site import outcome_input

    fields = {name: request.form.get(name, "") for name in ("scan_id", "outcome", "confirmed_by", "method")}
    try:
        wanted = outcome_input.request("The outcome", fields)

        def write(db, history) -> bool:
            scans = {record["id"]: record for record in history.query(db, ids=[wanted.scan_id])}
            outcomes.record_all(db, outcome_input.resolve([wanted], scans))
            return True

        if not results.with_history(write, default=False, writing=True):
            raise outcome_input.OutcomeError("There is no scan history on this device yet.", outcome_input.NO_HISTORY)
    except outcome_input.OutcomeError as exc:
        return history_page(outcome_error=site_messages.outcome_problem(exc), status=400)
    return redirect(url_for("scan.history_page", recorded=wanted.scan_id))


@blueprint.route("/history")
def history_page(outcome_error: str | None = None, status: int = 200):
    patient_id = _text_field_from(request.args.get("patient_id", ""))
    day_text = request.args.get("date", "").strip()
    since = until = None
    error = None
    if day_text:
        try:
            day = date.fromisoformat(day_text)
            start = datetime.combine(day, datetime.min.time()).astimezone()
            since, until = results.utc_text(start), results.utc_text(start + timedelta(days=1))
        except ValueError:
            error = gettext("Type the date as year-month-day, for example 2025-03-01.")
    records, confirmed = results.with_history(
        lambda db, history: (history.query(db, since=since, patient_id=patient_id, until=until), outcomes.current(db)),
        default=([], {}),
    )
    records.reverse()  # newest first: the scan just made is at the top
    page = render_template(
        "history.html",
        rows=[results.card(r, None) | {"outcome": confirmed.get(r["id"])} for r in records[:500]],
        total=len(records),
        patient_id=patient_id or "",
        day=day_text,
        error=error,
        outcome_error=outcome_error,
        recorded=request.args.get("recorded", type=int),
        outcome_choices=OUTCOME_CHOICES,
        method_choices=METHOD_CHOICES,
    )
    return page, status


def _text_field_from(value: str) -> str | None:
    return " ".join(value.split())[:MAX_TEXT] or None
