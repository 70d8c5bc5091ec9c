"""The model that ships inside edge-scan passes its own field check on this device."""

from __future__ import annotations

from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference import model_store


def test_the_shipped_model_passes_selftest_on_the_bundled_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(model_store.MODEL_ENV, raising=False)
    result = CliRunner().invoke(main, ["selftest"])
    assert result.exit_code == 0, result.output
    assert "Self-test passed" in result.output and "[FAIL]" not in result.output
