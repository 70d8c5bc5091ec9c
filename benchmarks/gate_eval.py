"""Judge the chest X-ray gate through the real scan path (`edge_app.scan.scanner.scan_file`).

What it measures (external holds children the gate never saw; originals are full-resolution copies of
training images, so they test the full-resolution decode path rather than unseen children):
1. real X-rays refused: every image of the external site and of the full-resolution originals;
2. turned, inverted and mirrored real X-rays (external and originals, turned 90/180/270 degrees, inverted,
   inverted and turned 90 degrees, mirrored, mirrored and turned 90 degrees):
   each must be righted (and then get the verdict its upright copy gets) or refused;
3. real upright X-rays (external) with acquisition shifts: tilt, blur, gamma, contrast, crop, JPEG 60;
4. held-out non-X-rays (benchmarks.gate_heldout), as they are and inverted: how many are
   refused, and whether any gets a confident NORMAL;
5. the gate's own cost: one-thread inference p50 and its 64 px preprocessing p50.

    python -m benchmarks.gate_eval --external ../shared/data/external --originals ../shared/data/originals \
        --out benchmarks/results

Needs the gate-eval extra (scikit-image, pydicom) for the held-out images.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
import numpy as np
from PIL import Image, ImageFilter, ImageOps

from edge_app import package_data
from edge_app.files import atomic_write_text
from edge_app.inference import gate as gate_module
from edge_app.inference.model_store import load_gate, load_model
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import decode_image, to_model_input
from edge_app.reasons import GATE_REASONS
from edge_app.scan.scanner import OK, ScanModel, ScanResult, collect_images, scan_file
from lab.portable_paths import portable

TURNS = {
    "rot90": (1, False, False),
    "rot180": (2, False, False),
    "rot270": (3, False, False),
    "inverted": (0, True, False),
    "inverted_rot90": (1, True, False),
    "mirrored": (0, False, True),
    "mirrored_rot90": (1, False, True),
}
"""Variants as (quarter turns counter-clockwise, inverted, mirrored), made in the order `gate.xray_class` counts."""


def _confident_normal(result: ScanResult) -> bool:
    return result.status == OK and result.label == "NORMAL" and not result.uncertain


def real_xrays(model: ScanModel, folders: list[Path]) -> dict:
    """How many real, upright X-rays the gate refuses or wrongly 'corrects'."""
    results = [scan_file(path, model) for path in collect_images(folders)]
    refused = [r for r in results if r.reason in GATE_REASONS]
    return {
        "images": len(results),
        "refused_by_gate": len(refused),
        "refused_by_gate_rate": len(refused) / max(len(results), 1),
        "turned_although_upright": sum(r.correction is not None for r in results),
        "other_rejections": dict(Counter(r.reason for r in results if r.reason and r.reason not in GATE_REASONS)),
        "refused_files": [{"path": r.path, "reason": r.reason} for r in refused],
    }


def _variant(image: Image.Image, turns: int, inverted: bool, mirrored: bool) -> Image.Image:
    image = image.convert("L")
    image = (ImageOps.mirror(image) if mirrored else image).rotate(90 * turns, expand=True)
    return ImageOps.invert(image) if inverted else image


def turned_xrays(model: ScanModel, folder: Path, work: Path) -> dict:
    """Each X-ray of `folder` turned, inverted or mirrored: righted with the upright copy's verdict, or refused."""
    counts = {name: Counter() for name in TURNS}
    wrong = []
    for path in collect_images([folder]):
        truth = path.parent.name
        upright = scan_file(path, model)
        for name, (turns, inverted, mirrored) in TURNS.items():
            copy = work / f"{name}_{path.stem}.jpeg"
            _variant(Image.open(path), turns, inverted, mirrored).save(copy, quality=95)
            result = scan_file(copy, model)
            expected = gate_module.Correction(turns, inverted, mirrored).code
            if result.status != OK:
                outcome = "refused" if result.reason in GATE_REASONS else f"rejected_{result.reason}"
            elif mirrored and result.correction == gate_module.Correction(turns, inverted).code:
                outcome = "scanned_still_mirrored"  # the gate was unsure of the mirror: scanned as it came
            elif result.correction != expected:
                outcome = "wrongly_righted"
            else:
                outcome = "righted_same_verdict" if result.label == upright.label else "righted_other_verdict"
            counts[name][outcome] += 1
            counts[name][f"{truth}_images"] += 1
            counts[name][f"{truth}_verdict_matches_truth"] += result.status == OK and result.label == truth
            counts[name][f"{truth}_upright_verdict_matches_truth"] += upright.status == OK and upright.label == truth
            if outcome in ("wrongly_righted", "righted_other_verdict"):
                wrong.append(
                    {
                        "file": path.name,
                        "variant": name,
                        "outcome": outcome,
                        "truth": truth,
                        "upright": [upright.label, upright.score],
                        "turned": [result.label, result.score],
                    }
                )
    return {"by_variant": {name: dict(c) for name, c in counts.items()}, "wrong": wrong}


