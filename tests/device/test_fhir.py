"""edge-scan history --format fhir: a FHIR R4 Bundle that fhir.resources' R4B models accept.

The scans are real: the sample X-rays through the shipped model, a rejected
text file, a CT DICOM (wrong modality) and a CR DICOM carrying a study UID.
"""

from __future__ import annotations

import json

import pydicom
import pytest
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from edge_app.cli.main import main
from edge_app.outputs.fhir_export import MODEL_SHA256_SYSTEM, PATIENT_ID_SYSTEM
from edge_app.package_data import SAMPLES_DIR
from tests.dicom_factory import bundled_file, clinic_batch, cr_dataset, write_dicom

OBSERVATION_STATUSES = {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error"}
REPORT_STATUSES = OBSERVATION_STATUSES | {"partial", "appended"}
MODELS = {"Observation": Observation, "DiagnosticReport": DiagnosticReport, "Device": Device}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def scanned_history(tmp_path_factory) -> dict:
    """A history with ok, rejected and DICOM scans; returns the scans' JSON records by file name."""
    root = tmp_path_factory.mktemp("fhir")
    batch = clinic_batch(root / "batch", SAMPLES_DIR)
    write_dicom(cr_dataset(sorted(SAMPLES_DIR.glob("*.jpeg"))[0], study_uid="1.2.840.99"), batch / "cr.dcm")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PNEUMOSCAN_HOME", str(root / "home"))
        scanned = run("scan", str(batch), "--format", "json", "--patient-id", "P-7", "--operator", "Amina")
        assert scanned.exit_code == 1, scanned.output
        exported = run("history", "--format", "fhir")
        again = run("history", "--format", "fhir")
        future = run("history", "--format", "fhir", "--since", "2999-01-01")
    records = {line["path"].rsplit("/", 1)[-1]: line for line in map(json.loads, scanned.stdout.splitlines())}
    return {"records": records, "bundle": json.loads(exported.stdout), "again": again, "future": future}


def resources(bundle: dict, kind: str) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]


def by_url(bundle: dict) -> dict[str, dict]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def test_the_export_is_a_valid_r4b_collection_bundle_and_each_resource_validates(scanned_history):
    bundle = scanned_history["bundle"]
    assert Bundle.model_validate(bundle).type == "collection"
    for entry in bundle["entry"]:
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    # fhir.resources checks structure and types, not code bindings, so the required status codes are checked here
    assert {o["status"] for o in resources(bundle, "Observation")} <= OBSERVATION_STATUSES
    assert {r["status"] for r in resources(bundle, "DiagnosticReport")} <= REPORT_STATUSES


def test_the_validator_would_catch_a_broken_resource(scanned_history):
    broken = json.loads(json.dumps(scanned_history["bundle"]))
    del resources(broken, "Observation")[0]["status"]  # required by FHIR
    with pytest.raises(ValidationError, match="status"):
        Bundle.model_validate(broken)


def test_one_observation_and_one_report_per_scan_and_one_device_per_model(scanned_history):
    bundle, records = scanned_history["bundle"], scanned_history["records"]
    # ten sample X-rays, their first one as a CR DICOM, notes.jpeg and ct.dcm
    assert len(resources(bundle, "Observation")) == len(resources(bundle, "DiagnosticReport")) == len(records) == 13
    devices = resources(bundle, "Device")
    assert len(devices) == 1
    model_sha = {r["model_sha256"] for r in records.values()}
    assert [i["value"] for i in devices[0]["identifier"] if i["system"] == MODEL_SHA256_SYSTEM] == list(model_sha)
    urls = by_url(bundle)
    for report in resources(bundle, "DiagnosticReport"):
        (result,) = report["result"]
        assert urls[result["reference"]]["resourceType"] == "Observation"


def test_screened_images_carry_score_threshold_interpretation_patient_and_model(scanned_history):
    bundle, records = scanned_history["bundle"], scanned_history["records"]
    ok = {r["sha256"]: r for r in records.values() if r["status"] == "ok"}
    observations = [o for o in resources(bundle, "Observation") if o["status"] == "final"]
    assert len(observations) == len(ok) == 11
    urls = by_url(bundle)
    image_of = {  # two scans can share a millisecond, so each observation is matched through its report's image hash
        report["result"][0]["reference"]: report["identifier"][0]["value"]
        for report in resources(bundle, "DiagnosticReport")
        if report.get("identifier")
    }
    for observation in observations:
        record = ok[image_of[f"urn:uuid:{observation['id']}"]]
        assert observation["effectiveDateTime"] == record["scanned_at"]
        assert observation["valueQuantity"]["value"] == record["score"]
        expected = "POS" if record["label"] == "PNEUMONIA" else "NEG"
        assert observation["interpretation"][0]["coding"][0]["code"] == expected
        components = {c["code"]["coding"][0]["code"]: c for c in observation["component"]}
        assert components["threshold"]["valueQuantity"]["value"] == record["threshold"]
        assert components["probability"]["valueQuantity"]["value"] == record["probability"]
        assert components["refer"]["valueBoolean"] is record["refer"]
        assert observation["subject"]["identifier"] == {"system": PATIENT_ID_SYSTEM, "value": "P-7"}
        assert urls[observation["device"]["reference"]]["resourceType"] == "Device"
        assert record["model_version"] in observation["method"]["text"]
        assert record["model_sha256"] in observation["method"]["text"]
    assert {o["interpretation"][0]["coding"][0]["code"] for o in observations} == {"POS", "NEG"}


def test_rejected_scans_are_exported_as_not_screened_never_as_negative(scanned_history):
    bundle = scanned_history["bundle"]
    cancelled = [o for o in resources(bundle, "Observation") if o["status"] == "cancelled"]
    assert len(cancelled) == 2  # the text file and the CT
    for observation in cancelled:
        assert "valueQuantity" not in observation and "interpretation" not in observation
        assert observation["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert {o["dataAbsentReason"]["coding"][1]["code"] for o in cancelled} == {
        "rejected-not_an_image",
        "rejected-wrong_modality",
    }
    reports = [r for r in resources(bundle, "DiagnosticReport") if r["status"] == "cancelled"]
    assert len(reports) == 2
    assert all("conclusionCode" not in r and r["conclusion"].startswith("Not screened") for r in reports)


def test_pneumonia_reports_carry_the_snomed_code_and_the_study_uid_is_linked(scanned_history):
    bundle, records = scanned_history["bundle"], scanned_history["records"]
    reports = resources(bundle, "DiagnosticReport")
    coded = [r for r in reports if "conclusionCode" in r]
    assert len(coded) == sum(r["status"] == "ok" and r["label"] == "PNEUMONIA" for r in records.values())
    assert all(r["conclusionCode"][0]["coding"][0]["code"] == "233604007" for r in coded)
    studies = [r["imagingStudy"][0]["identifier"]["value"] for r in reports if "imagingStudy" in r]
    ct_study = pydicom.dcmread(bundled_file("CT_small.dcm")).StudyInstanceUID  # the rejected CT keeps its study
    assert sorted(studies) == sorted(["urn:oid:1.2.840.99", f"urn:oid:{ct_study}"])


def test_exporting_twice_gives_the_same_resource_ids_and_since_filters(scanned_history):
    again = json.loads(scanned_history["again"].stdout)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in scanned_history["bundle"]["entry"]]
    future = json.loads(scanned_history["future"].stdout)
    assert future["type"] == "collection" and future.get("entry", []) == []
    Bundle.model_validate(future)
