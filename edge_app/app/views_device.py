"""The device screen: self-test, the model and its SHA-256, updates and rollback, free disk, history export."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request

from edge_app.app.i18n import gettext
from edge_app.app.results import with_history
from edge_app.app.screenings import current_model

blueprint = Blueprint("device", __name__)


def _model_facts() -> tuple[dict | None, str | None]:
    model, _warning, problem = current_model()
    if model is None:
        return None, problem
    facts = {"version": model.version, "sha256": model.sha256, "integrity": model.describe_integrity(gettext)}
    return facts | {"runtime": model.runtime, "path": model.path.name}, None


def _models() -> list[tuple[str, str, dict]]:
    from edge_app.updates.model_install import list_models

    try:
        models = list_models()
    except (OSError, ValueError):
        return []
    # the built-in model's id and the versions the device writes itself are marked for the catalogues
    return [
        (gettext(model_id), role, record | {"model_version": gettext(str(record.get("model_version")))})
        for model_id, role, record in models
    ]


def _free_disk() -> dict:
    folder = current_app.extensions["pneumoscan"].data_folder
    folder.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(folder)
    return {"free_mb": usage.free // 2**20, "total_mb": usage.total // 2**20, "low": usage.free < 200 * 2**20}


def render_device(message: str | None = None, problem: str | None = None, selftest=None, status: int = 200):
    model, model_error = _model_facts()
    return (
        render_template(
            "device.html",
            model=model,
            model_error=model_error,
            models=_models(),
            disk=_free_disk(),
            message=message,
            problem=problem,
            selftest=selftest,
        ),
        status,
    )


@blueprint.route("/device")
def device_page():
    return render_device()


@blueprint.route("/device/selftest", methods=["POST"])
def selftest():
    from edge_app.inference.model_store import ModelError, load_model
    from edge_app.updates.selftest import run_selftest

    try:
        model = load_model()  # the model's own threshold, as edge-scan selftest: the samples' known results
    except ModelError as exc:
        return render_device(problem=str(exc), status=500)
    return render_device(selftest=run_selftest(model))


@blueprint.route("/device/update", methods=["POST"])
def install_update():
    from edge_app.updates.model_install import install_package
    from edge_app.updates.model_package import SUFFIX, PackageRefused

    upload = request.files.get("package")
    if upload is None or not upload.filename:
        return render_device(problem=gettext("Choose a model update file (.pnsm) first."), status=400)
    with tempfile.TemporaryDirectory(dir=current_app.extensions["pneumoscan"].data_folder / "app" / "uploads") as tmp:
        path = Path(tmp) / f"update{SUFFIX}"
        upload.save(path)
        try:
            installed = install_package(path)
        except PackageRefused as exc:
            problem = gettext("Model NOT installed: %(why)s The active model has not changed.", why=str(exc))
            return render_device(problem=problem, status=400)
        except (OSError, ValueError) as exc:
            return render_device(problem=gettext("Model NOT installed: %(why)s", why=str(exc)), status=400)
    version = installed.record.get("model_version")
    return render_device(message=gettext("Model %(version)s installed and active.", version=version))


@blueprint.route("/device/rollback", methods=["POST"])
def rollback():
    from edge_app.storage.active_model import ActivePointerDamaged
    from edge_app.storage.model_changes import ChangeLogDamaged
    from edge_app.updates.model_install import InstallError
    from edge_app.updates.model_install import rollback as roll_back

    try:
        model_id = roll_back()
    except (InstallError, ActivePointerDamaged, ChangeLogDamaged, OSError) as exc:
        return render_device(problem=str(exc), status=400)
    return render_device(message=gettext("Back to model %(id)s.", id=model_id))


@blueprint.route("/device/history.<any(csv, json):fmt>")
def export_history(fmt: str):
    """The whole history, with each scan's confirmed outcome, as edge-scan history --format csv (or fhir) writes it."""
    from edge_app.outputs.output import history_writer
    from edge_app.storage import outcomes

    records = with_history(lambda db, history: outcomes.attach(history.query(db), outcomes.current(db)), default=[])
    stream = io.StringIO()
    writer = history_writer("csv" if fmt == "csv" else "fhir", stream)
    writer.start()
    for record in records:
        writer.write(record)
    writer.finish()
    name = "pneumoscan-history.csv" if fmt == "csv" else "pneumoscan-history-fhir.json"
    mimetype = "text/csv" if fmt == "csv" else "application/fhir+json"
    return Response(
        stream.getvalue(), mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
