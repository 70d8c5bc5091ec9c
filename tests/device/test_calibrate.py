"""edge-scan calibrate: the site profile, its use by scan and info, and the refusals.

Runs on the device install (no TensorFlow): the images are the committed
fixture X-rays (and mirrored, cropped or re-exposed copies of them, standing in
for a site's own labelled set), scanned with the shipped model.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from edge_app.cli.main import main
from edge_app.inference.model_store import load_model
from edge_app.package_data import DEFAULT_MODEL
from edge_app.site import calibration, promise, site_profile, variety
from edge_app.site.dataset import patient_id
from edge_app.site.threshold_choice import resolve_threshold
from tests.conftest import FIXTURE_DATA
from tests.device.test_scan import GOOD_IMAGES, with_checksum
from tests.site_profiles import consistent_profile

ROOT = Path(__file__).resolve().parents[2]
SITE_VARIANTS = {
    "NORMAL": ("original", "mirrored"),
    "PNEUMONIA": ("original", "mirrored", "cropped", "darker", "brighter"),
}


def _variant(image: Image.Image, kind: str) -> Image.Image:
    gray = image.convert("L")
    if kind == "mirrored":
        return ImageOps.mirror(gray)
    if kind == "cropped":
        width, height = gray.size
        return gray.crop((width // 20, height // 20, width - width // 20, height - height // 20))
    if kind in ("darker", "brighter"):
        gamma = 1.25 if kind == "darker" else 0.8
        return gray.point(lambda value: round(255 * (value / 255) ** gamma))
    return gray


def make_site(folder: Path, variants: dict[str, tuple[str, ...]], per_class: int | None = None) -> Path:
    """A labelled site folder (NORMAL/, PNEUMONIA/) made from the fixture X-rays."""
    for label, kinds in variants.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        sources = sorted((FIXTURE_DATA / "train" / label).glob("*.jpeg"))[:per_class]
        for source in sources:
            for kind in kinds:
                _variant(Image.open(source), kind).save(folder / label / f"{source.stem}-{kind}.jpeg", quality=95)
    return folder


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh data folder; scans use the shipped model."""
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMOSCAN_MODEL", raising=False)
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def copies_count_as_different_xrays(monkeypatch):
    """The committed fixture holds 18 children per class, made into a site with mirrored, cropped and re-exposed
    copies. These tests are about what follows a calibration, so here each file counts as a different X-ray of a
    different child; test_calibration_variety shows such a set refused."""
    monkeypatch.setattr(variety, "NEAR_COPY_SIMILARITY", 2.0)
    monkeypatch.setattr(variety, "MIN_CHILDREN_PER_CLASS", 1)
    monkeypatch.setattr(calibration, "patient_id", lambda name: None)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return make_site(tmp_path_factory.mktemp("site"), SITE_VARIANTS)


@pytest.fixture(scope="module")
def shipped_model():
    return load_model()


def scan_json(*args: str) -> list[dict]:
    result = run("scan", *args, "--format", "json", "--no-history")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_calibration_saves_a_profile_that_scan_and_info_then_use(home, site, shipped_model):
    result = run("calibrate", str(site), "--target-sensitivity", "0.95", "--operator", "Amina")
    assert result.exit_code == 0, result.output
    assert "36 NORMAL and 90 PNEUMONIA images" in result.output and "Saved." in result.output
    profile = json.loads((home / "site_profile.json").read_text())
    assert profile["model_sha256"] == shipped_model.sha256 and profile["operator"] == "Amina"
    assert profile["counts"] == {"NORMAL": 36, "PNEUMONIA": 90, "rejected": 0}
    assert len(profile["images"]) == 126 and all(len(image["sha256"]) == 64 for image in profile["images"])
    assert profile["site_threshold"]["sensitivity"]["value"] >= 0.95
    assert profile["site_threshold"]["sensitivity_at_least"] >= calibration.SENSITIVITY_FLOOR
    assert site_profile.load_profile().to_dict() == profile
    (scanned,) = scan_json(str(next((site / "NORMAL").iterdir())))
    assert scanned["threshold"] == profile["threshold"] != shipped_model.threshold
    assert scanned["threshold_source"] == "site"
    info = json.loads(run("info", "--format", "json").stdout)
    assert (info["threshold"], info["threshold_source"]) == (profile["threshold"], "site")
    shown = run("calibrate", "--show")
    assert shown.exit_code == 0 and f"{profile['threshold']:.3f}" in shown.output and "Amina" in shown.output


def test_the_promise_names_how_many_next_children_it_covers(home, site):
    result = run("calibrate", str(site), "--target-sensitivity", "0.93", "--next-children", "40")
    assert result.exit_code == 0, result.output
    assert "catch at least 38 of the next 40 children with pneumonia, with 95% confidence" in result.output
    profile = json.loads((home / "site_profile.json").read_text())
    assert profile["next_children"] == 40
    scores = sorted(image["probability"] for image in profile["images"] if image["label"] == "PNEUMONIA")
    assert profile["threshold"] == scores[promise.Promise(0.93, 0.95, 40).highest_rank(len(scores)) - 1]
    assert run("calibrate", str(site), "--next-children", "0").exit_code == 2


