"""Bring a built model's metadata up to the current schema without retraining it (TensorFlow-free).

    python -m quantize.restamp --model edge_app/models/pneumoscan.tflite --data ../shared/data/chest_xray \\
        --built-in ../main

The weights, and so every probability, stay bit-identical: only the embedded metadata changes. The validation
split is carved again exactly as edge-train carved it (its recorded seed and fractions); it must give the recorded
split counts and, through LiteRT, the recorded validation figures, or nothing is written. Then the validation
score distribution and the reference outputs are added, every absolute path the build recorded is rewritten
relative to the checkout it was built in (--built-in; lab.portable_paths), and the model, its .sha256, the
model card and the reports beside it are rewritten atomically.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from edge_app.files import atomic_write_text, write_with_sidecar
from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.reference_outputs import record_reference_outputs
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.site import dataset, metrics
from edge_app.updates.threshold_figures import score_distribution, threshold_problems
from lab.portable_paths import portable
from lab.tflite_metadata import SCHEMA_VERSION, embed_metadata
from quantize import source
from quantize.model_card import render_model_card
from train.training import TrainConfig, split_by_patient

REPORTS = ("quantize_report.json", "train_report.json", "gate_report.json")
_FIGURES = ("n", "n_positive", "confusion", "sensitivity", "specificity", "auc")


class RestampError(Exception):
    """The model cannot be restamped as it is; the message says what differs."""


def carve_splits(metadata: dict, data: Path) -> dict[str, list[dataset.Example]]:
    """The model's train/val/test split carved again as edge-train did; RestampError when the counts
    differ from the recorded ones."""
    options = metadata["provenance"]["edge_train"]["options"]
    config = TrainConfig(
        data=data,
        out=Path("unused"),
        seed=options["seed"],
        val_fraction=options["val_fraction"],
        test_fraction=options["test_fraction"],
    )
    _, _, splits = split_by_patient(config, log=lambda message: None)
    counts = {name: dataset.count_by_class(items) for name, items in splits.items()}
    if counts != metadata["data_splits"]:
        raise RestampError(f"the split carved again gives {counts}, not the recorded {metadata['data_splits']}.")
    return splits


def check_figures(metadata: dict, labels: np.ndarray, scores: np.ndarray) -> None:
    """The recorded validation figures must be exactly what these scores give at the recorded threshold."""
    recorded = metadata["metrics"]["val"]
    measured = metrics.screening_summary(labels, scores, metadata["threshold"], seed=0)
    differing = [key for key in _FIGURES if measured[key] != recorded[key]]
    if differing:
        raise RestampError(
            "the validation figures measured now differ from the recorded ones: "
            + ", ".join(f"{key} {measured[key]} vs {recorded[key]}" for key in differing)
        )


def restamp(model_path: Path, data: Path, built_in: Path) -> dict:
    """Rewrite the model's metadata (and its card and reports); returns the new metadata."""
    content = model_path.read_bytes()
    metadata = read_metadata(content)
    if metadata is None:
        raise RestampError(f"{model_path} carries no PneumoScan metadata.")
    classifier = TFLiteClassifier(content)
    splits = carve_splits(metadata, data)
    x, labels = source.load_split_arrays(splits, classifier.input_size, ("val",))["val"]
    scores = np.array([classifier.predict(image) for image in x])
    check_figures(metadata, labels, scores)
    updated = portable(metadata, built_in) | {
        "schema_version": SCHEMA_VERSION,
        "validation_scores": score_distribution(labels.astype(int).tolist(), scores.tolist()),
        "reference_outputs": record_reference_outputs(classifier, metadata["threshold"]),
    }
    problems = threshold_problems(updated)
    if problems:
        raise RestampError("the threshold contradicts the validation figures: " + "; ".join(problems))
    final = embed_metadata(content, updated)
    if not np.array_equal([TFLiteClassifier(final).predict(image) for image in x[:16]], scores[:16]):
        raise RestampError("the outputs changed when the metadata was embedded.")
    write_with_sidecar(model_path, final)
    _rewrite_beside(model_path.parent, updated, built_in)
    return updated


def _rewrite_beside(folder: Path, metadata: dict, built_in: Path) -> None:
    """The reports beside the model with relative paths, and the model card rendered from the new metadata."""
    for name in REPORTS:
        report = folder / name
        if report.is_file():
            rewritten = portable(json.loads(report.read_text(encoding="utf-8")), built_in)
            atomic_write_text(report, json.dumps(rewritten, indent=2) + "\n")
    quantize_report = folder / REPORTS[0]
    variants = None
    if quantize_report.is_file():
        variants = {
            name: {"val_auc": v["val"]["auc"], "raw_bytes": v["raw_bytes"], "gzip_bytes": v["gzip_bytes"]}
            for name, v in json.loads(quantize_report.read_text(encoding="utf-8"))["variants"].items()
        }
    atomic_write_text(folder / "MODEL_CARD.md", render_model_card(metadata, variants))


@click.command()
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path), help="chest_xray folder."
)
@click.option(
    "--built-in",
    "built_in",
    required=True,
    type=click.Path(path_type=Path),
    help="The checkout the model was built in: its recorded absolute paths become relative to it.",
)
def main(model_path: Path, data: Path, built_in: Path) -> None:
    """Add the validation score distribution and reference outputs to a built model's metadata."""
    try:
        updated = restamp(model_path, data, built_in.resolve())
    except (RestampError, source.QuantizeError, dataset.DatasetError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    figures = updated["metrics"]["val"]
    click.echo(
        f"{model_path}: schema {updated['schema_version']}, {figures['n']} validation scores recorded "
        f"(sensitivity {figures['sensitivity']:.4f}, specificity {figures['specificity']:.4f} at "
        f"{updated['threshold']}), {len(updated['reference_outputs']['inputs'])} reference outputs on "
        f"{updated['reference_outputs']['computed_with']}"
    )


if __name__ == "__main__":
    main()
