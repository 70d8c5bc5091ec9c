"""edge-scan stats on synthetic histories: counts, weekly referral rates, and the two warnings."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.record import ScanResult
from edge_app.site import site_profile, stats
from edge_app.site.site_profile import SiteProfile
from edge_app.storage import history
from tests.site_profiles import consistent_profile

MODEL_SHA = "b" * 64
THRESHOLD = 0.4
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def site_calibration() -> SiteProfile:
    """A profile as `edge-scan calibrate` saves it: half the calibration children have pneumonia,
    and at threshold 0.4 all of them and 10% of the healthy ones are referred."""
    return consistent_profile(MODEL_SHA, THRESHOLD)


def scan(day: float, refer: bool = False, reason: str | None = None, threshold: float = THRESHOLD) -> dict:
    """One history record `day` days after START."""
    values = {field.name: None for field in fields(ScanResult)}
    values |= {
        "path": "x.jpeg",
        "status": "rejected" if reason else "ok",
        "reason": reason,
        "threshold": threshold,
        "threshold_source": "site" if threshold == THRESHOLD else "command_line",
        "model_sha256": MODEL_SHA,
        "model_version": "test",
        "runtime": "test",
        "scanned_at": (START + timedelta(days=day)).isoformat(timespec="milliseconds"),
        "elapsed_ms": 1.0,
    }
    if not reason:
        values |= {"label": "PNEUMONIA" if refer else "NORMAL", "probability": 0.9 if refer else 0.05}
        values |= {"score": 93 if refer else 7, "uncertain": False, "refer": refer}
    return values


def steady_history(weeks: int, per_week: int, referred_share: float) -> list[dict]:
    records = []
    for week in range(weeks):
        for i in range(per_week):
            records.append(scan(7 * week + 6 * i / per_week, refer=i < round(referred_share * per_week)))
    return records


def test_referrals_as_the_calibration_predicts_raise_no_warning():
    profile = site_calibration()
    expected = stats.expected_referral_rate(profile)
    assert expected["low"] < expected["rate"] < expected["high"]
    summary = stats.summarize(steady_history(4, 50, expected["rate"]), profile)
    assert summary["warnings"] == []
    assert [week["scanned"] for week in summary["weeks"]] == [50, 50, 50, 50]
    assert summary["weeks"][0]["week_of"] == "2026-03-02"


@pytest.mark.parametrize("referred_share", [0.95, 0.05])
def test_referrals_far_from_the_prediction_warn(referred_share):
    """The drift warning: the calibration predicts about 53% referred; 95% or 5% is beyond chance."""
    summary = stats.summarize(steady_history(4, 50, referred_share), site_calibration())
    (warning,) = summary["warnings"]
    assert "Referrals have changed" in warning and "calibrate again" in warning


def test_a_lower_prevalence_changes_the_prediction():
    """With 10% of children sick the calibration predicts about 19% referred, not 53%."""
    history_at_20_percent = steady_history(4, 50, 0.2)
    assert stats.summarize(history_at_20_percent, site_calibration())["warnings"]
    assert stats.summarize(history_at_20_percent, site_calibration(), prevalence=0.1)["warnings"] == []


def test_too_few_recent_scans_or_no_calibration_give_no_drift_warning():
    assert stats.summarize(steady_history(1, 20, 0.95), site_calibration())["warnings"] == []
    assert stats.summarize(steady_history(4, 50, 0.95), None)["warnings"] == []
    other_threshold = [scan(1 + i / 100, refer=True, threshold=0.3) for i in range(50)]
    assert stats.summarize(other_threshold, site_calibration())["warnings"] == []


def test_a_climbing_rejection_reason_warns():
    records = steady_history(4, 50, 0.53)
    records += [scan(7 * week + 1, reason="blank_image") for week in range(3)]  # one a week, as usual
    records += [scan(22 + i / 10, reason="blank_image") for i in range(12)]  # then twelve in the last week
    summary = stats.summarize(records, site_calibration())
    assert summary["rejections"] == {"blank_image": 15}
    assert [w for w in summary["warnings"] if "blank_image" in w]
    steady = steady_history(4, 50, 0.53) + [scan(7 * week + 1, reason="blank_image") for week in range(4)]
    assert stats.summarize(steady, site_calibration())["warnings"] == []


def test_the_score_histogram_counts_every_scanned_image():
    records = [scan(0, refer=True), scan(0), scan(0), scan(0, reason="too_small")]
    bands = stats.score_histogram(records)
    assert sum(band["count"] for band in bands) == 3
    assert (bands[0]["count"], bands[9]["count"], bands[9]["to"]) == (2, 1, 100)


def test_stats_command_reads_the_history(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path))
    site_profile.save_profile(site_calibration())
    db = history.connect(tmp_path / "history.sqlite3")
    for record in steady_history(4, 50, 0.95):
        history.record(db, ScanResult(**record))
    db.close()
    table = CliRunner().invoke(main, ["stats"])
    assert table.exit_code == 0 and "WARNING: Referrals have changed" in table.output and "#" in table.output
    summary = json.loads(CliRunner().invoke(main, ["stats", "--format", "json", "--since", "2026-03-23"]).output)
    assert summary["scans"] == 50 and summary["by_status"] == {"ok": 50}
    assert summary["threshold_sources"] == {"site": 50}
    assert CliRunner().invoke(main, ["stats", "--since", "yesterday"]).exit_code == 2
