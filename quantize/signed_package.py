"""Make release keys and signed model packages (.pnsm) for devices.

Runs where models are released, never on a device: the private key signs, and
devices hold only public keys. The package format is defined once, on the
reading side, in edge_app/updates/model_package.py.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_app.files import atomic_write_bytes, sha256_hex
from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.model_store import ModelError, verify_integrity
from edge_app.updates.model_package import (
    CARD_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    build_manifest,
    encode_signature,
)
from edge_app.updates.signing import key_id, public_key_pem

PRIVATE_KEY_NAME, PUBLIC_KEY_NAME = "pneumoscan.key", "pneumoscan.pub"
CARD_NAMES = ("model_card.md", "MODEL_CARD.md")
"""Where edge-quantize (model_card.md) and the shipped model (MODEL_CARD.md) keep the card beside the model."""


class PackageError(Exception):
    """The package cannot be made; the message says which input is wrong."""


def generate_keypair(out: Path) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair into `out`; never overwrites a key (a lost private key cannot be remade)."""
    out = Path(out)
    private_path, public_path = out / PRIVATE_KEY_NAME, out / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise PackageError(f"{path} already exists; move it away first (it may be the only copy of a key).")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    atomic_write_bytes(public_path, public_key_pem(key.public_key()))
    return private_path, public_path, key_id(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PackageError(f"{path}: not an unencrypted PEM private key ({exc}).") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise PackageError(f"{path}: not an Ed25519 key (make one with edge-export keygen).")
    return key


def find_card(model: Path, card: Path | None) -> Path:
    candidates = [card] if card else [model.parent / name for name in CARD_NAMES]
    for path in candidates:
        if path.is_file():
            return path
    raise PackageError(f"No model card found ({', '.join(map(str, candidates))}); pass one with --card.")


def package_files(model: Path, card: Path | None) -> dict[str, bytes]:
    """The three signed files; the model must carry PneumoScan metadata and match its .sha256 if it has one."""
    model = Path(model)
    if not model.is_file():
        raise PackageError(f"{model}: no such model file.")
    content = model.read_bytes()
    try:
        verify_integrity(model, content, required=False)
        metadata = read_metadata(content)
    except ModelError as exc:
        raise PackageError(str(exc)) from exc
    except Exception as exc:  # the flatbuffer reader raises assorted errors on a file that is not a model
        raise PackageError(f"{model}: not a TensorFlow Lite model ({exc}).") from exc
    if metadata is None:
        raise PackageError(f"{model}: carries no PneumoScan metadata; package a model written by edge-quantize.")
    metadata_json = (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return {MODEL_FILE: content, METADATA_FILE: metadata_json, CARD_FILE: find_card(model, card).read_bytes()}


def write_model_package(model: Path, key: Path, out: Path, card: Path | None = None) -> dict:
    """Sign `model` with `key` into the single file `out` (written atomically)."""
    private_key = load_private_key(key)
    files = package_files(model, card)
    signer = key_id(private_key.public_key())
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    manifest = build_manifest(files, signer, created)
    members = {**files, MANIFEST_FILE: manifest, SIGNATURE_FILE: encode_signature(private_key.sign(manifest))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    atomic_write_bytes(Path(out), buffer.getvalue())
    return {
        "path": Path(out),
        "bytes": len(buffer.getvalue()),
        "key_id": signer,
        "model_sha256": sha256_hex(files[MODEL_FILE]),
    }