def test_the_same_calibration_from_a_labels_csv(home, site, tmp_path):
    rows = ["path,label"] + [f"{path},{path.parent.name}" for path in sorted(site.rglob("*.jpeg"))]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    result = run("calibrate", "--labels", str(tmp_path / "labels.csv"))
    assert result.exit_code == 0, result.output
    assert json.loads((home / "site_profile.json").read_text())["counts"]["PNEUMONIA"] == 90


def test_ten_images_are_refused_and_nothing_is_activated(home, tmp_path):
    small = make_site(tmp_path / "small", {"NORMAL": ("original",), "PNEUMONIA": ("original",)}, per_class=5)
    result = run("calibrate", str(small), "--target-sensitivity", "0.95")
    assert result.exit_code == 1
    assert "REFUSED" in result.output and "add 25 more" in result.output
    assert not (home / "site_profile.json").exists() and not (home / "site_profiles").exists()
    assert run("info", "--format", "json").stdout.count('"threshold_source": "model"') == 1


def test_a_refused_calibration_keeps_the_earlier_profile(home, site, tmp_path):
    assert run("calibrate", str(site)).exit_code == 0
    before = (home / "site_profile.json").read_bytes()
    small = make_site(tmp_path / "small", {"NORMAL": ("original",), "PNEUMONIA": ("original",)}, per_class=5)
    result = run("calibrate", str(small))
    assert result.exit_code == 1 and "keep using the earlier site threshold" in result.output
    assert (home / "site_profile.json").read_bytes() == before


def test_a_profile_for_another_model_falls_back_to_the_models_threshold(home, shipped_model):
    """What happens after a model update: the old site threshold no longer applies."""
    site_profile.save_profile(replace(consistent_profile("0" * 64, 0.4), created_at="2026-01-02T10:00:00"))
    result = CliRunner().invoke(main, ["scan", str(DEFAULT_MODEL.parent.parent / "samples"), "--format", "json"])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and all(line["threshold"] == shipped_model.threshold for line in lines)
    assert "made for another model" in result.stderr and "2026-01-02" in result.stderr


