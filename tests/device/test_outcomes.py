"""Confirmed outcomes: recorded against scans, never edited, checked before anything is written, and used to
calibrate again and to measure the screening month by month."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from edge_app.site import metrics, promise
from edge_app.storage import history, outcomes
from edge_app.storage.paths import data_dir, history_path
from tests.conftest import FIXTURE_DATA
from tests.device.test_calibrate import run

TODAY = date.today().isoformat()


@pytest.fixture
def home() -> Path:
    """The data folder of this test (tests/conftest.py gives each test a fresh one)."""
    return data_dir()


def site_images(folder: Path) -> list[tuple[Path, str]]:
    """36 different X-rays per class (each fixture X-ray as it is and mirrored), each of its own child."""
    images = []
    for label in ("NORMAL", "PNEUMONIA"):
        for source in sorted((FIXTURE_DATA / "train" / label).glob("*.jpeg")):
            for kind in ("original", "mirrored"):
                gray = Image.open(source).convert("L")
                path = folder / f"{label}-{source.stem}-{kind}.jpeg"
                (ImageOps.mirror(gray) if kind == "mirrored" else gray).save(path, quality=95)
                images.append((path, label))
    return images


def scan_each(images: list[tuple[Path, str]]) -> None:
    for number, (path, _) in enumerate(images):
        result = run("scan", str(path), "--patient-id", f"C-{number:03d}", "--operator", "Amina")
        assert result.exit_code == 0, result.output


def stored() -> list[dict]:
    db = history.connect(history_path())
    rows = history.query(db)
    db.close()
    return rows


def test_scan_confirm_calibrate_from_history_then_stats_measures_what_the_records_say(home, tmp_path):
    images = site_images(tmp_path)
    scan_each(images)
    rows = stored()
    truth = {row["id"]: label for row, (_, label) in zip(rows, images, strict=True)}
    lines = ["scan_id,patient_id,scan_date,outcome,confirmed_by,confirmed_on,method"]
    lines += [
        f"{scan_id},,,{'pneumonia' if label == 'PNEUMONIA' else 'no_pneumonia'},Dr Okafor,{TODAY},xray_read"
        for scan_id, label in truth.items()
    ]
    (tmp_path / "outcomes.csv").write_text("\n".join(lines) + "\n")
    recorded = run("outcome", "--csv", str(tmp_path / "outcomes.csv"))
    assert recorded.exit_code == 0, recorded.output
    assert f"Recorded {len(truth)} outcome(s)." in recorded.output

    calibrated = run("calibrate", "--from-history", "--target-sensitivity", "0.91", "--since", TODAY)
    assert calibrated.exit_code == 0, calibrated.output
    profile = json.loads((home / "site_profile.json").read_text())
    assert profile["source"] == f"confirmed scans in the history since {TODAY}"
    assert profile["counts"] == {"NORMAL": 36, "PNEUMONIA": 36, "rejected": 0}
    pneumonia = sorted(row["probability"] for row in rows if truth[row["id"]] == "PNEUMONIA")
    rank = promise.Promise(0.91, 0.95, 100).highest_rank(36)
    assert profile["threshold"] == pneumonia[rank - 1]

    summary = json.loads(run("stats", "--format", "json").output)
    (month,) = summary["measured_by_month"]
    called = {row["id"]: row["label"] == "PNEUMONIA" for row in rows}
    tp = sum(called[i] for i, label in truth.items() if label == "PNEUMONIA")
    tn = sum(not called[i] for i, label in truth.items() if label == "NORMAL")
    assert month["confirmed"] == 72
    assert month["sensitivity"]["value"] == tp / 36 and month["specificity"]["value"] == tn / 36
    assert month["sensitivity"]["ci95"] == list(metrics.clopper_pearson_interval(tp, 36))
    assert summary["promised"]["target_sensitivity"] == 0.91
    assert "Measured on scans with a confirmed outcome" in run("stats").output


def test_a_correction_supersedes_the_earlier_confirmation_and_both_stay(home):
    assert run("scan", "--samples", "--patient-id", "P-1").exit_code in (0, 1)
    first = run("outcome", "--scan-id", "1", "--outcome", "pneumonia", "--by", "Dr A", "--method", "clinical")
    second = run("outcome", "--scan-id", "1", "--outcome", "no_pneumonia", "--by", "Dr B", "--method", "follow_up")
    assert first.exit_code == 0 and second.exit_code == 0
    db = history.connect(history_path())
    rows = outcomes.all_rows(db, 1)
    assert [row["outcome"] for row in rows] == ["pneumonia", "no_pneumonia"]
    assert rows[1]["supersedes"] == rows[0]["id"]
    assert outcomes.current(db)[1]["outcome"] == "no_pneumonia"
    db.close()


def _outcome_rows() -> int:
    db = history.connect(history_path())
    count = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
    db.close()
    return count


BAD_CSV = {
    "a row naming no scan": "999,,,pneumonia,Dr A,{today},xray_read\n",
    "a patient never scanned": ",NOBODY,{today},pneumonia,Dr A,{today},xray_read\n",
    "two outcomes for one scan": "1,,,pneumonia,Dr A,{today},xray_read\n1,,,no_pneumonia,Dr A,{today},xray_read\n",
    "an unknown method": "1,,,pneumonia,Dr A,{today},guess\n",
    "nobody confirmed it": "1,,,pneumonia,,{today},xray_read\n",
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_a_bad_file_of_outcomes_is_refused_whole_with_exit_2(home, tmp_path, case):
    assert run("scan", "--samples", "--patient-id", "P-1").exit_code in (0, 1)
    header = "scan_id,patient_id,scan_date,outcome,confirmed_by,confirmed_on,method\n"
    good = f"2,,,pneumonia,Dr A,{TODAY},xray_read\n"
    (tmp_path / "o.csv").write_text(header + good + BAD_CSV[case].format(today=TODAY))
    result = run("outcome", "--csv", str(tmp_path / "o.csv"))
    assert result.exit_code == 2, result.output
    assert "Nothing was recorded" in result.output and "Traceback" not in result.output
    assert _outcome_rows() == 0


def test_an_outcome_for_a_rejected_scan_or_an_unknown_scan_is_refused(home, tmp_path):
    (tmp_path / "blank.png").write_bytes(b"not an image at all")
    run("scan", str(tmp_path / "blank.png"))
    assert stored()[0]["status"] != "ok"
    rejected = run("outcome", "--scan-id", "1", "--outcome", "pneumonia", "--by", "Dr A", "--method", "clinical")
    assert rejected.exit_code == 2 and "was not scanned" in rejected.output
    unknown = run("outcome", "--scan-id", "7", "--outcome", "pneumonia", "--by", "Dr A", "--method", "clinical")
    assert unknown.exit_code == 2 and "no scan 7" in unknown.output
    assert _outcome_rows() == 0


MIGRATIONS = list(history.MIGRATIONS)


def test_a_history_made_before_outcomes_keeps_every_scan(home, monkeypatch):
    """The history as the current release writes it (every migration but the outcomes table), then upgraded."""
    monkeypatch.setattr(history, "MIGRATIONS", [m for m in history.MIGRATIONS if m.__name__ != "m007_create_outcomes"])
    assert run("scan", "--samples", "--patient-id", "P-1").exit_code in (0, 1)
    before = stored()
    raw = sqlite3.connect(history_path())
    assert not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'outcomes'").fetchone()
    raw.close()
    monkeypatch.setattr(history, "MIGRATIONS", MIGRATIONS)
    assert stored() == before and len(before) == 10
    assert (
        run("outcome", "--scan-id", "3", "--outcome", "pneumonia", "--by", "Dr A", "--method", "clinical").exit_code
        == 0
    )
    assert stored() == before


@pytest.mark.parametrize("kind", ["nested", "fifo"])
def test_a_site_profile_that_is_deeply_nested_or_a_pipe_gives_a_reason(home, kind):
    import os

    home.mkdir(parents=True, exist_ok=True)
    profile = home / "site_profile.json"
    if kind == "nested":
        profile.write_text("[" * 100_000 + "]" * 100_000)
    else:
        os.mkfifo(profile)
    shown = run("calibrate", "--show")
    assert shown.exit_code == 2 and "cannot be read" in shown.output and "Traceback" not in shown.output


def _month(tp: int, fn: int, scanned: int) -> dict:
    rate = {"value": tp / (tp + fn), "ci95": list(metrics.clopper_pearson_interval(tp, tp + fn)), "n": tp + fn}
    return {"month": "2026-11", "scanned": scanned, "confirmed": tp + fn, "sensitivity": rate}


def test_stats_warns_when_the_upper_bound_falls_under_the_target_and_when_outcomes_are_few():
    from edge_app.site import confirmed

    missed = confirmed.warnings([_month(tp=30, fn=10, scanned=60)], target=0.95)
    assert len(missed) == 1 and "missed pneumonia more often than the calibration promised" in missed[0].detail
    assert missed[0].code == "missed_more_than_promised" and missed[0].facts["pneumonia"] == 40
    assert confirmed.warnings([_month(tp=38, fn=2, scanned=60)], target=0.95) == []  # 0.95 is within the interval
    (few,) = confirmed.warnings([_month(tp=12, fn=0, scanned=200)], target=0.95)
    assert "only 12 of 200 scans have a confirmed outcome" in few.detail
    assert few.code == "few_outcomes" and (few.facts["confirmed"], few.facts["scanned"]) == (12, 200)


def test_exports_carry_the_confirmed_outcome_fhir_as_its_own_observation_csv_made_safe(home):
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.observation import Observation

    assert run("scan", "--samples", "--patient-id", "P-1").exit_code in (0, 1)
    assert (
        run(
            "outcome", "--scan-id", "1", "--outcome", "pneumonia", "--by", "=HYPERLINK(1)", "--method", "xray_read"
        ).exit_code
        == 0
    )
    assert (
        run("outcome", "--scan-id", "2", "--outcome", "not_known", "--by", "Dr A", "--method", "follow_up").exit_code
        == 0
    )
    bundle = json.loads(run("history", "--format", "fhir").stdout)
    Bundle.model_validate(bundle)
    resources = [entry["resource"] for entry in bundle["entry"]]
    confirmed = [r for r in resources if r["resourceType"] == "Observation" and r.get("derivedFrom")]
    assert len(confirmed) == 2
    for resource in confirmed:
        Observation.model_validate(resource)
    screening = {
        f"urn:uuid:{r['id']}" for r in resources if r["resourceType"] == "Observation" and "derivedFrom" not in r
    }
    assert all(r["derivedFrom"][0]["reference"] in screening for r in confirmed)
    pneumonia = next(r for r in confirmed if "valueCodeableConcept" in r)
    assert pneumonia["valueCodeableConcept"]["coding"][0]["code"] == "233604007"
    assert pneumonia["interpretation"][0]["coding"][0]["code"] == "POS"
    assert any(r.get("dataAbsentReason") for r in confirmed)

    rows = list(csv.DictReader(io.StringIO(run("history", "--format", "csv").stdout)))
    assert rows[0]["confirmed_outcome"] == "pneumonia" and rows[0]["confirmed_by"] == "'=HYPERLINK(1)"
    assert rows[1]["confirmed_outcome"] == "not_known" and rows[2]["confirmed_outcome"] == ""


def test_the_app_records_an_outcome_on_the_history_screen_and_the_site_screen_measures_it():
    from tests.device.test_app import finished_page, form_tokens, make_client, post_scan, xray_upload

    _, client = make_client()
    finished_page(client, post_scan(client, [xray_upload()]).headers["Location"])
    (scan,) = stored()
    page = client.get("/history").get_data(as_text=True)
    for control in ("scan_id", "outcome", "method", "confirmed_by"):
        assert f'<label for="{control}">' in page and f'id="{control}"' in page
    tokens = form_tokens(client, "/history")
    fields = {"scan_id": str(scan["id"]), "outcome": "pneumonia", "method": "xray_read", "confirmed_by": "Dr A"}
    forged = client.post("/history/outcome", data=fields | {"csrf_token": "forged"})
    assert forged.status_code == 400 and _outcome_rows() == 0
    done = client.post("/history/outcome", data=fields | tokens, follow_redirects=True)
    assert done.status_code == 200 and f"Outcome recorded for scan {scan['id']}." in done.get_data(as_text=True)
    unknown = client.post("/history/outcome", data=fields | tokens | {"scan_id": "999"})
    assert unknown.status_code == 400 and "no scan 999" in unknown.get_data(as_text=True)
    assert _outcome_rows() == 1

    site = client.get("/site").get_data(as_text=True)
    assert "Measured on confirmed scans, per month" in site
    month = date.today().strftime("%Y-%m")
    assert f"<td>{month}</td><td>1</td><td>1</td>" in site
    refused = client.post("/site/calibrate-from-history", data={"target": "0.95"} | form_tokens(client, "/site"))
    assert "REFUSED" in refused.get_data(as_text=True) and not (data_dir() / "site_profile.json").exists()
    french = client.get("/history", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Enregistrer un résultat confirmé" in french


def test_calibrate_show_refuses_a_profile_made_for_another_model_with_exit_2(home):
    from edge_app.site import site_profile
    from tests.site_profiles import consistent_profile

    site_profile.save_profile(consistent_profile("b" * 64, 0.3))
    shown = run("calibrate", "--show")
    assert shown.exit_code == 2 and "was made for another model" in shown.output
    assert "Traceback" not in shown.output


HANG_GUARD_S = 120
"""A pipe read as a file would block forever; the subprocess is killed after this and the test fails."""


@pytest.mark.parametrize(
    "command",
    [
        ["outcome", "--csv", "{pipe}"],
        ["calibrate", "--labels", "{pipe}"],
        ["operators", "list"],
    ],
    ids=["outcomes-csv", "labels-csv", "operators-file"],
)
def test_a_pipe_named_as_a_file_is_refused_with_a_reason_not_waited_on(command, home, tmp_path):
    import os
    import subprocess
    import sys

    pipe = tmp_path / "named.csv"
    os.mkfifo(pipe)
    if command[0] == "operators":
        home.mkdir(parents=True, exist_ok=True)
        os.mkfifo(home / "operators.json")  # PNEUMOSCAN_HOME holds the settings too
    args = [part.replace("{pipe}", str(pipe)) for part in command]
    done = subprocess.run(
        [sys.executable, "-m", "edge_app", *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env={**os.environ, "PNEUMOSCAN_HOME": str(home)},
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "pipe" in (done.stdout + done.stderr)


def test_the_apps_history_download_carries_the_confirmed_outcome_as_the_command_line_does():
    from tests.device.test_app import finished_page, form_tokens, make_client, post_scan, xray_upload

    _, client = make_client()
    finished_page(client, post_scan(client, [xray_upload()]).headers["Location"])
    (scan,) = stored()
    fields = {"scan_id": str(scan["id"]), "outcome": "no_pneumonia", "method": "follow_up", "confirmed_by": "Dr B"}
    client.post("/history/outcome", data=fields | form_tokens(client, "/history"))
    assert _outcome_rows() == 1
    (row,) = csv.DictReader(io.StringIO(client.get("/device/history.csv").get_data(as_text=True)))
    confirmed = (row["confirmed_outcome"], row["confirmed_by"], row["confirmation_method"])
    assert confirmed == ("no_pneumonia", "Dr B", "follow_up")
    bundle = json.loads(client.get("/device/history.json").get_data(as_text=True))
    resources = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert resources.count("Observation") == 2  # the screening and, linked to it, the confirmed outcome
