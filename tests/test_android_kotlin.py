"""The Kotlin preprocessing in an exported ANDROID.md, compiled with kotlinc and run on a JVM against Python.

The pure part of the guide's Kotlin (no Android calls) is taken from the rendered ANDROID.md itself, so
what an Android developer copies is what is checked. Needs kotlinc and java (Debian: kotlin and a headless
JDK; .ci/run installs them).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import shutil
import subprocess
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from edge_app.inference.model_metadata import read_metadata
from edge_app.intake.preprocess import preprocess
from quantize.android_export import MODEL_FILE, TEST_VECTOR_FILE, TEST_VECTOR_IMAGE

MAIN = """\
import java.io.File
import org.pneumoscan.PneumoScanPreprocessing as P

// One case per line of the input file, one result line per case; floats travel as their IEEE-754 bits.
fun main(args: Array<String>) {
    for (line in File(args[0]).readLines()) {
        val f = line.trim().split(" ")
        val n = f.drop(1).map { it.toInt() }
        val result = when (f[0]) {
            "preprocess" -> {
                val pixels = n.subList(4, 4 + n[2] * n[3]).toIntArray()
                val x = P.preprocess(pixels, n[2], n[3], n[0])
                val q = P.quantize(x, java.lang.Float.intBitsToFloat(n[1]), n[4 + n[2] * n[3]])
                x.joinToString(" ") { java.lang.Float.floatToRawIntBits(it).toString() } + " | " + q.joinToString(" ")
            }
            "resize" -> P.resize(n.drop(3).map { java.lang.Float.intBitsToFloat(it) }.toFloatArray(), n[1], n[2], n[0])
                .joinToString(" ") { java.lang.Float.floatToRawIntBits(it).toString() }
            "quantize" -> P.quantize(n.drop(2).map { java.lang.Float.intBitsToFloat(it) }.toFloatArray(),
                java.lang.Float.intBitsToFloat(n[0]), n[1]).joinToString(" ")
            "sample" -> P.sampleSize(n[0], n[1], n[2], n[3] == 1).toString()
            else -> throw IllegalArgumentException(f[0])
        }
        println(result)
    }
}
"""


def pure_kotlin(guide: str) -> str:
    """The guide's Kotlin block that holds the preprocessing."""
    blocks = [b for b in re.findall(r"```kotlin\n(.*?)```", guide, re.S) if "object PneumoScanPreprocessing" in b]
    assert len(blocks) == 1, "ANDROID.md must hold the preprocessing in one Kotlin block"
    return blocks[0]


