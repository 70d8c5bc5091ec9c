"""Turn a list of examples into model-input arrays via the one preprocessing.

A corrupt file an hour into a run must not crash it: each failure is skipped,
counted and returned so the report can list it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np

from edge_app.intake.preprocess import preprocess
from edge_app.reasons import ImageRejected
from edge_app.scan.ordered_pool import ordered_map
from edge_app.site.dataset import Example
from lab.portable_paths import portable_path


def _load_one(example: Example, size: int) -> np.ndarray | str:
    try:
        return preprocess(example.path, size)
    except ImageRejected as exc:
        return f"{exc.reason}: {exc}"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def load_examples(
    examples: Sequence[Example], size: int, label: str = "images", quiet: bool = False
) -> tuple[np.ndarray, np.ndarray, list[Example], list[dict]]:
    """Arrays (x, y) for the examples that load, those examples, and the skipped ones.

    Threads, because Pillow releases the GIL while it decodes.
    """
    arrays, labels, kept, skipped = [], [], [], []
    step = max(1, len(examples) // 10)
    results = ordered_map(lambda e: _load_one(e, size), examples, jobs=os.cpu_count() or 1)
    for i, (example, result) in enumerate(zip(examples, results, strict=True), 1):
        if isinstance(result, str):
            skipped.append({"path": portable_path(example.path), "reason": result})
        else:
            arrays.append(result)
            labels.append(example.label)
            kept.append(example)
        if not quiet and (i % step == 0 or i == len(examples)):
            print(f"  preprocessing {label}: {i}/{len(examples)}", file=sys.stderr, flush=True)
    x = np.stack(arrays) if arrays else np.zeros((0, size, size, 1), np.float32)
    return x, np.asarray(labels, dtype=np.float32), kept, skipped
