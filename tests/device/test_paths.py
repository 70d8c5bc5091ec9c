"""Where data and settings go on each operating system, with the platform mocked.

platformdirs picks the folders; these tests run it as it runs on Linux, macOS and Windows
(sys.platform set, the home folder and Windows' known folders faked), so a change of
convention shows up here even though CI runs on Linux only.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs.windows
import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.storage import paths
from edge_app.updates.model_install import trusted_keys_dir

XDG_VARIABLES = ("XDG_DATA_HOME", "XDG_CONFIG_HOME")


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """No PNEUMOSCAN_HOME, no XDG settings, and a fake home folder."""
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    for name in XDG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths.Path, "home", lambda: tmp_path / "home")
    return tmp_path


def on(monkeypatch, platform: str) -> None:
    monkeypatch.setattr(paths.sys, "platform", platform)


def test_linux_follows_xdg(machine, monkeypatch):
    on(monkeypatch, "linux")
    assert paths.data_dir() == machine / "home" / ".local" / "share" / "pneumoscan"
    assert paths.config_dir() == machine / "home" / ".config" / "pneumoscan"
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/xdg-data")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/etc/xdg-config")
    assert paths.data_dir() == Path("/srv/xdg-data/pneumoscan")
    assert paths.config_dir() == Path("/etc/xdg-config/pneumoscan")
    assert paths.history_path() == Path("/srv/xdg-data/pneumoscan") / paths.HISTORY_FILE


def test_linux_ignores_a_relative_xdg_folder_as_the_xdg_spec_says(machine, monkeypatch):
    on(monkeypatch, "linux")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert paths.data_dir() == machine / "home" / ".local" / "share" / "pneumoscan"


def test_macos_uses_application_support_for_data_and_settings(machine, monkeypatch):
    on(monkeypatch, "darwin")
    expected = machine / "home" / "Library" / "Application Support" / "pneumoscan"
    assert paths.data_dir() == expected and paths.config_dir() == expected


def test_windows_uses_local_appdata_not_the_roaming_profile(machine, monkeypatch):
    on(monkeypatch, "win32")
    known = {"CSIDL_LOCAL_APPDATA": str(machine / "Local"), "CSIDL_APPDATA": str(machine / "Roaming")}
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", known.__getitem__)
    assert paths.data_dir() == machine / "Local" / "pneumoscan"
    assert paths.config_dir() == machine / "Local" / "pneumoscan"


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_pneumoscan_home_puts_data_and_settings_in_one_folder_on_every_platform(platform, machine, monkeypatch):
    on(monkeypatch, platform)
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda name: str(machine / "unused"))
    monkeypatch.setenv(paths.HOME_ENV, str(machine / "clinic"))
    assert paths.data_dir() == paths.config_dir() == machine / "clinic"
    assert paths.history_path() == machine / "clinic" / paths.HISTORY_FILE


def test_trusted_keys_are_settings_and_history_and_models_are_data(machine, monkeypatch):
    on(monkeypatch, "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(machine / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(machine / "data"))
    assert trusted_keys_dir() == machine / "config" / "pneumoscan" / "trusted_keys"
    listed = CliRunner().invoke(main, ["model", "list"])
    assert listed.exit_code == 0 and "built-in" in listed.output
    assert not (machine / "config").exists() and not (machine / "data").exists()  # reading creates nothing