@pytest.fixture(scope="module")
def kotlin(android_export, tmp_path_factory) -> Callable[[list[str]], list[str]]:
    """Runs cases through the guide's Kotlin, compiled once with a small main."""
    kotlinc, java = shutil.which("kotlinc"), shutil.which("java")
    assert kotlinc and java, (
        "compiling ANDROID.md's Kotlin needs kotlinc and java: apt-get install kotlin default-jdk-headless"
    )
    source = pure_kotlin((android_export / "ANDROID.md").read_text())
    assert "import android" not in source, "the pure preprocessing must compile without the Android SDK"
    work = tmp_path_factory.mktemp("kotlin")
    (work / "PneumoScanPreprocessing.kt").write_text(source)
    (work / "Main.kt").write_text(MAIN)
    jar = work / "check.jar"
    compiled = subprocess.run(
        [kotlinc, str(work / "PneumoScanPreprocessing.kt"), str(work / "Main.kt"), "-include-runtime", "-d", str(jar)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert compiled.returncode == 0, compiled.stderr

    def run(cases: list[str]) -> list[str]:
        (work / "cases.txt").write_text("\n".join(cases) + "\n")
        ran = subprocess.run(
            [java, "-cp", str(jar), "MainKt", str(work / "cases.txt")], capture_output=True, text=True, timeout=300
        )
        assert ran.returncode == 0, ran.stderr
        return ran.stdout.splitlines()

    return run


def float_bits(values: np.ndarray) -> list[int]:
    return np.asarray(values, dtype=np.float32).ravel().view(np.int32).tolist()


def from_bits(text: str) -> np.ndarray:
    return np.array([int(v) for v in text.split()], dtype=np.int32).view(np.float32)


def argb(image: Image.Image) -> list[int]:
    """Pixels as Android's Bitmap.getPixels gives them: opaque ARGB, one signed int each."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    packed = (0xFF << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    return packed.ravel().astype(np.uint32).view(np.int32).tolist()


def preprocess_case(image: Image.Image, size: int, scale: float, zero_point: int) -> str:
    width, height = image.size
    numbers = [size, *float_bits(np.array([scale])), width, height, *argb(image), zero_point]
    return "preprocess " + " ".join(map(str, numbers))


def test_the_guides_kotlin_reproduces_the_test_vector(android_export, kotlin):
    image_bytes = (android_export / TEST_VECTOR_IMAGE).read_bytes()
    vector = json.loads((android_export / TEST_VECTOR_FILE).read_text())
    model_input = read_metadata((android_export / MODEL_FILE).read_bytes())["input"]
    quantization = model_input["quantization"]
    with Image.open(io.BytesIO(image_bytes)) as image:
        case = preprocess_case(image, model_input["size"], quantization["scale"], quantization["zero_point"])
    (line,) = kotlin([case])
    floats, quantized = line.split(" | ")
    expected = preprocess(image_bytes, model_input["size"]).ravel()
    np.testing.assert_array_equal(from_bits(floats), expected)
    int8 = np.array([int(v) for v in quantized.split()], dtype=np.int8)
    assert hashlib.sha256(int8.tobytes()).hexdigest() == vector["input_int8_sha256"]


def test_the_guides_kotlin_turns_colour_into_pillows_gray(kotlin):
    pixels = np.random.default_rng(3).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    stream = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(stream, format="PNG")
    (line,) = kotlin([preprocess_case(Image.fromarray(pixels, mode="RGB"), 16, 1 / 128, 0)])
    np.testing.assert_array_equal(from_bits(line.split(" | ")[0]), preprocess(stream.getvalue(), 16).ravel())


SHAPES = [(45, 37), (20, 16), (16, 16), (12, 9)]


def test_the_guides_kotlin_resize_matches_pillow_exactly(kotlin):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape).astype(np.float32) for shape in SHAPES]
    cases = [f"resize 16 {p.shape[1]} {p.shape[0]} " + " ".join(map(str, float_bits(p))) for p in images]
    for pixels, line in zip(images, kotlin(cases), strict=True):
        expected = np.asarray(Image.fromarray(pixels, mode="F").resize((16, 16), Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(from_bits(line).reshape(16, 16), expected)


@pytest.mark.parametrize("size", [(512, 357), (2000, 1800), (300, 200), (1100, 600), (1024, 1024), (130, 900)])
def test_the_guides_kotlin_decodes_jpegs_at_pillows_draft_scale(kotlin, size):
    stream = io.BytesIO()
    Image.new("L", size, 128).save(stream, format="JPEG")
    with Image.open(stream) as image:
        image.draft("L", (128, 128))
        drafted = image.size
    (jpeg,) = kotlin([f"sample {size[0]} {size[1]} 128 1"])
    scale = int(jpeg)
    assert (math.ceil(size[0] / scale), math.ceil(size[1] / scale)) == drafted


def test_the_guides_kotlin_rounds_half_to_even_and_clamps_like_numpy(kotlin):
    x = np.array([0.25, 0.75, -0.25, 1.25, -0.75, 100.0, -100.0], dtype=np.float32)
    expected = [0, 2, 0, 2, -2, 127, -128]  # x / 0.5 = 0.5, 1.5, -0.5, 2.5, -1.5 round to even; then clamped
    assert np.clip(np.round(x / 0.5), -128, 127).astype(np.int8).tolist() == expected
    (line,) = kotlin(["quantize " + " ".join(map(str, [*float_bits(np.array([0.5])), 0, *float_bits(x)]))])
    assert [int(v) for v in line.split()] == expected
