"""Does site calibration keep its promise for children it was not calibrated on? Split a site's labelled set by
patient many times at random, calibrate on one part exactly as `edge-scan calibrate` does, and scan the rest.

Runs on a device install (numpy, Pillow, LiteRT; no TensorFlow; the picture needs matplotlib):

    python -m benchmarks.site_calibration --data ../shared/data/external --splits 2000 \
        --out benchmarks/results/site_calibration.json > benchmarks/results/site_calibration.md

The promise `edge-scan calibrate` makes is about a batch: "of the next N children with pneumonia, at least the
target share are caught, with the stated confidence". Here the batch is the held-out children: each split
calibrates with N = the number of held-out children with pneumonia, and counts the splits whose held-out
children (each by their highest score, the unit of the promise) are caught at the target. That share must reach
the stated confidence. Given the site's scores, a random patient split is a random interleaving of calibration
and held-out children, so the share converges to the exact Beta-Binomial prediction shown beside it (ties only
help). Rows with the long-run rule (no batch) show why the batch is named: they meet the target less often.
Held-out specificity is what a smaller calibration set costs.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import click
import numpy as np

from edge_app.files import atomic_write_text
from edge_app.inference.model_store import load_model
from edge_app.site import metrics
from edge_app.site.calibration import (
    Scores,
    SiteScan,
    calibrate,
    images_in_folder,
    operating_point,
    scan_site_images,
)
from edge_app.site.dataset import patient_id
from edge_app.site.promise import Promise
from lab.portable_paths import portable


def patient_split(site_scan: SiteScan, share: float, seed: int) -> np.ndarray:
    """A boolean mask over `site_scan.images`: `share` of each class's patients (rounded), every patient whole."""
    by_class: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, image in enumerate(site_scan.images):
        by_class[image.label][patient_id(image.path.name) or image.path.name].append(index)
    rng = random.Random(seed)
    chosen = np.zeros(len(site_scan.images), dtype=bool)
    for label in sorted(by_class):
        patients = sorted(by_class[label])
        rng.shuffle(patients)
        for patient in patients[: round(len(patients) * share)]:
            chosen[by_class[label][patient]] = True
    return chosen


