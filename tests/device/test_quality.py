"""The quality gate rejects what the model must not be trusted on, and passes real X-rays."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from edge_app import reasons
from edge_app.intake import quality
from edge_app.intake.preprocess import decode_image
from edge_app.reasons import ImageRejected
from tests.conftest import FIXTURE_DATA


def decoded(image: Image.Image, fmt: str = "PNG", size: int = 128) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return decode_image(buffer.getvalue(), size)


def rejection(image: Image.Image) -> str | None:
    try:
        quality.check_quality(image)
    except ImageRejected as exc:
        return exc.reason
    return None


@pytest.fixture(scope="module")
def xray() -> Image.Image:
    return Image.open(FIXTURE_DATA / "train" / "PNEUMONIA" / "person1002_bacteria_2933.jpeg").convert("L")


def test_every_fixture_xray_passes(fixture_data):
    paths = sorted(fixture_data.rglob("*.jpeg"))
    assert len(paths) == 36
    assert [p.name for p in paths if rejection(decode_image(p.read_bytes(), 32)) is not None] == []


def test_an_rgb_file_of_a_gray_xray_passes(xray):
    assert rejection(decoded(xray.convert("RGB"), "JPEG")) is None


def test_size_is_judged_on_the_file_not_the_reduced_decode(xray):
    """A 1024 px JPEG decoded at 1/8 scale for a 32 px model is 128 px: still not 'too small'."""
    image = decoded(xray.resize((1024, 1024)), "JPEG", size=32)
    assert image.size[0] < 1024
    assert rejection(image) is None


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ((50, 50), reasons.TOO_SMALL),
        ((127, 300), reasons.TOO_SMALL),
        ((128, 128), None),
        ((400, 130), reasons.EXTREME_ASPECT_RATIO),
    ],
)
def test_size_and_shape(xray, size, reason):
    assert rejection(decoded(xray.resize(size))) == reason


@pytest.mark.parametrize("value", [0, 128, 255])
def test_a_uniform_image_is_blank(value):
    assert rejection(decoded(Image.new("L", (300, 300), value))) == reasons.BLANK_IMAGE


def test_a_nearly_blank_image_with_faint_noise_is_blank():
    rng = np.random.default_rng(1)
    faint = Image.fromarray((120 + rng.integers(0, 10, (300, 300))).astype(np.uint8))
    assert rejection(decoded(faint)) == reasons.BLANK_IMAGE


def test_mostly_clipped_image_is_saturated(xray):
    pixels = np.asarray(xray.resize((300, 300)), dtype=np.uint8).copy()
    pixels[:, :200] = 255  # two thirds burnt out
    assert rejection(decoded(Image.fromarray(pixels))) == reasons.SATURATED_IMAGE


def test_twelve_bit_xray_in_sixteen_bits_is_not_called_blank(xray):
    """Detectors store 12-bit values in 16-bit PNGs: judged on 0-4095, not 0-65535."""
    deep = np.asarray(xray.resize((300, 300)), dtype=np.uint16) * 16
    assert rejection(decoded(Image.fromarray(deep))) is None


def test_a_colour_photograph_is_rejected():
    rng = np.random.default_rng(2)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    photo = Image.fromarray(blocks).resize((640, 480), Image.Resampling.BILINEAR)
    assert rejection(decoded(photo, "JPEG")) == reasons.COLOUR_PHOTO


def test_a_film_photo_with_a_colour_cast_is_not_a_colour_photo(xray):
    tinted = np.asarray(xray.convert("RGB"), dtype=np.float32) * np.array([0.9, 0.95, 1.0])
    assert rejection(decoded(Image.fromarray(tinted.astype(np.uint8)), "JPEG")) is None


def test_reason_codes_are_unique_documented_and_match_the_decoder():
    codes = [
        value
        for name, value in vars(reasons).items()
        if name.isupper() and isinstance(value, str) and not name.endswith("_INSTALL_HINT")
    ]
    rejections = sorted(set(codes) - {reasons.UNREADABLE_FILE, reasons.INFERENCE_FAILED})
    assert sorted(codes) == sorted(set(codes))  # each code has one constant
    assert rejections == sorted(reasons.EXPLANATIONS)  # and each rejection one explanation
    grouped = (
        reasons.FILE_REASONS
        + reasons.DECODING_REASONS
        + reasons.QUALITY_REASONS
        + reasons.GATE_REASONS
        + reasons.DICOM_REASONS
        + reasons.PHOTO_REASONS
    )
    assert sorted(grouped) == rejections
    raised = set()
    for data in (b"", b"plain text", b"\xff\xd8\xff\xe0" + b"\0" * 20):
        try:
            decode_image(data)
        except ImageRejected as exc:
            raised.add(exc.reason)
    assert raised <= set(reasons.DECODING_REASONS) and {reasons.EMPTY_FILE, reasons.NOT_AN_IMAGE} <= raised


@pytest.mark.parametrize("levels", [2, 256, 4096, 65536])
def test_percentiles_counted_from_a_histogram_match_numpy(levels):
    rng = np.random.default_rng(levels)
    for size in (1, 7, 1000):
        pixels = rng.integers(0, levels, (size, 3)).astype(np.float32)
        percents = (0.0, 1.0, 37.5, 99.0, 100.0)
        np.testing.assert_allclose(quality._percentiles(pixels, percents), np.percentile(pixels, percents))


def test_percentiles_of_fractional_negative_or_huge_pixels_match_numpy():
    rng = np.random.default_rng(0)
    huge = np.array([0.0, 1e12, 3.0], np.float32)
    for pixels in (rng.uniform(0.0, 1.0, 500), rng.integers(-300, 300, 500).astype(np.float32), huge):
        np.testing.assert_allclose(quality._percentiles(pixels, (1.0, 99.0)), np.percentile(pixels, (1.0, 99.0)))
