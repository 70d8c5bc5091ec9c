"""An X-ray exported with wide plain bars around it (letterboxed into a square or a page) is scanned
without the bars, instead of being refused as "saturated, retake with better exposure".

Only images the quality gate would refuse as saturated are cropped: on accepted X-rays (dark side bands
are common in the training data) cutting bands changes the model's score, so they are scanned as they are.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from edge_app.inference.model_store import load_model
from edge_app.intake.adjustments import CROPPED_PADDING
from edge_app.intake.padding import checked_quality, padding_box
from edge_app.intake.quality import check_quality
from edge_app.package_data import SAMPLES_DIR
from edge_app.reasons import ImageRejected
from edge_app.scan.scanner import OK, REJECTED, scan_file

SAMPLES = sorted(SAMPLES_DIR.glob("*.jpeg"))


@pytest.fixture(scope="module")
def shipped_model():
    return load_model()


def letterboxed(jpeg, colour: int, fmt: str = "PNG", grow: tuple[float, float] = (2.2, 1.6)) -> bytes:
    xray = Image.open(jpeg).convert("L")
    canvas = Image.new("L", (int(xray.width * grow[0]), int(xray.height * grow[1])), colour)
    canvas.paste(xray, ((canvas.width - xray.width) // 2, (canvas.height - xray.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, format=fmt, quality=92)
    return buffer.getvalue()


@pytest.mark.parametrize("jpeg", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("colour, fmt", [(0, "PNG"), (255, "PNG"), (0, "JPEG")], ids=["black", "white", "black-jpeg"])
def test_a_letterboxed_xray_is_scanned_without_its_bars_and_keeps_its_verdict(
    jpeg, colour, fmt, shipped_model, tmp_path
):
    path = tmp_path / f"boxed.{fmt.lower()}"
    path.write_bytes(letterboxed(jpeg, colour, fmt))
    with pytest.raises(ImageRejected, match="Retake it with better exposure"):
        check_quality(Image.open(path))  # what the gate says of the whole canvas
    plain, boxed = scan_file(jpeg, shipped_model), scan_file(path, shipped_model)
    assert boxed.status == OK, boxed.message
    assert CROPPED_PADDING in boxed.correction.split("+")
    assert "borders" in boxed.message
    if fmt == "PNG":  # the same pixels: the same verdict and nearly the same score
        assert (boxed.label, boxed.refer) == (plain.label, plain.refer)
        assert abs(boxed.score - plain.score) <= 5
    elif plain.score >= 90:  # saved again as JPEG the score moves near the threshold, but no clear pneumonia is lost
        assert boxed.label == plain.label and boxed.refer


def test_an_accepted_xray_with_dark_side_bands_is_scanned_as_it_is(shipped_model, tmp_path):
    path = tmp_path / "bands.png"
    path.write_bytes(letterboxed(SAMPLES[0], 0, grow=(1.25, 1.0)))
    assert padding_box(Image.open(path)) is not None  # the bands are wide enough to be cut...
    result = scan_file(path, shipped_model)
    assert result.status == OK and result.correction is None  # ...but the gate accepts it, so they stay


def test_a_truly_saturated_image_is_still_refused(shipped_model, tmp_path):
    xray = Image.open(SAMPLES[0]).convert("L").point(lambda value: 255 if value > 60 else 0)
    xray.save(tmp_path / "burnt.png")
    result = scan_file(tmp_path / "burnt.png", shipped_model)
    assert (result.status, result.reason) == (REJECTED, "saturated_image")


def test_bars_around_a_burnt_xray_do_not_let_it_through():
    burnt = Image.open(SAMPLES[0]).convert("L").point(lambda value: 255 if value > 60 else 0)
    canvas = Image.new("L", (burnt.width * 3 // 2, burnt.height * 6 // 5), 0)
    canvas.paste(burnt, (burnt.width // 4, burnt.height // 10))
    with pytest.raises(ImageRejected) as raised:
        checked_quality(canvas)
    assert raised.value.reason == "saturated_image"
