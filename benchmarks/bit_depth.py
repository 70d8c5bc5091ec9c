"""Do 16-bit grayscale PNGs (the usual DICOM export) scan like their 8-bit copies?

Each X-ray is written as an 8-bit PNG and as 16-bit PNGs whose values are the
8-bit ones scaled to the full 16-bit range and to a 12-bit detector's range,
then all are scanned with the default model through the edge-scan code path:

    python -m benchmarks.bit_depth ../shared/data/originals
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click
from PIL import Image

from benchmarks.fuzz import encode

SCALES = {"16-bit full range": 257, "12-bit in 16": 16}


def sixteen_bit(gray: Image.Image, factor: int) -> Image.Image:
    return gray.convert("I").point(lambda value: value * factor).convert("I;16")


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def main(folder: Path) -> None:
    """Scan every JPEG under FOLDER as 8-bit and 16-bit PNGs; print agreement as JSON."""
    from edge_app.inference.model_store import load_model
    from edge_app.scan.scanner import scan_file

    model = load_model()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for source in sorted(folder.rglob("*.jp*g")):
            gray = Image.open(source).convert("L")
            variants = {"8-bit": gray} | {name: sixteen_bit(gray, f) for name, f in SCALES.items()}
            results = {}
            for name, image in variants.items():
                path = Path(work) / f"{source.stem}-{name.replace(' ', '_')}.png"
                path.write_bytes(encode(image, "PNG"))
                results[name] = scan_file(path, model)
            rows.append(results)
    summary = {"images": len(rows)}
    for name in SCALES:
        pairs = [(row["8-bit"], row[name]) for row in rows]
        summary[name] = {
            "same_status": sum(a.status == b.status for a, b in pairs),
            "same_label": sum(a.label == b.label for a, b in pairs),
            "max_probability_difference": max(
                (
                    abs(a.probability - b.probability)
                    for a, b in pairs
                    if a.probability is not None and b.probability is not None
                ),
                default=None,
            ),
        }
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
