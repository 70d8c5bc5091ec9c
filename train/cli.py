"""`edge-train`: train the edge CNN from a chest_xray folder."""

from __future__ import annotations

import click

from edge_app.site.dataset import DatasetError
from lab.config import config_option, path_option, run_or_exit
from train.needs_tensorflow import require_tensorflow
from train.training import MODEL_FILE, REPORT_FILE, TrainConfig


@click.command(
    epilog="Example: edge-train --data ../shared/data/chest_xray --out runs/baseline\n\n"
    "Rerunning the same command after an interruption resumes from the last finished epoch."
)
@path_option(
    "--data",
    required=True,
    help="chest_xray folder with train/NORMAL and train/PNEUMONIA (Kaggle's chest_xray/chest_xray nesting works too).",
)
@path_option("--out", required=True, help="Folder for the model, splits and report.json.")
@config_option(
    TrainConfig,
    "epochs",
    type=click.IntRange(1),
    help="Most epochs; early stopping on validation AUC usually ends sooner.",
)
@config_option(
    TrainConfig, "image_size", type=click.IntRange(32, 512), help="Side of the square model input in pixels."
)
@config_option(TrainConfig, "seed", type=int, help="Seed for the patient split, initialisation and augmentation.")
@config_option(TrainConfig, "batch_size", type=click.IntRange(1), help="Images per training step.")
@config_option(
    TrainConfig,
    "learning_rate",
    type=click.FloatRange(0, min_open=True),
    help="Peak Adam learning rate (cosine decay to zero).",
)
@config_option(
    TrainConfig,
    "target_sensitivity",
    type=click.FloatRange(0, 1, min_open=True),
    help="Sensitivity the operating threshold must reach on the validation split.",
)
@config_option(
    TrainConfig, "patience", type=click.IntRange(1), help="Epochs without a better validation AUC before stopping."
)
@config_option(TrainConfig, "width", type=click.FloatRange(0.25, 4.0), help="Channel multiplier of the network.")
@config_option(
    TrainConfig,
    "pretrain_epochs",
    type=click.IntRange(0),
    help="Epochs of self-supervised (contrastive) pretraining on the training images before fitting; 0 skips it.",
)
@path_option(
    "--external",
    file_okay=False,
    help="Labelled folder from another site (NORMAL/ and PNEUMONIA/): its AUC, sensitivity and specificity "
    "at the validation-chosen threshold go into the report. Reporting only: never used for fitting, early "
    "stopping or the threshold.",
)
def main(**options) -> None:
    """Train the small pneumonia CNN on a patient-level split of the dataset.

    Validation and internal-test splits are carved from the training data by
    patient, so no child is in two splits. Writes model.keras, splits.json and
    report.json (counts, per-epoch metrics, AUC, sensitivity and specificity
    with 95% confidence intervals at the operating threshold).
    """
    require_tensorflow("edge-train")
    from train.training import train

    config = TrainConfig(**options)
    report = run_or_exit(train, config, (DatasetError,))
    threshold = report["operating_threshold"]["value"]
    click.echo(f"Model: {config.out / MODEL_FILE}\nReport: {config.out / REPORT_FILE}")
    click.echo(f"Operating threshold {threshold:.4f} (sensitivity >= {config.target_sensitivity} on validation)")
    for split, summary in report["evaluation"].items():
        click.echo(
            f"{split:>13}: AUC {summary['auc']:.4f} [{summary['auc_ci95'][0]:.4f}-{summary['auc_ci95'][1]:.4f}]  "
            f"sensitivity {summary['sensitivity']:.3f}  specificity {summary['specificity']:.3f}  (n={summary['n']})"
        )
    click.echo(f"Took {report['train_seconds'] / 60:.1f} min.")
