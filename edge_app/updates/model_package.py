"""The signed model package (.pnsm): one file that carries a model update to a device.

Format, version 1: a ZIP archive holding exactly these members:

- `model.tflite`   the model, PneumoScan metadata embedded as always;
- `metadata.json`  that same metadata, readable without a TFLite parser;
- `MODEL_CARD.md`  the model card;
- `manifest.json`  {"format", "format_version", "key_id", "created_at", "model_sha256",
                    "files": {name: {"sha256", "bytes"}}} for the three files above;
- `manifest.sig`   base64 of the Ed25519 signature over the exact bytes of manifest.json.

The signature covers the manifest and the manifest covers every file by SHA-256,
so one changed byte anywhere is caught, and no file can be added or removed.
Reading never extracts to disk and never trusts sizes it has not checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_app.files import sha256_hex
from edge_app.updates.signing import signature_valid

FORMAT = "pneumoscan-model-package"
FORMAT_VERSION = 1
SUFFIX = ".pnsm"
MODEL_FILE, METADATA_FILE, CARD_FILE = "model.tflite", "metadata.json", "MODEL_CARD.md"
MANIFEST_FILE, SIGNATURE_FILE = "manifest.json", "manifest.sig"
CONTENT_FILES = (MODEL_FILE, METADATA_FILE, CARD_FILE)
MAX_MEMBER_BYTES = 64 * 1024 * 1024
"""No PneumoScan model comes near this; a larger member is refused before it is read."""


class PackageRefused(Exception):
    """A package that must not be installed; `reason` is a stable code, the message a plain sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ModelPackage:
    """A package whose signature and file hashes have been checked."""

    manifest: dict
    files: dict[str, bytes]
    key_id: str

    @property
    def model(self) -> bytes:
        return self.files[MODEL_FILE]

    @property
    def metadata(self) -> dict:
        return json.loads(self.files[METADATA_FILE].decode("utf-8"))

    @property
    def card(self) -> str:
        return self.files[CARD_FILE].decode("utf-8")


def build_manifest(files: dict[str, bytes], key_id: str, created_at: str) -> bytes:
    """The manifest bytes that get signed (sorted keys, so the same inputs give the same bytes)."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "key_id": key_id,
        "created_at": created_at,
        "model_sha256": sha256_hex(files[MODEL_FILE]),
        "files": {name: {"sha256": sha256_hex(files[name]), "bytes": len(files[name])} for name in CONTENT_FILES},
    }
    return json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def encode_signature(signature: bytes) -> bytes:
    return base64.b64encode(signature) + b"\n"


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = {}
            for info in archive.infolist():
                if info.file_size > MAX_MEMBER_BYTES:
                    raise PackageRefused("tampered", f"{path}: member {info.filename} is implausibly large.")
                members[info.filename] = archive.read(info)
            return members
    except zipfile.BadZipFile as exc:
        raise PackageRefused("damaged", f"{path}: the package is damaged or not a model package ({exc}).") from exc
    except OSError as exc:
        raise PackageRefused("unreadable", f"{path}: the package could not be read ({exc}).") from exc


def _signed_manifest(path: Path, members: dict[str, bytes], trusted: dict[str, Ed25519PublicKey]) -> tuple[dict, str]:
    """The manifest, once its signature checks out against a trusted key."""
    if MANIFEST_FILE not in members:
        raise PackageRefused("not_a_package", f"{path}: no {MANIFEST_FILE}; this is not a PneumoScan model package.")
    if SIGNATURE_FILE not in members:
        raise PackageRefused("unsigned", f"{path}: the package is not signed ({SIGNATURE_FILE} is missing).")
    try:
        manifest = json.loads(members[MANIFEST_FILE].decode("utf-8"))
        signature = base64.b64decode(members[SIGNATURE_FILE].strip(), validate=True)
        signer = str(manifest["key_id"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PackageRefused("bad_signature", f"{path}: the manifest or its signature is malformed ({exc}).") from exc
    if signer not in trusted:
        raise PackageRefused(
            "unknown_key",
            f"{path}: signed with key {signer}, which this device does not trust. "
            "Only install packages from your programme; to trust a new key use: edge-scan model trust KEY.pub",
        )
    if not signature_valid(trusted[signer], signature, members[MANIFEST_FILE]):
        raise PackageRefused(
            "bad_signature", f"{path}: the signature does not match (key {signer}); the package was changed."
        )
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise PackageRefused(
            "unsupported_format",
            f"{path}: package format {manifest.get('format')} v{manifest.get('format_version')} is not "
            f"{FORMAT} v{FORMAT_VERSION}; update PneumoScan first.",
        )
    return manifest, signer


def read_package(path: Path, trusted: dict[str, Ed25519PublicKey]) -> ModelPackage:
    """Open a package and check its signature (against `trusted`, key id -> key) and every file hash."""
    path = Path(path)
    members = _read_members(path)
    manifest, signer = _signed_manifest(path, members, trusted)
    listed = manifest.get("files", {})
    if set(members) != {*CONTENT_FILES, MANIFEST_FILE, SIGNATURE_FILE} or set(listed) != set(CONTENT_FILES):
        raise PackageRefused("tampered", f"{path}: the files in the package are not the ones its manifest signs.")
    for name in CONTENT_FILES:
        if sha256_hex(members[name]) != listed[name].get("sha256"):
            raise PackageRefused("tampered", f"{path}: {name} does not match its signed SHA-256; it was changed.")
    return ModelPackage(manifest, {name: members[name] for name in CONTENT_FILES}, signer)