SHIFTS = {
    "tilt_+10deg": lambda im: im.rotate(10, resample=Image.Resampling.BILINEAR, expand=True),
    "tilt_-10deg": lambda im: im.rotate(-10, resample=Image.Resampling.BILINEAR, expand=True),
    "blur_2px": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "gamma_0.5": lambda im: im.point(lambda v: round(255 * (v / 255) ** 0.5)),
    "low_contrast": lambda im: im.point(lambda v: round(64 + v / 2)),
    "crop_90pct": lambda im: im.crop((im.width // 20, im.height // 20, im.width * 19 // 20, im.height * 19 // 20)),
}
"""Acquisition shifts a real upright X-ray may arrive with (a tilted film photo, soft focus, other exposure)."""


def shifted_xrays(model: ScanModel, folder: Path, work: Path) -> dict:
    """Upright X-rays with acquisition shifts (saved as JPEG quality 60): how many the gate refuses or turns."""
    counts = {name: Counter() for name in SHIFTS}
    for path in collect_images([folder]):
        for name, shift in SHIFTS.items():
            copy = work / f"{name}_{path.stem}.jpeg"
            shift(Image.open(path).convert("L")).save(copy, quality=60)
            result = scan_file(copy, model)
            counts[name]["images"] += 1
            counts[name]["refused_by_gate"] += result.reason in GATE_REASONS
            counts[name]["turned_although_upright"] += result.correction is not None
    return {name: dict(c) for name, c in counts.items()}


def heldout_non_xrays(model: ScanModel, work: Path, per_kind: int) -> dict:
    """Held-out non-X-rays, as they are and inverted: refused, and never a confident NORMAL."""
    from benchmarks.gate_heldout import write_heldout

    sources = write_heldout(work, per_kind)
    for name in list(sources):
        ImageOps.invert(Image.open(work / name).convert("L")).save(work / f"inverted_{name}")
        sources[f"inverted_{name}"] = sources[name]
    by_source: dict[str, Counter] = {}
    accepted = []
    for name, source in sorted(sources.items()):
        result = scan_file(work / name, model)
        counts = by_source.setdefault(source, Counter())
        counts["images"] += 1
        counts["rejected"] += result.status != OK
        counts[f"reason_{result.reason}"] += result.status != OK
        counts["confident_normal"] += _confident_normal(result)
        if result.status == OK:
            accepted.append({"file": name, "label": result.label, "score": result.score, "uncertain": result.uncertain})
    total = sum(c["images"] for c in by_source.values())
    rejected = sum(c["rejected"] for c in by_source.values())
    return {
        "images": total,
        "rejected": rejected,
        "rejected_rate": rejected / max(total, 1),
        "confident_normal": sum(c["confident_normal"] for c in by_source.values()),
        "by_source": {source: dict(c) for source, c in by_source.items()},
        "accepted": accepted,
    }


def gate_latency(gate_path: Path, image_path: Path, repeats: int = 500) -> dict:
    """One-thread p50 of the gate's inference, and of making its 64 px input from a decoded image."""
    classifier = TFLiteClassifier(gate_path, num_threads=1)
    image = decode_image(image_path)
    size = classifier.input_size

    def p50_ms(step) -> float:
        for _ in range(20):
            step()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        return float(np.median(times) * 1000.0)

    x = to_model_input(image, size)
    return {
        "inference_p50_ms": p50_ms(lambda: classifier.outputs(x)),
        "preprocess_p50_ms": p50_ms(lambda: to_model_input(image, size)),
        "image": str(image_path),
        "threads": 1,
    }


@click.command()
@click.option("--external", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--originals", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--gate", "gate_path", type=click.Path(path_type=Path, dir_okay=False), help="Gate to judge (default: shipped)."
)
@click.option("--per-kind", default=20, show_default=True, help="Generated held-out images per unseen kind.")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
def main(external: Path, originals: Path, gate_path: Path | None, per_kind: int, out: Path) -> None:
    """Measure the chest X-ray gate: real X-rays refused, turned X-rays, held-out non-X-rays, latency."""
    model = load_model()
    gate_path = gate_path or package_data.GATE_MODEL
    model = dataclasses.replace(model, gate=load_gate(gate_path))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "turned").mkdir()
        (work / "shifted").mkdir()
        results = {
            "gate_sha256": model.gate.sha256,
            "pneumonia_model_sha256": model.sha256,
            "real_xrays": {str(f): real_xrays(model, [f]) for f in (external, originals)},
            "turned_xrays": {str(f): turned_xrays(model, f, work / "turned") for f in (external, originals)},
            "shifted_external": shifted_xrays(model, external, work / "shifted"),
            "heldout_non_xrays": heldout_non_xrays(model, work / "heldout", per_kind),
            "latency": gate_latency(gate_path, next(iter(collect_images([originals])))),
        }
    results = portable(results)  # committed and read elsewhere: paths relative to the repository
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "gate_eval.json", json.dumps(results, indent=2))
    click.echo(json.dumps({k: v for k, v in results.items() if k != "turned_xrays"}, indent=1)[:4000])
    click.echo(json.dumps({f: t["by_variant"] for f, t in results["turned_xrays"].items()}, indent=1))


if __name__ == "__main__":
    main()
