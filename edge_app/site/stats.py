"""Monitoring from the scan history: what `edge-scan stats` reports and when it warns.

WHO guidance on computer-aided detection asks sites to monitor the tool once it
runs. The two signals here need no labels: the share of children referred, which
the site calibration predicts, and the share of images rejected for each reason.
When the first leaves the range that chance allows, the X-ray machine, the model
or the children screened have changed; when the second climbs, something in the
acquisition has.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from edge_app.record import OK, REJECTED
from edge_app.site import confirmed, metrics
from edge_app.site.findings import Finding
from edge_app.site.site_profile import SiteProfile

RECENT_DAYS = 7
"""The recent window both warnings look at, ending at the latest scan."""
MIN_RECENT_SCANS = 30
"""Fewer scans than this in the window: no warning, chance alone moves the rates too much."""
WARNING_LEVEL = 0.99
"""Warn only outside the central 99% binomial range: about one false alarm in 100 checks."""
HISTOGRAM_BINS = 10
REFERRALS_CHANGED = "referrals_changed"
"""Warning code: recent referrals left the calibration's range (facts: `referred`, `scanned`, `days`, `low`, `high`)."""
REJECTIONS_CLIMB = "rejections_climb"
"""Warning code: one reason rejects more images than before (facts: `reason`, `count`, `scanned`, `days`, `before`,
`scanned_before`)."""


def _local(iso_utc: str) -> datetime:
    return datetime.fromisoformat(iso_utc).astimezone()


def weekly_referrals(records: list[dict]) -> list[dict]:
    """Scans and referrals per week (weeks start on Monday, local time)."""
    weeks: dict[str, Counter] = {}
    for record in records:
        day = _local(record["scanned_at"]).date()
        week = weeks.setdefault((day - timedelta(days=day.weekday())).isoformat(), Counter())
        week["scans"] += 1
        if record["status"] == OK:
            week["scanned"] += 1
            week["referred"] += bool(record["refer"])
    return [
        {
            "week_of": week,
            "scans": counts["scans"],
            "scanned": counts["scanned"],
            "referred": counts["referred"],
            "referral_rate": counts["referred"] / counts["scanned"] if counts["scanned"] else None,
        }
        for week, counts in sorted(weeks.items())
    ]


