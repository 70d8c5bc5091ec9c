"""Training data for the chest X-ray gate, all through the one preprocessing.

Positives are the training X-rays themselves, stored upright here: which way
up an image is, and whether it is inverted or mirrored, are labels that cost
nothing, because training makes the turns, inversions and mirrors itself (on the equalised
input, where inverting is a change of sign). Negatives come from
`train.gate_negatives`.
Only the official train and val folders are read, split by patient, so the
validation X-rays the thresholds are chosen on come from unseen children.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.inference.gate import GATE_INPUT_SIZE, xray_class
from edge_app.intake.preprocess import to_model_input
from edge_app.site import dataset
from lab.loading import load_examples
from train.gate_negatives import draw_negative


@dataclass
class GateArrays:
    """Upright X-rays and negatives, as (n, size, size, 1) model inputs, per split."""

    xrays: dict[str, np.ndarray]
    negatives: dict[str, np.ndarray]
    counts: dict


def negative_inputs(count: int, seed: int, size: int = GATE_INPUT_SIZE) -> np.ndarray:
    """`count` non-X-ray images as gate inputs; each image has its own seed, so threads keep it reproducible."""

    def one(index: int) -> np.ndarray:
        return to_model_input(draw_negative(np.random.default_rng([seed, index])), size)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        arrays = list(pool.map(one, range(count)))
    return np.stack(arrays) if arrays else np.zeros((0, size, size, 1), np.float32)


def load_gate_arrays(data: Path, negatives: int, seed: int) -> GateArrays:
    """Patient-level train/val/test X-rays from the official train+val folders (the same split
    edge-train makes), and negatives for each split: validation chooses thresholds, test reports."""
    official = dataset.discover(dataset.find_root(data))
    splits = dataset.patient_splits(official["train"] + official.get("val", []), seed)
    xrays, negs = {}, {}
    for index, name in enumerate(("train", "val", "test")):
        xrays[name] = load_examples(splits[name], GATE_INPUT_SIZE, f"gate {name} X-rays")[0]
        negs[name] = negative_inputs(negatives if name == "train" else max(negatives // 5, 1), seed + index)
    counts = {name: {"xrays": len(xrays[name]), "negatives": len(negs[name])} for name in xrays}
    return GateArrays(xrays, negs, counts)


def every_orientation(xrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All sixteen mirrors, turns and inversions of each X-ray, for evaluation."""
    images, labels = [], []
    for mirrored in (False, True):
        found = xrays[:, :, ::-1] if mirrored else xrays
        for inverted in (False, True):
            for turns in range(4):
                images.append(np.rot90(found, turns, axes=(1, 2)) * (-1.0 if inverted else 1.0))
                labels.append(np.full(len(xrays), xray_class(turns, inverted, mirrored)))
    return np.concatenate(images).astype(np.float32), np.concatenate(labels)
