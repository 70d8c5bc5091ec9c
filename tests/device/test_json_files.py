"""The small JSON files the device keeps (active model, revoked keys, operators, site profile, change log): one
reader refuses every kind of damage the same way, and every command that reads one names the file and what is
wrong, exits 2 and prints no traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main as edge_scan
from edge_app.files import (
    MISSING,
    NOT_A_FILE,
    NOT_JSON,
    TOO_LARGE,
    UNREADABLE,
    WRONG_TYPE,
    JsonFileError,
    read_json_file,
    read_json_lines,
)
from edge_app.storage.paths import HOME_ENV
from tests.device import test_model_packages as packages
from tests.device.test_update_signing import no_hang as _no_hang

no_hang = _no_hang  # a read that never returns fails the test instead of stopping the suite
keys, device = packages.keys, packages.device  # a device that trusts a freshly made release key


def _text(text: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(text)


def _folder(path: Path) -> None:
    path.mkdir()


def _pipe(path: Path) -> None:
    os.mkfifo(path)


def _huge(path: Path) -> None:
    with path.open("wb") as file:  # sparse: 3 GB that take no disk space
        file.truncate(3 * 2**30)


DAMAGE = {
    "corrupt": (_text(b"{\x00garbage]"), NOT_JSON, "is not JSON"),
    "truncated": (_text(b'{"active": "0123456789abcdef", "prev'), NOT_JSON, "is not JSON"),
    "empty": (_text(b""), NOT_JSON, "is empty"),
    "only spaces": (_text(b"  \n"), NOT_JSON, "is empty"),
    "not UTF-8": (_text(b'{"a": "\xff\xfe"}'), NOT_JSON, "is not UTF-8"),
    "nested 100000 deep": (_text(b"[" * 100_000 + b"]" * 100_000), NOT_JSON, "nested too deeply"),
    "a 5000-digit number": (_text(b'{"n": ' + b"7" * 5000 + b"}"), NOT_JSON, "Exceeds the limit"),
    "an array": (_text(b'["active"]'), WRONG_TYPE, "holds an array, not an object"),
    "a number": (_text(b"42"), WRONG_TYPE, "holds a number, not an object"),
    "null": (_text(b"null"), WRONG_TYPE, "holds null, not an object"),
    "a folder": (_folder, NOT_A_FILE, "is a folder"),
    "a pipe": (_pipe, NOT_A_FILE, "is a pipe"),
    "3 GB": (_huge, TOO_LARGE, "is 3072.0 MB, more than the"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_the_reader_names_the_file_and_what_is_wrong(name, tmp_path, no_hang):
    make, kind, words = DAMAGE[name]
    path = tmp_path / "state.json"
    make(path)
    with pytest.raises(JsonFileError) as raised:
        read_json_file(path, 2**20)
    assert raised.value.kind == kind and raised.value.path == path
    assert str(raised.value).startswith(str(path)) and words in str(raised.value)


def test_the_reader_returns_the_value_of_the_type_asked_for(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"active": "built-in"}')
    assert read_json_file(path, 2**20) == {"active": "built-in"}
    path.write_text("[1, 2]")
    assert read_json_file(path, 2**20, list) == [1, 2]
    with pytest.raises(JsonFileError, match="does not exist") as raised:
        read_json_file(tmp_path / "nothing.json", 2**20)
    assert raised.value.kind == MISSING


def test_a_file_that_cannot_be_read_is_named_as_unreadable(tmp_path, monkeypatch):
    def refused(*_args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("edge_app.files.read_regular_file", refused)
    with pytest.raises(JsonFileError, match="cannot be read \\(Permission denied\\)") as raised:
        read_json_file(tmp_path / "state.json", 2**20)
    assert raised.value.kind == UNREADABLE


def test_json_lines_keep_good_lines_and_mark_damaged_ones(tmp_path, no_hang):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"event": "install"}\n{"event": "roll\n[' + b"[" * 100_000 + b"\n")
    assert read_json_lines(path, 2**20) == [{"event": "install"}, None, None]
    _huge(path)
    with pytest.raises(JsonFileError, match="more than") as raised:
        read_json_lines(path, 2**20)
    assert raised.value.kind == TOO_LARGE


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMOSCAN_MODEL", raising=False)
    (tmp_path / "home" / "models").mkdir(parents=True)
    return tmp_path / "home"


CALLER_DAMAGE = ["truncated", "an array", "a folder", "a pipe", "3 GB"]


def _refused(command: list[str], path: Path, name: str, lead: str) -> None:
    make, _, words = DAMAGE[name]
    make(path)
    result = CliRunner().invoke(edge_scan, command)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert lead in result.output and str(path) in result.output and words in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", CALLER_DAMAGE)
def test_model_list_names_a_damaged_record_of_the_active_model(name, home, no_hang):
    _refused(["model", "list"], home / "models" / "active.json", name, "The record of the active model is damaged")


@pytest.mark.parametrize("name", CALLER_DAMAGE)
def test_model_keys_names_a_damaged_list_of_revoked_keys(name, home, no_hang):
    _refused(["model", "keys"], home / "revoked_keys.json", name, "The list of revoked signing keys is damaged")


@pytest.mark.parametrize("name", CALLER_DAMAGE)
def test_operators_list_names_a_damaged_operators_file(name, home, no_hang):
    _refused(["operators", "list"], home / "operators.json", name, "The operators file cannot be read")


@pytest.mark.parametrize("name", CALLER_DAMAGE)
def test_calibrate_show_names_a_damaged_site_profile(name, home, no_hang):
    _refused(["calibrate", "--show"], home / "site_profile.json", name, "The site profile cannot be read")


@pytest.mark.parametrize("name", ["a folder", "a pipe", "3 GB"])
def test_model_changes_names_a_log_that_cannot_be_read(name, home, no_hang):
    _refused(["model", "changes"], home / "models" / "changes.jsonl", name, "The log of model changes cannot be read")


@pytest.mark.parametrize("make", [_folder, _pipe], ids=["a folder", "a pipe"])
def test_a_rollback_whose_change_cannot_be_logged_is_not_made(make, home, no_hang):
    pointer = home / "models" / "active.json"
    pointer.write_text('{"active": "built-in", "previous": ["built-in"]}')
    before = pointer.read_bytes()
    make(home / "models" / "changes.jsonl")
    result = CliRunner().invoke(edge_scan, ["model", "rollback"])
    assert result.exit_code == 2 and "The log of model changes cannot be written" in result.output, result.output
    assert "changes.jsonl" in result.output and "Traceback" not in result.output
    assert pointer.read_bytes() == before


@pytest.mark.parametrize("make", [_folder, _pipe], ids=["a folder", "a pipe"])
def test_an_install_whose_change_cannot_be_logged_is_not_made(make, device, keys, tmp_path, no_hang):
    (device / "models").mkdir()
    make(device / "models" / "changes.jsonl")
    before = packages.device_state(device)
    pnsm = packages.package(packages.variant_model(tmp_path / "v2", model_version="v2"), keys, tmp_path / "v2.pnsm")
    result = CliRunner().invoke(edge_scan, ["model", "install", str(pnsm)])
    assert result.exit_code == 2 and "The log of model changes cannot be written" in result.output, result.output
    assert packages.device_state(device) == before
