"""Model update ordering: a package older than the newest model ever installed here needs --allow-downgrade, even
after a rollback, and a package dated after the device clock is refused, so it cannot block later releases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge_app.cli.main import main as edge_scan
from edge_app.inference import model_store
from edge_app.storage.model_changes import read_changes
from edge_app.updates import release_order
from edge_app.updates.signing import key_id
from quantize.signed_package import load_private_key
from tests.device import test_model_packages as packages
from tests.device.test_model_packages import device_state, run
from tests.device.test_update_signing import _built, _install, _logged

keys, device = packages.keys, packages.device  # a device that trusts a freshly made release key
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Set the device clock: clock(moment)."""

    def set_clock(moment: datetime) -> None:
        monkeypatch.setattr(release_order, "device_clock", lambda: moment)

    set_clock(NOW)
    return set_clock


@pytest.mark.parametrize("allow", [(), ("--allow-downgrade",)], ids=["plain", "allowing a downgrade"])
def test_a_model_dated_after_the_device_clock_is_refused(allow, clock, device, keys, tmp_path):
    before = device_state(device)
    refused = _install(_built(tmp_path, keys, "ahead", "2027-06-04T00:00:00+00:00"), *allow)
    assert refused.exit_code == 1 and "(dated_in_future)" in refused.output, refused.output
    assert "2027-06-01T12:00:00+00:00" in refused.output and "set the date and time" in refused.output
    assert device_state(device) == before and not read_changes()


def test_a_model_dated_within_the_tolerance_installs_and_a_late_clock_can_catch_up(clock, device, keys, tmp_path):
    assert _install(_built(tmp_path, keys, "soon", "2027-06-03T00:00:00+00:00")).exit_code == 0  # 36 h ahead
    ahead = _built(tmp_path, keys, "ahead", "2027-06-05T00:00:00+00:00")
    assert "(dated_in_future)" in _install(ahead).output
    clock(datetime(2027, 6, 4, tzinfo=UTC))  # the clock was set right
    assert _install(ahead).exit_code == 0 and model_store.load_model().version == "ahead"


def test_a_future_dated_model_installed_before_this_check_does_not_block_later_releases(clock, device, keys, tmp_path):
    clock(datetime(2099, 1, 1, tzinfo=UTC))  # how a model dated 2099 got in: a device clock as wrong as the date
    assert _install(_built(tmp_path, keys, "2099", "2099-01-01T00:00:00+00:00")).exit_code == 0
    clock(NOW)
    genuine = _install(_built(tmp_path, keys, "genuine", "2027-05-01T00:00:00+00:00"))
    assert genuine.exit_code == 0 and "OLDER" not in genuine.output, genuine.output
    assert [change["event"] for change in read_changes()] == ["install", "install"]


def test_after_a_rollback_a_package_older_than_the_newest_installed_needs_allow_downgrade(
    clock, device, keys, tmp_path
):
    assert _install(_built(tmp_path, keys, "january", "2027-01-01T00:00:00+00:00")).exit_code == 0
    march = _built(tmp_path, keys, "march", "2027-03-01T00:00:00+00:00")
    assert _install(march).exit_code == 0
    assert run(edge_scan, "model", "rollback").exit_code == 0 and model_store.load_model().version == "january"
    february = _built(tmp_path, keys, "february", "2027-02-01T00:00:00+00:00")
    before = device_state(device)
    refused = _install(february)
    assert refused.exit_code == 1 and "(downgrade)" in refused.output and "the newest installed" in refused.output
    march_id = _logged("install")[1]["model"]
    assert march_id in refused.output and device_state(device) == before
    allowed = _install(february, "--allow-downgrade")
    assert allowed.exit_code == 0 and "OLDER" in allowed.output and len(_logged("downgrade")) == 1
    assert _install(march).exit_code == 0 and model_store.load_model().version == "march"  # the newest again
    assert _install(_built(tmp_path, keys, "april", "2027-04-01T00:00:00+00:00")).exit_code == 0


def test_models_signed_by_a_revoked_key_do_not_hold_back_later_releases(clock, device, keys, tmp_path):
    leaked = key_id(load_private_key(keys / "pneumoscan.key").public_key())
    assert _install(_built(tmp_path, keys, "leaked", "2027-06-02T00:00:00+00:00")).exit_code == 0
    other = tmp_path / "other-keys"
    assert run(packages.edge_export, "keygen", "--out", other).exit_code == 0
    assert run(edge_scan, "model", "trust", other / "pneumoscan.pub").exit_code == 0
    assert run(edge_scan, "model", "revoke", leaked).exit_code == 0
    fixed = _install(_built(tmp_path, other, "fixed", "2027-05-30T00:00:00+00:00"))
    assert fixed.exit_code == 0 and "OLDER" not in fixed.output, fixed.output
