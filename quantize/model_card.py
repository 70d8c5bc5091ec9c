"""A human-readable model card, rendered from the metadata stored in the model.

Rendering from the embedded metadata (not from a separate report) means the
card shipped with an Android export or a device update can always be rebuilt
from the model file itself and can never disagree with it.
"""

from __future__ import annotations

from pathlib import Path

from edge_app.outputs.info import EXTERNAL_MEANING

LIMITATIONS = (
    "Trained and evaluated on one hospital's images (Guangzhou, China); accuracy on other sites, detectors, "
    "and populations is unknown until measured there.",
    "Children aged 1 to 5, anterior-posterior view only. Not validated for adults, infants under 1, "
    "lateral views, or follow-up films.",
    "Two classes only: it does not separate bacterial from viral pneumonia and does not detect other "
    "findings (effusion, pneumothorax, foreign bodies, lines and tubes).",
    "The validation and internal test splits are carved from the same source as training (split by patient); "
    "they measure generalisation to new children from the same hospital, not to new hospitals.",
    "The operating threshold targets high sensitivity, so many healthy children are flagged for review "
    "(see specificity); a negative result does not rule pneumonia out.",
    "Healthy children whose chest fills the whole image (tight collimation, older children) score higher than "
    "those imaged with the shoulders and arms, as most training images of healthy children were; such images "
    "are more often referred (benchmarks/results/generalization.md, the framing shortcut).",
    "Images must go through the stated preprocessing (name and version above); any other resizing or "
    "normalisation changes the outputs.",
    "The threshold was chosen on this data set. WHO guidance on computer-aided detection in screening calls "
    "for calibrating the threshold locally: a site should measure sensitivity and specificity on its own "
    "labelled images and set its threshold from them (edge-scan calibrate LABELLED_FOLDER). On the same "
    "hospital's later test collection the validation threshold sat below every pneumonia image and referred "
    "many healthy children; see the external row above and benchmarks/results/generalization.md.",
    "Phone photos of films (`edge-scan scan --photo`, or 'Photo of a film' in the app): the film is found, "
    "straightened and evenly lit before the chest X-ray gate and this model see it. The figures for photos "
    "(docs/film-photos.md, benchmarks/results/photo_accuracy.json) come from simulated photos of the external "
    "set, not from real photographs of films; a site that screens photos should calibrate its threshold on "
    "photographed labelled films (edge-scan calibrate).",
)

TRAIN_OPTIONS = (
    "data", "out", "epochs", "image_size", "seed", "batch_size", "learning_rate",
    "target_sensitivity", "patience", "width", "pretrain_epochs", "external",
)  # fmt: skip
QUANTIZE_OPTIONS = (
    "model", "data", "sparsity", "epochs", "qat_epochs", "calibration_images", "target_sensitivity", "seed",
    "external",
)  # fmt: skip


SPLIT_ORDER = ("train", "val", "test", "external")


def _in_split_order(by_split: dict) -> list[tuple[str, dict]]:
    """Splits in the order a reader expects, whatever order the (sorted) embedded JSON gave them."""
    return sorted(by_split.items(), key=lambda item: SPLIT_ORDER.index(item[0]) if item[0] in SPLIT_ORDER else 99)


def _checks_lines(metadata: dict) -> list[str]:
    """What a device checks with the metadata before it trusts the model's numbers."""
    scores, reference = metadata.get("validation_scores"), metadata.get("reference_outputs")
    if not scores or not reference:
        return []
    counts = ", ".join(f"{len(values)} {name}" for name, values in scores["scores"].items())
    return [
        "## What every device checks",
        "",
        f"- The metadata records every validation score ({counts}). `edge-scan model install` recomputes the "
        "validation sensitivity and specificity at the threshold from them and refuses a package whose figures "
        "do not recompute, or whose sensitivity falls below the target.",
        f"- It records the raw outputs of {len(reference['inputs'])} fixed inputs ({reference['recipe']}, some "
        f"scoring near the threshold) as computed at build time on {reference['computed_with']}. Every device "
        "reproduces them exactly when it opens the model (`edge-scan selftest` fails otherwise, and every scan "
        "records runtime_verified: false).",
        "",
    ]


def _command(name: str, options: dict | None, keys: tuple[str, ...]) -> str:
    """A command line that reruns a step with the options it was run with."""
    words = [name]
    for key in keys:
        if (options or {}).get(key) is not None:
            words.append(f"--{key.replace('_', '-')} {options[key]}")
    return " \\\n    ".join(words)


