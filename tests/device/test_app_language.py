"""The app's screens in French and Portuguese carry no English a health worker would have to read:
the result, the referral slip it prints, the site figures and the device facts."""

from __future__ import annotations

import io
import re

import pytest

from tests.device.test_app import finished_page, make_client, post_scan, xray_upload

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
PORTUGUESE = {"Accept-Language": "pt-MZ"}


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


def test_the_device_screen_gives_model_facts_and_disk_space_in_the_readers_language():
    client = make_client()[1]
    french = client.get("/device", headers=FRENCH).get_data(as_text=True)
    assert "vérifié avec pneumoscan.tflite.sha256" in french
    assert "intégré — livré avec ce PneumoScan" in french
    assert re.search(r">\d{1,3}(\u202f\d{3})* Mo libres sur \d{1,3}(\u202f\d{3})* Mo<", french)  # 72 718 Mo
    portuguese = client.get("/device", headers=PORTUGUESE).get_data(as_text=True)
    assert "verificado com pneumoscan.tflite.sha256" in portuguese and "MB livres de" in portuguese
