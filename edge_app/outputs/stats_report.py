"""`edge-scan stats` as text: counts, weekly referral rates and a histogram that fit a terminal."""

from __future__ import annotations

_BAR_WIDTH = 40


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _interval(rate: dict) -> str:
    if rate["value"] is None:
        return "-"
    return f"{rate['value']:.2f} ({rate['ci95'][0]:.2f}-{rate['ci95'][1]:.2f}, n={rate['n']})"


def measured_lines(summary: dict) -> list[str]:
    """Measured sensitivity and specificity per month on confirmed scans, under what the calibration promised."""
    lines = [
        "",
        "Measured on scans with a confirmed outcome (edge-scan outcome), 95% exact intervals:",
        "  MONTH    SCANNED  CONFIRMED  SENSITIVITY              SPECIFICITY",
    ]
    lines.extend(map(_month_row, summary["measured_by_month"]))
    promise = summary["promised"]
    return lines + ([] if promise is None else [_promise_line(promise)])


def _month_row(month: dict) -> str:
    sensitivity, specificity = _interval(month["sensitivity"]), _interval(month["specificity"])
    return f"  {month['month']}  {month['scanned']:>7}  {month['confirmed']:>9}  {sensitivity:<23}  {specificity}"


def _promise_line(promise: dict) -> str:
    batch = promise["next_children"]
    children = "new children" if batch is None else f"the next {batch} children"
    return (
        f"  The site calibration promised sensitivity of at least {promise['target_sensitivity']:.2f} on {children} "
        f"({promise['confidence']:.0%} confidence) and specificity of at least {promise['specificity_at_least']:.2f}."
    )


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
    lines += measured_lines(summary)
    lines += ["", "Scores of scanned images (50 = the threshold):"]
    peak = max((band["count"] for band in summary["score_histogram"]), default=0) or 1
    for band in summary["score_histogram"]:
        bar = "#" * round(_BAR_WIDTH * band["count"] / peak)
        lines.append(f"  {band['from']:>3}-{band['to']:<3} | {bar:<{_BAR_WIDTH}} {band['count']}")
    lines.append("")
    warnings = summary["warnings"] + summary["outcome_warnings"]
    lines += [f"WARNING: {warning}" for warning in warnings] or ["No warnings."]
    return "\n".join(lines)
