"""`edge-train-gate`: train the chest X-ray gate that runs before every scan."""

from __future__ import annotations

import click

from edge_app.site.dataset import DatasetError
from lab.config import config_option, path_option, run_or_exit
from train.gate_training import GATE_FILE, GATE_REPORT_FILE, GateTrainConfig


@click.command(
    epilog="Example: edge-train-gate --data ../shared/data/chest_xray --out runs/gate\n\n"
    "Ship the result with: cp runs/gate/gate.tflite runs/gate/gate.tflite.sha256 edge_app/models/"
)
@path_option(
    "--data",
    required=True,
    help="chest_xray folder with train/NORMAL and train/PNEUMONIA (only train and val are read).",
)
@path_option("--out", required=True, help="Folder for gate.tflite and its report.")
@config_option(GateTrainConfig, "epochs", type=click.IntRange(1), help="Training epochs.")
@config_option(
    GateTrainConfig,
    "negatives",
    type=click.IntRange(8),
    help="Generated non-X-ray training images (a fifth as many again for validation and for test).",
)
@config_option(GateTrainConfig, "seed", type=int, help="Seed for the split, negatives and training.")
@config_option(GateTrainConfig, "batch_size", type=click.IntRange(1), help="Images per training step.")
def main(**options) -> None:
    """Train the gate that refuses non-chest-X-rays and rights turned, inverted or mirrored X-rays.

    Each training X-ray is shown in all four quarter turns, plain and
    inverted, as it is and mirrored (free labels); negatives are generated images and the
    photographs bundled with scikit-learn and matplotlib. Writes an int8
    gate.tflite with its thresholds inside, gate.tflite.sha256 and
    gate_report.json (counts on validation and test through LiteRT).
    """
    from train.gate_training import train_gate

    config = GateTrainConfig(**options)
    report = run_or_exit(train_gate, config, (DatasetError,))
    click.echo(f"Gate: {config.out / GATE_FILE}\nReport: {config.out / GATE_REPORT_FILE}")
    for split, summary in report["evaluation"].items():
        click.echo(
            f"{split:>5}: upright X-rays refused {summary['upright_rejected']}/{summary['upright_xrays']} "
            f"and turned or mirrored {summary['upright_changed']}, "
            f"X-rays accepted the wrong way {summary['xrays_accepted_with_wrong_orientation']}"
            f"/{summary['xrays_any_orientation']}, mirrored X-rays left mirrored "
            f"{summary['mirrored_xrays_scanned_still_mirrored']}/{summary['mirrored_xrays']}, "
            f"non-X-rays accepted {summary['negatives_accepted']}/{summary['negatives']}"
        )
    click.echo(f"Took {report['train_seconds'] / 60:.1f} min.")
