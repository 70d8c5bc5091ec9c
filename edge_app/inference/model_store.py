"""Find, verify and open the model a scan runs on.

A screening result is only as trustworthy as the model file behind it, and on
a device that file was copied from a USB stick or a flaky download. So before
a model runs, its bytes are checked against the SHA-256 recorded beside it
(`<model>.sha256`, sha256sum format), and its embedded metadata must name the
preprocessing this device implements. Anything else is refused with a message
that says what to do.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_app import contract
from edge_app.files import MISSING, NotARegularFile, read_regular_file, read_sidecar, sha256_hex, sidecar_path
from edge_app.inference.gate import Gate, open_gate
from edge_app.inference.model_metadata import FALLBACK_THRESHOLD, model_threshold
from edge_app.inference.reference_outputs import RuntimeCheck, check_reference_outputs
from edge_app.inference.runtime import RuntimeUnavailable, TFLiteClassifier
from edge_app.package_data import DEFAULT_MODEL, GATE_MODEL
from edge_app.storage.active_model import ActivePointerDamaged, active_model_path
from edge_app.threshold import MODEL, ThresholdChoice

MODEL_ENV = "PNEUMOSCAN_MODEL"
"""Overrides the default model path (a clinic's own release, or tests)."""
MAX_MODEL_BYTES = 256 * 2**20
"""Far more than any model a screening device runs (the shipped one is well under 1 MB)."""


class ModelError(Exception):
    """The model cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class ScanModel:
    """A verified model, ready to scan, with the facts every result records."""

    classifier: TFLiteClassifier
    path: Path
    threshold: float
    threshold_source: str
    """Where the threshold came from: edge_app.threshold.MODEL, SITE or COMMAND_LINE."""
    labels: tuple[str, ...]
    checksum_file: Path | None
    """The .sha256 file the model was verified against; None when it had none."""
    threshold_detail: str = ""
    """How that threshold was chosen, in words, for `edge-scan info`."""
    gate: Gate | None = None
    """The chest X-ray gate every image passes before this model sees it."""
    runtime_check: RuntimeCheck | None = None
    """Whether this device's runtime reproduced the model's recorded reference outputs when it was opened."""

    def using(self, choice: ThresholdChoice) -> ScanModel:
        """This model scanning at `choice` (see edge_app.site.threshold_choice.resolve_threshold)."""
        return dataclasses.replace(
            self, threshold=choice.value, threshold_source=choice.source, threshold_detail=choice.detail
        )

    @property
    def verified(self) -> bool:
        """Whether the model's bytes matched a recorded SHA-256; stored with every result."""
        return self.checksum_file is not None

    @property
    def runtime_verified(self) -> bool | None:
        """Stored with every result: False when this device computes other numbers than the model's build."""
        return self.runtime_check.verified if self.runtime_check is not None else None

    @property
    def integrity(self) -> str:
        return self.describe_integrity()

    def describe_integrity(self, gettext: Callable[[str], str] = str) -> str:
        """Whether the model's bytes were checked, in the language `gettext` translates to."""
        if self.checksum_file is None:
            return gettext("NOT verified: no .sha256 file beside the model")
        return gettext("verified against {file}").format(file=self.checksum_file.name)

    @property
    def metadata(self) -> dict | None:
        return self.classifier.metadata

    @property
    def sha256(self) -> str:
        return self.classifier.sha256

    @property
    def version(self) -> str:
        return str((self.metadata or {}).get("model_version", "unversioned"))

    @property
    def input_size(self) -> int:
        return self.classifier.input_size

    @property
    def runtime(self) -> str:
        return f"{self.classifier.runtime.name} {self.classifier.runtime.version}"


def default_model_path() -> Path:
    """PNEUMOSCAN_MODEL if set, else the model installed with `edge-scan model install`, else the built-in one."""
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override).expanduser()
    try:
        installed = active_model_path()
    except ActivePointerDamaged as exc:
        raise ModelError(str(exc)) from exc
    return installed or DEFAULT_MODEL


def verify_integrity(model_path: Path, content: bytes, required: bool) -> Path | None:
    """Check the model bytes against its sidecar checksum; returns the sidecar, or None if there is none."""
    sidecar = sidecar_path(model_path)
    try:
        expected = read_sidecar(sidecar)
    except NotARegularFile as exc:
        if exc.kind != MISSING:
            raise ModelError(f"{sidecar}: {exc}") from exc
        if required:
            raise ModelError(
                f"{model_path}: its checksum file {sidecar.name} is missing, so the model cannot be verified. "
                "Reinstall PneumoScan."
            ) from exc
        return None
    except OSError as exc:
        raise ModelError(f"{sidecar}: the checksum file cannot be read ({exc.strerror or exc}).") from exc
    except ValueError as exc:
        raise ModelError(str(exc)) from exc
    actual = sha256_hex(content)
    if actual != expected:
        raise ModelError(
            f"{model_path}: the file does not match its recorded SHA-256 (expected {expected[:12]}..., "
            f"got {actual[:12]}...). It is damaged or was changed. Copy the model again or reinstall PneumoScan."
        )
    return sidecar


