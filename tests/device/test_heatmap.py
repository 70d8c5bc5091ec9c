"""Occlusion heatmaps: the map is the model's own response to covering each part of the image."""

from __future__ import annotations

import io
import math
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from edge_app.cli.main import main
from edge_app.inference.gate import Correction
from edge_app.inference.heatmap import OcclusionMapper, default_grid, explain, heatmap_name, overlay, patch_origins
from edge_app.inference.model_store import load_model
from edge_app.inference.runtime import BatchScorer
from edge_app.intake.preprocess import decode_image, preprocess, to_model_input
from edge_app.package_data import SAMPLES_DIR
from edge_app.scan.scanner import scan_prepared_files

PNEUMONIA_SAMPLE = SAMPLES_DIR / "person868_virus_1514.jpeg"


@pytest.fixture(scope="module")
def shipped_model():
    return load_model()


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def test_the_squares_cover_the_whole_input_including_the_last_border():
    assert default_grid(128) == (32, 16) and default_grid(32) == (8, 4)
    assert patch_origins(128, 32, 16) == [0, 16, 32, 48, 64, 80, 96]
    assert patch_origins(128, 32, 40) == [0, 40, 80, 96]
    assert patch_origins(32, 32, 16) == [0]


def test_a_corner_pixel_shows_exactly_the_drop_from_covering_the_corner_square(shipped_model):
    mapper = OcclusionMapper(shipped_model.classifier)
    x = preprocess(PNEUMONIA_SAMPLE, shipped_model.input_size)
    probability = shipped_model.classifier.predict(x)
    drop = mapper.logit_drop(x, probability)
    covered = x.copy()
    covered[: mapper.patch, : mapper.patch] = 0.0  # the grey square: mid-rank of the equalised input
    expected = logit(probability) - logit(shipped_model.classifier.predict(covered))
    assert drop.shape == (shipped_model.input_size,) * 2
    assert drop[0, 0] == pytest.approx(max(expected, 0.0), abs=1e-6)
    assert drop.min() >= 0.0 and drop.max() > 0.1  # covering some part of a pneumonia X-ray lowers its score


def test_scoring_copies_one_by_one_gives_the_same_map_as_one_batch(shipped_model):
    batched = OcclusionMapper(shipped_model.classifier)
    assert batched.scorer.batched
    one_by_one = OcclusionMapper(shipped_model.classifier)
    one_by_one.scorer = BatchScorer(shipped_model.classifier, 1)
    assert not one_by_one.scorer.batched
    x = preprocess(PNEUMONIA_SAMPLE, shipped_model.input_size)
    probability = shipped_model.classifier.predict(x)
    assert np.allclose(batched.logit_drop(x, probability), one_by_one.logit_drop(x, probability))


def test_the_overlay_keeps_the_xray_shape_and_is_red_only_where_the_score_dropped():
    image = Image.fromarray(np.full((300, 400), 128, dtype=np.uint8))
    drop = np.zeros((128, 128))
    drop[:, 64:] = 5.0  # right half matters
    shown = np.asarray(overlay(image, drop)).astype(int)
    assert shown.shape == (300, 400, 3)
    left, right = shown[:, :150], shown[:, 250:]
    assert np.all(left[..., 0] == left[..., 1])  # grey: untouched
    assert np.all(right[..., 0] > right[..., 1] + 50)  # red


def test_explain_gives_both_pngs(shipped_model):
    image = decode_image(PNEUMONIA_SAMPLE, shipped_model.input_size)
    x = to_model_input(image, shipped_model.input_size)
    explanation = explain(OcclusionMapper(shipped_model.classifier), image, x, shipped_model.classifier.predict(x))
    assert explanation.image_png.startswith(b"\x89PNG") and explanation.overlay_png.startswith(b"\x89PNG")
    assert explanation.max_logit_drop > 0.1


