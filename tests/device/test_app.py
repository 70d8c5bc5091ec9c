"""The health worker's app, driven in-process through Flask's test client: the screening flow,
what it stores, and the guards (CSRF, login, escaping, uploads, nothing doubled, nothing lost)."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.__main__ import main
from edge_app.app import screenings, views_scan
from edge_app.app.server import Settings, create_app
from edge_app.storage import history, operators
from edge_app.storage.paths import config_dir, data_dir, history_path
from tests.device.test_update_signing import no_hang as _no_hang

no_hang = _no_hang  # a read that never returns fails the test instead of stopping the suite
FIXTURE_XRAY = sorted((Path(__file__).parents[1] / "fixtures" / "chest_xray").rglob("*.jpeg"))[0]


def make_client(network: bool = False):
    app = create_app(Settings(data_dir(), config_dir(), network))
    return app, app.test_client()


@pytest.fixture
def client():
    return make_client()[1]


def form_tokens(client, path: str = "/scan/new") -> dict:
    page = client.get(path).get_data(as_text=True)
    tokens = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)}
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    if found:
        tokens["form_token"] = found.group(1)
    return tokens


def post_scan(client, files, tokens=None, **fields):
    tokens = tokens or form_tokens(client)
    data = {**tokens, "operator": "Amina", "patient_id": "P-0042", **fields, "images": files}
    return client.post("/scan", data=data, content_type="multipart/form-data")


def finished_page(client, location: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(location).get_data(as_text=True)
        if 'http-equiv="refresh"' not in page:
            return page
        time.sleep(0.1)
    raise AssertionError(f"{location} still scanning after {timeout}s")


def xray_upload(name: str = "chest.jpeg"):
    return (io.BytesIO(FIXTURE_XRAY.read_bytes()), name)


def stored_rows() -> list[dict]:
    db = history.connect(history_path())
    rows = history.query(db)
    db.close()
    return rows


@pytest.mark.parametrize("damage", ["truncated", "an array", "a pipe"])
def test_a_damaged_screening_state_file_is_not_found_not_a_crash(damage, client, no_hang):
    token = "0123456789abcdef0123456789abcdef"
    path = data_dir() / "app" / "screenings" / f"{token}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if damage == "a pipe":
        os.mkfifo(path)
    else:
        path.write_text('{"ids": [1], "done": tr' if damage == "truncated" else "[1, 2]")
    assert client.get(f"/screening/{token}").status_code == 404


@pytest.mark.parametrize("make", [os.mkfifo, os.mkdir], ids=["a pipe", "a folder"])
def test_something_else_in_place_of_the_apps_secret_key_is_named_and_not_waited_on(make, no_hang):
    config_dir().mkdir(parents=True, exist_ok=True)
    make(config_dir() / "app-secret.key")
    result = CliRunner().invoke(main, ["app", "--port", "0"])
    assert result.exit_code == 2 and "app-secret.key" in result.output and "Move it away" in result.output


def test_the_screening_form_names_every_control_for_screen_readers(client):
    page = client.get("/scan/new").get_data(as_text=True)
    for field_id, label in (("operator", "Operator"), ("patient_id", "Patient ID"), ("images", "X-ray images")):
        assert re.search(rf'<label for="{field_id}">{label}</label>', page)
        assert f'id="{field_id}"' in page
    assert re.search(r'<input id="images" name="images" type="file" multiple', page)
    assert re.search(r'<button class="primary" type="submit">Scan</button>', page)


def test_a_screening_is_saved_with_the_probability_edge_scan_gives_and_shows_the_rejection(client, tmp_path):
    damaged = (io.BytesIO(FIXTURE_XRAY.read_bytes()[:400]), "damaged.jpeg")
    response = post_scan(client, [xray_upload(), damaged], heatmaps="on")
    assert response.status_code == 303
    page = finished_page(client, response.headers["Location"])
    assert re.search(r'class="verdict"[^>]*>(NORMAL|PNEUMONIA suspected - REFER|NORMAL\? uncertain - REFER)<', page)
    assert "NOT SCANNED" in page and "damaged.jpeg" in page and "The image file is damaged" in page
    assert "Print referral slip" in page
    rows = stored_rows()
    assert [(r["path"], r["status"], r["operator"], r["patient_id"]) for r in rows] == [
        ("chest.jpeg", "ok", "Amina", "P-0042"),
        ("damaged.jpeg", "rejected", "Amina", "P-0042"),
    ]
    runner = CliRunner()
    copy = tmp_path / "chest.jpeg"
    copy.write_bytes(FIXTURE_XRAY.read_bytes())
    cli = runner.invoke(main, ["scan", str(copy), "--format", "json", "--no-history"])
    assert json.loads(cli.output.splitlines()[0])["probability"] == rows[0]["probability"]
    assert client.get(f"/heatmap/{rows[0]['id']}/overlay.png").status_code == 200


def test_a_phone_photo_of_a_film_is_scanned_from_the_straightened_film_and_says_so(client, tmp_path):
    from PIL import Image

    from tests.device.test_film_photo import lightbox_photo, xray_rgb

    photo = io.BytesIO()
    Image.fromarray(lightbox_photo(xray_rgb())).save(photo, "JPEG", quality=92)
    photo.seek(0)
    response = post_scan(client, [(photo, "film.jpg")], photo="on", heatmaps="on")
    page = finished_page(client, response.headers["Location"])
    assert "Scanned from a photo of the film" in page
    assert [(r["path"], r["status"], r["correction"]) for r in stored_rows()] == [("film.jpg", "ok", "film_photo")]
    overlay = Image.open(io.BytesIO(client.get(f"/heatmap/{stored_rows()[0]['id']}/overlay.png").data))
    assert overlay.width < overlay.height  # the straightened film, not the landscape photo it came from


def test_the_same_form_sent_twice_scans_once(client):
    tokens = form_tokens(client)
    first = post_scan(client, [xray_upload()], tokens)
    finished_page(client, first.headers["Location"])
    again = post_scan(client, [xray_upload()], tokens)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    finished_page(client, again.headers["Location"])
    assert len(stored_rows()) == 1


def test_a_post_without_its_csrf_token_is_refused_and_scans_nothing(client):
    tokens = form_tokens(client)
    response = post_scan(client, [xray_upload()], {"form_token": tokens["form_token"], "csrf_token": "forged"})
    assert response.status_code == 400
    assert not history_path().exists() or stored_rows() == []
    assert client.post("/language", data={"language": "fr"}).status_code == 400


def test_a_post_from_another_origin_is_refused(client):
    tokens = form_tokens(client)
    data = {**tokens, "operator": "A", "images": [xray_upload()]}
    response = client.post(
        "/scan", data=data, content_type="multipart/form-data", headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 400


def test_script_in_a_patient_id_or_file_name_is_shown_as_text(client):
    name, patient = "<script>alert(1)</script>.jpeg", "<script>alert(2)</script>"
    response = post_scan(client, [xray_upload(name)], patient_id=patient)
    page = finished_page(client, response.headers["Location"])
    history_page = client.get("/history").get_data(as_text=True)
    slip = client.get(response.headers["Location"] + "/slip").get_data(as_text=True)
    for html in (page, history_page, slip):
        assert "<script>" not in html
        assert "&lt;script&gt;alert(" in html


def test_every_page_allows_only_its_own_origin(client):
    for path in ("/scan/new", "/history", "/site", "/device"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "http" not in policy


def test_files_of_other_types_are_refused_and_uploads_are_deleted_after_the_scan(client):
    response = post_scan(client, [(io.BytesIO(b"#!/bin/sh\nrm -rf /\n"), "../../etc/passwd"), xray_upload()])
    page = finished_page(client, response.headers["Location"])
    assert "These files are not JPEG, PNG or DICOM images" in page and "passwd" in page
    assert [r["path"] for r in stored_rows()] == ["chest.jpeg"]
    assert list((data_dir() / "app" / "uploads").iterdir()) == []


def test_too_many_files_are_refused_with_a_message(client):
    files = [xray_upload(f"{n}.jpeg") for n in range(101)]
    response = post_scan(client, files)
    assert response.status_code in (400, 413)
    assert "images" in response.get_data(as_text=True)
    assert not history_path().exists() or stored_rows() == []


def test_the_server_reads_no_path_the_browser_names(client):
    assert client.get("/heatmap/1/..%2F..%2Fhistory.sqlite3.png").status_code == 404
    assert client.get("/static/../storage/history.py").status_code == 404
    assert client.get("/screening/..%2Fapp-secret").status_code == 404


def test_a_full_disk_gets_a_message_and_keeps_what_was_saved(client, monkeypatch):
    saved = history.record

    def record_then_fill(db, result):
        if result.path == "second.jpeg":
            raise sqlite3.OperationalError("database or disk is full")
        return saved(db, result)

    monkeypatch.setattr(history, "record", record_then_fill)
    response = post_scan(client, [xray_upload("first.jpeg"), xray_upload("second.jpeg")])
    page = finished_page(client, response.headers["Location"])
    assert "The disk is full" in page and "Traceback" not in page
    assert [r["path"] for r in stored_rows()] == ["first.jpeg"]


def test_the_answer_to_a_short_screening_is_its_result_already_saved(client, monkeypatch):
    monkeypatch.setattr(views_scan, "SHOW_RESULT_WITHIN_S", 60.0)  # a slow machine still answers with the result
    response = post_scan(client, [xray_upload()])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "Print referral slip" in page
    token = response.headers["Location"].rsplit("/", 1)[1]
    state = json.loads((data_dir() / "app" / "screenings" / f"{token}.json").read_text())
    assert state["done"] and state["ids"] == [r["id"] for r in stored_rows()]


def test_a_screening_whose_last_state_cannot_be_saved_still_shows_its_result(client, monkeypatch):
    monkeypatch.setattr(views_scan, "SHOW_RESULT_WITHIN_S", 60.0)

    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(screenings, "atomic_write_text", disk_full)
    response = post_scan(client, [xray_upload("first.jpeg")])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "first.jpeg" in page and "Print referral slip" in page
    assert [r["path"] for r in stored_rows()] == ["first.jpeg"]


def test_a_screening_cut_short_by_a_stopped_server_says_so():
    _, client = make_client()
    response = post_scan(client, [xray_upload()])
    finished_page(client, response.headers["Location"])
    token = response.headers["Location"].rsplit("/", 1)[1]
    state_file = data_dir() / "app" / "screenings" / f"{token}.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps(state | {"done": False}))
    _, restarted = make_client()
    page = restarted.get(response.headers["Location"]).get_data(as_text=True)
    assert "stopped before this screening finished" in page


def test_history_finds_a_scan_by_patient_and_reopens_it(client):
    post = post_scan(client, [xray_upload()], patient_id="P-7")
    finished_page(client, post.headers["Location"])
    post = post_scan(client, [xray_upload()], patient_id="P-8")
    finished_page(client, post.headers["Location"])
    page = client.get("/history?patient_id=P-7").get_data(as_text=True)
    assert "P-7" in page and "P-8" not in page
    row_id = stored_rows()[0]["id"]
    assert f'href="/result/{row_id}"' in page
    assert "Print referral slip" in client.get(f"/result/{row_id}").get_data(as_text=True)
    today = time.strftime("%Y-%m-%d")
    assert "2 scans" in client.get(f"/history?date={today}").get_data(as_text=True)
    assert "0 scans" in client.get("/history?date=2001-01-01").get_data(as_text=True)


def test_remembered_operators_are_offered(client):
    post = post_scan(client, [xray_upload()], operator="Fatou")
    finished_page(client, post.headers["Location"])
    assert '<option value="Fatou">' in make_client()[1].get("/scan/new").get_data(as_text=True)


def test_the_language_follows_the_picker_then_the_browser(client):
    assert 'lang="fr"' in client.get("/scan/new", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    tokens = form_tokens(client)
    response = client.post("/language", data={"language": "pt", "csrf_token": tokens["csrf_token"], "next": "//evil"})
    assert response.status_code == 303 and response.headers["Location"] == "/scan/new"
    assert '<html lang="pt">' in client.get("/scan/new", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def test_a_french_browser_gets_the_french_screen_and_verdicts(client):
    page = client.get("/scan/new", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Nouveau dépistage" in page and '<label for="patient_id">Identifiant du patient</label>' in page
    response = post_scan(client, [xray_upload(), (io.BytesIO(b"\xff\xd8\xff"), "broken.jpeg")])
    location = response.headers["Location"]
    finished_page(client, location)
    french = client.get(location, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "NON ANALYSÉE" in french and "Imprimer la fiche de référence" in french
    verdicts = r"(NORMAL|PNEUMONIE suspectée - RÉFÉRER|NORMAL \? incertain - RÉFÉRER)"
    assert re.search(rf'class="verdict"[^>]*>{verdicts}<', french)


def test_the_history_exports_as_csv_and_fhir(client):
    post = post_scan(client, [xray_upload()])
    finished_page(client, post.headers["Location"])
    csv_text = client.get("/device/history.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("id,") and "chest.jpeg" in csv_text
    bundle = json.loads(client.get("/device/history.json").get_data(as_text=True))
    assert bundle["resourceType"] == "Bundle"


def test_the_device_page_runs_the_selftest_and_shows_the_model(client):
    page = client.get("/device").get_data(as_text=True)
    assert re.search(r"[0-9a-f]{64}", page) and "MB free" in page
    tokens = form_tokens(client, "/device")
    assert "Self-test passed." in client.post("/device/selftest", data=tokens).get_data(as_text=True)


def test_network_mode_without_operator_passwords_refuses_to_start():
    result = CliRunner().invoke(main, ["app", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "edge-scan operators set NAME" in result.output


def test_network_mode_requires_login_and_limits_attempts():
    operators.set_password("Amina", "4821")
    _, client = make_client(network=True)
    assert client.get("/scan/new").status_code == 302
    assert client.get("/history").headers["Location"].startswith("/login")
    tokens = form_tokens(client, "/login")
    assert client.post("/scan", data=tokens).status_code == 403
    for _ in range(5):
        wrong = client.post("/login", data={**tokens, "operator": "Amina", "password": "0000"})
        assert wrong.status_code == 401
    blocked = client.post("/login", data={**tokens, "operator": "Amina", "password": "4821"})
    assert "Too many wrong attempts" in blocked.get_data(as_text=True)
    _, fresh = make_client(network=True)
    tokens = form_tokens(fresh, "/login")
    assert fresh.post("/login", data={**tokens, "operator": "Amina", "password": "4821"}).status_code == 302
    page = fresh.get("/scan/new").get_data(as_text=True)
    assert "Amina" in page and 'id="operator"' not in page


def test_operator_passwords_are_stored_as_scrypt_hashes_only():
    CliRunner().invoke(main, ["operators", "set", "Amina", "--password", "secret-pin"])
    text = operators.operators_path().read_text()
    assert "secret-pin" not in text and '"n": 16384' in text
    assert operators.verify("Amina", "secret-pin") and not operators.verify("Amina", "secret-pim")


def test_a_model_changed_between_screenings_is_used_for_the_next_one(client, monkeypatch, tmp_path):
    from edge_app.files import write_with_sidecar
    from edge_app.package_data import DEFAULT_MODEL

    model = tmp_path / "model.tflite"
    write_with_sidecar(model, DEFAULT_MODEL.read_bytes())
    monkeypatch.setenv("PNEUMOSCAN_MODEL", str(model))
    finished_page(client, post_scan(client, [xray_upload()]).headers["Location"])
    write_with_sidecar(model, (Path(__file__).parents[1] / "fixtures" / "models" / "tiny_int8.tflite").read_bytes())
    finished_page(client, post_scan(client, [xray_upload()]).headers["Location"])
    first, second = stored_rows()
    assert first["model_sha256"] != second["model_sha256"]


def calibration_post(client, folder: Path, target: str = "0.95"):
    tokens = form_tokens(client, "/site")
    files = {
        label: [(io.BytesIO(p.read_bytes()), p.name) for p in sorted((folder / label).iterdir())]
        for label in ("NORMAL", "PNEUMONIA")
    }
    data = {"csrf_token": tokens["csrf_token"], "target": target, "operator": "Amina", **files}
    return client.post("/site/calibrate", data=data, content_type="multipart/form-data")


def test_a_calibration_on_too_few_xrays_is_refused_and_changes_nothing(client):
    response = calibration_post(client, Path(__file__).parents[1] / "fixtures" / "chest_xray" / "train")
    page = response.get_data(as_text=True)
    assert "Calibration refused: nothing was changed." in page
    assert not (data_dir() / "site_profile.json").exists()
    assert "own threshold (this site is not calibrated)" in page


def test_a_calibration_in_the_browser_becomes_the_threshold_scans_use(client, tmp_path, monkeypatch):
    from edge_app.site import variety
    from tests.device.test_calibrate import SITE_VARIANTS, make_site

    monkeypatch.setattr(variety, "NEAR_COPY_SIMILARITY", 2.0)  # as in test_calibrate: each copy counts as a child
    monkeypatch.setattr(variety, "MIN_CHILDREN_PER_CLASS", 1)
    response = calibration_post(client, make_site(tmp_path / "site", SITE_VARIANTS))
    page = response.get_data(as_text=True)
    assert "Saved: scans on this device now use this site's threshold." in page, page
    assert "From this site's calibration." in page
    finished_page(client, post_scan(client, [xray_upload()]).headers["Location"])
    assert stored_rows()[0]["threshold_source"] == "site"


def test_a_calibration_target_the_device_cannot_back_is_refused(client):
    response = calibration_post(client, Path(__file__).parents[1] / "fixtures" / "chest_xray" / "train", "0.5")
    assert response.status_code == 400 and "is not a target this device can back" in response.get_data(as_text=True)


def test_two_browsers_screening_at_once_each_get_their_own_results():
    import threading

    _, first = make_client()
    second = first.application.test_client()
    locations = {}

    def screen(name, browser):
        locations[name] = post_scan(browser, [xray_upload(f"{name}.jpeg")], patient_id=name).headers["Location"]

    threads = [threading.Thread(target=screen, args=pair) for pair in (("A-1", first), ("B-2", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, browser in (("A-1", first), ("B-2", second)):
        page = finished_page(browser, locations[name])
        assert f"{name}.jpeg" in page and ("B-2" if name == "A-1" else "A-1") + ".jpeg" not in page
    assert sorted(r["patient_id"] for r in stored_rows()) == ["A-1", "B-2"]


def test_an_upload_over_the_size_limit_gets_a_message(client):
    client.application.config["MAX_CONTENT_LENGTH"] = 10_000
    response = post_scan(client, [(io.BytesIO(b"\xff\xd8\xff" + bytes(20_000)), "big.jpeg")])
    assert response.status_code == 413
    assert "too large to send at once" in response.get_data(as_text=True)


def test_an_idle_session_must_log_in_again():
    operators.set_password("Amina", "4821")
    _, client = make_client(network=True)
    tokens = form_tokens(client, "/login")
    client.post("/login", data={**tokens, "operator": "Amina", "password": "4821"})
    assert client.get("/scan/new").status_code == 200
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60
    assert client.get("/scan/new").headers["Location"].startswith("/login")


def test_a_page_asked_for_under_another_host_name_is_refused(client):
    """DNS rebinding: a site whose name resolves to 127.0.0.1 must not read the history through the browser."""
    assert client.get("/device/history.csv", headers={"Host": "evil.example:8080"}).status_code == 400
    assert client.get("/history", headers={"Host": "localhost:8080"}).status_code == 200


def test_a_malformed_upload_gets_a_message_and_the_server_keeps_serving(client):
    tokens = form_tokens(client)
    body = b'--xyz\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + tokens["csrf_token"].encode()
    response = client.post("/scan", data=body, content_type="multipart/form-data; boundary=xyz")
    assert response.status_code == 400 and "Something went wrong" in response.get_data(as_text=True)
    assert client.get("/scan/new").status_code == 200


def test_a_dicom_from_the_xray_machine_is_scanned_with_the_patient_id_it_carries(client):
    from tests.dicom_factory import cr_dataset, dicom_bytes

    dicom = dicom_bytes(cr_dataset(FIXTURE_XRAY, monochrome1=True))
    response = post_scan(client, [(io.BytesIO(dicom), "IM0001")], patient_id="")
    finished_page(client, response.headers["Location"])
    (row,) = stored_rows()
    assert row["status"] == "ok" and row["path"] == "IM0001" and row["study_uid"]
    assert row["patient_id"] == "DCM-0007"  # no ID typed: the DICOM header's, as edge-scan scan does


def test_uploads_are_stored_as_sent_whether_spooled_to_a_file_or_kept_in_memory(tmp_path):
    from werkzeug.datastructures import FileStorage

    from edge_app.app.uploads import save_uploads

    data = FIXTURE_XRAY.read_bytes()
    spool = tempfile.NamedTemporaryFile(dir=tmp_path)
    spool.write(data)
    spool.seek(0)
    files = [FileStorage(spool, "spooled.jpeg"), FileStorage(io.BytesIO(data), "in-memory.jpeg")]
    linked, copied = save_uploads(files, tmp_path / "batch")
    assert linked.path.read_bytes() == copied.path.read_bytes() == data
    assert linked.path.stat().st_ino == Path(spool.name).stat().st_ino  # the spooled file itself, not a copy
    spool.close()
    assert linked.path.read_bytes() == data and list(tmp_path.iterdir()) == [tmp_path / "batch"]
