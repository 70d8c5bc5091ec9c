"""`edge-quantize`: prune, convert to int8 and check a trained model before it ships."""

from __future__ import annotations

import sys

import click

from edge_app.site.dataset import DatasetError
from lab.config import config_option, path_option
from quantize.pipeline import MAX_AUC_DROP, MODEL_CARD_FILE, REPORT_FILE, QuantizeConfig
from quantize.source import QuantizeError
from train.needs_tensorflow import require_tensorflow

PARITY_EXIT_CODE = 3


@click.command(
    epilog="Example: edge-quantize --model runs/r1/model.keras --data ../shared/data/chest_xray --out runs/q1"
)
@path_option("--model", required=True, help="model.keras written by edge-train.")
@path_option(
    "--data",
    help="Dataset root the paths in splits.json are relative to [default: the root recorded in splits.json].",
)
@path_option("--out", required=True, help="Folder for the .tflite files and report.")
@path_option("--splits", help="splits.json from edge-train [default: splits.json next to the model].")
@config_option(
    QuantizeConfig,
    "sparsity",
    type=click.FloatRange(0.5, 0.95),
    help="Share of weights zeroed in the large convolutions.",
)
@config_option(QuantizeConfig, "epochs", type=click.IntRange(1), help="Fine-tuning epochs while pruning.")
@config_option(
    QuantizeConfig,
    "qat_epochs",
    type=click.IntRange(0),
    help="Pruning-preserving QAT epochs (0: post-training quantization only).",
)
@config_option(
    QuantizeConfig,
    "calibration_images",
    type=click.IntRange(1),
    help="Training images in the int8 representative data set.",
)
@click.option(
    "--allow-parity-loss",
    is_flag=True,
    help=f"Exit 0 even when an int8 model loses more than {MAX_AUC_DROP} validation AUC (for experiments).",
)
@click.option(
    "--target-sensitivity",
    type=click.FloatRange(0, 1, min_open=True),
    help="Validation sensitivity each variant's threshold must reach [default: edge-train's, else 0.95].",
)
@click.option("--model-version", help="Version stored in the metadata [default: DATE-<first 8 of the model SHA-256>].")
@config_option(QuantizeConfig, "seed", type=int, help="Seed for calibration sampling and fine-tuning.")
@path_option(
    "--external",
    file_okay=False,
    help="Labelled folder from another site (NORMAL/ and PNEUMONIA/): every variant's AUC, sensitivity and "
    "specificity there, at its validation-chosen threshold, go into the report and model card. Reporting only.",
)
def main(**options) -> None:
    """Prune, quantize to int8 and check a trained PneumoScan model.

    Writes float32.tflite, dynamic_range.tflite, int8.tflite and pruned_int8.tflite
    (the one to ship), each with its metadata, a .sha256 file, plus pruned.keras,
    model_card.md and quantize_report.json. Exits 3 when an int8 model loses more
    than 0.01 validation AUC against the Keras model.
    """
    require_tensorflow("edge-quantize")
    from quantize.pipeline import quantize

    config = QuantizeConfig(**options)
    try:
        report = quantize(config)
    except (QuantizeError, DatasetError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    ratios = report["sizes"]
    if config.external:
        ext = report["variants"]["pruned_int8"]["external"]
        click.echo(
            f"External ({ext['n']} images): AUC {ext['auc']:.4f} [{ext['auc_ci95'][0]:.4f}-{ext['auc_ci95'][1]:.4f}]  "
            f"sensitivity {ext['sensitivity']:.3f}  specificity {ext['specificity']:.3f} at the shipped threshold"
        )
    click.echo(f"Ship: {config.out / 'pruned_int8.tflite'}  ({report['pruned_quantization']['chosen']})")
    click.echo(f"Model card: {config.out / MODEL_CARD_FILE}\nReport: {config.out / REPORT_FILE}")
    click.echo(
        f"int8 raw / float32 raw {ratios['int8_raw_vs_float32_raw']:.3f}; "
        f"pruned int8 gzip / int8 gzip {ratios['pruned_int8_gzip_vs_int8_gzip']:.3f}"
    )
    parity = report["parity"]
    if not parity["passed"]:
        failed = ", ".join(
            f"{name} val AUC {check['auc']:.4f} ({check['drop']:+.4f} below)"
            for name, check in parity["checks"].items()
            if not check["ok"]
        )
        message = (
            f"Parity gate failed: {failed} the Keras model's {parity['reference_auc']:.4f} "
            f"(at most {MAX_AUC_DROP} allowed)."
        )
        if config.allow_parity_loss:
            click.echo(f"Warning: {message} Overridden by --allow-parity-loss.", err=True)
        else:
            click.echo(
                f"Error: {message} Do not ship these files; try a lower --sparsity, more --epochs, "
                "or --allow-parity-loss for experiments.",
                err=True,
            )
            sys.exit(PARITY_EXIT_CODE)
