"""The film finder on simulated phone photos (lab.photo_simulator): the whole film is found, not the window
around it nor a part of the film."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import lab.photo_simulator as simulator
from edge_app.intake.film_photo import find_film
from edge_app.reasons import FILM_CUT_OFF, FILM_NOT_FOUND, ImageRejected

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "chest_xray" / "train"
XRAY = FIXTURES / "PNEUMONIA" / "person1002_bacteria_2933.jpeg"


def photo_and_film(scene: str, seed: int, monkeypatch, xray: Path = XRAY) -> tuple[np.ndarray, np.ndarray]:
    """A simulated photo (RGB) of the X-ray's film in `scene`, and where the simulator put the film."""
    photo, film, _ = photo_film_and_picture(scene, seed, monkeypatch, xray)
    return photo, film


def photo_film_and_picture(
    scene: str, seed: int, monkeypatch, xray: Path = XRAY
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A simulated photo (RGB) of the X-ray's film in `scene`, where the simulator put the film, and where the X-ray
    printed on it is (the film less its clear margin)."""
    placed, printed = [], []
    real_corners, real_print = simulator._film_corners, simulator.print_film
    monkeypatch.setattr(simulator, "_film_corners", lambda *args: placed.append(real_corners(*args)) or placed[-1])
    monkeypatch.setattr(
        simulator, "print_film", lambda *args, **kw: printed.append(real_print(*args, **kw)) or printed[-1]
    )
    rng = np.random.default_rng(seed)
    style = simulator.random_style(rng, scene=scene)
    data = simulator.photograph(cv2.imread(str(xray), cv2.IMREAD_GRAYSCALE), style, rng)
    photo = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    film = printed[0]
    margin = int(np.argmax(film[film.shape[0] // 2] != film[film.shape[0] // 2, 0]))  # the clear margin's width
    height, width = film.shape[0] - 1, film.shape[1] - 1
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    inner = corners + np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float32) * margin
    matrix = cv2.getPerspectiveTransform(corners, placed[0].astype(np.float32))
    return photo, placed[0], cv2.perspectiveTransform(inner.reshape(-1, 1, 2), matrix).reshape(4, 2)


def overlap(found: np.ndarray, film: np.ndarray, shape: tuple[int, int]) -> tuple[float, float]:
    """Share of the film inside the found outline, and the found area outside the film as a share of the film."""
    masks = [np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)]
    for mask, corners in zip(masks, (found, film), strict=True):
        cv2.fillConvexPoly(mask, np.round(corners).astype(np.int32), 1)
    inside = float((masks[0] & masks[1]).sum())
    return inside / masks[1].sum(), (masks[0].sum() - inside) / masks[1].sum()


@pytest.mark.parametrize("seed", [0, 3, 4, 7])
def test_a_film_against_a_window_is_found_though_its_clear_margin_is_as_bright_as_the_sky(seed, monkeypatch):
    """The window's bars touch the film and run off the photo; joined to them the film would look cut off."""
    photo, film = photo_and_film("window", seed, monkeypatch)
    covered, beyond = overlap(find_film(photo).corners, film, photo.shape[:2])
    assert covered > 0.85  # the lens bends the film's edges inwards a little, its corners are rounded
    assert beyond < 0.05


@pytest.mark.parametrize(
    ("xray", "seed"),
    [
        (FIXTURES / "NORMAL" / "NORMAL2-IM-0886-0001.jpeg", 11),
        (FIXTURES / "PNEUMONIA" / "person1147_virus_1919.jpeg", 21),
    ],
)
def test_a_film_against_a_window_whose_bars_cross_its_edges_is_found_whole(xray, seed, monkeypatch):
    """Thin bars meet the film's edges on both sides and run on to the photo's edge: every outline along the film's
    edges joins them (these films were once refused as cut off). The whole film is found, and nothing else."""
    photo, film, picture = photo_film_and_picture("window", seed, monkeypatch, xray)
    found = find_film(photo).corners
    assert overlap(found, picture, photo.shape[:2])[0] > 0.93
    assert overlap(found, film, photo.shape[:2])[1] < 0.05


@pytest.mark.parametrize(
    ("name", "seed"),
    [
        ("IM-0505-0001.jpeg", 0),
        ("IM-0631-0001-0001.jpeg", 1),
        ("IM-0237-0001.jpeg", 4),
        ("NORMAL2-IM-0464-0001.jpeg", 4),
    ],
)
def test_a_film_on_a_lightbox_is_found_inside_the_lit_panel_not_taken_for_the_panel(name, seed, monkeypatch):
    """The film's clear margin is as bright as the panel along part of its sides (in the last photo, along a whole
    side: the film is then found by where its picture's detail is)."""
    photo, film = photo_and_film("lightbox", seed, monkeypatch, FIXTURES / "NORMAL" / name)
    covered, beyond = overlap(find_film(photo).corners, film, photo.shape[:2])
    assert covered > 0.85
    assert beyond < 0.05


@pytest.mark.parametrize(
    ("scene", "seed", "xray"),
    [
        *[(scene, seed, XRAY) for scene in simulator.HARD_SCENES for seed in range(4)],
        ("window_frame", 7, FIXTURES / "PNEUMONIA" / "person1016_bacteria_2947.jpeg"),
        ("window_frame", 8, FIXTURES / "PNEUMONIA" / "person1016_bacteria_2947.jpeg"),
    ],
)
def test_a_film_against_a_window_frame_or_on_a_striped_desk_is_found_whole_or_refused(scene, seed, xray, monkeypatch):
    """Straight edges of the scene (a frame seen through the film, stripes beside it) line up with the film's; an
    outline along them would hold part of the film or background, and no part of a film may be scanned as if whole.
    (In the last two photos the frame crossing the film once made the finder take 39% and 68% of the X-ray.)"""
    photo, film, picture = photo_film_and_picture(scene, seed, monkeypatch, xray)
    try:
        found = find_film(photo).corners
    except ImageRejected as refused:
        assert refused.reason in (FILM_CUT_OFF, FILM_NOT_FOUND)
        return
    assert overlap(found, picture, photo.shape[:2])[0] > 0.93  # all of the X-ray
    assert overlap(found, film, photo.shape[:2])[1] < 0.05  # and no background
