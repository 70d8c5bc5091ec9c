"""The site profile file: read into a checked SiteProfile, used only when its figures hold together, and never a
traceback, whatever the file holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference.model_store import load_model
from edge_app.site import site_profile
from edge_app.site.site_profile import content_checksum
from tests.device.test_scan import GOOD_IMAGES
from tests.site_profiles import consistent_profile


@pytest.fixture(scope="module")
def shipped_model():
    return load_model()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMOSCAN_MODEL", raising=False)
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def saved(shipped_model) -> dict:
    return consistent_profile(shipped_model.sha256, 0.4, shipped_model.threshold).sealed().to_dict()


def write(home: Path, data: object) -> None:
    (home / "site_profile.json").write_text(json.dumps(data))


def scanned_threshold(*args: str) -> tuple[dict, str]:
    result = CliRunner().invoke(main, ["scan", str(GOOD_IMAGES[0]), "--format", "json", "--no-history", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.splitlines()[0]), result.stderr


def test_a_consistent_profile_is_used(home, shipped_model):
    write(home, saved(shipped_model))
    scanned, warnings = scanned_threshold()
    assert (scanned["threshold"], scanned["threshold_source"]) == (0.4, "site") and warnings == ""


def _set(data: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(last) if isinstance(target, list) else last] = value
    return data


HAND_EDITS = [
    ("threshold", 0.99),
    ("site_threshold.threshold", 0.99),
    ("site_threshold.sensitivity.value", 0.5),
    ("site_threshold.confusion.fn", 5),
    ("model_threshold.specificity.value", 0.99),
    ("counts.NORMAL", 600),
    ("images.60.probability", 0.9),
    ("images.3.label", "PNEUMONIA"),
    ("target_sensitivity", 0.97),
    ("confidence", 0.9),
    ("next_children", 30),
    ("checksum", "0" * 64),
]


@pytest.mark.parametrize(("field", "value"), HAND_EDITS)
@pytest.mark.parametrize("reseal", [False, True], ids=["as_edited", "checksum_recomputed"])
def test_an_edited_profile_is_refused_and_scans_use_the_models_threshold(home, shipped_model, field, value, reseal):
    data = _set(saved(shipped_model), field, value)
    if reseal and field != "checksum":
        data["checksum"] = content_checksum(data)
    write(home, data)
    scanned, warnings = scanned_threshold()
    assert (scanned["threshold"], scanned["threshold_source"]) == (shipped_model.threshold, "model")
    assert "is not used" in warnings or "not valid" in warnings
    shown = CliRunner().invoke(main, ["calibrate", "--show"])
    assert f"Threshold in use: {shipped_model.threshold:.3f}" in shown.output.splitlines()[0]
    assert "Traceback" not in shown.output


def test_a_threshold_and_all_its_figures_edited_together_are_still_refused(home, shipped_model):
    """Moving the threshold and recomputing every figure at it is caught: the scores give another threshold."""
    from edge_app.site import calibration

    data = saved(shipped_model)
    profile = site_profile.parse_profile(data)

    data["threshold"] = 0.99
    data["site_threshold"] = calibration.operating_point(
        calibration.scores_of(list(profile.images)), 0.99, profile.promise
    )
    data["checksum"] = content_checksum(data)
    write(home, data)
    scanned, warnings = scanned_threshold()
    assert scanned["threshold_source"] == "model" and "is not the one its scores give" in warnings


def test_calibrate_show_names_the_threshold_in_use(home, shipped_model):
    write(home, saved(shipped_model))
    shown = CliRunner().invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 0
    assert shown.output.splitlines()[0].startswith("Threshold in use: 0.400 (site calibration of")


def test_a_profile_from_the_current_release_still_loads_but_is_not_trusted_without_scores(home, shipped_model):
    """Profiles saved before per-image scores were kept: shown, but scans use the model's own threshold."""
    data = saved(shipped_model)
    for key in ("format", "checksum", "variety"):
        data.pop(key, None)
    data["images"] = [{"sha256": image["sha256"], "label": image["label"]} for image in data["images"]]
    write(home, data)
    scanned, warnings = scanned_threshold()
    assert scanned["threshold_source"] == "model" and "earlier PneumoScan" in warnings
    shown = CliRunner().invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 0 and "Active site profile" in shown.output and "earlier PneumoScan" in shown.output


def test_a_profile_promising_the_long_run_from_the_previous_release_is_still_used(home, shipped_model):
    """Format 3 promised new children's long-run sensitivity and had no batch: its figures still recompute by that
    rule, so an upgrade does not silently drop a site's calibration."""
    data = consistent_profile(shipped_model.sha256, 0.4, shipped_model.threshold, next_children=None).to_dict()
    assert "next_children" not in data and "next_children" not in data["site_threshold"]["children"]
    data["format"] = 3
    data["checksum"] = content_checksum(data)
    write(home, data)
    scanned, warnings = scanned_threshold()
    assert (scanned["threshold"], scanned["threshold_source"]) == (0.4, "site") and warnings == ""
    shown = CliRunner().invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 0 and "catch at least 95% of the next children with pneumonia" in shown.output


BROKEN = [
    ("missing threshold", lambda d: d.pop("threshold"), "threshold is missing"),
    ("missing counts", lambda d: d.pop("counts"), "counts is missing"),
    ("missing site figures", lambda d: d.pop("site_threshold"), "site_threshold is missing"),
    ("threshold is text", lambda d: d.update(threshold="0.4"), "threshold is"),
    ("threshold above 1", lambda d: d.update(threshold=1.5), "threshold is not usable"),
    ("threshold zero", lambda d: d.update(threshold=0), "threshold is not usable"),
    ("hash not a hash", lambda d: d.update(model_sha256="abc"), "model_sha256 is not a SHA-256"),
    ("count is text", lambda d: d["counts"].update(NORMAL="60"), "counts.NORMAL is"),
    ("rate not a dict", lambda d: d["site_threshold"].update(sensitivity=0.9), "site_threshold.sensitivity is"),
    ("image label", lambda d: d["images"][0].update(label="MAYBE"), "images[0].label"),
    ("images not a list", lambda d: d.update(images={}), "images is"),
    ("newer format", lambda d: d.update(format=99), "format 99 is newer"),
    ("no batch of children", lambda d: d.update(next_children=0), "next_children 0 is not a number of children"),
    ("batch is text", lambda d: d.update(next_children="100"), "next_children is"),
]


@pytest.mark.parametrize(("damage", "expected"), [(b[1], b[2]) for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_an_invalid_profile_is_named_in_every_command_that_reads_it(home, shipped_model, damage, expected):
    data = saved(shipped_model)
    damage(data)
    write(home, data)
    shown = CliRunner().invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 2 and expected in shown.output and "Traceback" not in shown.output
    scanned, warnings = scanned_threshold()
    assert scanned["threshold_source"] == "model" and expected in warnings
    stats = CliRunner().invoke(main, ["stats"])
    assert stats.exit_code == 0 and expected in stats.stderr
    info = CliRunner().invoke(main, ["info", "--format", "json"])
    assert info.exit_code == 0 and json.loads(info.stdout)["threshold_source"] == "model" and expected in info.stderr


@pytest.mark.parametrize("text", ["[1, 2]", '"profile"', "null", '{"threshold": 0.4'])
def test_a_profile_that_is_not_a_json_object_is_named(home, shipped_model, text):
    (home / "site_profile.json").write_text(text)
    shown = CliRunner().invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 2 and "site_profile.json" in shown.output and "Traceback" not in shown.output
    assert scanned_threshold()[0]["threshold_source"] == "model"
