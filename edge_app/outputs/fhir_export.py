"""The scan history as a FHIR R4 Bundle, for district programmes that collect results from many devices.

A `collection` Bundle holds, per scan, one Observation (the score, with the
probability, threshold and flags as components) and one DiagnosticReport (the
verdict in words), plus one Device per model that made a result (version and
SHA-256). OpenMRS, DHIS2's FHIR adapters or any FHIR server can load it.

Choices that matter to whoever reads the results:
- A scan that was rejected or failed is exported with status `cancelled` and a
  dataAbsentReason, never with a value or a NEG interpretation, so it can never
  be counted as a negative screen.
- NORMAL is a negative *screening* result, not "no pneumonia": it carries no
  SNOMED conclusion code; PNEUMONIA suspected carries SNOMED 233604007 (Pneumonia).
- Resource ids are name-based UUIDs of the scan, so exporting the same history
  twice gives the same ids and a server can drop the duplicates.
- The patient is referenced by identifier only: the device holds no patient record.
- A clinician's confirmed outcome (edge-scan outcome) is its own Observation, derived
  from the screening Observation, so the screen and the truth stay apart: pneumonia
  carries SNOMED 233604007, no pneumonia the same code with interpretation NEG, and
  not known a dataAbsentReason.
"""

from __future__ import annotations

import json
import uuid
from typing import TextIO

from edge_app.contract import POSITIVE_LABEL
from edge_app.record import OK, now_utc

LOCAL_CODES = "urn:pneumoscan:code"
"""PneumoScan's own code system: the score, its components and the rejection reasons have no LOINC code."""
PATIENT_ID_SYSTEM = "urn:pneumoscan:patient-id"
IMAGE_SHA256_SYSTEM = "urn:pneumoscan:image-sha256"
MODEL_SHA256_SYSTEM = "urn:pneumoscan:model-sha256"
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
DICOM_UID = "urn:dicom:uid"

_NAMESPACE = uuid.UUID("6f1d2c3e-8a4b-5c6d-9e0f-a1b2c3d4e5f6")
_SCORE_CODE = {"system": LOCAL_CODES, "code": "pneumonia-score", "display": "PneumoScan pneumonia score (0-100)"}
_REPORT_CODE = {
    "coding": [
        {"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"},
        {"system": LOCAL_CODES, "code": "pneumonia-screening", "display": "PneumoScan chest X-ray pneumonia screening"},
    ],
    "text": "Chest X-ray pneumonia screening (PneumoScan, a screening aid, not a diagnosis)",
}
_PNEUMONIA = {"system": SNOMED, "code": "233604007", "display": "Pneumonia"}


def history_bundle(records: list[dict]) -> dict:
    """History records (as `edge_app.storage.history.query` returns them) -> a FHIR R4 collection Bundle."""
    devices = {record["model_sha256"]: _device(record) for record in records}
    entries = [_entry(device) for device in devices.values()]
    for record in records:
        observation = _observation(record, devices[record["model_sha256"]]["id"])
        entries.extend([_entry(observation), _entry(_report(record, observation["id"]))])
        if record.get("confirmed_outcome"):
            entries.append(_entry(_confirmed(record, observation["id"])))
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection", "timestamp": now_utc()}
    return {**bundle, "entry": entries} if entries else bundle  # FHIR allows no empty lists


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(part) for part in parts)))


def _entry(resource: dict) -> dict:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _ref(resource_id: str) -> dict:
    return {"reference": f"urn:uuid:{resource_id}"}


def _device(record: dict) -> dict:
    return {
        "resourceType": "Device",
        "id": _uid("device", record["model_sha256"]),
        "identifier": [{"system": MODEL_SHA256_SYSTEM, "value": record["model_sha256"]}],
        "deviceName": [{"name": "PneumoScan", "type": "manufacturer-name"}],
        "type": {"text": "Pneumonia screening software (int8 model run with LiteRT)"},
        "version": [{"type": {"text": "model version"}, "value": record["model_version"]}],
        "note": [{"text": f"Model SHA-256 {record['model_sha256']}; runtime {record['runtime']}"}],
    }


def _subject(record: dict) -> dict:
    if not record.get("patient_id"):
        return {}
    return {"subject": {"identifier": {"system": PATIENT_ID_SYSTEM, "value": record["patient_id"]}}}


def _common(record: dict) -> dict:
    """What the Observation and the DiagnosticReport of one scan both say."""
    common = {"effectiveDateTime": record["scanned_at"], **_subject(record)}
    if record.get("operator"):
        common["performer"] = [{"display": record["operator"]}]
    return common


def _observation(record: dict, device_id: str) -> dict:
    observation = {
        "resourceType": "Observation",
        "id": _uid("observation", record["scanned_at"], record["id"], record["sha256"]),
        "status": "final" if record["status"] == OK else "cancelled",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}]}],
        "code": {"coding": [_SCORE_CODE], "text": _SCORE_CODE["display"]},
        **_common(record),
        "device": _ref(device_id),
        "method": {"text": f"PneumoScan model {record['model_version']} (SHA-256 {record['model_sha256']})"},
    }
    if record["status"] == OK:
        observation.update(_screening_value(record))
    else:
        observation["dataAbsentReason"] = _absent_reason(record)
        observation["component"] = [_component("threshold", "Operating threshold", _quantity(record["threshold"]))]
    return observation


