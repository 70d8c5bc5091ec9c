"""The app's screens in French and Portuguese carry no English a health worker would have to read:
the result, the referral slip it prints, the site figures and the device facts."""

from __future__ import annotations

import html
import io
import re
from datetime import date
from pathlib import Path

import pytest

from edge_app.app.i18n import LANGUAGE_COOKIE
from tests.device.test_app import finished_page, make_client, post_scan, xray_upload

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
PORTUGUESE = {"Accept-Language": "pt-MZ"}
FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def client_fr():
    """An app client whose language picker chose French."""
    client = make_client()[1]
    client.set_cookie(LANGUAGE_COOKIE, "fr")
    return client


@pytest.fixture
def scanned():
    """An app client after one screening of an X-ray and a damaged file; (client, result page location)."""
    client = make_client()[1]
    response = post_scan(client, [xray_upload(), (io.BytesIO(b"\xff\xd8\xff"), "broken.jpeg")])
    finished_page(client, response.headers["Location"])
    return client, response.headers["Location"]


def test_the_french_result_explains_the_rejection_and_prints_a_french_slip(scanned):
    client, location = scanned
    page = client.get(location, headers=FRENCH).get_data(as_text=True)
    assert "le fichier image est abîmé ou incomplet" in page
    assert "Copiez de nouveau la radiographie depuis l&#39;appareil de radiologie" in page
    slip_link = re.search(r'href="([^"]+/slip)"', page).group(1)
    slip = client.get(slip_link, headers=FRENCH).get_data(as_text=True)
    assert '<html lang="fr">' in slip and "Rapport de dépistage PneumoScan" in slip
    assert re.search(r"Date</td><td>\d{1,2} [a-zéû]+\.? 20\d\d, \d\d:\d\d", slip)
    assert re.search(r"moteur [^<]+ ; vérifié</td>", slip)  # the integrity the history recorded, in French
    assert "PneumoScan screening report" not in slip and "not given" not in slip


def test_the_site_screen_names_reasons_and_rates_in_the_readers_language(scanned):
    client, _ = scanned
    french = client.get("/site", headers=FRENCH).get_data(as_text=True)
    assert "le fichier image est abîmé ou incomplet (corrupt_image)" in french
    assert re.search(r"<td>\d+\u00a0%</td>", french)  # 50 % with the French non-breaking space
    assert "highest threshold" not in french and "from the model" not in french  # the engineer's English detail
    portuguese = client.get("/site", headers=PORTUGUESE).get_data(as_text=True)
    assert "o ficheiro de imagem está danificado ou incompleto (corrupt_image)" in portuguese
    month = date.today().strftime("%Y-%m")  # one X-ray scanned, none confirmed: monitoring asks for outcomes
    assert f"{month}: só 0 de 1 análises têm resultado confirmado (0 com pneumonia)" in portuguese
    assert "Registe os resultados confirmados na página Histórico." in portuguese
    assert "have a confirmed outcome" not in portuguese and "edge-scan outcome" not in portuguese


def test_the_device_screen_gives_model_facts_and_disk_space_in_the_readers_language():
    client = make_client()[1]
    french = client.get("/device", headers=FRENCH).get_data(as_text=True)
    assert "vérifié avec pneumoscan.tflite.sha256" in french
    assert "intégré — livré avec ce PneumoScan" in french
    assert re.search(r">\d{1,3}(\u202f\d{3})* Mo libres sur \d{1,3}(\u202f\d{3})* Mo<", french)  # 72 718 Mo
    portuguese = client.get("/device", headers=PORTUGUESE).get_data(as_text=True)
    assert "verificado com pneumoscan.tflite.sha256" in portuguese and "MB livres de" in portuguese


def _outside_details(page: str) -> str:
    """The page without its <details> elements: what a health worker reads without opening the engineer's part."""
    return re.sub(r"<details.*?</details>", "", page, flags=re.S)


def _english_report_lines(text: str) -> list[str]:
    """The sentences of the engineer's English report, as they would appear escaped in a page."""
    return [html.escape(line.strip()) for line in text.splitlines() if len(line.strip()) > 12]


def test_a_french_calibration_gives_its_promise_and_referrals_in_french(tmp_path, monkeypatch):
    from edge_app.outputs.calibration_report import summary
    from edge_app.site import site_profile, variety
    from tests.device.test_app import calibration_post
    from tests.device.test_calibrate import SITE_VARIANTS, make_site

    monkeypatch.setattr(variety, "NEAR_COPY_SIMILARITY", 2.0)  # as in test_calibrate: each copy counts as a child
    monkeypatch.setattr(variety, "MIN_CHILDREN_PER_CLASS", 1)
    client = make_client()[1]
    client.set_cookie(LANGUAGE_COOKIE, "fr")
    page = calibration_post(client, make_site(tmp_path / "site", SITE_VARIANTS)).get_data(as_text=True)
    profile = site_profile.load_profile()
    assert "Enregistré : les analyses de cet appareil utilisent maintenant le seuil de ce site." in page, page
    caught = 100 - profile.promise.misses_allowed
    assert f"Sur les 100 prochains enfants avec pneumonie, au moins {caught} seront détectés (sûr à 95\u00a0%)" in page
    referred = [round(100 * p["healthy_referred"]["value"]) for p in (profile.site_threshold, profile.model_threshold)]
    assert (
        f"Sur 100 enfants en bonne santé, {referred[0]} ont été référés avec le seuil du site et {referred[1]} avec le "
        "seuil propre du modèle." in page
    )
    assert f"Seuil du site : {profile.threshold:.3f}".replace(".", ",") in page
    shown = _outside_details(page)
    assert "Détails pour l'ingénieur du programme" in page and "Site calibration on" in page  # kept, folded away
    assert not [line for line in _english_report_lines(summary(profile)) if line in shown]
    assert "children" not in shown and "confidence" not in shown


