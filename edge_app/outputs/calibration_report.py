"""Plain-text summaries of a site calibration, for the clinician who ran it.

The two thresholds are shown side by side, per 100 healthy children, because
"24 instead of 52 healthy children in 100 referred" is what a programme decides on.
"""

from __future__ import annotations

from edge_app.contract import LABELS
from edge_app.site.site_profile import SiteProfile
from edge_app.threshold import ThresholdChoice

_ROW = "{name:<32} {model:<22} {site:<22}"


def _rate(rate: dict | None, per_100: bool = False) -> str:
    if rate is None or rate["value"] is None:
        return "-"
    if per_100:
        return f"{100 * rate['value']:.0f} (95% CI {100 * rate['ci95'][0]:.0f}-{100 * rate['ci95'][1]:.0f})"
    return f"{rate['value']:.3f} ({rate['ci95'][0]:.3f}-{rate['ci95'][1]:.3f})"


def comparison_lines(profile: SiteProfile) -> list[str]:
    """The model's threshold and the site threshold on the same images."""
    model, site = profile.model_threshold, profile.site_threshold

    def row(name: str, key: str, per_100: bool = False) -> str:
        return _ROW.format(
            name=name, model=_rate(model[key], per_100), site="-" if site is None else _rate(site[key], per_100)
        )

    lines = [
        _ROW.format(name="", model="model's own threshold", site="site threshold"),
        _ROW.format(
            name="Threshold",
            model=f"{model['threshold']:.3f}",
            site="-" if site is None else f"{site['threshold']:.3f}",
        ),
        row("Sensitivity (95% CI)", "sensitivity"),
        row("Specificity (95% CI)", "specificity"),
        "Healthy children per 100:",
        row("  suspected PNEUMONIA", "healthy_called_pneumonia", per_100=True),
        row("  referred (with uncertain)", "healthy_referred", per_100=True),
    ]
    return [line.rstrip() for line in lines]


def variety_lines(variety: dict | None) -> list[str]:
    """How many different X-rays and children stand behind the counts, when they were measured."""
    if variety is None:
        return []
    children = variety["children"]
    lines = [f"Different children: {children[LABELS[0]]} {LABELS[0]} and {children[LABELS[1]]} {LABELS[1]}."]
    copies = variety["files"] - sum(variety["distinct_images"].values())
    if copies:
        lines.append(
            f"{copies} of {variety['files']} files are copies of others (the same X-ray, or nearly): counted once."
        )
    return lines


def summary(profile: SiteProfile) -> str:
    counts = profile.counts
    lines = [
        f"Site calibration on {profile.source}: {counts[LABELS[0]]} {LABELS[0]} and {counts[LABELS[1]]} "
        f"{LABELS[1]} images" + (f" ({counts['rejected']} not scanned, left out)." if counts["rejected"] else "."),
        *variety_lines(profile.variety),
        f"Target: catch at least {profile.target_sensitivity:.0%} of pneumonia on these images.",
        "",
        *comparison_lines(profile),
    ]
    site = profile.site_threshold
    if site is not None:
        lines += [
            "",
            f"At the site threshold, sensitivity is at least {site['sensitivity_at_least']:.3f} "
            f"(95% confidence; the floor for activating it is {profile.sensitivity_floor:.2f}).",
        ]
    return "\n".join(lines)


def refusal(profile: SiteProfile, threshold_in_use: str) -> str:
    lines = ["", "Calibration REFUSED: nothing was changed; " + threshold_in_use]
    lines += [f"  - {reason}" for reason in profile.refused]
    return "\n".join(lines)


def saved(profile: SiteProfile, path: str) -> str:
    return (
        f"\nSaved. Scans on this device now use the site threshold {profile.threshold:.3f} "
        f"for model {profile.model_version} (site profile {path}; undo with edge-scan calibrate --reset)."
    )


def in_use(choice: ThresholdChoice) -> str:
    """The threshold scans use now, and why, first thing on `calibrate --show`."""
    line = f"Threshold in use: {choice.value:.3f} ({choice.detail})."
    return line if choice.warning is None else f"{line}\nWarning: {choice.warning}"


def show(profile: SiteProfile, path: str, choice: ThresholdChoice) -> str:
    """The active profile, as `calibrate --show` prints it, under the threshold actually in use."""
    return "\n".join(
        [
            in_use(choice),
            "",
            f"Active site profile: {path}",
            f"Calibrated {profile.created_at[:16].replace('T', ' ')} UTC by {profile.operator or '-'}, "
            f"for model {profile.model_version} (SHA-256 {profile.model_sha256[:12]}...).",
            summary(profile),
        ]
    )