def _check_metadata_matches_tensor(model_path: Path, model_input: dict, classifier: TFLiteClassifier) -> None:
    """Refuse metadata written for another model: images would be prepared for the wrong input."""
    actual = {"size": classifier.input_size, "channels": classifier.input_shape[3], "dtype": classifier.input_dtype}
    for key, value in actual.items():
        if key in model_input and model_input[key] != value:
            raise ModelError(
                f"{model_path}: its metadata says input {key} {model_input[key]}, but the model's input tensor has "
                f"{value}. The metadata belongs to another model; use the model file as it was released."
            )


def check_contract(model_path: Path, classifier: TFLiteClassifier) -> None:
    """Refuse a model this device cannot prepare input for."""
    shape = classifier.input_shape
    if len(shape) != 4 or shape[0] != 1 or shape[1] != shape[2] or shape[3] != 1:
        raise ModelError(f"{model_path}: input shape {shape} is not a single square grayscale image (1, N, N, 1).")
    model_input = (classifier.metadata or {}).get("input", {})
    _check_metadata_matches_tensor(model_path, model_input, classifier)
    wanted = (model_input.get("preprocessing"), model_input.get("preprocessing_version"))
    if classifier.metadata is not None and wanted != (contract.PREPROCESSING_NAME, contract.PREPROCESSING_VERSION):
        raise ModelError(
            f"{model_path}: the model expects preprocessing {wanted[0]} v{wanted[1]}, but this PneumoScan implements "
            f"{contract.PREPROCESSING_NAME} v{contract.PREPROCESSING_VERSION}. Install the PneumoScan version "
            "the model was released with."
        )


def load_model(model_path: Path | None = None, allow_unverified: bool = False) -> ScanModel:
    """Open a model for scanning, at its own threshold: the default one unless `model_path` is given.

    The default model must carry its checksum file. A model given explicitly is
    checked against its checksum file (the quantize step writes one beside every
    model); without one it is refused unless `allow_unverified`, and every result
    it gives then says model_verified: false.
    """
    is_default = model_path is None
    path = default_model_path() if is_default else Path(model_path)
    content = read_model_file(path, is_default)
    checksum_file = verify_integrity(path, content, required=is_default)
    if checksum_file is None and not allow_unverified:
        raise ModelError(
            f"{path}: there is no checksum file {sidecar_path(path).name} beside it, so nothing shows the model is "
            "intact. Copy the model with its .sha256 file, or pass --allow-unverified-model to use it anyway "
            "(every result is then marked model_verified: false)."
        )
    try:
        classifier = TFLiteClassifier(content)
    except RuntimeUnavailable as exc:
        raise ModelError(str(exc)) from exc
    except Exception as exc:  # the interpreter raises RuntimeError or ValueError for a bad flatbuffer
        raise ModelError(f"{path}: not a usable TensorFlow Lite model ({exc}).") from exc
    check_contract(path, classifier)
    metadata = classifier.metadata or {}
    try:
        chosen, recorded = model_threshold(metadata)
    except ValueError as exc:
        raise ModelError(f"{path}: the model's metadata is unusable: {exc}.") from exc
    detail = (
        f"from the model ({metadata.get('threshold_method', 'recorded')})"
        if recorded
        else f"default {FALLBACK_THRESHOLD}: the model carries no metadata"
    )
    labels = tuple(metadata.get("labels", contract.LABELS))
    runtime_check = check_reference_outputs(classifier, metadata)
    return ScanModel(
        classifier, path, chosen, MODEL, labels, checksum_file, detail, gate=load_gate(), runtime_check=runtime_check
    )


def read_model_file(path: Path, is_default: bool = False) -> bytes:
    """A model's bytes, read once from the opened file (never a pipe, folder or a file larger than any model), so
    what is checked and run is what was read; ModelError naming the file otherwise."""
    try:
        return read_regular_file(path, MAX_MODEL_BYTES, "a model file")
    except NotARegularFile as exc:
        if exc.kind == MISSING and is_default:
            raise ModelError(
                f"No model found at {path}. This PneumoScan install has no model yet: "
                "pass one with --model FILE.tflite (or reinstall a release that includes one)."
            ) from exc
        if exc.kind == MISSING:
            raise ModelError(f"{path}: no such model file.") from exc
        raise ModelError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ModelError(f"{path}: the model cannot be read ({exc.strerror or exc}).") from exc


def load_gate(path: Path = GATE_MODEL) -> Gate:
    """The chest X-ray gate that ships with PneumoScan, verified against its checksum."""
    try:
        content = read_model_file(path)
    except ModelError as exc:
        raise ModelError(f"The chest X-ray gate cannot be used: {exc} Reinstall PneumoScan.") from exc
    verify_integrity(path, content, required=True)
    try:
        return open_gate(content)
    except Exception as exc:  # the interpreter raises RuntimeError or ValueError for a bad flatbuffer
        raise ModelError(f"{path}: not a usable chest X-ray gate ({exc}). Reinstall PneumoScan.") from exc
