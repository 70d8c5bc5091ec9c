"""`splits.json`: which files edge-train put in each split, read back by edge-quantize and edge-bench.

Quantization and the benchmarks must evaluate on the very patients training
never saw, so they read the exact file lists rather than splitting again.
Paths are stored relative to the dataset root, so a run can be evaluated on
another machine where the dataset lives elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edge_app.contract import LABELS
from edge_app.files import atomic_write_text
from edge_app.site.dataset import Example

SPLITS_FILE = "splits.json"


class SplitsError(Exception):
    """The file is not a splits.json written by edge-train; the message says why."""


@dataclass(frozen=True)
class RecordedSplits:
    """What a splits.json holds: the dataset root it was written on and each split's entries."""

    root: str | None
    entries: dict[str, list[dict]]

    def examples(self, name: str, root: Path) -> list[Example]:
        """The examples of split `name`, with paths under `root`; KeyError when there is no such split."""
        return [
            Example(root / item["path"], LABELS.index(item["label"]), item["patient"], name)
            for item in self.entries[name]
        ]


def write_splits(path: Path, root: Path, splits: dict[str, list[Example]], seed: int) -> None:
    """Record exactly which files each split holds, atomically."""
    payload = {
        "seed": seed,
        "root": str(root.resolve()),
        "splits": {
            name: [
                {"path": str(e.path.relative_to(root)), "label": LABELS[e.label], "patient": e.patient} for e in items
            ]
            for name, items in splits.items()
        },
    }
    atomic_write_text(path, json.dumps(payload, indent=1))


def read_splits(path: Path) -> RecordedSplits:
    """The recorded splits; SplitsError when the file cannot be read or is not a splits.json."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        return RecordedSplits(payload.get("root"), dict(payload["splits"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SplitsError(f"{path}: not a splits.json written by edge-train ({exc}).") from exc
