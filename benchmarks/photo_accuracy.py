"""Accuracy on simulated phone photos of films next to the same X-rays unphotographed.

Every labelled X-ray of a folder (the external set) is scanned twice through the device's own scan path
(`edge_app.scan.scanner`, the shipped gate and model at the model's own threshold): as it is, and as a
simulated phone photo of its film (lab.photo_simulator) scanned with `--photo`. Photos of pictures that
are no X-ray (natural photos in colour and in grey, documents, patterns) are scanned too: none may get a
verdict. These are simulated photos: a site using photos calibrates on real photographed films.

    python -m benchmarks.photo_accuracy --data ../shared/data/external --out benchmarks/results
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import click
import cv2
import numpy as np

from edge_app.inference.model_store import load_model
from edge_app.scan.scanner import collect_images, prepare_image, scan_prepared
from edge_app.site import metrics
from lab.photo_simulator import photograph, random_style
from lab.portable_paths import portable_path


def _scan(path: Path, model, photo: bool):
    return scan_prepared(prepare_image(path, model.input_size, photo=photo), model)


def _labelled(folder: Path) -> list[tuple[Path, int]]:
    return [(path, int(path.parent.name.upper() == "PNEUMONIA")) for path in collect_images([folder])]


def _summary(labels: list[int], probabilities: list[float], threshold: float) -> dict:
    y, p = np.asarray(labels), np.asarray(probabilities)
    return {
        "images": len(y),
        "auc": round(metrics.roc_auc(y, p), 4),
        "sensitivity": round(metrics.sensitivity(y, p, threshold), 4),
        "specificity": round(metrics.specificity(y, p, threshold), 4),
    }


def xray_photos(folder: Path, model, work: Path, seed: int) -> dict:
    """Each X-ray scanned plain and as a simulated photo: accuracy of both, the share accepted, verdicts changed."""
    rng = np.random.default_rng(seed)
    rows = []
    for path, label in _labelled(folder):
        style = random_style(rng)
        photo = work / f"{path.stem}-{style.scene}.jpg"
        photo.write_bytes(photograph(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), style, rng))
        plain, photographed = _scan(path, model, False), _scan(photo, model, True)
        rows.append((path, label, style, plain, photographed))
    return _compare(rows, model.threshold)


def _compare(rows: list, threshold: float) -> dict:
    plain_ok = [row for row in rows if row[3].status == "ok"]
    both = [row for row in plain_ok if row[4].status == "ok"]
    changed = [row for row in both if row[3].label != row[4].label]
    missed = [row for row in changed if row[4].label == "NORMAL" and not row[4].uncertain]
    refusals = Counter(row[4].reason for row in rows if row[4].status != "ok")
    by_scene = Counter(row[2].scene for row in rows)
    accepted_by_scene = Counter(row[2].scene for row in rows if row[4].status == "ok")
    return {
        "xrays": len(rows),
        "plain_accepted": len(plain_ok),
        "photos_accepted": len(both),
        "photos_accepted_share": round(len(both) / max(len(plain_ok), 1), 4),
        "accepted_by_scene": {
            scene: f"{accepted_by_scene[scene]}/{count}" for scene, count in sorted(by_scene.items())
        },
        "refusals": dict(refusals.most_common()),
        "plain_all": _summary([r[1] for r in plain_ok], [r[3].probability for r in plain_ok], threshold),
        "plain_same_images": _summary([r[1] for r in both], [r[3].probability for r in both], threshold),
        "photos": _summary([r[1] for r in both], [r[4].probability for r in both], threshold),
        "verdicts_changed": len(changed),
        "changed": [
            {
                "image": row[0].name,
                "scene": row[2].scene,
                "plain": f"{row[3].label} {row[3].score}",
                "photo": f"{row[4].label} {row[4].score}" + (" uncertain" if row[4].uncertain else ""),
            }
            for row in changed
        ],
        "pneumonia_to_confident_normal": len(missed),
    }


def _pictures(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Grey and colour pictures that are no X-ray: natural photos, a document, patterns, smooth noise."""
    from sklearn.datasets import load_sample_images

    pictures = []
    for index, image in enumerate(load_sample_images().images):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        pictures += [(f"natural-{index}-grey", grey), (f"natural-{index}-grey-portrait", cv2.rotate(grey, 0))]
    document = np.full((1100, 850), 235, np.uint8)
    for line in range(20):
        cv2.putText(document, "Patient record  " + "x" * (line % 7 + 5), (60, 80 + 48 * line), 0, 1.0, 30, 2)
    pictures.append(("document", document))
    for index in range(8):
        smooth = cv2.resize(rng.integers(0, 255, (5 + index, 4 + index), dtype=np.uint8), (800, 1000))
        pictures.append((f"smooth-{index}", smooth))
    checker = (np.indices((1000, 800)).sum(axis=0) // 100 % 2 * 180 + 40).astype(np.uint8)
    pictures.append(("checkerboard", checker))
    return pictures


def other_photos(model, work: Path, seed: int) -> dict:
    """Simulated photos of pictures that are no X-ray: any verdict is a failure."""
    rng = np.random.default_rng(seed + 1)
    results = {}
    for name, picture in _pictures(rng):
        path = work / f"picture-{name}.jpg"
        # the simulator takes an X-ray's greys; a picture's light parts then print as dark film, as a real one would
        path.write_bytes(photograph(picture, random_style(rng), rng))
        result = _scan(path, model, True)
        results[name] = result.reason or result.label
    verdicts = [name for name, outcome in results.items() if outcome in ("NORMAL", "PNEUMONIA")]
    return {"photos": len(results), "got_a_verdict": verdicts, "outcomes": results}


@click.command()
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Labelled folder (NORMAL/ and PNEUMONIA/): the X-rays to photograph.",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("benchmarks/results"))
@click.option("--seed", type=int, default=26, show_default=True)
def main(data: Path, out: Path, seed: int) -> None:
    """Accuracy on simulated phone photos of films next to the same X-rays unphotographed."""
    model = load_model()
    with tempfile.TemporaryDirectory() as work:
        results = {
            "data": portable_path(data),
            "model": model.version,
            "threshold": model.threshold,
            "seed": seed,
            "note": "simulated photos (lab/photo_simulator.py), not real photographs of films",
            "xrays": xray_photos(data, model, Path(work), seed),
            "other_pictures": other_photos(model, Path(work), seed),
        }
    out.mkdir(parents=True, exist_ok=True)
    (out / "photo_accuracy.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    click.echo(json.dumps({k: v for k, v in results["xrays"].items() if k != "changed"}, indent=2))
    click.echo(json.dumps(results["other_pictures"], indent=2))


if __name__ == "__main__":
    main()
