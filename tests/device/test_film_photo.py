"""Phone photos of X-ray films: the film is found and straightened before the gate and the model see it, and
photos no one should read a verdict from are refused with a reason that says how to take the photo again."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edge_app.cli.main import main
from edge_app.inference.model_store import load_model
from edge_app.intake.film_photo import find_film, glare_share, straighten_film
from edge_app.reasons import (
    COLOUR_PHOTO,
    EXPLANATIONS,
    FILM_CUT_OFF,
    FILM_NOT_FOUND,
    NOT_A_CHEST_XRAY,
    PHOTO_GLARE,
    PHOTO_SUPPORT_MISSING,
    PHOTO_TOO_BLURRED,
    PHOTO_TOO_DARK,
    ImageRejected,
    what_to_do,
)
from edge_app.scan.scanner import prepare_image, scan_prepared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chest_xray" / "train"
XRAY = FIXTURES / "PNEUMONIA" / "person1002_bacteria_2933.jpeg"


def lightbox_photo(picture: np.ndarray, *, tilt: float = 8.0, centre=(800, 600), share: float = 0.6) -> np.ndarray:
    """An RGB 1600x1200 photo of `picture` (RGB) as a backlit film on a lightbox, tilted and seen at an angle,
    with a warm cast and a darker right side."""
    height, width = 1200, 1600
    photo = np.full((height, width, 3), (225, 215, 190), np.float32)
    ph, pw = picture.shape[:2]
    scale = share * height / ph
    box = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]]) * scale
    box[1] += (12, 10)  # seen a little at an angle
    angle = np.deg2rad(tilt)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = (box @ rotation.T + np.array(centre)).astype(np.float32)
    source = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners)
    film = cv2.warpPerspective(picture.astype(np.float32), matrix, (width, height))
    inside = cv2.warpPerspective(np.ones((ph, pw), np.float32), matrix, (width, height))[..., None]
    photo = photo * (1 - inside) + film * (0.15 + 0.8 * inside) * inside
    light = np.linspace(1.0, 0.8, width, dtype=np.float32)[None, :, None] * np.array([1.0, 0.95, 0.82], np.float32)
    return np.clip(photo * light, 0, 255).astype(np.uint8)


def xray_rgb() -> np.ndarray:
    return np.asarray(Image.open(XRAY).convert("RGB").resize((440, 540)))


def save(tmp_path: Path, rgb: np.ndarray, name: str = "photo.jpg") -> Path:
    path = tmp_path / name
    Image.fromarray(rgb).save(path, quality=92)
    return path


def refusal(rgb: np.ndarray) -> str:
    with pytest.raises(ImageRejected) as refused:
        straighten_film(Image.fromarray(rgb))
    return refused.value.reason


def test_a_tilted_film_on_a_lightbox_is_found_by_its_corners():
    outline = find_film(lightbox_photo(xray_rgb(), tilt=10.0))
    width, height = outline.size()
    assert 0.7 < width / height < 0.95  # the film's own shape, not the photo's
    assert outline.corners[:, 0].min() > 400 and outline.corners[:, 0].max() < 1200


def test_a_photo_of_a_film_is_scanned_from_the_straightened_film_and_says_so(tmp_path):
    model = load_model()
    photo = save(tmp_path, lightbox_photo(xray_rgb()))
    prepared = prepare_image(photo, model.input_size, keep_image=True, photo=True)
    assert prepared.failure is None
    assert "film_photo" in prepared.adjustments
    assert prepared.image.size[0] < 1000  # the film alone, not the whole photo
    result = scan_prepared(prepared, model)
    assert result.status == "ok", result.message
    assert result.correction.split("+")[0] == "film_photo"
    assert "photo of the film" in result.message
    plain = scan_prepared(prepare_image(XRAY, model.input_size), model)
    assert result.label == plain.label


def test_the_same_photo_scanned_as_a_plain_image_is_refused(tmp_path):
    """Without --photo nothing changes: a photo is judged as a digital X-ray, and the whole scene is no X-ray."""
    model = load_model()
    result = scan_prepared(prepare_image(save(tmp_path, lightbox_photo(xray_rgb())), model.input_size), model)
    assert result.status == "rejected" and result.label is None


def test_a_film_running_off_the_photo_is_refused_as_cut_off():
    assert refusal(lightbox_photo(xray_rgb(), centre=(800, 300), share=0.75)) == FILM_CUT_OFF


def test_a_photo_with_no_film_in_it_is_refused():
    noise = np.random.default_rng(0).integers(90, 110, (1200, 1600, 3), dtype=np.uint8)
    assert refusal(noise) == FILM_NOT_FOUND


def test_a_dark_photo_is_refused_as_too_dark():
    assert refusal((lightbox_photo(xray_rgb()) * 0.15).astype(np.uint8)) == PHOTO_TOO_DARK


def test_a_blurred_photo_is_refused_as_too_blurred():
    assert refusal(cv2.GaussianBlur(lightbox_photo(xray_rgb()), (0, 0), 9)) == PHOTO_TOO_BLURRED


def test_glare_over_a_lung_is_refused():
    photo = lightbox_photo(xray_rgb())
    cv2.circle(photo, (700, 560), 70, (255, 255, 255), -1)
    assert refusal(photo) == PHOTO_GLARE


def test_a_reflection_over_the_spine_and_heart_hides_no_lung_and_is_not_refused():
    photo = lightbox_photo(xray_rgb())
    cv2.circle(photo, (800, 560), 40, (255, 255, 255), -1)
    assert straighten_film(Image.fromarray(photo)).size[0] > 300


def straightened_film_with_a_spot(centre: tuple[int, int], peak: float, width: float = 26.0) -> np.ndarray:
    """A 600x500 straightened film (RGB) of mid greys with a soft round bright spot: `peak` levels added at its
    centre, falling off as a bell `width` px wide."""
    rng = np.random.default_rng(0)
    film = np.full((600, 500), 110.0) + rng.normal(0, 12, (600, 500))
    yy, xx = np.mgrid[0:600, 0:500]
    film += peak * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * width**2))
    return np.repeat(np.clip(film, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_the_washed_out_rim_of_a_reflection_counts_with_its_burnt_core():
    film = straightened_film_with_a_spot((140, 280), peak=280)  # over the left lung field
    left_lung = film[90:480, 60:225].min(axis=2)
    assert (left_lung >= 250).mean() < 0.05  # the burnt core alone is small
    assert glare_share(cv2, film) > 0.05  # with the near-white rim it hides more of the lung


def test_near_white_film_with_nothing_burnt_is_no_reflection():
    """A dense lung or a bone on a bright lightbox can be near white; without a burnt core it is the film."""
    film = straightened_film_with_a_spot((140, 280), peak=135, width=60)
    assert (film.min(axis=2) >= 230).mean() > 0.005
    assert glare_share(cv2, film) == 0.0


def test_a_reflection_between_the_lungs_is_not_counted_over_a_lung():
    assert glare_share(cv2, straightened_film_with_a_spot((250, 280), peak=280)) < 0.01  # its rim only
    assert glare_share(cv2, straightened_film_with_a_spot((140, 280), peak=280)) > 0.05


def test_a_photo_of_a_colour_picture_gets_no_verdict(tmp_path):
    """The film finder finds the picture's frame; the checks after it refuse what is in it."""
    model = load_model()
    rng = np.random.default_rng(1)
    picture = cv2.resize(rng.integers(0, 255, (6, 5, 3), dtype=np.uint8), (440, 540), interpolation=cv2.INTER_CUBIC)
    result = scan_prepared(prepare_image(save(tmp_path, lightbox_photo(picture)), model.input_size, photo=True), model)
    assert result.status == "rejected" and result.label is None
    assert result.reason in (COLOUR_PHOTO, NOT_A_CHEST_XRAY, FILM_NOT_FOUND)


