"""Does site calibration keep its promise for children it was not calibrated on? Split a site's labelled set by
patient many times at random, calibrate on one part exactly as `edge-scan calibrate` does, and scan the rest.

Runs on a device install (numpy, Pillow, LiteRT; no TensorFlow; the picture needs matplotlib):

    python -m benchmarks.site_calibration --data ../shared/data/external --splits 200 \
        --out benchmarks/results/site_calibration.json > benchmarks/results/site_calibration.md

Each setting (share of the children used to calibrate, target, confidence) is tried on the same random
patient-level splits; the held-out children's sensitivity is counted per image and per child (each child by
their highest score, the unit of the promise), beside the specificity and the refusals, which are what a
smaller calibration set costs.
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
from edge_app.site import promise
from edge_app.site.calibration import (
    CONFIDENCE,
    Scores,
    SiteScan,
    calibrate,
    images_in_folder,
    operating_point,
    scan_site_images,
)
from edge_app.site.dataset import patient_id
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


def one_direction(
    site_scan: SiteScan, calibrate_on: np.ndarray, model, target: float, confidence: float = CONFIDENCE
) -> dict:
    """Calibrate on the images in `calibrate_on`, then measure both thresholds on the rest."""
    profile = calibrate(_subset(site_scan, calibrate_on), model, target, None, "half", confidence)
    scores = held_out_scores(_subset(site_scan, ~calibrate_on))
    labels = scores.labels
    threshold = profile.threshold
    return {
        "target_sensitivity": target,
        "calibration_counts": profile.counts,
        "site_threshold": threshold,
        "refused_by_edge_scan": list(profile.refused),
        "held_out_counts": {"NORMAL": int((~labels).sum()), "PNEUMONIA": int(labels.sum())},
        "held_out_at_site_threshold": None if threshold is None else operating_point(scores, threshold, confidence),
        "held_out_at_model_threshold": operating_point(scores, model.threshold, confidence),
    }


SETTINGS = (
    {"share": 1 / 2, "target": 0.91, "confidence": 0.95},
    {"share": 2 / 3, "target": 0.93, "confidence": 0.95},
    {"share": 2 / 3, "target": 0.95, "confidence": 0.80},
    {"share": 1 / 2, "target": 0.95, "confidence": 0.95},
)
"""What a site of this size can ask for: 0.95 with 95% confidence needs 59 children with pneumonia (external
has 65, so no part of it can), so smaller parts are tried with a lower target or a lower confidence."""


def setting_summary(runs: list[dict], setting: dict) -> dict:
    """Coverage (share of accepted splits whose held-out sensitivity meets the target), specificity, refusals."""
    target = setting["target"]
    accepted = [run for run in runs if not run["refused_by_edge_scan"]]
    site = [run["held_out_at_site_threshold"] for run in accepted]

    def share(values: list[bool]) -> float | None:
        return float(np.mean(values)) if values else None

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return setting | {
        "splits": len(runs),
        "refused": len(runs) - len(accepted),
        "coverage_images": share([p["sensitivity"]["value"] >= target for p in site]),
        "coverage_children": share([p["children"]["sensitivity"]["value"] >= target for p in site]),
        "coverage_children_predicted": mean([predicted_share(run, setting) for run in accepted]),
        "mean_sensitivity_images": mean([p["sensitivity"]["value"] for p in site]),
        "mean_specificity_images": mean([p["specificity"]["value"] for p in site]),
        "median_threshold": float(np.median([run["site_threshold"] for run in accepted])) if accepted else None,
        "calibration_children_pneumonia": int(np.median([run["calibration_children"] for run in runs])),
    }


def predicted_share(run: dict, setting: dict) -> float:
    """What the order-statistic argument predicts for this split's held-out children (`promise.held_out_share`)."""
    n = run["calibration_children"]
    rank = promise.highest_rank(n, setting["target"], setting["confidence"])
    held_out = run["held_out_at_site_threshold"]["children"]["counts"]["PNEUMONIA"]
    return promise.held_out_share(rank, n, held_out, setting["target"])


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(summaries: list[dict], model_threshold: float) -> str:
    lines = [
        "| calibrated on | children with pneumonia | target | confidence | splits refused | held-out sensitivity "
        "meets target (per image) | (per child) | (per child, predicted) | mean held-out sensitivity "
        "| mean held-out specificity | median threshold |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summaries:
        lines.append(
            f"| {row['share']:.0%} of children | {row['calibration_children_pneumonia']} | {row['target']:.2f} "
            f"| {row['confidence']:.2f} | {row['refused']} of {row['splits']} | {_figure(row['coverage_images'])} "
            f"| {_figure(row['coverage_children'])} | {_figure(row['coverage_children_predicted'])} "
            f"| {_figure(row['mean_sensitivity_images'])} "
            f"| {_figure(row['mean_specificity_images'])} | {_figure(row['median_threshold'])} |"
        )
    return "\n".join(lines + ["", f"The model's own threshold is {model_threshold:.3f}."])


def run_setting(site_scan: SiteScan, model, setting: dict, splits: int) -> list[dict]:
    runs = []
    for seed in range(splits):
        mask = patient_split(site_scan, setting["share"], seed)
        run = one_direction(site_scan, mask, model, setting["target"], setting["confidence"])
        children = {
            patient_id(i.path.name) for i, chosen in zip(site_scan.images, mask, strict=True) if chosen and i.label
        }
        runs.append({"seed": seed, "calibration_children": len(children)} | run)
    return runs


def picture(summaries: list[dict], out: Path) -> Path | None:
    """Coverage against the stated confidence, and held-out specificity, per setting (needs matplotlib)."""
    from benchmarks.plots import _pyplot, _save

    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    names = [f"{r['share']:.0%}, t={r['target']:.2f}, c={r['confidence']:.2f}" for r in summaries]
    positions = np.arange(len(summaries))
    for offset, key, label in ((-0.2, "coverage_images", "per image"), (0.2, "coverage_children", "per child")):
        axes[0].bar(positions + offset, [r[key] or 0.0 for r in summaries], width=0.4, label=label)
    axes[0].scatter(positions, [r["confidence"] for r in summaries], color="black", marker="_", s=400, label="stated")
    axes[0].set(title="Held-out sensitivity meets the target", ylim=(0, 1.05), xticks=positions)
    axes[0].set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    axes[0].legend(fontsize=8)
    axes[1].bar(positions, [r["mean_specificity_images"] or 0.0 for r in summaries])
    axes[1].set(title="Mean held-out specificity (0 = always refused)", ylim=(0, 1.05), xticks=positions)
    axes[1].set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    path = _save(figure, out)
    plt.close(figure)
    return path


@click.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--splits", type=int, default=200, show_default=True, help="Random patient-level splits per setting.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results as JSON here.")
def main(data: Path, splits: int, out: Path | None) -> None:
    """Calibrate on part of a site's patients, judge on the rest, over many random splits and several settings."""
    model = load_model()
    site_scan = scan_site_images(images_in_folder(data), model)
    summaries, runs = [], {}
    for setting in SETTINGS:
        found = run_setting(site_scan, model, setting, splits)
        summaries.append(setting_summary(found, setting))
        runs[f"{setting['share']:.2f}-{setting['target']}-{setting['confidence']}"] = found
    click.echo(markdown(summaries, model.threshold))
    if out is not None:
        record = portable({"data": str(data), "model_sha256": model.sha256, "settings": summaries, "runs": runs})
        atomic_write_text(out, json.dumps(record, indent=2) + "\n")
        drawn = picture(summaries, out.with_suffix(".png"))
        click.echo(f"\nPicture: {portable(str(drawn))}" if drawn else "\n(matplotlib is not installed: no picture)")


if __name__ == "__main__":
    main()