def score_histogram(records: list[dict]) -> list[dict]:
    """Counts of 0-100 scores in ten bands (the last band includes 100)."""
    width = 100 // HISTOGRAM_BINS
    counts = Counter(min(record["score"] // width, HISTOGRAM_BINS - 1) for record in records if record["status"] == OK)
    return [
        {
            "from": band * width,
            "to": 100 if band == HISTOGRAM_BINS - 1 else (band + 1) * width - 1,
            "count": counts[band],
        }
        for band in range(HISTOGRAM_BINS)
    ]


def split_recent(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """(earlier, recent): recent = the RECENT_DAYS up to the latest scan."""
    if not records:
        return [], []
    start = max(_local(r["scanned_at"]) for r in records) - timedelta(days=RECENT_DAYS)
    recent = [r for r in records if _local(r["scanned_at"]) > start]
    earlier = [r for r in records if _local(r["scanned_at"]) <= start]
    return earlier, recent


def expected_referral_rate(profile: SiteProfile | None, prevalence: float | None = None) -> dict | None:
    """The referral rate the site calibration predicts, with the range its own sample size allows;
    None without a calibration that measured it.

    Referral = pneumonia suspected or uncertain. The rate depends on how many screened children
    have pneumonia: by default the share in the calibration images, else `prevalence`.
    """
    if profile is None or profile.site_threshold is None:
        return None
    site, counts = profile.site_threshold, profile.counts
    share = counts["PNEUMONIA"] / (counts["PNEUMONIA"] + counts["NORMAL"]) if prevalence is None else prevalence
    sick, healthy = site["pneumonia_referred"], site["healthy_referred"]
    return {
        "prevalence": share,
        "rate": share * sick["value"] + (1 - share) * healthy["value"],
        "low": share * sick["ci95"][0] + (1 - share) * healthy["ci95"][0],
        "high": share * sick["ci95"][1] + (1 - share) * healthy["ci95"][1],
    }


def referral_drift(recent: list[dict], profile: SiteProfile | None, prevalence: float | None = None) -> Finding | None:
    """A warning when recent referrals at the site threshold leave what the calibration allows."""
    expected = expected_referral_rate(profile, prevalence)
    if expected is None:
        return None
    at_site = [
        r
        for r in recent
        if r["status"] == OK and r["model_sha256"] == profile.model_sha256 and r["threshold"] == profile.threshold
    ]
    if len(at_site) < MIN_RECENT_SCANS:
        return None
    n, referred = len(at_site), sum(bool(r["refer"]) for r in at_site)
    low = metrics.binomial_range(n, expected["low"], WARNING_LEVEL)[0]
    high = metrics.binomial_range(n, expected["high"], WARNING_LEVEL)[1]
    if low <= referred <= high:
        return None
    return Finding(
        REFERRALS_CHANGED,
        f"Referrals have changed: {referred} of {n} children scanned in the last {RECENT_DAYS} days were referred "
        f"({referred / n:.0%}); the site calibration predicts {expected['rate']:.0%}, so between {low} and {high} "
        f"of {n} (for {expected['prevalence']:.0%} with pneumonia). The X-ray machine, the model or the children "
        "screened may have changed: check image quality, then calibrate again with edge-scan calibrate.",
        {"referred": referred, "scanned": n, "days": RECENT_DAYS, "low": low, "high": high},
    )


def rejection_climbs(earlier: list[dict], recent: list[dict]) -> list[Finding]:
    """Warnings for rejection reasons whose recent share is beyond chance given their earlier share."""
    if len(recent) < MIN_RECENT_SCANS or len(earlier) < MIN_RECENT_SCANS:
        return []
    before = Counter(r["reason"] for r in earlier if r["status"] == REJECTED)
    now = Counter(r["reason"] for r in recent if r["status"] == REJECTED)
    warnings = []
    for reason, count in sorted(now.items()):
        usual_high = metrics.clopper_pearson_interval(before[reason], len(earlier))[1]
        if count > metrics.binomial_range(len(recent), usual_high, WARNING_LEVEL)[1]:
            warnings.append(
                Finding(
                    REJECTIONS_CLIMB,
                    f"More images rejected as {reason}: {count} of {len(recent)} in the last {RECENT_DAYS} days "
                    f"({count / len(recent):.0%}), against {before[reason]} of {len(earlier)} before "
                    f"({before[reason] / len(earlier):.0%}). Check the X-ray machine and how images are taken.",
                    {
                        "reason": reason,
                        "count": count,
                        "scanned": len(recent),
                        "days": RECENT_DAYS,
                        "before": before[reason],
                        "scanned_before": len(earlier),
                    },
                )
            )
    return warnings


def promised(profile: SiteProfile | None) -> dict | None:
    """What the active calibration promised new children (None without one that made a promise)."""
    if profile is None or profile.site_threshold is None or "children" not in profile.site_threshold:
        return None
    return {
        "target_sensitivity": profile.target_sensitivity,
        "confidence": profile.confidence,
        "next_children": profile.next_children,
        "sensitivity_at_least": profile.site_threshold["children"]["sensitivity_at_least"],
        "specificity_at_least": profile.site_threshold["children"]["specificity_at_least"],
    }


def monitor(
    records: list[dict], profile: SiteProfile | None, prevalence: float | None = None, outcomes: dict | None = None
) -> tuple[dict, list[Finding], list[Finding]]:
    """The figures of `summarize`, and its warnings about the screening and about the confirmed outcomes as
    findings with their codes (the app words them in the page's language)."""
    earlier, recent = split_recent(records)
    drift = referral_drift(recent, profile, prevalence)
    scanned = [r for r in records if r["status"] == OK]
    promise = promised(profile)
    months = confirmed.monthly(records, confirmed.confirmed_scans(records, outcomes or {}))
    measured = confirmed.warnings(months, None if promise is None else promise["target_sensitivity"])
    figures = {
        "scans": len(records),
        "by_status": dict(Counter(r["status"] for r in records)),
        "threshold_sources": dict(Counter(r.get("threshold_source") or "unknown" for r in scanned)),
        "rejections": dict(Counter(r["reason"] for r in records if r["status"] == REJECTED).most_common()),
        "weeks": weekly_referrals(records),
        "score_histogram": score_histogram(records),
        "expected_referral_rate": expected_referral_rate(profile, prevalence),
        "measured_by_month": months,
        "promised": promise,
    }
    return figures, ([drift] if drift else []) + rejection_climbs(earlier, recent), measured


def summarize(
    records: list[dict], profile: SiteProfile | None, prevalence: float | None = None, outcomes: dict | None = None
) -> dict:
    """Everything `edge-scan stats` shows, as plain data (the JSON output). `outcomes`: the confirmed outcome in
    force for each scan id that has one."""
    figures, warnings, outcome_warnings = monitor(records, profile, prevalence, outcomes)
    return figures | {
        "warnings": [warning.detail for warning in warnings],
        "outcome_warnings": [warning.detail for warning in outcome_warnings],
    }