def patient_halves(site_scan: SiteScan, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two boolean masks over `site_scan.images`: every patient wholly in one half, each class split evenly."""
    first = patient_split(site_scan, 0.5, seed)
    return first, ~first


def _subset(site_scan: SiteScan, mask: np.ndarray) -> SiteScan:
    keep = np.flatnonzero(mask)
    prints = site_scan.fingerprints or [None] * len(site_scan.results)
    images, results = [site_scan.images[i] for i in keep], [site_scan.results[i] for i in keep]
    return SiteScan(images, results, [prints[i] for i in keep])


def held_out_scores(site_scan: SiteScan) -> Scores:
    labels, probabilities = site_scan.arrays()
    children = [patient_id(image.path.name) or image.path.name for image, _ in site_scan.accepted]
    return Scores(labels, probabilities, children)


def one_direction(site_scan: SiteScan, calibrate_on: np.ndarray, model, promise: Promise) -> dict:
    """Calibrate on the images in `calibrate_on` with `promise`, then measure both thresholds on the rest."""
    profile = calibrate(_subset(site_scan, calibrate_on), model, promise, None, "part of the site")
    scores = held_out_scores(_subset(site_scan, ~calibrate_on))
    threshold = profile.threshold
    return {
        "site_threshold": threshold,
        "refused_by_edge_scan": list(profile.refused),
        "held_out_at_site_threshold": None if threshold is None else operating_point(scores, threshold, promise),
        "held_out_at_model_threshold": operating_point(scores, model.threshold, promise),
    }


SETTINGS = (
    {"share": 1 / 2, "target": 0.91, "confidence": 0.80, "batch": True},
    {"share": 3 / 4, "target": 0.93, "confidence": 0.90, "batch": True},
    {"share": 4 / 5, "target": 0.92, "confidence": 0.95, "batch": True},
    {"share": 1 / 2, "target": 0.95, "confidence": 0.95, "batch": True},
    {"share": 1 / 2, "target": 0.91, "confidence": 0.95, "batch": False},
    {"share": 2 / 3, "target": 0.93, "confidence": 0.95, "batch": False},
)
"""What parts of a site of this size can promise: 95 of the next 100 with 95% confidence needs 64 children with
pneumonia (external has 65, so no part of it can), and a promise about a few held-out children is harder than one
about their long-run share, so parts are tried with a lower target or confidence. The last rows use the long-run
rule at 95% confidence, which the batch rule refuses on parts this small: they show what it would have broken."""


def _held_out_children(runs: list[dict]) -> int:
    return runs[0]["held_out_at_model_threshold"]["children"]["counts"]["PNEUMONIA"]


def setting_summary(runs: list[dict], setting: dict) -> dict:
    """Coverage (share of the calibrated splits whose held-out children are caught at the target), its exact
    interval and prediction, specificity, refusals."""
    target = setting["target"]
    accepted = [run for run in runs if not run["refused_by_edge_scan"]]
    site = [run["held_out_at_site_threshold"] for run in accepted]
    met = sum(point["children"]["sensitivity"]["value"] >= target - 1e-9 for point in site)

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return setting | {
        "splits": len(runs),
        "refused": len(runs) - len(accepted),
        "calibration_children_pneumonia": int(np.median([run["calibration_pneumonia"] for run in runs])),
        "held_out_children_pneumonia": _held_out_children(runs),
        "coverage_children": met / len(accepted) if accepted else None,
        "coverage_children_ci95": list(metrics.clopper_pearson_interval(met, len(accepted))) if accepted else None,
        "coverage_children_predicted": mean([run["predicted_share"] for run in accepted]),
        "coverage_images": mean([point["sensitivity"]["value"] >= target - 1e-9 for point in site]),
        "mean_sensitivity_children": mean([point["children"]["sensitivity"]["value"] for point in site]),
        "mean_specificity_images": mean([point["specificity"]["value"] for point in site]),
        "mean_specificity_children": mean([point["children"]["specificity"]["value"] for point in site]),
        "median_threshold": float(np.median([run["site_threshold"] for run in accepted])) if accepted else None,
    }


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(summaries: list[dict], model_threshold: float) -> str:
    lines = [
        "| calibrated on | children with pneumonia (calibration / held out) | promise | splits refused "
        "| held-out children caught at the target (95% CI) | predicted | per image | mean held-out sensitivity "
        "(per child) | mean held-out specificity (per image / per child) | median threshold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summaries:
        n, m = row["calibration_children_pneumonia"], row["held_out_children_pneumonia"]
        promise = Promise(row["target"], row["confidence"], m if row["batch"] else None)
        said = f"{promise.in_words()}, {row['confidence']:.0%} confidence" + ("" if row["batch"] else " (long run)")
        interval = row["coverage_children_ci95"]
        coverage = _figure(row["coverage_children"]) + (
            "" if interval is None else f" ({interval[0]:.3f}-{interval[1]:.3f})"
        )
        lines.append(
            f"| {row['share']:.0%} of children | {n} / {m} | {said} | {row['refused']} of {row['splits']} "
            f"| {coverage} | {_figure(row['coverage_children_predicted'])} | {_figure(row['coverage_images'])} "
            f"| {_figure(row['mean_sensitivity_children'])} "
            f"| {_figure(row['mean_specificity_images'])} / {_figure(row['mean_specificity_children'])} "
            f"| {_figure(row['median_threshold'])} |"
        )
    return "\n".join(lines + ["", f"The model's own threshold is {model_threshold:.3f}."])


def run_setting(site_scan: SiteScan, model, setting: dict, splits: int) -> list[dict]:
    """Every split of one setting, kept small: the thresholds, the held-out children's counts, the prediction."""
    runs = []
    for seed in range(splits):
        mask = patient_split(site_scan, setting["share"], seed)
        held_out = int(held_out_scores(_subset(site_scan, ~mask)).per_child()[0].sum())
        promise = Promise(setting["target"], setting["confidence"], held_out if setting["batch"] else None)
        run = one_direction(site_scan, mask, model, promise)
        calibration_pneumonia = int(held_out_scores(_subset(site_scan, mask)).per_child()[0].sum())
        rank = promise.highest_rank(calibration_pneumonia)
        batch_check = Promise(setting["target"], setting["confidence"], held_out)
        runs.append(
            {"seed": seed, "calibration_pneumonia": calibration_pneumonia}
            | run
            | {"predicted_share": None if rank is None else batch_check.confidence_of(rank, calibration_pneumonia)}
        )
    return runs


def columns(runs: list[dict]) -> dict:
    """What the JSON keeps of a setting's splits, one list per figure (split i is seed i): enough to recount the
    table, small enough to commit. None where calibration refused."""
    site = [run["held_out_at_site_threshold"] for run in runs]

    def kept(values: list[float | None]) -> list[float | None]:
        return [None if value is None else round(value, 4) for value in values]

    return {
        "site_threshold": kept([run["site_threshold"] for run in runs]),
        "held_out_sensitivity_children": kept([p and p["children"]["sensitivity"]["value"] for p in site]),
        "held_out_specificity_children": kept([p and p["children"]["specificity"]["value"] for p in site]),
        "held_out_specificity_images": kept([p and p["specificity"]["value"] for p in site]),
    }


def picture(summaries: list[dict], out: Path) -> Path | None:
    """Coverage against the stated confidence, and held-out specificity, per setting (needs matplotlib)."""
    from benchmarks.plots import _pyplot, _save

    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    names = [
        f"{r['share']:.0%}, t={r['target']:.2f}, c={r['confidence']:.2f}" + ("" if r["batch"] else ", long run")
        for r in summaries
    ]
    positions = np.arange(len(summaries))
    axes[0].bar(positions - 0.2, [r["coverage_children"] or 0.0 for r in summaries], width=0.4, label="measured")
    axes[0].bar(
        positions + 0.2, [r["coverage_children_predicted"] or 0.0 for r in summaries], width=0.4, label="predicted"
    )
    axes[0].scatter(positions, [r["confidence"] for r in summaries], color="black", marker="_", s=400, label="stated")
    axes[0].set(title="Held-out children caught at the target", ylim=(0, 1.3), xticks=positions)
    axes[0].set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    axes[0].legend(fontsize=8, loc="upper center", ncol=3)
    axes[1].bar(positions, [r["mean_specificity_children"] or 0.0 for r in summaries])
    axes[1].set(title="Mean held-out specificity per child (0 = always refused)", ylim=(0, 1.05), xticks=positions)
    axes[1].set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    path = _save(figure, out)
    plt.close(figure)
    return path


@click.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--splits", type=int, default=2000, show_default=True, help="Random patient-level splits per setting.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results as JSON here.")
def main(data: Path, splits: int, out: Path | None) -> None:
    """Calibrate on part of a site's patients, judge on the rest, over many random splits and several settings."""
    model = load_model()
    site_scan = scan_site_images(images_in_folder(data), model)
    summaries, runs = [], {}
    for setting in SETTINGS:
        found = run_setting(site_scan, model, setting, splits)
        summaries.append(setting_summary(found, setting))
        rule = "batch" if setting["batch"] else "long-run"
        runs[f"{setting['share']:.2f}-{setting['target']}-{setting['confidence']}-{rule}"] = columns(found)
    click.echo(markdown(summaries, model.threshold))
    if out is not None:
        record = portable({"data": str(data), "model_sha256": model.sha256, "settings": summaries, "runs": runs})
        atomic_write_text(out, json.dumps(record) + "\n")
        drawn = picture(summaries, out.with_suffix(".png"))
        click.echo(f"\nPicture: {portable(str(drawn))}" if drawn else "\n(matplotlib is not installed: no picture)")


if __name__ == "__main__":
    main()
