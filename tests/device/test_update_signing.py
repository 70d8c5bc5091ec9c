"""Signing keys a device must never trust, and signatures it must never accept.

A key of small order lets anyone "sign" a package without a private key, so the
forged packages here are made exactly that way: no private key anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID

from edge_app.cli.main import main as edge_scan
from edge_app.files import sha256_hex
from edge_app.inference import model_store
from edge_app.storage.model_changes import read_changes
from edge_app.updates import ed25519_points, model_package, release_order
from edge_app.updates.model_install import trusted_keys_dir
from edge_app.updates.signing import (
    MAX_KEY_FILE_BYTES,
    KeyFileError,
    key_id,
    load_public_key,
    public_key_pem,
    signature_valid,
)
from quantize.signed_package import load_private_key, package_files
from tests.device import test_model_packages as packages
from tests.device.test_model_packages import device_state, run, variant_model

keys, device = packages.keys, packages.device  # a device that trusts a freshly made release key


@pytest.fixture(autouse=True)
def clock_in_mid_2027(monkeypatch):
    """The ordering tests date their models up to April 2027: the device clock is after them all."""
    monkeypatch.setattr(release_order, "device_clock", lambda: datetime(2027, 6, 1, tzinfo=UTC))


P = 2**255 - 19
SMALL_ORDER_POINTS = {
    # The eight points of order 1, 2, 4 and 8, canonically encoded (libsodium's blocklist, RFC 8032 section 5.1.3).
    "identity (order 1)": "0100000000000000000000000000000000000000000000000000000000000000",
    "order 2 (y = p - 1)": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "order 4 (y = 0)": "0000000000000000000000000000000000000000000000000000000000000000",
    "order 4 (y = 0, x odd)": "0000000000000000000000000000000000000000000000000000000000000080",
    "order 8 (a)": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "order 8 (a, x odd)": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "order 8 (b)": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "order 8 (b, x odd)": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
}
NON_CANONICAL = {
    "identity with the sign bit set": "0100000000000000000000000000000000000000000000000000000000000080",
    "order 2 with the sign bit set": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "y = p (order 4 again)": "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "y = p + 1 (the identity again)": "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "y = p with the sign bit set": "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "y = p + 1 with the sign bit set": "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "y = 2^255 - 1": "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}
UNSUPPORTED_CURVE_KEY = (  # an EC key on WTLS curve 1, which OpenSSL cannot load as a public key
    b"-----BEGIN PUBLIC KEY-----\n"
    b"MDQwEAYHKoZIzj0CAQYFZysBBAEDIAAEAMdA5NZ+hOkISgDp9iR/AL+NDEprhVzw\nIHmmVouu\n"
    b"-----END PUBLIC KEY-----\n"
)


def _encode(point: tuple[int, int, int, int]) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, -1, P)
    x, y = x * inverse % P, y * inverse % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _mixed_order_key() -> bytes:
    """A real public key plus a point of order 8: on the curve, canonical, but not of prime order."""
    real = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = real.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    torsion = ed25519_points.decode_point(bytes.fromhex(SMALL_ORDER_POINTS["order 8 (a)"]))
    return _encode(ed25519_points._add(ed25519_points.decode_point(raw), torsion))


def _not_on_curve() -> bytes:
    for y in range(2, 100):
        try:
            ed25519_points.decode_point(y.to_bytes(32, "little"))
        except ed25519_points.WeakKey:
            return y.to_bytes(32, "little")
    raise AssertionError("every small y is on the curve")


WEAK_KEYS = {
    **{name: bytes.fromhex(value) for name, value in {**SMALL_ORDER_POINTS, **NON_CANONICAL}.items()},
    "mixed order (real key + order-8 point)": _mixed_order_key(),
    "not a point on the curve": _not_on_curve(),
}


def weak_key_pem(raw: bytes) -> bytes:
    return public_key_pem(ed25519.Ed25519PublicKey.from_public_bytes(raw))


def forged_package(raw_key: bytes, model: Path, out: Path) -> Path:
    """A package "signed" by `raw_key` with no private key: R a small-order point and S = 0, the manifest's
    date varied until OpenSSL accepts it (at once for the identity, one try in eight for the others)."""
    public = ed25519.Ed25519PublicKey.from_public_bytes(raw_key)
    files = package_files(model, None)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for attempt in range(400):
        created = (start + timedelta(seconds=attempt)).isoformat()
        manifest = model_package.build_manifest(files, sha256_hex(raw_key)[:16], created)
        for r in SMALL_ORDER_POINTS.values():
            signature = bytes.fromhex(r) + bytes(32)
            try:
                public.verify(signature, manifest)
            except InvalidSignature:
                continue
            members = {**files, "manifest.json": manifest, "manifest.sig": model_package.encode_signature(signature)}
            with zipfile.ZipFile(out, "w") as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
            return out
    raise AssertionError("no forgery found")


@pytest.mark.parametrize("name", list(WEAK_KEYS))
def test_weak_and_non_canonical_keys_are_never_trusted(name, device, tmp_path):
    key_file = tmp_path / "weak.pub"
    key_file.write_bytes(weak_key_pem(WEAK_KEYS[name]))
    before = sorted(p.name for p in trusted_keys_dir().iterdir())
    refused = run(edge_scan, "model", "trust", key_file)
    assert refused.exit_code == 1 and "cannot be trusted" in refused.output, refused.output
    assert isinstance(refused.exception, SystemExit)
    assert sorted(p.name for p in trusted_keys_dir().iterdir()) == before


@pytest.mark.parametrize("name", list(SMALL_ORDER_POINTS))
def test_a_package_forged_with_a_small_order_key_already_in_the_trusted_folder_is_refused(name, device, tmp_path):
    raw = bytes.fromhex(SMALL_ORDER_POINTS[name])
    (trusted_keys_dir() / f"{sha256_hex(raw)[:16]}.pub").write_bytes(weak_key_pem(raw))
    forged = forged_package(raw, variant_model(tmp_path / "m", model_version="forged"), tmp_path / "forged.pnsm")
    before = device_state(device)
    refused = run(edge_scan, "model", "install", forged)
    assert refused.exit_code == 1 and "Signature: valid" not in refused.output
    assert "cannot be trusted" in refused.output and "small order" in refused.output
    assert device_state(device) == before


def test_signature_checks_refuse_a_weak_key_object_and_a_non_canonical_s(keys):
    identity = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(SMALL_ORDER_POINTS["identity (order 1)"]))
    assert not signature_valid(identity, bytes.fromhex(SMALL_ORDER_POINTS["identity (order 1)"]) + bytes(32), b"x")
    private = load_private_key(keys / "pneumoscan.key")
    signature = private.sign(b"manifest")
    assert signature_valid(private.public_key(), signature, b"manifest")
    s_plus_l = int.from_bytes(signature[32:], "little") + ed25519_points.L
    assert not signature_valid(private.public_key(), signature[:32] + s_plus_l.to_bytes(32, "little"), b"manifest")
    assert not signature_valid(private.public_key(), signature[:63], b"manifest")


def _pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _certificate() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "site")])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
    return builder.sign(key, None).public_bytes(serialization.Encoding.PEM)


def _private_pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


KEY_FILES = {
    "EC key on an unsupported curve": lambda: UNSUPPORTED_CURVE_KEY,
    "EC key on secp256k1": lambda: _pem(ec.generate_private_key(ec.SECP256K1())),
    "RSA key": lambda: _pem(rsa.generate_private_key(65537, 2048)),
    "DSA key": lambda: _pem(dsa.generate_private_key(1024)),
    "Ed448 key": lambda: _pem(ed448.Ed448PrivateKey.generate()),
    "X25519 key": lambda: _pem(x25519.X25519PrivateKey.generate()),
    "Ed25519 private key": _private_pem,
    "certificate": _certificate,
    "garbage PEM": lambda: b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
    "empty file": lambda: b"",
    "binary junk": lambda: os.urandom(4096),
    "1 MB file": lambda: b"A" * 2**20,
    "DER instead of PEM": lambda: (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ),
}


@pytest.fixture
def no_hang():
    """Turn a read that never returns into a test failure instead of a stuck suite."""

    def hung(*_):
        raise TimeoutError("the command hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", list(KEY_FILES))
def test_trusting_a_file_that_is_not_an_ed25519_public_key_ends_with_a_reason(name, device, tmp_path, no_hang):
    key_file = tmp_path / "site.pub"
    key_file.write_bytes(KEY_FILES[name]())
    before = sorted(p.name for p in trusted_keys_dir().iterdir())
    refused = run(edge_scan, "model", "trust", key_file)
    too_large = len(key_file.read_bytes()) > MAX_KEY_FILE_BYTES  # cannot be read at all, like a missing file: exit 2
    assert refused.exit_code == (2 if too_large else 1) and isinstance(refused.exception, SystemExit), refused.output
    assert str(key_file) in refused.output
    assert sorted(p.name for p in trusted_keys_dir().iterdir()) == before


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "key.pub")
    return folder / "key.pub"


def _socket(folder: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "key.pub"))
    return folder / "key.pub"


@pytest.mark.parametrize("make", [_fifo, _socket, lambda folder: Path("/dev/zero")], ids=["fifo", "socket", "device"])
@pytest.mark.parametrize("command", ["trust", "install"])
def test_a_pipe_socket_or_device_is_refused_without_hanging(make, command, device, tmp_path, no_hang):
    before = device_state(device)
    refused = run(edge_scan, "model", command, make(tmp_path))
    assert refused.exit_code == 2 and "it was not read" in refused.output, refused.output
    assert device_state(device) == before


def test_a_folder_or_a_missing_file_is_refused_as_a_key_or_a_package(device, tmp_path):
    for command in ("trust", "install"):
        refused = run(edge_scan, "model", command, tmp_path)
        assert refused.exit_code == 2 and "This is a folder" in refused.output, refused.output
        missing = run(edge_scan, "model", command, tmp_path / "nothing.pnsm")
        assert missing.exit_code == 2 and "There is no such file" in missing.output, missing.output


def test_weak_key_errors_name_the_file(tmp_path):
    key_file = tmp_path / "identity.pub"
    key_file.write_bytes(weak_key_pem(bytes.fromhex(SMALL_ORDER_POINTS["identity (order 1)"])))
    with pytest.raises(KeyFileError, match="identity.pub.*small order"):
        load_public_key(key_file)


def _install(pnsm: Path, *options: str):
    return run(edge_scan, "model", "install", pnsm, *options)


def _built(tmp_path: Path, keys: Path, name: str, created: str | None, **changes) -> Path:
    changes = changes if created is None else {**changes, "created": created}
    return packages.package(
        variant_model(tmp_path / name, model_version=name, **changes), keys, tmp_path / f"{name}.pnsm"
    )


def _logged(event: str) -> list[dict]:
    return [change for change in read_changes() if change["event"] == event]


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        ("2027-03-01T00:00:00+00:00", "2027-02-01T00:00:00+00:00"),
        ("2027-03-01T00:00:00+00:00", "2027-02-28T23:59:59+00:00"),
        ("2027-03-01T00:00:00+00:00", "2027-03-01T04:00:00+05:00"),  # an hour earlier, written in another zone
        ("2027-03-01T00:00:00", "2026-12-31T00:00:00"),  # no zone: read as UTC
    ],
)
def test_an_older_signed_package_is_refused_after_a_newer_one(newer, older, device, keys, tmp_path):
    assert _install(_built(tmp_path, keys, "new", newer)).exit_code == 0
    old = _built(tmp_path, keys, "old", older)
    before = device_state(device)
    refused = _install(old)
    assert refused.exit_code == 1 and "(downgrade)" in refused.output and "--allow-downgrade" in refused.output
    assert device_state(device) == before and model_store.load_model().version == "new"
    assert not _logged("downgrade")


def test_an_allowed_downgrade_installs_and_is_logged(device, keys, tmp_path):
    assert _install(_built(tmp_path, keys, "new", "2027-03-01T00:00:00+00:00")).exit_code == 0
    allowed = _install(_built(tmp_path, keys, "old", "2027-01-01T00:00:00+00:00"), "--allow-downgrade")
    assert allowed.exit_code == 0 and "OLDER" in allowed.output
    assert model_store.load_model().version == "old"
    [downgrade] = _logged("downgrade")
    assert downgrade["previous"] == _logged("install")[0]["model"] and downgrade["model"] in allowed.output
    assert "downgrade" in run(edge_scan, "model", "changes").output


def test_a_package_older_than_the_built_in_model_is_refused(device, keys, tmp_path):
    refused = _install(_built(tmp_path, keys, "ancient", "2020-01-01T00:00:00+00:00"))
    assert refused.exit_code == 1 and "(downgrade)" in refused.output


def test_an_old_model_signed_again_today_is_still_older(device, keys, tmp_path):
    assert _install(_built(tmp_path, keys, "new", "2027-03-01T00:00:00+00:00")).exit_code == 0
    old_model = variant_model(tmp_path / "old", model_version="old", created="2027-01-01T00:00:00+00:00")
    resigned = packages.package(old_model, keys, tmp_path / "resigned.pnsm")  # a fresh created_at in the manifest
    assert "(downgrade)" in _install(resigned).output


@pytest.mark.parametrize("created", [None, "yesterday", 20270301, ""], ids=repr)
def test_a_model_without_a_readable_creation_date_is_refused(created, device, keys, tmp_path):
    model = variant_model(tmp_path / "m", model_version="undated", created=created)
    refused = _install(packages.package(model, keys, tmp_path / "m.pnsm"))
    assert refused.exit_code == 1 and "(incompatible)" in refused.output and "creation date" in refused.output


def test_installing_the_active_package_again_changes_nothing(device, keys, tmp_path):
    pnsm = _built(tmp_path, keys, "v2", "2027-03-01T00:00:00+00:00")
    assert _install(pnsm).exit_code == 0
    before, logged = device_state(device), read_changes()
    again = _install(pnsm)
    assert again.exit_code == 0 and "Nothing changed" in again.output and "Self-test" not in again.output
    assert device_state(device) == before and read_changes() == logged


def test_rollback_is_logged(device, keys, tmp_path):
    assert _install(_built(tmp_path, keys, "v2", None)).exit_code == 0
    assert run(edge_scan, "model", "rollback").exit_code == 0
    assert [change["model"] for change in _logged("rollback")] == ["built-in"]


def test_revoking_a_key_refuses_its_packages_and_stops_using_its_model(device, keys, tmp_path):
    first = _built(tmp_path, keys, "first", "2027-01-01T00:00:00+00:00")
    assert _install(first).exit_code == 0
    assert _install(_built(tmp_path, keys, "second", "2027-02-01T00:00:00+00:00")).exit_code == 0
    signer = key_id(load_private_key(keys / "pneumoscan.key").public_key())
    revoked = run(edge_scan, "model", "revoke", signer)
    assert revoked.exit_code == 0 and "Active model: built-in" in revoked.output  # both its models are dropped
    assert model_store.default_model_path() == packages.SHIPPED
    assert "Nothing to roll back to" in run(edge_scan, "model", "rollback").output
    refused = _install(_built(tmp_path, keys, "third", "2027-03-01T00:00:00+00:00"))
    assert refused.exit_code == 1 and "(revoked_key)" in refused.output
    again = run(edge_scan, "model", "trust", keys / "pneumoscan.pub")
    assert again.exit_code == 1 and "revoked" in again.output
    (trusted_keys_dir() / f"{signer}.pub").write_bytes((keys / "pneumoscan.pub").read_bytes())  # copied by hand
    assert "(revoked_key)" in _install(_built(tmp_path, keys, "fourth", "2027-04-01T00:00:00+00:00")).output
    assert [change["previous"] for change in _logged("revoke")] == [_logged("install")[1]["model"]]


def test_a_model_whose_key_was_revoked_by_hand_is_not_used(device, keys, tmp_path):
    assert _install(_built(tmp_path, keys, "v2", None)).exit_code == 0
    signer = key_id(load_private_key(keys / "pneumoscan.key").public_key())
    (device / "revoked_keys.json").write_text(json.dumps({signer: "2027-01-01T00:00:00Z"}))
    with pytest.raises(model_store.ModelError, match=f"revoked.*edge-scan model revoke {signer}"):
        model_store.load_model()
    assert run(edge_scan, "model", "revoke", signer).exit_code == 0
    assert model_store.load_model().path == packages.SHIPPED


def test_the_project_key_can_be_revoked_but_not_untrusted(device):
    project = run(edge_scan, "model", "keys").output.split()[0]
    assert run(edge_scan, "model", "untrust", project).exit_code == 1
    assert run(edge_scan, "model", "revoke", project).exit_code == 0
    listed = run(edge_scan, "model", "keys").output
    assert f"{project}  REVOKED" in listed and f"{project}  project key" not in listed


@pytest.mark.parametrize("identifier", ["../../etc/passwd", "ABCDEF0123456789", "short", ""])
def test_revoking_something_that_is_not_a_key_id_is_refused(identifier, device):
    refused = run(edge_scan, "model", "revoke", identifier)
    assert refused.exit_code == 1 and "not a key id" in refused.output


def test_a_damaged_revocation_list_stops_installs(device, keys, tmp_path):
    (device / "revoked_keys.json").write_text("{not json")
    refused = _install(_built(tmp_path, keys, "v2", None))
    assert refused.exit_code == 2 and "revoked signing keys is damaged" in refused.output


def test_a_revocation_list_that_is_a_pipe_is_refused_without_hanging(device, keys, tmp_path, no_hang):
    os.mkfifo(device / "revoked_keys.json")
    refused = _install(_built(tmp_path, keys, "v2", None))
    assert refused.exit_code == 2 and "revoked signing keys is damaged" in refused.output
