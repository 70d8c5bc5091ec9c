"""On a device install (no TensorFlow), edge-train and edge-quantize say how to install what they need."""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURE_DATA


@pytest.fixture
def no_tensorflow(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name.split(".")[0] == "tensorflow" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_edge_train_without_tensorflow_names_the_train_extra(no_tensorflow, tmp_path):
    from train.cli import main

    result = CliRunner().invoke(main, ["--data", str(FIXTURE_DATA), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert 'pip install "pneumoscan[train]"' in result.output
    assert not isinstance(result.exception, ModuleNotFoundError)
    assert not (tmp_path / "run").exists()


def test_edge_quantize_without_tensorflow_names_the_train_extra(no_tensorflow, tmp_path):
    from quantize.cli import main

    model = tmp_path / "model.keras"
    model.write_bytes(b"PK")
    result = CliRunner().invoke(
        main, ["--model", str(model), "--data", str(FIXTURE_DATA), "--out", str(tmp_path / "q")]
    )
    assert result.exit_code == 2, result.output
    assert 'pip install "pneumoscan[train]"' in result.output
