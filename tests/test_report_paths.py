"""Committed reports record paths relative to the repository, never the checkout's root, a temporary folder or a
home folder of the machine that made them."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks import app_speed, site_calibration
from lab.portable_paths import local_path, portable, portable_path, portable_text, repository_root

ROOT = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.gettempdir())
HOME = Path(os.path.expanduser("~"))


def machine_paths(text: str) -> list[str]:
    """The machine's own folders that appear in text."""
    return [str(folder) for folder in (ROOT, TMP, HOME) if f"{folder}/" in text]


def test_the_repository_is_this_checkout():
    assert repository_root() == ROOT


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/work/main/edge_app/models/pneumoscan.tflite", "edge_app/models/pneumoscan.tflite"),
        ("/work/main", "."),
        ("/work/shared/data/external", "../shared/data/external"),
        ("/work/runs/dm2/train/splits.json", "../runs/dm2/train/splits.json"),
        ("/work/main/../shared/data", "../shared/data"),
        ("/usr/bin/time", "/usr/bin/time"),
        ("../shared/data/originals", "../shared/data/originals"),
        ("runs/r1/splits.json", "runs/r1/splits.json"),
    ],
)
def test_paths_inside_or_beside_the_repository_become_relative(path, expected):
    assert portable_path(path, Path("/work/main")) == expected


def test_temporary_and_home_folders_are_named_not_spelled_out():
    root = Path("/srv/checkout")
    assert portable_path(TMP / "bench-ext2" / "results.json", root) == "$TMPDIR/bench-ext2/results.json"
    assert portable_path(TMP, root) == "$TMPDIR"
    if HOME != Path("/") and not str(HOME).startswith(str(TMP)):
        assert portable_path(HOME / ".pyenv" / "bin" / "python3", root) == "~/.pyenv/bin/python3"


def test_paths_inside_commands_markdown_and_messages_are_rewritten_and_urls_are_not():
    root = Path("/work/main")
    command = "edge-scan scan IMAGE --model /work/main/edge_app/models/pneumoscan.tflite --no-history --format json"
    assert portable_text(command, root) == (
        "edge-scan scan IMAGE --model edge_app/models/pneumoscan.tflite --no-history --format json"
    )
    markdown = "| `keras` | 0.0632 (/work/runs/dm2/train/report.json) | 394 / 14 / 134 / 3 | from `/work/shared/data`;"
    assert portable_text(markdown, root) == (
        "| `keras` | 0.0632 (../runs/dm2/train/report.json) | 394 / 14 / 134 / 3 | from `../shared/data`;"
    )
    text = "see https://creativecommons.org/licenses/by/4.0/ and file:///opt/pypi/simple, 203 images/s, p50/p95"
    assert portable_text(text, root) == text


def test_a_whole_report_is_rewritten_keys_included_and_numbers_untouched():
    root = Path("/work/main")
    report = {
        "/work/shared/data/external": {"images": 181, "rate": 0.5, "refused_files": [{"path": str(TMP / "x.png")}]},
        "launched_as": ("/work/venv/bin/edge-scan",),
        "met": True,
        "missing": None,
    }
    assert portable(report, root) == {
        "../shared/data/external": {"images": 181, "rate": 0.5, "refused_files": [{"path": "$TMPDIR/x.png"}]},
        "launched_as": ["../venv/bin/edge-scan"],
        "met": True,
        "missing": None,
    }


def test_site_calibration_benchmark_records_its_data_relative_to_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the repository, not the current folder, is what paths are relative to
    out = tmp_path / "site_calibration.json"
    data = ROOT / "tests" / "fixtures" / "chest_xray" / "train"
    result = CliRunner().invoke(site_calibration.main, ["--data", str(data), "--splits", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert json.loads(text)["data"] == "tests/fixtures/chest_xray/train"
    assert machine_paths(text) == [] and machine_paths(result.output) == []


def test_app_benchmark_records_its_image_relative_to_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "app_speed.json"
    images = ROOT / "tests" / "fixtures" / "chest_xray" / "train" / "NORMAL"
    result = CliRunner().invoke(app_speed.main, ["--images", str(images), "--runs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert json.loads(text)["image"].startswith("tests/fixtures/chest_xray/train/NORMAL/")
    assert machine_paths(text) == []


@pytest.mark.parametrize(
    "made",
    [
        lambda: Path(tempfile.gettempdir()) / "run" / "model.keras",
        lambda: Path("~").expanduser() / "runs" / "model.keras",
        lambda: repository_root() / "runs" / "model.keras",
        lambda: repository_root().parent / "shared" / "data",
    ],
    ids=["temporary", "home", "inside", "beside"],
)
def test_a_recorded_path_finds_its_file_again_on_this_machine(made):
    path = made()
    assert local_path(portable_path(path)).resolve() == path.resolve()
