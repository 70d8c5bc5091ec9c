"""Hostile model packages: archive bombs, malformed manifests and metadata, and values of the wrong type.

Each is refused with a reason and exit 1, within a bounded amount of memory,
and leaves the active model exactly as it was.
"""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from edge_app.cli.main import main as edge_scan
from edge_app.inference.model_metadata import read_metadata
from edge_app.updates import model_package
from edge_app.updates.model_install import install_package
from edge_app.updates.model_package import PackageRefused
from edge_app.updates.signing import key_id
from quantize.signed_package import load_private_key, package_files
from tests.device import test_model_packages as packages
from tests.device.test_model_packages import device_state, package, run, variant_model
from tests.device.test_scan import GOOD_IMAGES
from tests.device.test_update_signing import no_hang as _no_hang

keys, device = packages.keys, packages.device  # a device that trusts a freshly made release key
no_hang = _no_hang  # a read that never returns fails the test instead of stopping the suite
MB = 1024 * 1024


def _zeros_zip(out: Path, members: dict[str, int]) -> Path:
    """A ZIP of members that are all zeros (`name -> uncompressed bytes`): tiny on disk, huge unpacked."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, size in members.items():
            archive.writestr(name, bytes(size))
    return out


def _repack(good: Path, out: Path, replace: dict[str, bytes] | None = None) -> Path:
    """A deflated copy of package `good` with members replaced."""
    with zipfile.ZipFile(good) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members |= replace or {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _recompressed(good: Path, out: Path, method: int, replace: dict[str, bytes] | None = None) -> Path:
    """A copy of `good` with every member compressed with `method` (bzip2, LZMA ...)."""
    with zipfile.ZipFile(good) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members |= replace or {}
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _lying_bzip2(good: Path, out: Path) -> Path:
    """A bzip2 card of 200 MB of zeros whose directory entry claims 100 bytes: Python's bzip2 reader would unpack
    the whole stream at the first read."""
    _recompressed(good, out, zipfile.ZIP_BZIP2, {"MODEL_CARD.md": bytes(200 * MB)})
    return _claim_size(out, b"MODEL_CARD.md", 100)


def _encrypted_flag(good: Path, out: Path) -> Path:
    data = bytearray(_repack(good, out).read_bytes())
    entry = data.index(b"PK\x01\x02")
    data[entry + 8] |= 0x01  # general purpose flag bit 0: encrypted
    out.write_bytes(bytes(data))
    return out


def _many_members(good: Path, out: Path) -> Path:
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            archive.writestr(name, source.read(name))
        for index in range(5000):
            archive.writestr(f"pad/{index}", b"")
    return out


def _duplicate_names(good: Path, out: Path) -> Path:
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            archive.writestr(name, source.read(name))
        for _ in range(3):  # zipfile warns, and writes them all
            archive.writestr("model.tflite", bytes(40 * MB))
    return out


def _claim_size(out: Path, name: bytes, size: int) -> Path:
    """Make the directory entry of member `name` in the ZIP `out` claim `size` unpacked bytes."""
    data = bytearray(out.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first directory entry
    while True:
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, entry + 28)
        if data[entry + 46 : entry + 46 + name_length] == name:
            struct.pack_into("<L", data, entry + 24, size)
            break
        entry += 46 + name_length + extra_length + comment_length
    out.write_bytes(bytes(data))
    return out


def _lying_size(good: Path, out: Path) -> Path:
    """The card member unpacks to 40 MB, while its directory entry claims 100 bytes."""
    return _claim_size(_repack(good, out, {"MODEL_CARD.md": bytes(40 * MB)}), b"MODEL_CARD.md", 100)


def _large_directory(good: Path, out: Path) -> Path:
    """The five members, each with 60 KB of extra data in its directory entry."""
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            info = zipfile.ZipInfo(name)
            info.extra = struct.pack("<HH", 0xCAFE, 60000) + bytes(60000)
            archive.writestr(info, source.read(name))
    return out


def _oversized_file(good: Path, out: Path) -> Path:
    """A package file of 200 MB (sparse: no disk used) with a real package at its end."""
    with out.open("wb") as handle:
        handle.truncate(200 * MB)
        handle.seek(200 * MB)
        handle.write(good.read_bytes())
    return out


BOMBS = {
    "zeros: members of 60 MB under other names": (
        "tampered",
        lambda good, out: _zeros_zip(out, {f"layer{i}.bin": 60 * MB for i in range(4)}),
    ),
    "zeros: model.tflite of 300 MB": (
        "tampered",
        lambda good, out: _repack(good, out, {"model.tflite": bytes(300 * MB)}),
    ),
    "zeros: manifest of 20 MB": ("tampered", lambda good, out: _repack(good, out, {"manifest.json": bytes(20 * MB)})),
    "zeros: metadata of 20 MB": ("tampered", lambda good, out: _repack(good, out, {"metadata.json": bytes(20 * MB)})),
    "5000 members": ("tampered", _many_members),
    "the same name three times, 40 MB each": ("tampered", _duplicate_names),
    "a member larger than its header says": ("damaged", _lying_size),
    "a directory of 300 KB": ("tampered", _large_directory),
    "bzip2 members": ("tampered", lambda good, out: _recompressed(good, out, zipfile.ZIP_BZIP2)),
    "LZMA members": ("tampered", lambda good, out: _recompressed(good, out, zipfile.ZIP_LZMA)),
    "a bzip2 member larger than its header says": ("tampered", _lying_bzip2),
    "a member marked encrypted": ("tampered", _encrypted_flag),
    "a 200 MB package file": ("unreadable", _oversized_file),
    "a package inside the package": (
        "tampered",
        lambda good, out: _repack(
            good, out, {"model.tflite": _zeros_zip(out.with_suffix(".inner"), {"x": 60 * MB}).read_bytes()}
        ),
    ),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", list(BOMBS))
def test_archive_bombs_are_refused_before_they_are_unpacked(case, device, keys, tmp_path):
    good = package(variant_model(tmp_path / "m", model_version="bomb"), keys, tmp_path / "good.pnsm")
    reason, make = BOMBS[case]
    bomb = make(good, tmp_path / "bomb.pnsm")
    before = device_state(device)
    tracemalloc.start()
    try:
        with pytest.raises(PackageRefused) as refused:
            install_package(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.reason == reason, str(refused.value)
    assert peak < 90 * MB, f"{peak / MB:.0f} MB allocated before the package was refused"
    assert device_state(device) == before


def test_the_command_names_the_bomb_and_exits_1(device, keys, tmp_path):
    bomb = _zeros_zip(tmp_path / "zeros.pnsm", {f"layer{i}.bin": 60 * MB for i in range(4)})
    refused = run(edge_scan, "model", "install", bomb)
    assert refused.exit_code == 1 and "Model NOT installed (tampered)" in refused.output
    assert "never has" in refused.output


def _signed(files: dict[str, bytes], keys: Path, out: Path, manifest: bytes | None = None) -> Path:
    """A package signed with the trusted test key, with whatever files and manifest it is given."""
    private = load_private_key(keys / "pneumoscan.key")
    if manifest is None:
        signer = key_id(private.public_key())
        manifest = model_package.build_manifest(files, signer, "2031-01-01T00:00:00+00:00")
    members = {
        **files,
        model_package.MANIFEST_FILE: manifest,
        model_package.SIGNATURE_FILE: model_package.encode_signature(private.sign(manifest)),
    }
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


MALFORMED = {
    "manifest nested 30000 deep": ("bad_signature", "nested too deeply", lambda files: _deep(30_000)),
    "manifest: a list": ("bad_signature", "not a JSON object", lambda files: b"[1, 2]"),
    "manifest: a string": ("bad_signature", "not a JSON object", lambda files: b'"manifest"'),
    "manifest: not UTF-8": ("bad_signature", "not valid JSON", lambda files: b"\xff\xfe{}"),
    "manifest: files is a list": (
        "tampered",
        "not the ones its manifest signs",
        lambda files: json.dumps({"key_id": None, "files": ["model.tflite"]}).encode(),
    ),
    "manifest: a file entry is a string": (
        "tampered",
        "not the ones its manifest signs",
        lambda files: json.dumps({"key_id": None, "files": dict.fromkeys(model_package.CONTENT_FILES, "x")}).encode(),
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_manifests_signed_by_a_trusted_key_are_refused(case, device, keys, tmp_path):
    reason, words, make = MALFORMED[case]
    files = package_files(variant_model(tmp_path / "m"), None)
    manifest = make(files)
    signer = key_id(load_private_key(keys / "pneumoscan.key").public_key())
    manifest = manifest.replace(b'"key_id": null', f'"key_id": "{signer}"'.encode())
    if b"files" in manifest:  # so it passes the signature and format checks and reaches the file list
        data = json.loads(manifest)
        data.update(format=model_package.FORMAT, format_version=model_package.FORMAT_VERSION)
        manifest = json.dumps(data).encode()
    before = device_state(device)
    refused = run(edge_scan, "model", "install", _signed(files, keys, tmp_path / "p.pnsm", manifest))
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    assert f"({reason})" in refused.output and words in refused.output
    assert device_state(device) == before


def test_deeply_nested_metadata_is_refused(device, keys, tmp_path):
    files = package_files(variant_model(tmp_path / "m"), None)
    files[model_package.METADATA_FILE] = _deep(200_000)
    refused = run(edge_scan, "model", "install", _signed(files, keys, tmp_path / "p.pnsm"))
    assert refused.exit_code == 1 and "(incompatible)" in refused.output and "nested too deeply" in refused.output


@pytest.mark.parametrize(
    "threshold",
    ["0.7", "high", True, None, float("nan"), float("inf"), -0.5, 1.5, [0.5], {"value": 0.5}],
    ids=repr,
)
def test_a_threshold_that_is_not_a_number_between_0_and_1_is_refused(threshold, device, keys, tmp_path):
    before = device_state(device)
    model = variant_model(tmp_path / "m", threshold=threshold)
    refused = run(edge_scan, "model", "install", package(model, keys, tmp_path / "m.pnsm"))
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    assert "(incompatible)" in refused.output and "threshold" in refused.output
    assert device_state(device) == before


def _shipped_metadata(**changes) -> dict:
    return {**read_metadata(packages.SHIPPED.read_bytes()), **changes}


METADATA_SHAPES = {
    "metadata is a list": lambda: [_shipped_metadata()],
    "input is a list": lambda: _shipped_metadata(input=[128]),
    "labels is a number": lambda: _shipped_metadata(labels=2),
    "labels is a string": lambda: _shipped_metadata(labels="NORMAL,PNEUMONIA"),
    "labels is null": lambda: _shipped_metadata(labels=None),
    "labels holds numbers": lambda: _shipped_metadata(labels=[0, 1]),
}


@pytest.mark.parametrize("case", list(METADATA_SHAPES))
def test_signed_metadata_of_the_wrong_shape_is_refused(case, device, keys, tmp_path):
    metadata = METADATA_SHAPES[case]()
    files = {  # made by hand: edge-export refuses to package such a model
        model_package.MODEL_FILE: packages.embed_metadata(packages.SHIPPED.read_bytes(), metadata),
        model_package.METADATA_FILE: json.dumps(metadata).encode(),
        model_package.CARD_FILE: b"# card\n",
    }
    before = device_state(device)
    refused = run(edge_scan, "model", "install", _signed(files, keys, tmp_path / "p.pnsm"))
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    assert "(incompatible)" in refused.output
    assert device_state(device) == before


def _installed(device: Path, keys: Path, tmp_path: Path) -> Path:
    """The folder of a model installed from a package."""
    assert (
        run(edge_scan, "model", "install", package(variant_model(tmp_path / "m"), keys, tmp_path / "m.pnsm")).exit_code
        == 0
    )
    return next(p for p in (device / "models").iterdir() if p.is_dir() and not p.name.startswith("."))


def _deep_file(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(_deep(100_000))


def _pipe(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


@pytest.mark.parametrize("damage", [_deep_file, _pipe], ids=["nested 100000 deep", "a pipe"])
def test_update_records_on_the_device_that_are_damaged_end_with_a_reason(damage, device, keys, tmp_path, no_hang):
    folder = _installed(device, keys, tmp_path)
    damage(folder / "installed.json")
    listed = run(edge_scan, "model", "list")
    assert listed.exit_code == 0 and "install record missing" in listed.output
    damage(device / "models" / "changes.jsonl")
    changes = run(edge_scan, "model", "changes")  # a damaged line is listed as such; a pipe is named (exit 2)
    assert changes.exit_code == (2 if damage is _pipe else 0) and "Traceback" not in changes.output, changes.output
    assert ("damaged line" in changes.output) is (damage is _deep_file)
    damage(device / "models" / "active.json")
    scanned = run(edge_scan, "scan", GOOD_IMAGES[0], "--no-history")
    assert scanned.exit_code == 2 and isinstance(scanned.exception, SystemExit), scanned.output


@pytest.mark.parametrize(
    "pointer",
    [
        {"active": "built-in", "previous": ["../../outside"]},
        {"active": "..", "previous": []},
        {"active": "", "previous": []},
        {"active": "built-in", "previous": "built-in"},
        ["built-in"],
    ],
    ids=repr,
)
def test_an_active_model_record_naming_paths_outside_the_models_folder_is_refused(pointer, device):
    (device / "models").mkdir(exist_ok=True)
    (device / "models" / "active.json").write_text(json.dumps(pointer))
    rolled = run(edge_scan, "model", "rollback")
    assert rolled.exit_code == 2 and "active.json" in rolled.output, rolled.output