def test_edge_scan_writes_one_heatmap_per_scanned_image_and_none_for_rejected_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("IM-0230-0001.jpeg", "person868_virus_1514.jpeg"):
        shutil.copyfile(SAMPLES_DIR / name, batch / name)
    (batch / "broken.jpeg").write_bytes(b"not a picture")
    result = CliRunner().invoke(main, ["scan", str(batch), "--heatmap-dir", str(tmp_path / "maps"), "--format", "json"])
    assert result.exit_code == 1  # the broken file is rejected; the rest still scanned
    written = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert len(written) == 2 and all(name.endswith(".heatmap.png") for name in written)
    assert not any(name.startswith("broken") for name in written)
    with Image.open(tmp_path / "maps" / written[1]) as png:
        with Image.open(SAMPLES_DIR / "person868_virus_1514.jpeg") as source:
            assert abs(png.width / png.height - source.width / source.height) < 0.02


def test_heatmap_names_keep_same_named_files_from_two_folders_apart():
    assert heatmap_name("/a/x.jpeg", "ab" * 32) != heatmap_name("/b/x.jpeg", "cd" * 32)


def test_a_sideways_xray_is_explained_upright_as_the_model_saw_it(tmp_path, shipped_model):
    from edge_app.outputs.clinic_outputs import ClinicOutputs

    upright_path = SAMPLES_DIR / "person868_virus_1514.jpeg"
    sideways_path = tmp_path / "sideways.png"
    Image.open(upright_path).rotate(90, expand=True).save(sideways_path)
    outputs = ClinicOutputs(shipped_model, None)
    scans = scan_prepared_files([upright_path, sideways_path], shipped_model, keep_images=True)
    upright, sideways = (outputs.add(scanned) for scanned in scans)
    assert sideways.result.correction == "rotate_cw_90"
    shapes = [Image.open(io.BytesIO(e.explanation.overlay_png)).size for e in (upright, sideways)]
    assert [w > h for w, h in shapes] == [True, True]  # the sideways file is shown upright, like the original
    assert sideways.explanation.max_logit_drop == pytest.approx(upright.explanation.max_logit_drop, rel=0.5)


def test_a_mirrored_xray_is_shown_mirrored_back_as_the_model_saw_it():
    from edge_app.inference.gate import Correction
    from edge_app.outputs.clinic_outputs import righted

    image = Image.open(SAMPLES_DIR / "person868_virus_1514.jpeg")
    shown = righted(ImageOps.mirror(image), Correction(mirrored=True))
    assert np.array_equal(np.asarray(shown), np.asarray(righted(image, Correction())))
    assert not np.array_equal(np.asarray(shown), np.asarray(righted(ImageOps.mirror(image), Correction())))


def test_the_report_says_when_an_xray_was_put_right_before_scanning(tmp_path, shipped_model):
    from edge_app.outputs.clinic_outputs import ClinicOutputs
    from edge_app.outputs.html_report import render_report

    sideways_path = tmp_path / "sideways.png"
    Image.open(PNEUMONIA_SAMPLE).rotate(90, expand=True).save(sideways_path)
    outputs = ClinicOutputs(shipped_model, None)
    explained = outputs.add(next(scan_prepared_files([sideways_path], shipped_model, keep_images=True)))
    html = render_report([explained], shipped_model, "Amina", "2026-03-01 10:00 UTC")
    assert "turned on its side; it was put right before scanning" in html


def test_the_heatmap_explains_the_input_the_scan_prepared_without_reading_the_file_again(tmp_path, shipped_model):
    from edge_app.outputs.clinic_outputs import ClinicOutputs, righted

    path = tmp_path / "child.jpeg"
    path.write_bytes(PNEUMONIA_SAMPLE.read_bytes())
    explained = []
    outputs = ClinicOutputs(shipped_model, tmp_path / "maps")
    outputs.mapper.logit_drop = lambda x, p: explained.append(x) or np.zeros(x.shape[:2])
    for scanned in scan_prepared_files([path], shipped_model, keep_images=True):
        path.write_bytes(b"replaced after the scan")  # what is explained must not depend on the file any more
        entry = outputs.add(scanned)
    assert entry.explanation is not None and len(list((tmp_path / "maps").iterdir())) == 1
    assert np.array_equal(explained[0], scanned.prepared.model_input)
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(entry.explanation.image_png))),
        np.asarray(righted(scanned.prepared.image, Correction())),
    )


def test_a_scan_without_outputs_keeps_no_decoded_image(shipped_model):
    (scanned,) = scan_prepared_files([PNEUMONIA_SAMPLE], shipped_model)
    assert scanned.prepared.image is None and scanned.prepared.model_input is not None
