"""Signed model packages: release keys, .pnsm files, and install / list / rollback on a device.

Every refusal is checked for its reason and for leaving the active model exactly as it was.
"""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app import package_data
from edge_app.cli.main import main as edge_scan
from edge_app.inference import model_store
from edge_app.inference.model_metadata import read_metadata
from edge_app.storage import active_model
from edge_app.storage.paths import HOME_ENV
from edge_app.updates import model_package
from edge_app.updates.model_install import trusted_keys_dir
from lab.tflite_metadata import embed_metadata
from quantize.export_cli import main as edge_export
from quantize.signed_package import load_private_key
from tests.device.test_scan import GOOD_IMAGES
from tests.site_profiles import consistent_profile

SHIPPED = package_data.DEFAULT_MODEL


def run(command, *args: str):
    return CliRunner().invoke(command, [str(arg) for arg in args])


def variant_model(folder: Path, **changes) -> Path:
    """The shipped model with its embedded metadata changed (so it has its own SHA-256), and its card beside it.
    Keys with dots change nested fields: input.preprocessing_version=2."""
    metadata = read_metadata(SHIPPED.read_bytes())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        target = metadata
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "candidate.tflite"
    path.write_bytes(embed_metadata(SHIPPED.read_bytes(), metadata))
    shutil.copyfile(SHIPPED.parent / "MODEL_CARD.md", folder / "model_card.md")
    return path


@pytest.fixture
def keys(tmp_path) -> Path:
    folder = tmp_path / "keys"
    assert run(edge_export, "keygen", "--out", folder).exit_code == 0
    return folder


