"""Ed25519 public keys and signature checks for model packages, on the device.

A `.sha256` beside a model proves only that the two were copied together; a
signature proves who released the model. The device holds public keys only:
the project key shipped inside PneumoScan, and any keys a site adds itself.
Keys are PEM files (SubjectPublicKeyInfo), readable with OpenSSL too.
A key is checked before it is trusted and again before every use (a key file
can be put in the trusted folder by hand): a small-order, non-canonical or
other weak key is refused (see ed25519_points), and so is a signature whose
scalar S is not canonical.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_app.files import NotARegularFile, read_regular_file, sha256_hex
from edge_app.updates.ed25519_points import WeakKey, check_public_key, signature_is_canonical

MAX_KEY_FILE_BYTES = 64 * 1024
"""An Ed25519 public key PEM is 113 bytes; anything far larger is not one."""


class KeyFileError(ValueError):
    """A key file that is not an Ed25519 key of the expected kind."""


class KeyFileUnreadable(KeyFileError):
    """A key file that cannot be read at all: missing, a folder, pipe or device, far too large, no permission."""


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file, once it is known to be a strong key; KeyFileError otherwise."""
    try:
        pem = read_regular_file(path, MAX_KEY_FILE_BYTES, what="a public key file")
    except (NotARegularFile, OSError) as exc:
        raise KeyFileUnreadable(f"{path}: {exc}") from exc
    if b"PRIVATE KEY-----" in pem:
        raise KeyFileError(
            f"{path}: this is a private key. Give the public key (pneumoscan.pub) instead, "
            "and keep the private key off the device."
        )
    if b"-----BEGIN CERTIFICATE" in pem:
        raise KeyFileError(f"{path}: this is a certificate; give the Ed25519 public key (pneumoscan.pub) instead.")
    try:
        key = serialization.load_pem_public_key(pem)
    except UnsupportedAlgorithm as exc:
        raise KeyFileError(f"{path}: a key of a kind this device cannot use ({exc}); give an Ed25519 key.") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a PEM public key ({exc}).") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: a {type(key).__name__}, but PneumoScan signs with Ed25519 keys only.")
    try:
        check_public_key(raw_public_key(key))
    except WeakKey as exc:
        raise KeyFileError(f"{path}: refused, this Ed25519 key cannot be trusted: {exc}.") from exc
    return key


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint (16 hex digits of the SHA-256 of the raw key) that people can compare by eye."""
    return sha256_hex(raw_public_key(key))[:16]


def signature_valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is a canonical signature of `data` by the strong key `key`."""
    try:
        check_public_key(raw_public_key(key))
    except WeakKey:
        return False
    if not signature_is_canonical(signature):
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