def test_a_photo_of_a_grey_picture_that_is_no_xray_gets_no_verdict(tmp_path):
    model = load_model()
    picture = np.repeat(np.tile(np.linspace(40, 220, 440, dtype=np.uint8), (540, 1))[..., None], 3, axis=2)
    cv2.putText(picture, "INVOICE 2031", (30, 270), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (10, 10, 10), 4)
    result = scan_prepared(prepare_image(save(tmp_path, lightbox_photo(picture)), model.input_size, photo=True), model)
    assert result.status == "rejected" and result.label is None


def test_without_opencv_a_photo_is_refused_with_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    model = load_model()
    prepared = prepare_image(save(tmp_path, lightbox_photo(xray_rgb())), model.input_size, photo=True)
    status, reason, message = prepared.failure
    assert (status, reason) == ("rejected", PHOTO_SUPPORT_MISSING)
    assert 'pip install "pneumoscan[photo]"' in message
    assert 'pip install "pneumoscan[photo]"' in EXPLANATIONS[PHOTO_SUPPORT_MISSING]


def test_every_photo_refusal_says_what_to_do():
    for reason in (FILM_NOT_FOUND, FILM_CUT_OFF, PHOTO_TOO_DARK, PHOTO_GLARE, PHOTO_TOO_BLURRED):
        assert reason in EXPLANATIONS
        assert what_to_do(reason).startswith("Take the photo again")


def test_a_site_calibrates_on_photos_of_its_films(tmp_path):
    from edge_app.site.calibration import LabelledImage, scan_site_images

    photo = save(tmp_path, lightbox_photo(xray_rgb()))
    model = load_model()
    as_photos = scan_site_images([LabelledImage(photo, 1)], model, photos=True)
    as_xrays = scan_site_images([LabelledImage(photo, 1)], model)
    assert len(as_photos.accepted) == 1 and as_photos.accepted[0][1].correction.startswith("film_photo")
    assert not as_xrays.accepted


def test_edge_scan_photo_records_the_photo_in_json(tmp_path):
    photo = save(tmp_path, lightbox_photo(xray_rgb()))
    run = CliRunner().invoke(main, ["scan", "--photo", "--no-history", "--format", "json", str(photo)])
    assert run.exit_code == 0, run.output
    record = json.loads(run.output.splitlines()[0])
    assert record["status"] == "ok" and record["correction"].startswith("film_photo")
