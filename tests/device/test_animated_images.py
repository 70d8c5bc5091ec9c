"""Files that hold more than one picture are refused: a viewer may show one picture while the scan reads another.

An animated PNG (acTL chunk) is played by browsers and viewers, while a decoder reads its still default
image, which need not be one of the animation's frames. A multi-picture JPEG (MPO, from phones and
stereo cameras) and multi-frame GIF, TIFF and WebP files hold several pictures too.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from edge_app.inference.model_store import load_model
from edge_app.intake.preprocess import decode_image
from edge_app.package_data import SAMPLES_DIR
from edge_app.reasons import ImageRejected
from edge_app.scan.scanner import OK, REJECTED, scan_file

NORMAL_JPEG = SAMPLES_DIR / "IM-0230-0001.jpeg"
PNEUMONIA_JPEG = SAMPLES_DIR / "person122_virus_229.jpeg"


def pictures() -> tuple[Image.Image, Image.Image]:
    normal = Image.open(NORMAL_JPEG).convert("L")
    return normal, Image.open(PNEUMONIA_JPEG).convert("L").resize(normal.size)


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def animated_png_showing_pneumonia_decoding_normal() -> bytes:
    """The still default image is the NORMAL X-ray; the one animation frame a browser shows is the pneumonia."""
    normal, pneumonia = pictures()
    return saved(normal, "PNG", save_all=True, append_images=[pneumonia], default_image=True)


def two_frame_animated_png() -> bytes:
    normal, pneumonia = pictures()
    return saved(normal, "PNG", save_all=True, append_images=[pneumonia], duration=500)


def with_animation_control(frames: int) -> bytes:
    """A still PNG given an acTL chunk after its header; Pillow ignores one that declares no frames."""
    png = saved(pictures()[0], "PNG")
    payload = b"acTL" + struct.pack(">II", frames, 0)
    chunk = struct.pack(">I", 8) + payload + struct.pack(">I", zlib.crc32(payload))
    header_end = 8 + 8 + 13 + 4
    return png[:header_end] + chunk + png[header_end:]


def multi_picture_jpeg() -> bytes:
    normal, pneumonia = pictures()
    return saved(normal, "MPO", save_all=True, append_images=[pneumonia])


def multi_frame(fmt: str):
    def make() -> bytes:
        normal, pneumonia = pictures()
        return saved(normal, fmt, save_all=True, append_images=[pneumonia])

    return make


@pytest.mark.parametrize(
    "make",
    [
        animated_png_showing_pneumonia_decoding_normal,
        two_frame_animated_png,
        lambda: with_animation_control(1),
        lambda: with_animation_control(0),
        multi_picture_jpeg,
    ],
    ids=["apng-default-not-shown", "apng-2-frames", "apng-1-frame", "apng-invalid-actl", "mpo"],
)
def test_animated_pngs_and_multi_picture_jpegs_are_refused_with_a_reason(make):
    with pytest.raises(ImageRejected) as raised:
        decode_image(make())
    assert raised.value.reason == "animated_image"
    assert "several pictures" in str(raised.value)


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "WEBP"])
def test_multi_frame_gif_tiff_and_webp_are_refused_too(fmt, tiny_int8_model, tmp_path):
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(multi_frame(fmt)())
    result = scan_file(path, load_model(tiny_int8_model, allow_unverified=True))
    assert result.status == REJECTED and result.reason in ("animated_image", "unsupported_format")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_still_png_or_jpeg_is_scanned_as_before(fmt, tiny_int8_model, tmp_path):
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(saved(pictures()[0], fmt))
    assert scan_file(path, load_model(tiny_int8_model, allow_unverified=True)).status == OK
