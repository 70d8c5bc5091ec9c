"""Golden values pin the one preprocessing, so no change to it goes unnoticed.

Every model records the PREPROCESSING_VERSION it was trained with and edge-scan refuses a model made
for another version. A change to preprocess() that keeps the version would feed shipped models pixels
they never saw, silently; these digests catch it.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from edge_app import package_data
from edge_app.contract import PREPROCESSING_VERSION
from edge_app.intake.preprocess import preprocess
from tests.conftest import FIXTURES

GOLDEN_IMAGES = {
    # a non-square PNG crop of a fixture X-ray: exact decode, then squash, resize and equalisation
    "png": FIXTURES / "golden" / "person1002_crop.png",
    # a 512x357 bundled sample JPEG: decoded at half size by draft mode first
    "jpeg": package_data.SAMPLES_DIR / "person122_virus_229.jpeg",
}
GOLDEN_SHA256 = {
    # PREPROCESSING_VERSION -> SHA-256 of preprocess(image).tobytes() (128x128x1 float32) per image
    1: {
        "png": "64e23843118c30b9d6867bbf0bbb84d221ecbd059b23b43f551e0cf293e1c6f2",
        "jpeg": "e3e2fb7ecaf14ba8bccd25f6cbe7e75797efc3e7d719110cd41772356b96dad0",
    },
}
GOLDEN_ROW = {
    # preprocess(image)[64, 60:64, 0] for version 1, so a failure shows how far the output moved
    "png": [0.7484130859375, 0.7689208984375, 0.7886962890625, 0.81658935546875],
    "jpeg": [0.82647705078125, 0.82647705078125, 0.81048583984375, 0.81048583984375],
}


@pytest.mark.parametrize("image", sorted(GOLDEN_IMAGES))
def test_preprocess_output_is_the_recorded_one_for_its_version(image):
    assert PREPROCESSING_VERSION in GOLDEN_SHA256, (
        f"PREPROCESSING_VERSION is {PREPROCESSING_VERSION}: record the new golden digests of preprocess() here."
    )
    x = preprocess(GOLDEN_IMAGES[image])
    assert x.shape == (128, 128, 1) and x.dtype == np.float32
    assert hashlib.sha256(x.tobytes()).hexdigest() == GOLDEN_SHA256[PREPROCESSING_VERSION][image], (
        f"preprocess() output changed for {GOLDEN_IMAGES[image].name} (row 64, columns 60-63: "
        f"{x[64, 60:64, 0].tolist()}, recorded {GOLDEN_ROW[image]}). Models record the preprocessing version "
        "they were trained with, so a change to preprocessing must bump PREPROCESSING_VERSION in "
        "edge_app/contract.py (and retrain the shipped model); then record new golden digests here."
    )


def png(pixels: list[list[int]]) -> bytes:
    stream = io.BytesIO()
    Image.fromarray(np.array(pixels, dtype=np.uint8)).save(stream, format="PNG")
    return stream.getvalue()


# 16 pixels: eight at level 0, four at 10, two at 200, two at 255
LEVELS = [[0, 0, 0, 0], [0, 0, 0, 0], [10, 10, 10, 10], [200, 200, 255, 255]]
# each level's mid-rank (pixels below it plus half its own, over 16), mapped from [0, 1] to [-1, 1]
MID_RANKS = {0: (0 + 8 / 2) / 16 * 2 - 1, 10: (8 + 4 / 2) / 16 * 2 - 1, 200: (12 + 2 / 2) / 16 * 2 - 1}
MID_RANKS[255] = (14 + 2 / 2) / 16 * 2 - 1


def test_histogram_equalisation_maps_each_level_to_its_mid_rank():
    """At the image's own size the resize is the identity, so the output is the equalisation alone:
    -0.5, 0.25, 0.625, 0.875 (min-max scaling would give -1, -0.92, 0.57, 1)."""
    x = preprocess(png(LEVELS), size=4)[..., 0]
    expected = np.vectorize(MID_RANKS.get)(np.array(LEVELS)).astype(np.float32)
    np.testing.assert_array_equal(x, expected)
    assert sorted(set(x.ravel().tolist())) == [-0.5, 0.25, 0.625, 0.875]


def test_equalisation_ignores_any_monotonic_change_of_exposure():
    brighter = [[{0: 40, 10: 41, 200: 90, 255: 91}[v] for v in row] for row in LEVELS]
    np.testing.assert_array_equal(preprocess(png(brighter), size=4), preprocess(png(LEVELS), size=4))


def test_equalised_output_spreads_evenly_over_minus_one_to_one():
    x = preprocess(GOLDEN_IMAGES["png"])
    assert abs(float(x.mean())) < 0.01
    assert abs(float((x < 0).mean()) - 0.5) < 0.01
