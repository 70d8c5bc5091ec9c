"""An external labelled folder: X-rays from a site the model never trained on.

How a model holds up away from the hospital it learned from is the figure a clinic cares
about most, and internal validation cannot show it. External images are for reporting and
for comparing recipes only: never for fitting, early stopping or choosing a threshold. So
callers score them at a threshold already chosen on the internal validation split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_app.site import dataset, metrics
from lab.loading import load_examples
from lab.portable_paths import portable_path

USE = "reporting and recipe comparison only; never used for fitting, early stopping or threshold choice"


def load_external(folder: Path, size: int, quiet: bool = False) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Model inputs and labels of a folder holding NORMAL/ and PNEUMONIA/, and the files skipped."""
    x, y, _, skipped = load_examples(dataset.list_split(Path(folder), "external"), size, "external", quiet)
    if len(np.unique(y)) < 2:
        raise dataset.DatasetError(f"{folder}: no readable images of one class, so nothing can be measured.")
    return x, y, skipped


def external_summary(
    folder: Path, labels: np.ndarray, scores: np.ndarray, threshold: float, skipped: list[dict], seed: int = 0
) -> dict:
    """AUC, sensitivity and specificity with 95% CIs at the validation-chosen `threshold`."""
    return {
        "folder": portable_path(folder),
        "use": USE,
        "threshold_chosen_on": "internal validation split",
        **metrics.screening_summary(labels, scores, threshold, seed=seed),
        "skipped_files": skipped,
    }
