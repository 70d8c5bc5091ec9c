"""edge-scan scan --report --language: the printed referral slip in French and Portuguese.

Each page is printed to PDF in headless Chromium and read back with pdftotext, so the test sees the
words a health worker reads on paper, not only the HTML source.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from edge_app.cli.main import main
from edge_app.package_data import SAMPLES_DIR
from tests.device.test_html_report import render
from tests.dicom_factory import clinic_batch

ENGLISH_SENTENCES = (
    "PNEUMONIA suspected: refer the child",
    "NORMAL: the screening found no sign of pneumonia",
    "screening aid, NOT a diagnosis",
    "These files were not screened",
    "Patient ID",
)


def scan_with_report(root: Path, language: str) -> dict:
    batch = root / "batch"
    if not batch.exists():
        clinic_batch(batch, SAMPLES_DIR)
        # turned on its side: the gate puts it right and the page says so
        Image.open(next(SAMPLES_DIR.glob("person122*.jpeg"))).rotate(90, expand=True).save(batch / "side.jpeg")
    page = root / f"report-{language}.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PNEUMOSCAN_HOME", str(root / "home"))
        result = CliRunner().invoke(
            main,
            ["scan", str(batch), "--patient-id", "P-0042", "--operator", "Amina", "--format", "json"]
            + ["--report", str(page), "--language", language],
        )
    assert result.exit_code == 1, result.output  # two files rejected, the rest scanned
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {"page": page, "html": page.read_text(encoding="utf-8"), "records": records}


@pytest.fixture(scope="module")
def french(tmp_path_factory) -> dict:
    return scan_with_report(tmp_path_factory.mktemp("french"), "fr")


@pytest.fixture(scope="module")
def portuguese(tmp_path_factory) -> dict:
    return scan_with_report(tmp_path_factory.mktemp("portuguese"), "pt")


def printed_text(report: dict, out: Path) -> str:
    pdf = out / f"{report['page'].stem}.pdf"
    render(report["page"], out, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", text)


def test_the_french_slip_prints_in_french_with_french_dates_and_numbers(french, tmp_path):
    html, text = french["html"], printed_text(french, tmp_path)
    scanned = [r for r in french["records"] if r["status"] == "ok"]
    positive = sum(r["label"] == "PNEUMONIA" for r in scanned)
    assert '<html lang="fr">' in html
    assert "Rapport de dépistage PneumoScan" in text and "aide au dépistage, PAS un diagnostic" in text
    assert text.count("PNEUMONIE suspectée : référez l'enfant") == positive > 0
    assert "Identifiant du patient P-0042" in text and "Opérateur Amina" in text
    assert re.search(r"\d{1,2} [a-zéû]+\.? 20\d\d, \d\d:\d\d", text)  # e.g. 6 déc. 2026, 14:05
    threshold = scanned[0]["threshold"]
    assert f"{threshold:.3f}".replace(".", ",") + " (le seuil propre au modèle)" in text  # decimal comma
    assert "La radiographie était tournée sur le côté" in text
    assert not [sentence for sentence in ENGLISH_SENTENCES if sentence in text]


def test_rejected_files_say_why_and_what_to_do_in_the_page_language(french, portuguese):
    assert "Le fichier n&#x27;est pas une image JPEG ou PNG. Choisissez une image de radiographie" in french["html"]
    assert "Un DICOM d&#x27;un autre type d&#x27;examen" in french["html"]
    assert "Choisissez la radiographie du thorax (CR ou DX)" in french["html"]
    assert "O ficheiro não é uma imagem JPEG nem PNG. Escolha uma imagem de radiografia" in portuguese["html"]
    for report in (french, portuguese):
        assert "not_an_image" in report["html"] and "wrong_modality" in report["html"]  # the stable codes stay
        assert "The file is not" not in report["html"]  # the English detail is not mixed in


def test_the_portuguese_slip_uses_the_words_and_formats_of_lusophone_africa(portuguese, tmp_path):
    text = printed_text(portuguese, tmp_path)
    assert '<html lang="pt">' in portuguese["html"]
    assert "Relatório de rastreio PneumoScan" in text and "Suspeita de PNEUMONIA: refira a criança" in text
    assert re.search(r"\d\d/\d\d/20\d\d, \d\d:\d\d", text)  # 06/12/2026, 14:05 as in Mozambique and Portugal
    assert "ficheiro" in text.lower() and "arquivo" not in text.lower()
    assert not [sentence for sentence in ENGLISH_SENTENCES if sentence in text]


def test_the_language_option_is_checked_and_only_applies_to_a_report(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    unknown = CliRunner().invoke(main, ["scan", "--samples", "--report", str(tmp_path / "r.html"), "--language", "xx"])
    assert unknown.exit_code == 2 and "xx" in unknown.output
    alone = CliRunner().invoke(main, ["scan", "--samples", "--language", "fr"])
    assert alone.exit_code == 2 and "--report" in alone.output
    assert not (tmp_path / "r.html").exists()


def test_what_was_changed_before_scanning_reads_the_same_as_the_stored_message_and_translates():
    from edge_app.intake.adjustments import FULL_RANGE, SENTENCES
    from edge_app.language import translator
    from edge_app.scan.scanner import describe_correction

    upside_down = "The X-ray was upside down; it was put right before scanning."
    assert describe_correction(None) is None
    assert describe_correction(FULL_RANGE) == SENTENCES[FULL_RANGE]  # an intake change alone, no gate turn
    assert describe_correction(f"{FULL_RANGE}+rotate_180") == f"{SENTENCES[FULL_RANGE]} {upside_down}"
    french = describe_correction(f"{FULL_RANGE}+rotate_180+invert", translator("fr").gettext)
    assert french.startswith("La fenêtre enregistrée dans le DICOM")
    assert french.endswith(
        "La radiographie était à l'envers et en négatif (blanc et noir inversés) ; "
        "elle a été remise dans le bon sens avant l'analyse."
    )