def _provenance_lines(provenance: dict | None) -> list[str]:
    if not provenance:
        return []
    train, quantize = provenance["edge_train"], provenance["edge_quantize"]
    libraries = quantize["libraries"] or {}
    return [
        "## How it was made",
        "",
        "```bash",
        _command("edge-train", train["options"], TRAIN_OPTIONS),
        _command("edge-quantize", quantize["options"], QUANTIZE_OPTIONS),
        "```",
        "",
        f"Seeds: training {(train['options'] or {}).get('seed')}, quantization {quantize['options']['seed']}. "
        f"Training took {(train['train_seconds'] or 0) / 60:.1f} min.",
        "Libraries: " + ", ".join(f"{name} {version}" for name, version in libraries.items()) + ".",
        "",
    ]


def _ci(summary: dict, key: str) -> str:
    low, high = summary[f"{key}_ci95"]
    return f"{summary[key]:.3f} (95% CI {low:.3f}-{high:.3f})"


def _metrics_rows(metrics: dict) -> list[str]:
    rows = [
        "| split | images (pneumonia) | AUC | sensitivity | specificity |",
        "|---|---|---|---|---|",
    ]
    for split, summary in _in_split_order(metrics):
        rows.append(
            f"| {split} | {summary['n']} ({summary['n_positive']}) | {_ci(summary, 'auc')} | "
            f"{_ci(summary, 'sensitivity')} | {_ci(summary, 'specificity')} |"
        )
    return rows


def _variant_rows(variants: dict) -> list[str]:
    return [
        "## Converted forms compared",
        "",
        "| variant | validation AUC | raw bytes | gzip bytes |",
        "|---|---|---|---|",
        *(
            f"| {name} | {v['val_auc']:.4f} | {v['raw_bytes']:,} | {v['gzip_bytes']:,} |"
            for name, v in variants.items()
        ),
        "",
    ]


def _external_note(metrics: dict) -> list[str]:
    if "external" not in metrics:
        return []
    return [
        f"The external row is `{Path(metrics['external']['folder']).name}`, scored at the same validation-chosen "
        f"threshold; its use: {metrics['external']['use']}.",
        "",
        EXTERNAL_MEANING,
        "",
    ]


def render_model_card(metadata: dict, variants: dict | None = None) -> str:
    """Markdown model card. `variants` optionally adds the report's comparison of
    all converted forms ({name: {"val_auc", "raw_bytes", "gzip_bytes"}})."""
    quantization = metadata["input"].get("quantization")
    lines = [
        f"# Model card: {metadata['name']} {metadata['model_version']} ({metadata['variant']})",
        "",
        f"Created {metadata['created']}. Source Keras model SHA-256 `{metadata['source_keras_sha256']}`.",
        "",
        "## Intended use",
        "",
        metadata["intended_use"],
        "",
        "## Input and output",
        "",
        f"- Input: {metadata['input']['size']}x{metadata['input']['size']}x{metadata['input']['channels']} "
        f"{metadata['input']['dtype']}, made by preprocessing `{metadata['input']['preprocessing']}` "
        f"version {metadata['input']['preprocessing_version']} (values in [-1, 1])"
        + (
            f", quantized with scale {quantization['scale']:.8g} and zero point {quantization['zero_point']}."
            if quantization
            else "."
        ),
        f"- Output: {metadata.get('output', 'P(' + metadata['positive_label'] + ')')}.",
        f"- Labels: {', '.join(metadata['labels'])}.",
        f"- Operating threshold: {metadata['threshold']:.4f} ({metadata['threshold_method']}).",
        "",
        "## Data",
        "",
        metadata["training_data"],
        "",
        "| split | NORMAL | PNEUMONIA | patients |",
        "|---|---|---|---|",
        *(
            f"| {split} | {counts.get('NORMAL', '')} | {counts.get('PNEUMONIA', '')} | {counts.get('patients', '')} |"
            for split, counts in _in_split_order(metadata.get("data_splits", {}))
        ),
        "",
        "## Metrics",
        "",
        f"Measured with this {metadata['variant']} model through LiteRT at the operating threshold; "
        "95% confidence intervals by bootstrap over children's images (positives and negatives resampled "
        "separately).",
        "",
        *_metrics_rows(metadata["metrics"]),
        "",
        *_external_note(metadata["metrics"]),
        *_checks_lines(metadata),
    ]
    if variants:
        lines += _variant_rows(variants)
    lines += _provenance_lines(metadata.get("provenance"))
    lines += ["## Known limitations", "", *(f"- {item}" for item in LIMITATIONS), ""]
    return "\n".join(lines)