def test_after_a_model_update_scans_use_the_new_models_threshold(home, site, tmp_path, monkeypatch, tiny_int8_model):
    assert run("calibrate", str(site)).exit_code == 0
    new_model = with_checksum(tiny_int8_model, tmp_path / "update")
    monkeypatch.setenv("PNEUMOSCAN_MODEL", str(new_model))
    result = CliRunner().invoke(main, ["scan", str(GOOD_IMAGES[0]), "--format", "json", "--no-history"])
    (scanned,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert (scanned["threshold"], scanned["threshold_source"]) == (load_model(new_model).threshold, "model")
    assert "made for another model" in result.stderr
    assert json.loads(run("info", "--format", "json").stdout)["threshold_source"] == "model"


def test_every_output_says_where_the_threshold_came_from(home, shipped_model):
    image = str(GOOD_IMAGES[0])
    site_profile.save_profile(consistent_profile(shipped_model.sha256, 0.4, shipped_model.threshold))
    (site_scan,) = [json.loads(line) for line in run("scan", image, "--format", "json").stdout.splitlines()]
    csv_rows = run("scan", image, "--format", "csv", "--threshold", "0.25").stdout.splitlines()
    assert run("calibrate", "--reset").exit_code == 0
    (model_scan,) = [json.loads(line) for line in run("scan", image, "--format", "json").stdout.splitlines()]
    assert (site_scan["threshold_source"], site_scan["threshold"]) == ("site", 0.4)
    assert (model_scan["threshold_source"], model_scan["threshold"]) == ("model", shipped_model.threshold)
    header, row = (next(csv.reader([line])) for line in csv_rows)
    assert dict(zip(header, row, strict=True))["threshold_source"] == "command_line"
    stored = [json.loads(line) for line in run("history", "--format", "json").stdout.splitlines()]
    assert [r["threshold_source"] for r in stored] == ["site", "command_line", "model"]
    assert "threshold_source" in run("history", "--format", "csv").stdout.splitlines()[0].split(",")


def test_the_command_line_threshold_overrides_the_site(home, site, shipped_model):
    site_profile.save_profile(consistent_profile(shipped_model.sha256, 0.4, shipped_model.threshold))
    (scanned,) = scan_json(str(next((site / "NORMAL").iterdir())), "--threshold", "0.25")
    assert (scanned["threshold"], scanned["threshold_source"]) == (0.25, "command_line")


def test_reset_stops_using_the_profile_and_keeps_it_in_the_archive(home, shipped_model):
    site_profile.save_profile(consistent_profile(shipped_model.sha256, 0.4, shipped_model.threshold))
    result = run("calibrate", "--reset")
    assert result.exit_code == 0 and not (home / "site_profile.json").exists()
    assert len(list((home / "site_profiles").glob("*.json"))) == 1
    assert "No site profile is active" in run("calibrate", "--show").output
    assert json.loads(run("info", "--format", "json").stdout)["threshold"] == shipped_model.threshold


def test_a_damaged_profile_is_reported_and_the_models_threshold_used(home, shipped_model):
    home.mkdir(parents=True)
    (home / "site_profile.json").write_text('{"threshold": 0.4, "model_sha')
    result = CliRunner().invoke(main, ["info", "--format", "json"])
    assert json.loads(result.stdout)["threshold"] == shipped_model.threshold
    assert "cannot be read" in result.stderr


@pytest.mark.parametrize("value", ["0", "1", "nan", "NaN", "-0.2", "1.5", "inf", "half"])
def test_unusable_thresholds_are_refused_with_a_reason(home, value):
    result = run("scan", str(FIXTURE_DATA), "--threshold", value)
    assert result.exit_code == 2
    assert "--threshold" in result.output and ("between 0 and 1" in result.output or "not a number" in result.output)


@pytest.mark.parametrize("value", ["0.9", "0.5", "1.01", "nan"])
def test_a_target_the_floor_cannot_back_is_a_usage_error(home, site, value):
    result = run("calibrate", str(site), "--target-sensitivity", value)
    assert result.exit_code == 2 and "--target-sensitivity" in result.output


def test_an_unusable_profile_threshold_is_not_used(home, shipped_model):
    data = consistent_profile(shipped_model.sha256, 0.4, shipped_model.threshold).sealed().to_dict()
    home.mkdir(parents=True)
    (home / "site_profile.json").write_text(json.dumps(data | {"threshold": float("nan")}))
    choice = resolve_threshold(shipped_model)
    assert (choice.value, choice.source) == (shipped_model.threshold, "model") and "not valid" in choice.warning


def test_a_failed_profile_write_leaves_the_old_profile_active(home, monkeypatch):
    site_profile.save_profile(consistent_profile("a" * 64, 0.3))

    def replace_fails(src, dst):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch, pytest.raises(OSError):
        patch.setattr("edge_app.files.os.replace", replace_fails)
        site_profile.save_profile(consistent_profile("a" * 64, 0.6))
    assert site_profile.load_profile().threshold == 0.3
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []


KILL_DURING_WRITE = """
import os, signal, sys
from pathlib import Path
from edge_app.site import site_profile
from tests.site_profiles import consistent_profile

original = Path.write_text

def write_half_then_die(self, text, *args, **kwargs):
    if self.name.startswith(".site_profile."):  # the temporary file of the active profile
        original(self, text[: len(text) // 2], *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, text, *args, **kwargs)

Path.write_text = write_half_then_die
site_profile.save_profile(consistent_profile("a" * 64, 0.6))
"""


def test_a_kill_during_a_profile_write_leaves_the_old_profile_active(home):
    site_profile.save_profile(consistent_profile("a" * 64, 0.3))
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", KILL_DURING_WRITE], env=env, cwd=ROOT, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert site_profile.load_profile().threshold == 0.3
    assert len(list((home / "site_profiles").glob("*.json"))) == 2  # the new one reached only the archive


def test_refusal_says_how_many_more_children_with_pneumonia_are_needed():
    """95 of the next 100 with 95% confidence: below the lowest of 63 scores fall more than 5 of 100 new children
    with a chance over 5%, below the lowest of 64 with a chance under 5%, so 64 children are the fewest."""
    wanted = promise.Promise(0.95, 0.95, 100)
    assert wanted.confidence_of(1, 63) < 0.95 <= wanted.confidence_of(1, 64)
    assert wanted.children_needed() == 64
    assert wanted.highest_rank(63) is None and wanted.highest_rank(64) == 1
    (reason,) = calibration.refusal_reasons({"NORMAL": 40, "PNEUMONIA": 70}, 40, wanted)
    assert "catch at least 95 of the next 100 children with pneumonia" in reason.detail
    assert "at least 64 (add 24 more)" in reason.detail
    assert reason.code == "too_few_children_for_promise" and reason.facts == {
        "children": 40,
        "needed": 64,
        "missing": 24,
    }
    assert calibration.refusal_reasons({"NORMAL": 40, "PNEUMONIA": 70}, 64, wanted) == []


def test_the_half_split_benchmark_keeps_patients_whole_and_measures_both_thresholds(shipped_model):
    from benchmarks.site_calibration import one_direction, patient_halves

    site_scan = calibration.scan_site_images(calibration.images_in_folder(FIXTURE_DATA / "train"), shipped_model)
    first, second = patient_halves(site_scan, seed=0)
    patients = [
        {patient_id(image.path.name) for image, chosen in zip(site_scan.images, half, strict=True) if chosen}
        for half in (first, second)
    ]
    assert patients[0] and patients[1] and not patients[0] & patients[1]
    run = one_direction(site_scan, first, shipped_model, promise.Promise(0.95, 0.95, 100))
    assert run["refused_by_edge_scan"]  # 9 images per class are far too few
    assert run["held_out_at_site_threshold"] is None  # no threshold can keep the promise on so few children
    held_out = run["held_out_at_model_threshold"]
    assert sum(held_out["confusion"].values()) == int(second.sum())
    assert run["held_out_at_model_threshold"]["threshold"] == shipped_model.threshold
