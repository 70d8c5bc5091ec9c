"""Does site calibration work on images it was not calibrated on? Split a site's labelled set in two
halves by patient, calibrate on one half exactly as `edge-scan calibrate` does, and scan the other.

Runs on a device install (numpy, Pillow, LiteRT; no TensorFlow):

    python -m benchmarks.site_calibration --data ../shared/data/external --target-sensitivity 0.95

Both directions are reported (calibrate on A, judge on B; then the reverse), for each seed, with
exact 95% intervals, next to the model's own threshold on the same held-out half.
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
from edge_app.site.calibration import SiteScan, calibrate, images_in_folder, operating_point, scan_site_images
from edge_app.site.dataset import patient_id
from lab.portable_paths import portable


def patient_halves(site_scan: SiteScan, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two boolean masks over `site_scan.images`: every patient wholly in one half, each class split evenly."""
    by_class: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, image in enumerate(site_scan.images):
        by_class[image.label][patient_id(image.path.name) or image.path.name].append(index)
    rng = random.Random(seed)
    first = np.zeros(len(site_scan.images), dtype=bool)
    for label in sorted(by_class):
        patients = sorted(by_class[label])
        rng.shuffle(patients)
        for patient in patients[: (len(patients) + 1) // 2]:
            first[by_class[label][patient]] = True
    return first, ~first


def _subset(site_scan: SiteScan, mask: np.ndarray) -> SiteScan:
    keep = np.flatnonzero(mask)
    prints = site_scan.fingerprints or [None] * len(site_scan.results)
    images, results = [site_scan.images[i] for i in keep], [site_scan.results[i] for i in keep]
    return SiteScan(images, results, [prints[i] for i in keep])


def one_direction(site_scan: SiteScan, calibrate_on: np.ndarray, model, target: float) -> dict:
    """Calibrate on the images in `calibrate_on`, then measure both thresholds on the rest."""
    profile = calibrate(_subset(site_scan, calibrate_on), model, target, None, "half")
    labels, probabilities = _subset(site_scan, ~calibrate_on).arrays()
    threshold = profile.threshold
    return {
        "target_sensitivity": target,
        "calibration_counts": profile.counts,
        "site_threshold": threshold,
        "refused_by_edge_scan": list(profile.refused),
        "held_out_counts": {"NORMAL": int((~labels).sum()), "PNEUMONIA": int(labels.sum())},
        "held_out_at_site_threshold": None if threshold is None else operating_point(labels, probabilities, threshold),
        "held_out_at_model_threshold": operating_point(labels, probabilities, model.threshold),
    }


def _cell(point: dict, key: str) -> str:
    rate = point[key]
    return f"{rate['value']:.3f} ({rate['ci95'][0]:.3f}-{rate['ci95'][1]:.3f})"


def markdown(runs: list[dict], model_threshold: float) -> str:
    lines = [
        "| seed | calibrated on | site threshold | held-out n (N/P) | sensitivity, site | specificity, site "
        f"| sensitivity, model {model_threshold:.3f} | specificity, model | edge-scan would |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        site, model = run["held_out_at_site_threshold"], run["held_out_at_model_threshold"]
        counts = run["held_out_counts"]
        lines.append(
            f"| {run['seed']} | half {run['half']} | {run['site_threshold']:.3f} "
            f"| {counts['NORMAL']}/{counts['PNEUMONIA']} | {_cell(site, 'sensitivity')} "
            f"| {_cell(site, 'specificity')} | {_cell(model, 'sensitivity')} | {_cell(model, 'specificity')} "
            f"| {'refuse' if run['refused_by_edge_scan'] else 'accept'} |"
        )
    return "\n".join(lines + ["", pooled(runs)])


def pooled(runs: list[dict]) -> str:
    """Means over all runs, and how often the held-out half fell short of the target."""

    def mean(point: str, key: str) -> float:
        return float(np.mean([run[point][key]["value"] for run in runs]))

    site, model = "held_out_at_site_threshold", "held_out_at_model_threshold"
    short = sum(run[site]["sensitivity"]["value"] < run["target_sensitivity"] for run in runs)
    return (
        f"Mean of {len(runs)} runs on the held-out half: site threshold sensitivity {mean(site, 'sensitivity'):.3f}, "
        f"specificity {mean(site, 'specificity'):.3f}; model threshold sensitivity {mean(model, 'sensitivity'):.3f}, "
        f"specificity {mean(model, 'specificity'):.3f}. Held-out sensitivity under the target in {short} of "
        f"{len(runs)} runs; edge-scan calibrate refuses {sum(bool(run['refused_by_edge_scan']) for run in runs)}."
    )


@click.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--target-sensitivity", type=float, default=0.95, show_default=True)
@click.option("--seeds", type=int, default=1, show_default=True, help="Patient splits to try (seeds 0, 1, ...).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results as JSON here.")
def main(data: Path, target_sensitivity: float, seeds: int, out: Path | None) -> None:
    """Calibrate on half of a site's patients, judge on the other half, both ways."""
    model = load_model()
    site_scan = scan_site_images(images_in_folder(data), model)
    runs = []
    for seed in range(seeds):
        for half, mask in zip("AB", patient_halves(site_scan, seed), strict=True):
            runs.append({"seed": seed, "half": half} | one_direction(site_scan, mask, model, target_sensitivity))
    click.echo(markdown(runs, model.threshold))
    if out is not None:
        record = portable({"data": str(data), "model_sha256": model.sha256, "runs": runs})
        atomic_write_text(out, json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
