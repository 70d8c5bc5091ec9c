"""The images a benchmark runs on: a labelled set for accuracy, any images for timing.

A labelled set is either a chest_xray-style folder (NORMAL/ and PNEUMONIA/
below it, or below DIR/<split>) or one split of an edge-train splits.json,
whose paths are relative to the dataset root given as --data. The internal
test split holds patients training never saw, which is why it is the default
evidence for accuracy.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.variants import BenchmarkError
from edge_app.contract import LABELS
from edge_app.site.dataset import IMAGE_SUFFIXES, DatasetError, Example, list_split
from lab.splits import SplitsError, read_splits


def _has_class_folders(folder: Path) -> bool:
    return all((folder / name).is_dir() for name in LABELS)


def _from_splits_file(data: Path, splits_file: Path, split: str) -> list[Example]:
    try:
        recorded = read_splits(splits_file)
    except SplitsError as exc:
        raise BenchmarkError(str(exc)) from exc
    if split not in recorded.entries:
        raise BenchmarkError(f"{splits_file}: has no split {split!r}. Choose one with --split.")
    examples = recorded.examples(split, data)
    for example in examples:
        if not example.path.is_file():
            raise BenchmarkError(
                f"{example.path}: listed in {splits_file} but not found. Point --data at the dataset root the run "
                f"was trained on (recorded as {recorded.root})."
            )
    return examples


def labelled_examples(data: Path, split: str = "test", splits_file: Path | None = None) -> list[Example]:
    """The labelled images to score, or a BenchmarkError saying why there are none."""
    data = Path(data)
    if not data.is_dir():
        raise BenchmarkError(f"{data}: no such folder. Pass a chest_xray-style folder (NORMAL/ and PNEUMONIA/).")
    try:
        if splits_file is not None:
            examples = _from_splits_file(data, Path(splits_file), split)
        elif _has_class_folders(data):
            examples = list_split(data, data.name)
        elif _has_class_folders(data / split):
            examples = list_split(data / split, split)
        else:
            raise BenchmarkError(
                f"{data}: no labelled images found: expected NORMAL/ and PNEUMONIA/ folders in it or in "
                f"{data / split}, or pass --splits RUN/splits.json with --data at the dataset root."
            )
    except DatasetError as exc:
        raise BenchmarkError(str(exc)) from exc
    if len({e.label for e in examples}) < 2:
        raise BenchmarkError(f"{data}: the labelled images must include both NORMAL and PNEUMONIA for AUC.")
    return examples


def timing_images(folder: Path) -> list[Path]:
    """Every image below `folder`, for timing (labels are not needed)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BenchmarkError(f"{folder}: no such folder for --timing-images.")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise BenchmarkError(f"{folder}: holds no .jpeg, .jpg or .png images to time.")
    return paths
