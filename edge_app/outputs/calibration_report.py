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


def new_children_lines(point: dict | None, name: str, confidence: float) -> list[str]:
    """What a threshold promises for the next children, in words a health worker can repeat."""
    children = None if point is None else point.get("children")
    if children is None or children["sensitivity"]["value"] is None:
        return []
    batch = children.get("next_children")
    if batch is None:  # profiles saved before batches were promised: the long-run bounds, per 100
        batch = {
            "of": 100,
            "caught_at_least": int(100 * children["sensitivity_at_least"]),
            "spared_at_least": int(100 * children["specificity_at_least"]),
        }
    n = children["counts"]
    return [
        f"At the {name} {point['threshold']:.3f}, with {confidence:.0%} confidence: out of the next {batch['of']} "
        f"children with pneumonia, expect to catch at least {batch['caught_at_least']}; out of {batch['of']} "
        f"without pneumonia, expect at least {batch['spared_at_least']} not to be called PNEUMONIA "
        f"(from {n[LABELS[1]]} and {n[LABELS[0]]} children: sensitivity {_rate(children['sensitivity'])}, "
        f"specificity {_rate(children['specificity'])}).",
    ]


def promise_lines(profile: SiteProfile) -> list[str]:
    """The promise kept by the site threshold, and how many more children would let it be set higher."""
    if profile.site_threshold is None or "children" not in profile.site_threshold:
        return []
    n = profile.site_threshold["children"]["counts"][LABELS[1]]
    promise = profile.promise
    more = promise.more_for_next_step(n)
    lines = [
        "",
        f"The site threshold is the score of the child ranked {promise.highest_rank(n)} from the lowest among {n} "
        f"children with pneumonia (each child by their highest score): it will {promise.in_words()}, "
        f"with {profile.confidence:.0%} confidence, whatever the scores' shape.",
        *new_children_lines(profile.site_threshold, "site threshold", profile.confidence),
        *new_children_lines(profile.model_threshold, "model's own threshold", profile.confidence),
    ]
    if more is not None:
        lines.append(
            f"About {more} more labelled children with pneumonia would let the same promise be kept at a higher "
            "threshold (fewer healthy children referred), if they score like these."
        )
    return lines


def summary(profile: SiteProfile) -> str:
    counts = profile.counts
    lines = [
        f"Site calibration on {profile.source}: {counts[LABELS[0]]} {LABELS[0]} and {counts[LABELS[1]]} "
        f"{LABELS[1]} images" + (f" ({counts['rejected']} not scanned, left out)." if counts["rejected"] else "."),
        *variety_lines(profile.variety),
        f"Target: {profile.promise.in_words()}, with {profile.confidence:.0%} confidence.",
        "",
        "On these images:",
        *comparison_lines(profile),
        *promise_lines(profile),
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
