"""The chest X-ray gate that ships in edge_app/models: refuses non-X-rays, rights turned or mirrored X-rays.

TensorFlow-free: the shipped int8 gate runs in LiteRT, on committed fixture X-rays and on
images generated here.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from edge_app import package_data, reasons
from edge_app.inference import gate
from edge_app.inference.model_store import ModelError, load_gate, sidecar_path
from edge_app.intake.preprocess import decode_image, to_model_input
from edge_app.reasons import ImageRejected
from tests.conftest import FIXTURE_DATA

FIXTURE_XRAYS = sorted(FIXTURE_DATA.rglob("*.jpeg"))


@pytest.fixture(scope="module")
def shipped_gate() -> gate.Gate:
    return load_gate()


def _png(image: Image.Image, path) -> Image.Image:
    image.save(path)
    return decode_image(path)


def _non_xrays(rng: np.random.Generator) -> dict[str, Image.Image]:
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    shapes = Image.new("L", (400, 300), 200)
    draw = ImageDraw.Draw(shapes)
    draw.ellipse((40, 30, 200, 250), fill=30)
    draw.rectangle((220, 60, 380, 200), fill=120)
    draw.text((20, 260), "Clinic register, page 4", fill=0)
    return {
        "noise": Image.fromarray(rng.integers(0, 256, (300, 400), dtype=np.uint8)),
        "gradient": Image.fromarray((xx / 400 * 255).astype(np.uint8)),
        "rings": Image.fromarray((127 + 120 * np.sin(np.hypot(xx - 200, yy - 150) / 6)).astype(np.uint8)),
        "shapes": shapes,
    }


def test_the_shipped_gate_is_verified_and_carries_its_thresholds(shipped_gate):
    assert sidecar_path(package_data.GATE_MODEL).is_file()
    assert shipped_gate.classifier.input_dtype == "int8" and shipped_gate.classifier.input_size == gate.GATE_INPUT_SIZE
    assert shipped_gate.metadata["classes"] == list(gate.CLASS_NAMES)
    assert 0 < shipped_gate.xray_threshold < 1 and 0.5 < shipped_gate.correction_confidence <= 1


def test_a_damaged_gate_is_refused(tmp_path):
    copy = tmp_path / "gate.tflite"
    content = bytearray(package_data.GATE_MODEL.read_bytes())
    content[len(content) // 2] ^= 0xFF
    copy.write_bytes(bytes(content))
    sidecar_path(copy).write_text(sidecar_path(package_data.GATE_MODEL).read_text())
    with pytest.raises(ModelError, match="does not match"):
        load_gate(copy)


@pytest.mark.parametrize("kind", ["noise", "gradient", "rings", "shapes"])
def test_synthetic_non_xrays_are_refused(shipped_gate, kind, tmp_path):
    image = _png(_non_xrays(np.random.default_rng(3))[kind], tmp_path / f"{kind}.png")
    with pytest.raises(ImageRejected) as refused:
        shipped_gate.check(image)
    assert refused.value.reason == reasons.NOT_A_CHEST_XRAY


def test_upright_fixture_xrays_pass_unchanged(shipped_gate):
    corrections = [shipped_gate.check(decode_image(path)) for path in FIXTURE_XRAYS]
    assert all(not c.needed for c in corrections)


@pytest.mark.parametrize(("turns", "inverted"), [(1, False), (2, False), (3, False), (0, True), (2, True)])
def test_a_turned_or_inverted_xray_is_righted_or_refused_never_passed_as_it_is(shipped_gate, turns, inverted, tmp_path):
    righted = 0
    for path in FIXTURE_XRAYS[:12]:
        turned = Image.open(path).convert("L").rotate(90 * turns, expand=True)
        image = _png(ImageOps.invert(turned) if inverted else turned, tmp_path / "turned.png")
        try:
            correction = shipped_gate.check(image)
        except ImageRejected as refused:
            assert refused.reason in (reasons.WRONG_ORIENTATION, reasons.INVERTED_IMAGE)
            continue
        assert (correction.quarter_turns, correction.inverted, correction.mirrored) == (turns, inverted, False)
        righted += 1
    assert righted >= 10, "nearly every clearly turned fixture X-ray is righted, not refused"


@pytest.mark.parametrize("turns", [0, 1])
def test_a_mirrored_xray_is_mirrored_back_or_scanned_as_it_is_never_turned_wrongly(shipped_gate, turns, tmp_path):
    mirrored_back = 0
    for path in FIXTURE_XRAYS[:12]:
        mirrored = ImageOps.mirror(Image.open(path).convert("L")).rotate(90 * turns, expand=True)
        correction = shipped_gate.check(_png(mirrored, tmp_path / "mirrored.png"))
        assert (correction.quarter_turns, correction.inverted) == (turns, False)
        mirrored_back += correction.mirrored
    assert mirrored_back >= 10, "nearly every mirrored fixture X-ray is mirrored back"


@pytest.mark.parametrize("mirrored", [False, True])
def test_a_correction_restores_the_upright_model_input(mirrored):
    upright = to_model_input(decode_image(FIXTURE_XRAYS[0]), 64)
    found = upright[:, ::-1] if mirrored else upright
    for turns in range(4):
        for inverted in (False, True):
            turned = np.rot90(found, turns, axes=(0, 1)) * (-1.0 if inverted else 1.0)
            np.testing.assert_array_equal(gate.Correction(turns, inverted, mirrored).apply(turned), upright)


def test_correction_codes_and_sentences():
    assert gate.Correction().code is None and not gate.Correction().needed
    assert gate.Correction(1, False).code == "rotate_cw_90"
    assert gate.Correction(2, True).code == "rotate_180+invert"
    assert gate.Correction(3, False).code == "rotate_ccw_90"
    assert gate.Correction(0, False, mirrored=True).code == "mirror"
    assert gate.Correction(1, True, mirrored=True).code == "rotate_cw_90+invert+mirror"
    assert "upside down" in gate.Correction(2, False).sentence
    assert "inverted" in gate.Correction(0, True).sentence
    assert "mirrored (left and right swapped)" in gate.Correction(0, False, mirrored=True).sentence


@pytest.mark.parametrize(
    ("probabilities", "outcome"),
    [
        ([0.6, 0.4] + [0] * 15, reasons.NOT_A_CHEST_XRAY),
        ([0.0, 0.97, 0.01, 0.01, 0.01] + [0] * 12, (0, False, False)),
        ([0.1, 0.0, 0.0, 0.9, 0.0] + [0] * 12, (2, False, False)),  # sure once the not-X-ray share is set aside
        ([0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.95, 0.05, 0] + [0] * 8, (1, True, False)),
        ([0.0, 0.5, 0.0, 0.5, 0.0] + [0] * 12, reasons.WRONG_ORIENTATION),
        ([0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.5, 0.0] + [0] * 8, reasons.INVERTED_IMAGE),
        ([0.0] + [0] * 8 + [0.95, 0.05] + [0] * 6, (0, False, True)),
        ([0.0, 0.5] + [0] * 7 + [0.5] + [0] * 7, (0, False, False)),  # upright for sure, mirrored unsure: as it is
        ([0.0, 0.5] + [0] * 8 + [0.5] + [0] * 6, reasons.WRONG_ORIENTATION),  # the mirror cannot make a turn surer
    ],
)
def test_decisions_follow_the_thresholds(shipped_gate, probabilities, outcome):
    decider = gate.Gate(shipped_gate.classifier, {"xray_threshold": 0.5, "correction_confidence": 0.9})
    if isinstance(outcome, str):
        with pytest.raises(ImageRejected) as refused:
            decider.decide(np.array(probabilities))
        assert refused.value.reason == outcome
    else:
        found = decider.decide(np.array(probabilities))
        assert (found.quarter_turns, found.inverted, found.mirrored) == outcome


# --- in the scan path ---


@pytest.fixture(scope="module")
def scan_model(tiny_int8_model, tmp_path_factory):
    from edge_app.inference.model_store import load_model
    from tests.device.test_scan import with_checksum

    return load_model(with_checksum(tiny_int8_model, tmp_path_factory.mktemp("model")))


def test_a_sideways_xray_is_scanned_upright_and_the_correction_is_recorded(scan_model, tmp_path):
    from edge_app.scan.scanner import OK, scan_file
    from edge_app.storage import history

    upright = scan_file(FIXTURE_XRAYS[0], scan_model)
    Image.open(FIXTURE_XRAYS[0]).rotate(90, expand=True).save(tmp_path / "sideways.png")
    sideways = scan_file(tmp_path / "sideways.png", scan_model)
    assert (upright.status, upright.correction, upright.message) == (OK, None, None)
    assert (sideways.status, sideways.correction) == (OK, "rotate_cw_90")
    assert "turned on its side" in sideways.message
    assert sideways.probability == pytest.approx(upright.probability, abs=0.02)  # the model saw it upright
    db = history.connect(tmp_path / "h.sqlite3")
    history.record(db, sideways)
    assert history.query(db)[0]["correction"] == "rotate_cw_90"


def test_a_mirrored_xray_is_scanned_mirrored_back_and_the_correction_is_recorded(scan_model, tmp_path):
    from edge_app.scan.scanner import OK, scan_file
    from edge_app.storage import history

    mirrored_path = tmp_path / "mirrored.png"
    for path in FIXTURE_XRAYS:  # the first one the gate is sure is mirrored
        ImageOps.mirror(Image.open(path).convert("L")).save(mirrored_path)
        if scan_model.gate.check(decode_image(mirrored_path)).mirrored:
            break
    upright, mirrored = scan_file(path, scan_model), scan_file(mirrored_path, scan_model)
    assert (mirrored.status, mirrored.correction) == (OK, "mirror")
    assert "mirrored (left and right swapped)" in mirrored.message
    assert mirrored.probability == pytest.approx(upright.probability, abs=0.02)  # the model saw it the right way
    db = history.connect(tmp_path / "h.sqlite3")
    history.record(db, mirrored)
    assert history.query(db)[0]["correction"] == "mirror"


def test_a_non_xray_gets_the_gate_reason_and_no_verdict(scan_model, tmp_path):
    from edge_app.scan.scanner import REJECTED, scan_file

    _non_xrays(np.random.default_rng(4))["rings"].save(tmp_path / "rings.png")
    result = scan_file(tmp_path / "rings.png", scan_model)
    assert (result.status, result.reason, result.label, result.probability) == (
        REJECTED,
        reasons.NOT_A_CHEST_XRAY,
        None,
        None,
    )
    assert "not look like a frontal chest X-ray" in result.message


def test_info_names_the_gate_and_its_reasons(scan_model):
    from edge_app.outputs.info import describe, format_description

    description = describe(scan_model)
    assert description["gate_sha256"] == scan_model.gate.sha256
    assert set(reasons.GATE_REASONS) <= set(description["rejection_reasons"])
    assert scan_model.gate.sha256 in format_description(description)


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("inverted", [False, True])
@pytest.mark.parametrize("mirrored", [False, True])
def test_a_recorded_correction_code_reads_back_as_the_same_correction(turns, inverted, mirrored):
    correction = gate.Correction(quarter_turns=turns, inverted=inverted, mirrored=mirrored)
    assert gate.Correction.from_code(correction.code) == correction
