"""CSV exports open in spreadsheets: no cell may run as a formula or carry raw control characters.

Patient IDs, operators, file names and DICOM PatientIDs are text a person (or an X-ray unit) typed; a
spreadsheet runs a cell starting with =, +, -, @, a tab or a carriage return as a formula (OWASP's
CSV injection). Such cells get a leading single quote, and control characters are escaped as in the table.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference import model_store
from edge_app.outputs.output import csv_cell
from edge_app.package_data import SAMPLES_DIR
from tests.device.test_scan import with_checksum
from tests.dicom_factory import cr_dataset, write_dicom

SAMPLE = SAMPLES_DIR / "IM-0230-0001.jpeg"
FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_int8_model) -> Path:
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(tiny_int8_model, tmp_path / "models")))
    return tmp_path / "home"


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def is_inert(cell: str) -> bool:
    """What a spreadsheet shows as text: no formula start, no control character."""
    return cell[:1] not in "=+-@\t\r" and not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in cell)


@pytest.mark.parametrize("text", FORMULAS + [" =1", "\uff1dSUM(1)"])
def test_a_formula_cell_gets_a_leading_quote_and_keeps_its_text_visible(text):
    cell = csv_cell(text)
    assert cell.startswith("'") and is_inert(cell)
    assert cell[1:].replace("\\t", "\t").replace("\\r", "\r") == text


@pytest.mark.parametrize("value", ["P-0042", "IM-0230-0001.jpeg", 0.5, -1.0, 7, None, True])
def test_plain_text_and_numbers_are_unchanged(value):
    assert csv_cell(value) == value


@pytest.mark.parametrize("formula", FORMULAS)
def test_scan_and_history_csv_neutralise_patient_operator_and_file_name(formula, home, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copyfile(SAMPLE, folder / (formula.replace("/", "_") + ".jpeg"))
    runner = CliRunner()
    scan = ["scan", str(folder), "--format", "csv", "--operator", formula]
    scanned = runner.invoke(main, [*scan, "--patient-id", formula.lstrip("\t\r")])  # a typed ID holds no tab
    assert scanned.exit_code in (0, 1), scanned.output
    history = runner.invoke(main, ["history", "--format", "csv"])
    for text in (scanned.stdout, history.stdout):
        for row in rows(text):
            for field in ("patient_id", "operator", "path"):
                assert is_inert(row[field]), (field, row[field])
            assert row["operator"].startswith("'")


def test_a_dicom_patient_id_written_as_a_formula_is_neutralised_in_the_history_csv(home, tmp_path):
    write_dicom(cr_dataset(SAMPLE, patient_id='=HYPERLINK("http://evil")'), tmp_path / "x.dcm")
    CliRunner().invoke(main, ["scan", str(tmp_path / "x.dcm")])
    exported = rows(CliRunner().invoke(main, ["history", "--format", "csv"]).stdout)
    assert [row["patient_id"] for row in exported] == ['\'=HYPERLINK("http://evil")']


def test_control_characters_in_csv_cells_are_escaped(home, tmp_path):
    path = tmp_path / "x.jpeg"
    shutil.copyfile(SAMPLE, path)
    scanned = CliRunner().invoke(main, ["scan", str(path), "--format", "csv", "--operator", "Ami\x1b[2Jna\nX"])
    (row,) = rows(scanned.stdout)
    assert row["operator"] == "Ami\\x1b[2Jna\\nX"