@pytest.fixture
def device(tmp_path, monkeypatch, keys) -> Path:
    """A device data folder that trusts the test key; no PNEUMOSCAN_MODEL override."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "device"))
    monkeypatch.delenv(model_store.MODEL_ENV, raising=False)
    assert run(edge_scan, "model", "trust", keys / "pneumoscan.pub").exit_code == 0
    return tmp_path / "device"


def package(model: Path, keys: Path, out: Path) -> Path:
    made = run(edge_export, "model-package", "--model", model, "--key", keys / "pneumoscan.key", "--out", out)
    assert made.exit_code == 0, made.output
    return out


def rezip(source: Path, out: Path, **replace: bytes | None) -> Path:
    """A copy of package `source` with members replaced (bytes) or removed (None), as an attacker would make it."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name, data in replace.items():
        name = name.replace("_", ".")
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def device_state(home: Path) -> tuple:
    """Everything a refused install must leave untouched."""
    models = home / "models"
    pointer = (models / "active.json").read_bytes() if (models / "active.json").exists() else None
    folders = sorted(p.name for p in models.iterdir()) if models.exists() else []
    return pointer, folders, model_store.default_model_path()


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_never_overwrites_it(keys):
    assert stat.S_IMODE((keys / "pneumoscan.key").stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in (keys / "pneumoscan.pub").read_bytes()
    before = (keys / "pneumoscan.key").read_bytes()
    again = run(edge_export, "keygen", "--out", keys)
    assert again.exit_code == 1 and "already exists" in again.output
    assert (keys / "pneumoscan.key").read_bytes() == before


def test_package_holds_model_metadata_card_and_a_signed_manifest(keys, tmp_path):
    model = variant_model(tmp_path / "m")
    pnsm = package(model, keys, tmp_path / "m.pnsm")
    with zipfile.ZipFile(pnsm) as archive:
        assert set(archive.namelist()) == {
            "model.tflite",
            "metadata.json",
            "MODEL_CARD.md",
            "manifest.json",
            "manifest.sig",
        }
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("model.tflite") == model.read_bytes()
    assert manifest["files"]["model.tflite"]["sha256"] == model_store.sha256_hex(model.read_bytes())
    assert not list(tmp_path.glob(".m*"))  # no temporary file left beside the package


def test_packaging_refuses_a_model_without_metadata_or_card(keys, tmp_path):
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(b"not a model")
    refused = run(
        edge_export, "model-package", "--model", bare, "--key", keys / "pneumoscan.key", "--out", tmp_path / "x"
    )
    assert refused.exit_code == 1 and "bare.tflite" in refused.output
    no_card = tmp_path / "nocard" / "m.tflite"
    no_card.parent.mkdir()
    shutil.copyfile(SHIPPED, no_card)
    refused = run(
        edge_export, "model-package", "--model", no_card, "--key", keys / "pneumoscan.key", "--out", tmp_path / "y"
    )
    assert refused.exit_code == 1 and "model card" in refused.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_install_scan_list_and_rollback(device, keys, tmp_path):
    model = variant_model(tmp_path / "v2", model_version="v2-test")
    installed = run(edge_scan, "model", "install", package(model, keys, tmp_path / "v2.pnsm"))
    assert installed.exit_code == 0, installed.output
    assert "Self-test: passed" in installed.output
    new_sha = model_store.sha256_hex(model.read_bytes())
    assert model_store.load_model().sha256 == new_sha
    scanned = run(edge_scan, "scan", GOOD_IMAGES[0], "--format", "json", "--no-history")
    assert json.loads(scanned.stdout)["model_sha256"] == new_sha
    listed = run(edge_scan, "model", "list").output
    assert f"* active    {new_sha[:16]}  v2-test" in listed and "previous  built-in" in listed

    rolled = run(edge_scan, "model", "rollback")
    assert rolled.exit_code == 0 and "built-in" in rolled.output
    assert model_store.default_model_path() == SHIPPED
    assert (device / "models" / new_sha[:16] / "pneumoscan.tflite").is_file()  # kept for a later reinstall
    nothing_left = run(edge_scan, "model", "rollback")
    assert nothing_left.exit_code == 1 and "Nothing to roll back to" in nothing_left.output


def test_a_second_update_rolls_back_to_the_first(device, keys, tmp_path):
    first = variant_model(tmp_path / "a", model_version="first")
    second = variant_model(tmp_path / "b", model_version="second")
    for model in (first, second):
        assert run(edge_scan, "model", "install", package(model, keys, model.with_suffix(".pnsm"))).exit_code == 0
    assert model_store.load_model().version == "second"
    assert run(edge_scan, "model", "rollback").exit_code == 0
    assert model_store.load_model().version == "first"


def _flip_one_byte(good: Path, out: Path) -> Path:
    data = bytearray(good.read_bytes())
    data[len(data) // 3] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def _other_key_signature(good: Path, out: Path, tmp_path: Path) -> Path:
    """Same manifest (claiming the trusted key id), signature made with another key."""
    other = tmp_path / "other"
    run(edge_export, "keygen", "--out", other)
    with zipfile.ZipFile(good) as archive:
        manifest = archive.read("manifest.json")
    signature = load_private_key(other / "pneumoscan.key").sign(manifest)
    return rezip(good, out, manifest_sig=model_package.encode_signature(signature))


def _swapped_model(good: Path, out: Path) -> Path:
    """The signed manifest and signature kept, the model inside replaced by another (the shipped) model."""
    return rezip(good, out, model_tflite=SHIPPED.read_bytes())


REFUSALS = {
    "one flipped byte in the file": ("damaged", lambda good, out, tmp: _flip_one_byte(good, out)),
    "model replaced, manifest kept": ("tampered", lambda good, out, tmp: _swapped_model(good, out)),
    "signature removed": ("unsigned", lambda good, out, tmp: rezip(good, out, manifest_sig=None)),
    "signed with another key": ("bad_signature", lambda good, out, tmp: _other_key_signature(good, out, tmp)),
    "extra file added": ("tampered", lambda good, out, tmp: rezip(good, out, **{"run_sh": b"rm -rf /"})),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_changed_packages_are_refused_and_the_active_model_stays(case, device, keys, tmp_path):
    first = variant_model(tmp_path / "first", model_version="first")
    assert run(edge_scan, "model", "install", package(first, keys, tmp_path / "first.pnsm")).exit_code == 0
    good = package(variant_model(tmp_path / "next", model_version="next"), keys, tmp_path / "next.pnsm")
    reason, make = REFUSALS[case]
    bad = make(good, tmp_path / "bad.pnsm", tmp_path)
    before = device_state(device)
    refused = run(edge_scan, "model", "install", bad)
    assert refused.exit_code == 1
    assert f"Model NOT installed ({reason})" in refused.output and "active model has not changed" in refused.output
    assert device_state(device) == before
    assert model_store.load_model().version == "first"


def test_a_package_from_an_untrusted_key_is_refused(device, tmp_path):
    stranger = tmp_path / "stranger"
    run(edge_export, "keygen", "--out", stranger)
    before = device_state(device)
    refused = run(edge_scan, "model", "install", package(variant_model(tmp_path / "m"), stranger, tmp_path / "s.pnsm"))
    assert refused.exit_code == 1 and "(unknown_key)" in refused.output and "does not trust" in refused.output
    assert device_state(device) == before


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"input.preprocessing_version": 2}, "incompatible", "preprocessing"),
        ({"labels": ["PNEUMONIA", "NORMAL"]}, "incompatible", "labels"),
        ({"input.size": 224}, "incompatible", "input size"),
        (
            {"reference_outputs.inputs": [{"seed": "pneumoscan-0", "percent": 100, "output": [99]}]},
            "selftest_failed",
            "same numbers as the model's build",
        ),
    ],
)
def test_incompatible_or_failing_models_are_refused(changes, reason, words, device, keys, tmp_path):
    before = device_state(device)
    refused = run(
        edge_scan, "model", "install", package(variant_model(tmp_path / "m", **changes), keys, tmp_path / "m.pnsm")
    )
    assert refused.exit_code == 1 and f"({reason})" in refused.output and words in refused.output
    assert device_state(device) == before
    assert not [p for p in (device / "models").iterdir() if p.name.startswith(".")]  # staging cleaned up


