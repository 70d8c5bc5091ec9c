"""Find a chest_xray dataset on disk and split it by patient.

Kermany's chest_xray folder holds several images per child. Splitting by image
would put the same child in training and validation and inflate every metric,
so all splits here are made of whole patients, and byte-identical files stored
under two names are kept together as well.

Pure Python (no numpy, no TensorFlow) so the benchmarks can list a labelled
folder on a device that has only the device install.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from edge_app.contract import LABELS
from edge_app.files import file_sha256

IMAGE_SUFFIXES = frozenset({".jpeg", ".jpg", ".png"})
OFFICIAL_SPLITS = ("train", "val", "test")

_PATIENT_PATTERNS = (
    # Kermany v3 / Kaggle: person123_bacteria_456.jpeg, person123_virus_7.jpeg
    (re.compile(r"^person(\d+)_(?:bacteria|virus)", re.IGNORECASE), "person{}"),
    # NORMAL2-IM-1427-0001.jpeg (checked before IM-, which it contains)
    (re.compile(r"^NORMAL2-IM-(\d+)-", re.IGNORECASE), "normal2-{}"),
    # IM-0115-0001.jpeg
    (re.compile(r"^IM-(\d+)-", re.IGNORECASE), "im-{}"),
    # Mendeley v2: NORMAL-1003233-0001.jpeg, BACTERIA-1008087-0001.jpeg, VIRUS-...
    (re.compile(r"^(?:NORMAL|BACTERIA|VIRUS)-(\d+)-", re.IGNORECASE), "v2-{}"),
)


class DatasetError(Exception):
    """The dataset folder cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Example:
    path: Path
    label: int  # index into LABELS
    patient: str
    official_split: str


def patient_id(filename: str) -> str | None:
    """The patient a Kermany file name belongs to, or None for a foreign name."""
    for pattern, template in _PATIENT_PATTERNS:
        match = pattern.match(filename)
        if match:
            return template.format(int(match.group(1)))
    return None


def find_root(data: Path) -> Path:
    """The folder that holds train/, accepting Kaggle's chest_xray/chest_xray nesting."""
    data = Path(data)
    if not data.is_dir():
        raise DatasetError(f"{data}: no such folder. Point --data at the chest_xray folder that holds train/.")
    for candidate in (data, *sorted(p for p in data.iterdir() if p.is_dir())):
        if (candidate / "train").is_dir():
            return candidate
    raise DatasetError(f"{data}: holds no train/ folder (expected train/NORMAL and train/PNEUMONIA).")


def list_split(folder: Path, official_split: str) -> list[Example]:
    """Images of one labelled folder (NORMAL/ and PNEUMONIA/ below it).

    A foreign file name becomes its own patient: we cannot group what we cannot
    read, and a patient of one image can never leak into another split.
    """
    examples = []
    for label, name in enumerate(LABELS):
        class_dir = folder / name
        if not class_dir.is_dir():
            raise DatasetError(f"{folder}: missing the {name}/ folder.")
        try:
            files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        except PermissionError as exc:
            raise DatasetError(f"{class_dir}: cannot be read ({exc.strerror}).") from exc
        if not files:
            raise DatasetError(f"{class_dir}: holds no .jpeg, .jpg or .png images.")
        for path in files:
            patient = patient_id(path.name) or f"file-{path.stem.lower()}"
            examples.append(Example(path, label, patient, official_split))
    return examples


def discover(data: Path) -> dict[str, list[Example]]:
    """All official splits present under the dataset root; train/ is required."""
    root = find_root(data)
    return {
        split: list_split(root / split, split)
        for split in OFFICIAL_SPLITS
        if split == "train" or (root / split).is_dir()
    }


def _linked_groups(examples: list[Example]) -> list[list[Example]]:
    """Groups of examples that must share a split: same patient, or same bytes."""
    parent = list(range(len(examples)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(indices: list[int]) -> None:
        for i in indices[1:]:
            parent[root(i)] = root(indices[0])

    by_key: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        by_key["patient:" + example.patient].append(i)
        by_key["sha256:" + file_sha256(example.path)].append(i)
    for indices in by_key.values():
        join(indices)
    groups: dict[int, list[Example]] = defaultdict(list)
    for i, example in enumerate(examples):
        groups[root(i)].append(example)
    return list(groups.values())


def patient_splits(
    examples: list[Example], seed: int, val_fraction: float = 0.1, test_fraction: float = 0.1
) -> dict[str, list[Example]]:
    """Carve train/val/test by linked group, stratified by each group's majority
    class, so both classes appear in every split in their dataset proportions."""
    if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val and test fractions must be in (0, 1) and sum to less than 1")
    by_class: dict[int, list[list[Example]]] = defaultdict(list)
    for group in _linked_groups(examples):
        majority = Counter(e.label for e in group).most_common(1)[0][0]
        by_class[majority].append(group)
    rng = random.Random(seed)
    splits: dict[str, list[Example]] = {"train": [], "val": [], "test": []}
    for label in sorted(by_class):
        groups = sorted(by_class[label], key=lambda g: min(str(e.path) for e in g))
        rng.shuffle(groups)
        n_val = max(1, round(len(groups) * val_fraction))
        n_test = max(1, round(len(groups) * test_fraction))
        if n_val + n_test >= len(groups):
            raise DatasetError(
                f"{LABELS[label]}: only {len(groups)} patients, too few to carve validation and test splits."
            )
        for split, chunk in (
            ("val", groups[:n_val]),
            ("test", groups[n_val : n_val + n_test]),
            ("train", groups[n_val + n_test :]),
        ):
            splits[split].extend(e for g in chunk for e in g)
    return splits


def count_by_class(examples: list[Example]) -> dict[str, int]:
    counts = Counter(LABELS[e.label] for e in examples)
    return {name: counts.get(name, 0) for name in LABELS} | {"patients": len({e.patient for e in examples})}
