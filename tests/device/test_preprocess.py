"""The one preprocessing on the inputs a device actually meets.

Real radiographs arrive as 8- or 16-bit PNG, grayscale or RGB JPEG, CMYK from
some scanners, palette PNG, phone photos rotated by EXIF, and files of any size
from a 224 px copy to a 3000 px original. Each must reach the model as the
same picture.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from edge_app.intake.preprocess import MAX_PIXELS, SOURCE_SIZE_KEY, decode_image, preprocess, to_model_input
from edge_app.reasons import ImageRejected
from tests.conftest import FIXTURE_DATA

XRAY = FIXTURE_DATA / "train" / "NORMAL" / "IM-0237-0001.jpeg"


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gray() -> Image.Image:
    """A real X-ray, 320x260 (not square, like real radiographs)."""
    return Image.open(XRAY).convert("L").resize((320, 260), Image.Resampling.BICUBIC)


def close(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    return a.shape == b.shape and float(np.abs(a - b).mean()) < tolerance


def test_output_contract(gray):
    x = preprocess(encode(gray, "PNG"))
    assert x.shape == (128, 128, 1) and x.dtype == np.float32
    assert -1.0 <= x.min() < -0.5 and 0.9 < x.max() <= 1.0  # mid-ranks: the darkest bin sits above -1
    assert preprocess(encode(gray, "PNG"), 32).shape == (32, 32, 1)


def test_path_and_bytes_give_the_same_input():
    assert np.array_equal(preprocess(XRAY), preprocess(XRAY.read_bytes()))


def test_rgb_png_of_a_gray_image_is_identical(gray):
    assert np.array_equal(preprocess(encode(gray.convert("RGB"), "PNG")), preprocess(encode(gray, "PNG")))


def test_opaque_rgba_is_identical_and_transparency_is_flattened_onto_black(gray):
    reference = preprocess(encode(gray, "PNG"))
    assert np.array_equal(preprocess(encode(gray.convert("RGBA"), "PNG")), reference)
    transparent = gray.convert("RGBA")
    transparent.putalpha(0)
    assert np.array_equal(preprocess(encode(transparent, "PNG")), np.zeros_like(reference))


def test_palette_png(gray):
    image = decode_image(encode(gray.convert("P"), "PNG"))
    assert image.mode == "P"
    assert close(to_model_input(image), preprocess(encode(gray, "PNG")), 0.01)


def test_sixteen_bit_png_keeps_its_precision(gray):
    rng = np.random.default_rng(0)
    deep = np.asarray(gray, dtype=np.uint16) * 16 + rng.integers(0, 16, size=gray.size[::-1], dtype=np.uint16)
    data = encode(Image.fromarray(deep), "PNG")
    image = decode_image(data)
    assert image.mode.startswith("I")
    assert np.asarray(image).max() > 255  # not truncated to 8 bits
    assert close(preprocess(data), preprocess(encode(gray, "PNG")), 0.02)


def test_cmyk_jpeg(gray):
    data = encode(gray.convert("CMYK"), "JPEG", quality=95)
    assert decode_image(data).mode == "CMYK"
    assert close(preprocess(data), preprocess(encode(gray, "JPEG", quality=95)), 0.03)


def test_exif_orientation_is_honoured(gray):
    """A phone stores pixels sideways and says so in EXIF; the model must see the upright picture."""
    sideways = gray.transpose(Image.Transpose.ROTATE_90)  # what the camera stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(sideways, "JPEG", quality=95, exif=exif.tobytes())
    image = decode_image(data)
    assert image.width > image.height  # upright, like `gray` (decoded at reduced size by draft)
    assert image.info[SOURCE_SIZE_KEY] == sideways.size
    assert close(to_model_input(image), preprocess(encode(gray, "JPEG", quality=95)), 0.03)


def test_large_jpeg_is_decoded_reduced_with_draft(gray):
    large = gray.resize((2400, 1950), Image.Resampling.BICUBIC)
    image = decode_image(encode(large, "JPEG", quality=90))
    assert image.info[SOURCE_SIZE_KEY] == (2400, 1950)
    assert max(image.size) <= 2400 // 8 + 1  # decoded at 1/8 scale by the JPEG library
    assert min(image.size) >= 128  # never below the model input


def test_full_resolution_and_small_copy_give_nearly_the_same_input(gray):
    """The public dataset's 224 px squashed copies and the originals must look alike to the model."""
    full = gray.resize((2000, 1625), Image.Resampling.BICUBIC)
    copy = full.resize((224, 224), Image.Resampling.LANCZOS)
    a = preprocess(encode(full, "JPEG", quality=92))
    b = preprocess(encode(copy, "JPEG", quality=92))
    assert close(a, b, 0.04)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"hello, this is a text file with a .jpg name\n", "not_an_image"),
    ],
)
def test_unreadable_bytes_are_rejected_with_a_reason(data, reason):
    with pytest.raises(ImageRejected) as raised:
        decode_image(data)
    assert raised.value.reason == reason


def test_truncated_jpeg_is_rejected(gray):
    data = encode(gray, "JPEG", quality=95)
    with pytest.raises(ImageRejected) as raised:
        decode_image(data[: len(data) // 2])
    assert raised.value.reason == "corrupt_image"


def test_other_formats_are_rejected(gray):
    with pytest.raises(ImageRejected) as raised:
        decode_image(encode(gray, "TIFF"))
    assert raised.value.reason == "unsupported_format"


def test_decompression_bomb_is_rejected_before_decoding():
    side = int(MAX_PIXELS**0.5) + 100
    data = encode(Image.new("1", (side, side)), "PNG")  # tiny file, huge claimed size
    assert len(data) < 200_000
    with pytest.raises(ImageRejected) as raised:
        decode_image(data)
    assert raised.value.reason == "decompression_bomb"
