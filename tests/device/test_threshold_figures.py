"""A model update whose threshold its own validation figures do not support is refused before anything changes."""

from __future__ import annotations

import copy

import pytest

from edge_app.cli.main import main as edge_scan
from edge_app.inference.model_metadata import read_metadata
from edge_app.updates.threshold_figures import SCORES_KEY, threshold_problems
from tests.device.test_model_packages import SHIPPED, device, device_state, keys, package, run, variant_model

__all__ = ["device", "keys"]  # pytest fixtures, imported to be used here


@pytest.fixture(scope="module")
def shipped() -> dict:
    return read_metadata(SHIPPED.read_bytes())


def recomputed(metadata: dict, threshold: float) -> dict:
    """The validation figures a forger would write to match `threshold` (the package is then self-consistent)."""
    scores = metadata[SCORES_KEY]["scores"]
    positives, negatives = scores["PNEUMONIA"], scores["NORMAL"]
    return {
        "metrics.val.threshold": threshold,
        "metrics.val.sensitivity": sum(s >= threshold for s in positives) / len(positives),
        "metrics.val.specificity": sum(s < threshold for s in negatives) / len(negatives),
    }


def test_the_shipped_threshold_recomputes_from_its_validation_scores(shipped):
    assert threshold_problems(shipped) == []
    counts = {name: len(values) for name, values in shipped[SCORES_KEY]["scores"].items()}
    assert counts == {"NORMAL": shipped["data_splits"]["val"]["NORMAL"], "PNEUMONIA": 439}
    assert shipped["schema_version"] == 2


@pytest.mark.parametrize(
    ("name", "changes", "words"),
    [
        ("threshold 0.7, figures untouched", {"threshold": 0.7}, "computed at threshold 0.03125"),
        ("threshold and figures agree, sensitivity below target", "forged 0.7", "below its target sensitivity 0.97"),
        ("stated sensitivity edited", {"metrics.val.sensitivity": 0.999}, "stated validation sensitivity 0.999"),
        ("target lowered to fit", "forged 0.7 target 0.5", None),
        ("no score distribution (older metadata)", {SCORES_KEY: None}, "older metadata"),
        ("scores that are not probabilities", {f"{SCORES_KEY}.scores.NORMAL": ["x"]}, "not probabilities"),
    ],
)
def test_an_update_whose_threshold_contradicts_its_figures_is_refused(
    name, changes, words, shipped, device, keys, tmp_path
):
    if isinstance(changes, str):  # a forger who also rewrote the figures to match the new threshold
        changes = {"threshold": 0.7, **recomputed(shipped, 0.7)}
        if name.startswith("target lowered"):
            changes["target_sensitivity"] = 0.5  # consistent and above its (lowered) target: the figures pass
    before = device_state(device)
    refused = run(
        edge_scan, "model", "install", package(variant_model(tmp_path / "m", **changes), keys, tmp_path / "m.pnsm")
    )
    if words is None:  # a self-consistent package with a lowered target is caught by the borderline samples instead
        assert refused.exit_code == 1 and "(selftest_failed)" in refused.output
        assert "person265_bacteria_1236.jpeg: NORMAL" in refused.output
    else:
        assert refused.exit_code == 2, refused.output
        assert "(threshold_inconsistent)" in refused.output and words in refused.output
        assert "Traceback" not in refused.output
    assert device_state(device) == before
    assert not (device / "models").exists() or not [p for p in (device / "models").iterdir() if p.name[0] == "."]


def test_the_figures_check_names_every_contradiction(shipped):
    forged = copy.deepcopy(shipped)
    forged["threshold"] = 0.7
    problems = threshold_problems(forged)
    assert any("computed at threshold" in p for p in problems)
    assert any("below its target sensitivity" in p for p in problems)
    assert threshold_problems([1, 2]) == ["its metadata is a JSON list, not an object"]
