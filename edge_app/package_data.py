"""The files that ship inside the edge_app package: the model, the chest X-ray gate, the sample X-rays,
the project's public key and the language catalogues.

They are found through importlib.resources in this one place, so moving a module never moves the file it
reads, and an installed package finds them wherever pip put it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_file(*parts: str) -> Path:
    """A path on disk: LiteRT, Pillow and sqlite want real file names, and pip installs packages unzipped."""
    return Path(str(files("edge_app").joinpath(*parts)))


DEFAULT_MODEL = _package_file("models", "pneumoscan.tflite")
"""The int8 pneumonia model edge-scan uses until a signed update is installed."""
GATE_MODEL = _package_file("models", "gate.tflite")
"""The chest X-ray gate: is this a chest X-ray, and which way round is it."""
SAMPLES_DIR = _package_file("samples")
"""The sample X-rays shipped inside the package (see samples/ATTRIBUTION.md)."""
PROJECT_KEY_FILE = _package_file("keys", "pneumoscan-project.pub")
"""The project's Ed25519 public key, trusted for model updates out of the box."""
LOCALES_DIR = _package_file("locales")
"""The gettext catalogues, one folder per language code (see edge_app.language)."""
