"""Ed25519 public keys and signature checks for model packages, on the device.

A `.sha256` beside a model proves only that the two were copied together; a
signature proves who released the model. The device holds public keys only:
the project key shipped inside PneumoScan, and any keys a site adds itself.
Keys are PEM files (SubjectPublicKeyInfo), readable with OpenSSL too.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_app.files import sha256_hex


class KeyFileError(ValueError):
    """A key file that is not an Ed25519 key of the expected kind."""


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a PEM public key ({exc}).") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: a {type(key).__name__}, but PneumoScan signs with Ed25519 keys only.")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint (16 hex digits of the SHA-256 of the raw key) that people can compare by eye."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def signature_valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