def _quantity(value: float, unit: str = "1") -> dict:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _component(code: str, display: str, value: dict) -> dict:
    return {"code": {"coding": [{"system": LOCAL_CODES, "code": code, "display": display}]}, **value}


def _screening_value(record: dict) -> dict:
    positive = record["label"] == POSITIVE_LABEL
    interpretation = ("POS", "Positive") if positive else ("NEG", "Negative")
    return {
        "valueQuantity": {"value": record["score"], "unit": "{score}", "system": UCUM, "code": "{score}"},
        "interpretation": [
            {
                "coding": [{"system": INTERPRETATION, "code": interpretation[0], "display": interpretation[1]}],
                "text": _verdict(record),
            }
        ],
        "component": [
            _component("probability", "Pneumonia probability", _quantity(record["probability"])),
            _component("threshold", "Operating threshold", _quantity(record["threshold"])),
            _component("uncertain", "Score close to the threshold", {"valueBoolean": bool(record["uncertain"])}),
            _component("refer", "Refer the child", {"valueBoolean": bool(record["refer"])}),
        ],
    }


def _absent_reason(record: dict) -> dict:
    """Why there is no value: the scan was not done on this image (rejected) or failed (error)."""
    code = "not-performed" if record["status"] == "rejected" else "error"
    return {
        "coding": [
            {"system": DATA_ABSENT, "code": code},
            {"system": LOCAL_CODES, "code": f"{record['status']}-{record['reason']}"},
        ],
        "text": f"Not screened ({record['reason']}): {record['message']}",
    }


def _verdict(record: dict) -> str:
    if record["status"] != OK:
        return f"Not screened ({record['reason']}): {record['message']}"
    words = "PNEUMONIA suspected" if record["label"] == POSITIVE_LABEL else "NORMAL"
    flags = " (uncertain)" if record["uncertain"] else ""
    return f"{words}{flags}, score {record['score']}; {'REFER the child' if record['refer'] else 'no referral'}"


def _report(record: dict, observation_id: str) -> dict:
    identifiers = [{"system": IMAGE_SHA256_SYSTEM, "value": record["sha256"]}] if record.get("sha256") else []
    report = {
        "resourceType": "DiagnosticReport",
        "id": _uid("report", observation_id),
        "identifier": identifiers,
        "status": "final" if record["status"] == OK else "cancelled",
        "category": [{"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "RAD", "display": "Radiology"}]}],
        "code": _REPORT_CODE,
        **_common(record),
        "issued": record["scanned_at"],
        "result": [_ref(observation_id)],
        "conclusion": f"{_verdict(record)}. A screening aid, not a diagnosis: a clinician confirms every result.",
    }
    if record.get("study_uid"):
        report["imagingStudy"] = [{"identifier": {"system": DICOM_UID, "value": f"urn:oid:{record['study_uid']}"}}]
    if record["status"] == OK and record["label"] == POSITIVE_LABEL:
        report["conclusionCode"] = [{"coding": [_PNEUMONIA]}]
    return {key: value for key, value in report.items() if value != []}


_OUTCOME_CODE = {
    "coding": [
        {"system": LOCAL_CODES, "code": "confirmed-outcome", "display": "Clinician-confirmed pneumonia outcome"}
    ],
    "text": "Pneumonia confirmed or ruled out by a clinician after screening",
}
_METHODS = {
    "xray_read": "Chest X-ray read by a clinician",
    "clinical": "Clinical diagnosis",
    "follow_up": "Follow-up of the child",
}


def _confirmed(record: dict, observation_id: str) -> dict:
    """The outcome in force for a scan, linked to its screening Observation."""
    outcome = record["confirmed_outcome"]
    confirmed = {
        "resourceType": "Observation",
        "id": _uid("outcome", observation_id, outcome, record["confirmed_by"], record["confirmed_on"]),
        "status": "final",
        "code": _OUTCOME_CODE,
        **_subject(record),
        "effectiveDateTime": record["confirmed_on"],
        "performer": [{"display": record["confirmed_by"]}],
        "method": {
            "coding": [{"system": LOCAL_CODES, "code": record["confirmation_method"]}],
            "text": _METHODS[record["confirmation_method"]],
        },
        "derivedFrom": [_ref(observation_id)],
    }
    if outcome == "not_known":
        confirmed["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}], "text": "Not known"}
        return confirmed
    present = outcome == "pneumonia"
    confirmed["valueCodeableConcept"] = {
        "coding": [_PNEUMONIA],
        "text": "Pneumonia" if present else "No pneumonia",
    }
    interpretation = ("POS", "Positive") if present else ("NEG", "Negative")
    confirmed["interpretation"] = [
        {"coding": [{"system": INTERPRETATION, "code": interpretation[0], "display": interpretation[1]}]}
    ]
    return confirmed


class FhirBundleWriter:
    """The history writer for --format fhir: one Bundle, written whole when all records are in."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.records = stream, []

    def start(self) -> None:
        pass

    def write(self, record: dict) -> None:
        self.records.append(record)

    def finish(self) -> None:
        self.stream.write(json.dumps(history_bundle(self.records), indent=2) + "\n")
        self.stream.flush()
