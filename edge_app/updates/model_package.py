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
Reading never extracts to disk and never trusts sizes it has not checked: the
package must be a regular file of a bounded size, its ZIP directory may list
only the five members above (checked in the end record before the directory is
parsed), each member has its own size cap and all of them together another,
and each is read with a bound whatever its header claims. Members are never
unpacked further, so an archive inside an archive is just bytes with a hash.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_app.files import NotARegularFile, read_regular_file, sha256_hex
from edge_app.updates.signing import signature_valid

FORMAT = "pneumoscan-model-package"
FORMAT_VERSION = 1
SUFFIX = ".pnsm"
MODEL_FILE, METADATA_FILE, CARD_FILE = "model.tflite", "metadata.json", "MODEL_CARD.md"
MANIFEST_FILE, SIGNATURE_FILE = "manifest.json", "manifest.sig"
CONTENT_FILES = (MODEL_FILE, METADATA_FILE, CARD_FILE)
MAX_MEMBER_BYTES = {
    MODEL_FILE: 64 * 1024 * 1024,
    METADATA_FILE: 1024 * 1024,
    CARD_FILE: 1024 * 1024,
    MANIFEST_FILE: 64 * 1024,
    SIGNATURE_FILE: 1024,
}
"""No PneumoScan model comes near these; a larger member is refused before it is read."""
MAX_TOTAL_BYTES = 70 * 1024 * 1024
"""All members together, uncompressed."""
MAX_PACKAGE_BYTES = 80 * 1024 * 1024
"""The package file itself (a ZIP can only be smaller than its members, give or take its headers)."""
MAX_DIRECTORY_BYTES = 64 * 1024
UNREADABLE = "unreadable"
"""The refusal reason of a package file that cannot be read at all (missing, a folder or pipe, too large)."""
_END_RECORD = struct.Struct("<4s4H2LH")


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
    """The package's members, each checked against its size cap before a byte of it is decompressed."""
    try:
        data = read_regular_file(path, MAX_PACKAGE_BYTES, what="a model package")
    except (NotARegularFile, OSError) as exc:
        raise PackageRefused(UNREADABLE, f"{path}: the package could not be read. {exc}") from exc
    _check_member_count(path, data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_sizes(path, infos)
            return {info.filename: _read_member(path, archive, info) for info in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, RuntimeError) as exc:
        raise PackageRefused("damaged", f"{path}: the package is damaged or not a model package ({exc}).") from exc


def _check_member_count(path: Path, data: bytes) -> None:
    """Refuse a ZIP whose end record lists more members, or a larger directory, than a package has,
    before Python parses the directory (it reads as many entries as the directory size allows)."""
    position = data.rfind(b"PK\x05\x06", max(0, len(data) - _END_RECORD.size - 0xFFFF))
    if position < 0 or len(data) - position < _END_RECORD.size:
        raise PackageRefused("damaged", f"{path}: the package is damaged or not a model package (no ZIP directory).")
    _, disk, _, _, entries, directory_bytes, _, _ = _END_RECORD.unpack_from(data, position)
    zip64 = data[max(0, position - 20) : position - 16] == b"PK\x06\x07"
    if zip64 or disk != 0 or entries > len(MAX_MEMBER_BYTES) or directory_bytes > MAX_DIRECTORY_BYTES:
        raise PackageRefused(
            "tampered",
            f"{path}: the package's ZIP directory lists {entries} files in {directory_bytes} bytes"
            f"{' (ZIP64)' if zip64 else ''}, but a model package has {len(MAX_MEMBER_BYTES)} files in a few hundred.",
        )


def _check_sizes(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    names = [info.filename for info in infos]
    if len(names) != len(set(names)) or not set(names) <= set(MAX_MEMBER_BYTES):
        raise PackageRefused("tampered", f"{path}: the package holds files a model package never has ({names}).")
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
            # Python's bzip2 and LZMA readers unpack a whole chunk at once, however large it grows
            raise PackageRefused(
                "tampered", f"{path}: {info.filename} is encrypted or compressed in a way model packages never are."
            )
        if info.file_size > MAX_MEMBER_BYTES[info.filename]:
            raise PackageRefused(
                "tampered", f"{path}: {info.filename} would unpack to {info.file_size} bytes, implausibly large."
            )
    if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
        raise PackageRefused("tampered", f"{path}: the package would unpack to more than {MAX_TOTAL_BYTES} bytes.")


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member, never more than its header declared, whatever the compressed stream holds."""
    with archive.open(info) as member:
        content = member.read(info.file_size + 1)
    if len(content) != info.file_size:
        raise PackageRefused("tampered", f"{path}: {info.filename} does not have the size its header declares.")
    return content


def json_object(path: Path, data: bytes, name: str, reason: str) -> dict:
    """A member that must hold one JSON object; PackageRefused (with `reason`) for anything else,
    including JSON nested too deeply for the parser."""
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise PackageRefused(reason, f"{path}: {name} is nested too deeply to be a PneumoScan file.") from exc
    except ValueError as exc:
        raise PackageRefused(reason, f"{path}: {name} is not valid JSON ({exc}).") from exc
    if not isinstance(value, dict):
        raise PackageRefused(reason, f"{path}: {name} holds a {type(value).__name__}, not a JSON object.")
    return value


def _signed_manifest(
    path: Path, members: dict[str, bytes], trusted: dict[str, Ed25519PublicKey], revoked: frozenset[str]
) -> tuple[dict, str]:
    """The manifest, once its signature checks out against a trusted key that was not revoked."""
    if MANIFEST_FILE not in members:
        raise PackageRefused("not_a_package", f"{path}: no {MANIFEST_FILE}; this is not a PneumoScan model package.")
    if SIGNATURE_FILE not in members:
        raise PackageRefused("unsigned", f"{path}: the package is not signed ({SIGNATURE_FILE} is missing).")
    manifest = json_object(path, members[MANIFEST_FILE], MANIFEST_FILE, "bad_signature")
    try:
        signature = base64.b64decode(members[SIGNATURE_FILE].strip(), validate=True)
        signer = str(manifest["key_id"])
    except (ValueError, KeyError, binascii.Error) as exc:
        raise PackageRefused("bad_signature", f"{path}: the manifest or its signature is malformed ({exc}).") from exc
    if signer in revoked:
        raise PackageRefused(
            "revoked_key", f"{path}: signed with key {signer}, which was revoked on this device; it is not installed."
        )
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


def read_package(
    path: Path, trusted: dict[str, Ed25519PublicKey], revoked: frozenset[str] = frozenset()
) -> ModelPackage:
    """Open a package and check its signature (against `trusted`, key id -> key, none of them in `revoked`)
    and every file hash."""
    path = Path(path)
    members = _read_members(path)
    manifest, signer = _signed_manifest(path, members, trusted, revoked)
    listed = manifest.get("files")
    if (
        set(members) != {*CONTENT_FILES, MANIFEST_FILE, SIGNATURE_FILE}
        or not isinstance(listed, dict)
        or set(listed) != set(CONTENT_FILES)
        or not all(isinstance(entry, dict) for entry in listed.values())
    ):
        raise PackageRefused("tampered", f"{path}: the files in the package are not the ones its manifest signs.")
    for name in CONTENT_FILES:
        if sha256_hex(members[name]) != listed[name].get("sha256"):
            raise PackageRefused("tampered", f"{path}: {name} does not match its signed SHA-256; it was changed.")
    if manifest.get("model_sha256") != listed[MODEL_FILE]["sha256"]:
        raise PackageRefused("tampered", f"{path}: the manifest names two different models.")
    json_object(path, members[METADATA_FILE], METADATA_FILE, "incompatible")
    return ModelPackage(manifest, {name: members[name] for name in CONTENT_FILES}, signer)