def test_a_french_refusal_says_what_is_missing_in_french_and_keeps_the_english_for_the_engineer(client_fr):
    from tests.device.test_app import calibration_post

    page = calibration_post(client_fr, FIXTURES / "chest_xray" / "train").get_data(as_text=True)
    shown = _outside_details(page)
    assert "Étalonnage refusé : rien n'a été modifié." in shown
    normal = len(list((FIXTURES / "chest_xray" / "train" / "NORMAL").iterdir()))
    assert (
        f"Seulement {normal} radiographies NORMAL ont pu être utilisées : il en faut au moins 30. "
        f"Ajoutez {30 - normal} radiographies NORMAL de plus" in shown
    )
    assert re.search(r"cette promesse en demande au moins 64\. Ajoutez les radiographies de \d+ autres enfants", shown)
    assert "Promesse demandée : Sur les 100 prochains enfants avec pneumonie, au moins 95 seront détectés" in shown
    assert "Calibration REFUSED" in page and "Calibration REFUSED" not in shown
    assert "usable" not in shown and "are needed" not in shown and "Target:" not in shown


def test_a_french_target_the_device_cannot_back_is_explained_in_french(client_fr):
    from tests.device.test_app import calibration_post

    response = calibration_post(client_fr, FIXTURES / "chest_xray" / "train", "0,5")
    shown = _outside_details(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Tapez la part à détecter : un nombre plus grand que 0,90 et plus petit que 1, par exemple 0,95." in shown
    assert "is not a target" not in shown


def test_portuguese_outcome_errors_are_in_portuguese(scanned):
    from tests.device.test_app import form_tokens, stored_rows

    client, _ = scanned
    client.set_cookie(LANGUAGE_COOKIE, "pt")
    rejected = next(row["id"] for row in stored_rows() if row["status"] != "ok")
    fields = {"outcome": "pneumonia", "method": "xray_read", "confirmed_by": "Dra. Ana"} | form_tokens(
        client, "/history"
    )
    unknown = client.post("/history/outcome", data=fields | {"scan_id": "999"})
    assert unknown.status_code == 400
    assert "Não há nenhuma análise 999 neste aparelho. Verifique o número da análise." in unknown.get_data(as_text=True)
    not_read = client.post("/history/outcome", data=fields | {"scan_id": str(rejected)}).get_data(as_text=True)
    assert f"A análise {rejected} não tem resultado: a imagem não foi analisada." in not_read
    assert "was not scanned" not in not_read and "in this history" not in not_read
    blank = client.post("/history/outcome", data=fields | {"scan_id": "1", "confirmed_by": " "}).get_data(as_text=True)
    assert "Escreva quem confirmou o resultado." in blank


def test_monitoring_warnings_about_referrals_and_rejections_are_worded_in_french():
    from edge_app.app import site_messages
    from edge_app.site import stats
    from tests.device.test_stats import scan, site_calibration, steady_history

    records = steady_history(4, 50, 0.95)  # the calibration predicts about half referred
    records += [scan(22 + i / 10, reason="blank_image") for i in range(12)]  # none before, twelve in the last week
    _, warnings, _ = stats.monitor(records, site_calibration())
    assert {warning.code for warning in warnings} == {"referrals_changed", "rejections_climb"}
    app = make_client()[0]
    with app.test_request_context(headers=FRENCH):
        drift, climb = (site_messages.warning_words(warning) for warning in warnings)
    assert re.fullmatch(
        r"Les références ont changé : \d+ des \d+ enfants analysés ces 7 derniers jours ont été référés, alors que "
        r"l'étalonnage en attend de \d+ à \d+\. .*étalonnez de nouveau le site\.",
        drift,
    )
    assert climb.startswith("Plus d'images non analysées parce que ") and "(blank_image) : 12 sur " in climb


def test_a_calibration_made_for_another_model_is_named_unused_in_french(client_fr):
    from edge_app.site import site_profile
    from tests.site_profiles import consistent_profile

    site_profile.save_profile(consistent_profile("b" * 64, 0.3))
    page = client_fr.get("/site").get_data(as_text=True)
    shown = _outside_details(page)
    assert "L'étalonnage de ce site n'est pas utilisé : il a été fait pour un autre modèle" in shown
    assert "was made for another model" in page and "was made for another model" not in shown
