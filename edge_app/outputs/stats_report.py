"""`edge-scan stats` as text: counts, weekly referral rates and a histogram that fit a terminal."""

from __future__ import annotations

_BAR_WIDTH = 40


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def format_table(summary: dict) -> str:
    if not summary["scans"]:
        return "No scans in the history for this period."
    lines = [f"Scans: {summary['scans']}"]
    lines += [f"  {status}: {count}" for status, count in sorted(summary["by_status"].items())]
    if summary["threshold_sources"]:
        used = ", ".join(f"{source} {count}" for source, count in sorted(summary["threshold_sources"].items()))
        lines.append(f"Thresholds used (scanned images): {used}")
    if summary["rejections"]:
        lines.append("Not scanned, by reason:")
        lines += [f"  {reason:<22} {count}" for reason, count in summary["rejections"].items()]
    lines += [
        "",
        "Referrals per week (referred = pneumonia suspected or uncertain):",
        "  WEEK OF      SCANNED  REFERRED",
    ]
    lines += [
        f"  {week['week_of']}  {week['scanned']:>7}  {week['referred']:>8} ({_percent(week['referral_rate'])})"
        for week in summary["weeks"]
    ]
    expected = summary["expected_referral_rate"]
    if expected is not None:
        lines.append(
            f"  The site calibration predicts {expected['rate']:.0%} referred ({expected['low']:.0%}-"
            f"{expected['high']:.0%}) when {expected['prevalence']:.0%} of children have pneumonia."
        )
    lines += ["", "Scores of scanned images (50 = the threshold):"]
    peak = max((band["count"] for band in summary["score_histogram"]), default=0) or 1
    for band in summary["score_histogram"]:
        bar = "#" * round(_BAR_WIDTH * band["count"] / peak)
        lines.append(f"  {band['from']:>3}-{band['to']:<3} | {bar:<{_BAR_WIDTH}} {band['count']}")
    lines.append("")
    lines += [f"WARNING: {warning}" for warning in summary["warnings"]] or ["No warnings."]
    return "\n".join(lines)