def test_untrusting_a_rotated_key_refuses_its_packages(device, keys, tmp_path):
    identifier = run(edge_scan, "model", "trust", keys / "pneumoscan.pub").output.split()[-1]
    assert identifier in run(edge_scan, "model", "keys").output
    assert run(edge_scan, "model", "untrust", identifier).exit_code == 0
    refused = run(edge_scan, "model", "install", package(variant_model(tmp_path / "m"), keys, tmp_path / "m.pnsm"))
    assert "(unknown_key)" in refused.output
    project = run(edge_scan, "model", "keys").output.split()[0]
    assert "project key" in run(edge_scan, "model", "untrust", project).output


def test_the_project_public_key_ships_and_is_trusted_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    listed = run(edge_scan, "model", "keys")
    assert listed.exit_code == 0 and "project key" in listed.output and len(listed.output.split()[0]) == 16


def test_a_damaged_active_pointer_stops_scans_with_a_way_out(device):
    (device / "models").mkdir(exist_ok=True)
    (device / "models" / "active.json").write_text("{not json")
    scanned = run(edge_scan, "scan", GOOD_IMAGES[0], "--no-history")
    assert scanned.exit_code == 2 and "active model is damaged" in scanned.output
    (device / "models" / "active.json").write_text(json.dumps({"active": "0123456789abcdef", "previous": []}))
    with pytest.raises(model_store.ModelError, match="rollback"):
        model_store.load_model()
    assert active_model.read_state().active == "0123456789abcdef"


def test_reinstalling_a_rolled_back_package_makes_it_active_again(device, keys, tmp_path):
    pnsm = package(variant_model(tmp_path / "v2", model_version="v2"), keys, tmp_path / "v2.pnsm")
    assert run(edge_scan, "model", "install", pnsm).exit_code == 0
    folder = next(p for p in (device / "models").iterdir() if p.is_dir())
    before = folder.stat().st_ino
    assert run(edge_scan, "model", "rollback").exit_code == 0
    assert run(edge_scan, "model", "install", pnsm).exit_code == 0
    assert model_store.load_model().version == "v2"
    assert folder.stat().st_ino == before  # the intact installed copy was kept, not replaced


def test_a_damaged_trusted_key_file_is_reported_not_a_traceback(device, keys, tmp_path):
    (trusted_keys_dir() / "broken.pub").write_text("not a key")
    refused = run(edge_scan, "model", "install", package(variant_model(tmp_path / "m"), keys, tmp_path / "m.pnsm"))
    assert refused.exit_code == 1 and "broken.pub" in refused.output and refused.exception.__class__ is SystemExit


def test_model_list_says_when_pneumoscan_model_overrides_the_active_model(device, monkeypatch):
    monkeypatch.setenv(model_store.MODEL_ENV, str(SHIPPED))
    listed = run(edge_scan, "model", "list")
    assert listed.exit_code == 0 and f"because {model_store.MODEL_ENV} is set" in listed.output


def test_switching_models_says_when_the_site_calibration_no_longer_applies(device, keys, tmp_path):
    from edge_app.site.site_profile import save_profile

    builtin_sha = model_store.sha256_hex(SHIPPED.read_bytes())
    save_profile(replace(consistent_profile(builtin_sha, 0.2), created_at="2026-11-01T00:00:00"))
    installed = run(
        edge_scan,
        "model",
        "install",
        package(variant_model(tmp_path / "v2", model_version="v2"), keys, tmp_path / "v2.pnsm"),
    )
    assert installed.exit_code == 0 and "site calibration was made for another model" in installed.output
    rolled = run(edge_scan, "model", "rollback")
    assert rolled.exit_code == 0 and "site calibration" not in rolled.output  # calibrated for the built-in model
