"""Simulated phone photos of X-ray films, for measuring what `edge-scan scan --photo` does with them.

There are no real photos of films in our data, so an X-ray is printed onto a simulated film and photographed
in a simulated scene: a lightbox, a window, a desk, or a monitor (with moire). The camera is tilted and seen
at an angle, with a colour cast, uneven light, vignetting, a glare spot, blur, sensor noise and JPEG.

On purpose, the simulator breaks what the film finder assumes: the lens bends straight edges a little (barrel
distortion), the film's corners are rounded, a clip or a thumb covers part of its edge, the lighting falls off
as a curve rather than a plane, and the phone applies its own tone curve. Figures from these photos are still
figures from simulated photos: a site that uses photos calibrates on real photographed films.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SCENES = ("lightbox", "window", "desk", "monitor")
"""The scenes `random_style` draws from when none is named (the benchmark's photos)."""
HARD_SCENES = ("striped_desk", "window_frame")
"""Scenes drawn only when named: a desk with long straight stripes beside the film, or a window whose thick frame
runs behind the film and shows through it. Their straight edges can be taken for the film's own, so the finder
takes a part of the film, or the film with background, instead of the whole film."""


@dataclass(frozen=True)
class PhotoStyle:
    """How one simulated photo is taken; drawn at random by `random_style`."""

    scene: str
    tilt_degrees: float
    perspective: float
    film_share: float
    cast: tuple[float, float, float]
    light_falloff: float
    glare: bool
    blur_sigma: float
    noise: float
    jpeg_quality: int
    barrel: float
    clip: bool


def random_style(rng: np.random.Generator, scene: str | None = None) -> PhotoStyle:
    return PhotoStyle(
        scene=scene or str(rng.choice(SCENES)),
        tilt_degrees=float(rng.uniform(-12, 12)),
        perspective=float(rng.uniform(0.0, 0.08)),
        film_share=float(rng.uniform(0.45, 0.72)),
        cast=tuple(float(c) for c in rng.uniform(0.8, 1.15, 3)),
        light_falloff=float(rng.uniform(0.0, 0.35)),
        glare=bool(rng.random() < 0.3),
        blur_sigma=float(rng.uniform(0.0, 1.6)),
        noise=float(rng.uniform(1.0, 6.0)),
        jpeg_quality=int(rng.integers(60, 95)),
        barrel=float(rng.uniform(0.0, 0.04)),
        clip=bool(rng.random() < 0.4),
    )


def print_film(xray: np.ndarray, rng: np.random.Generator, height: int = 1400) -> np.ndarray:
    """The X-ray (grayscale uint8) as a film's transmittance in [0, 1]: upscaled, with an unexposed clear-to-dark
    margin and a printed label strip, as film prints come out of an X-ray unit."""
    aspect = xray.shape[1] / xray.shape[0]
    width = int(height * min(max(aspect, 0.75), 1.25))
    image = cv2.resize(xray, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    density = 0.04 + 0.9 * (1.0 - image) ** 1.1  # film is never perfectly clear nor perfectly black
    margin = int(height * rng.uniform(0.015, 0.05))
    film = np.full((height + 2 * margin, width + 2 * margin), rng.uniform(0.05, 0.12), np.float32)
    film[margin : margin + height, margin : margin + width] = density
    label_w, label_h = int(width * 0.25), int(margin * 0.8)
    film[margin // 10 : margin // 10 + label_h, margin : margin + label_w] = 0.8
    return film


def _scene_background(shape: tuple[int, int], scene: str, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if scene == "lightbox":
        panel = np.full((h, w, 3), rng.uniform(200, 240), np.float32)
        bezel = int(min(h, w) * 0.04)
        panel[:bezel], panel[-bezel:], panel[:, :bezel], panel[:, -bezel:] = 60, 60, 60, 60
        return panel
    if scene == "window":
        sky = 170 + 60 * (1 - yy / h)
        bars = ((xx // (w / 3)) % 1 == 0) & (np.abs(xx % (w / 3)) < w * 0.01)
        background = np.repeat(sky[..., None], 3, axis=2) * np.array([0.9, 0.97, 1.05], np.float32)
        background[bars] = 80
        return background
    if scene == "desk":
        grain = 90 + 25 * np.sin(xx / 9.0 + 3 * np.sin(yy / 60.0)) + rng.normal(0, 6, (h, w))
        return np.stack([grain * 1.25, grain, grain * 0.7], axis=2)
    if scene == "striped_desk":
        return _stripes((h, w), rng)
    if scene == "window_frame":
        return _window_frame((h, w), rng)
    return np.full((h, w, 3), rng.uniform(20, 45), np.float32)  # the monitor's dark bezel and the room


def _stripes(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Planks or a striped cloth: wide light and dark stripes with straight edges, near the film's own angle."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = np.deg2rad(rng.uniform(-15, 15) + 90 * rng.integers(2))
    period = rng.uniform(0.05, 0.12) * w
    across = (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 1)
    light = (across % 1.0) < rng.uniform(0.4, 0.6)
    low, high = rng.uniform(45, 85), rng.uniform(160, 215)
    tint = np.array(rng.uniform(0.85, 1.15, 3), np.float32)
    grey = np.where(light, high, low).astype(np.float32) + rng.normal(0, 4, (h, w))
    return cv2.GaussianBlur(grey, (0, 0), 1.2)[..., None] * tint


def _window_frame(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Sky through a window whose thick frame (an upright and a crossbar) runs across where the film will be."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.repeat((170 + 60 * (1 - yy / h))[..., None], 3, axis=2) * np.array([0.9, 0.97, 1.05], np.float32)
    upright, crossbar = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.25, 0.75)
    thick = w * rng.uniform(0.02, 0.045)
    frame = (np.abs(xx - upright) < thick / 2) | ((np.abs(yy - crossbar) < thick / 2) & (rng.random() < 0.6))
    sky[frame] = rng.uniform(50, 100)
    return sky


def _film_appearance(film: np.ndarray, scene: str, rng: np.random.Generator) -> np.ndarray:
    """What the camera sees of the film itself: light through it on a lightbox or window, light off it on a
    desk (low contrast), pixels of a screen (with the moire of the screen's grid against the sensor's)."""
    transmittance = 1.0 - film
    if scene in ("lightbox", "window", "window_frame"):
        seen = 25 + 225 * transmittance
    elif scene in ("desk", "striped_desk"):
        seen = 70 + 110 * transmittance
    else:
        h, w = film.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period, angle = rng.uniform(3.0, 7.0), rng.uniform(0, np.pi)
        moire = 1 + 0.06 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        seen = (15 + 220 * transmittance) * moire
    return np.repeat(seen[..., None], 3, axis=2)


def _rounded_mask(shape: tuple[int, int], radius: int) -> np.ndarray:
    mask = np.full(shape, 255, np.uint8)
    h, w = shape
    for cy, cx in (
        (radius, radius),
        (radius, w - radius - 1),
        (h - radius - 1, radius),
        (h - radius - 1, w - radius - 1),
    ):
        y0, x0 = (0 if cy == radius else h - radius), (0 if cx == radius else w - radius)
        mask[y0 : y0 + radius, x0 : x0 + radius] = 0
        cv2.circle(mask, (cx, cy), radius, 255, -1)
    return mask


def photograph(
    xray: np.ndarray, style: PhotoStyle, rng: np.random.Generator, size: tuple[int, int] = (1600, 1200)
) -> bytes:
    """A JPEG phone photo (width, height = `size`) of the X-ray printed on film, taken as `style` says."""
    width, height = size
    film = print_film(xray, rng, height=int(height * 1.1))
    appearance = _film_appearance(film, style.scene, rng)
    fh, fw = film.shape
    target = _film_corners((fw, fh), (width, height), style, rng)
    source = np.array([[0, 0], [fw - 1, 0], [fw - 1, fh - 1], [0, fh - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    scene = _scene_background((height, width), style.scene, rng)
    warped = cv2.warpPerspective(appearance, matrix, (width, height), flags=cv2.INTER_AREA)
    if style.scene == "window_frame":  # held against the window: what is behind the film shows through it
        warped = warped * (scene.mean(axis=2, keepdims=True) / scene.mean(axis=2).max())
    mask = cv2.warpPerspective(_rounded_mask((fh, fw), int(0.02 * fw)), matrix, (width, height)) / 255.0
    photo = scene * (1 - mask[..., None]) + warped * mask[..., None]
    if style.clip:
        _draw_clip(photo, target, rng)
    photo = _light(photo, style, rng)
    photo = _barrel(photo, style.barrel)
    if style.blur_sigma > 0.2:
        photo = cv2.GaussianBlur(photo, (0, 0), style.blur_sigma * width / 1600)
    photo = 255.0 * (np.clip(photo, 0, 255) / 255.0) ** 0.9  # the phone's tone curve
    photo += rng.normal(0, style.noise, photo.shape)
    rgb = np.clip(photo, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, style.jpeg_quality]
    )
    assert ok
    return encoded.tobytes()


def _film_corners(film: tuple[int, int], photo: tuple[int, int], style: PhotoStyle, rng: np.random.Generator):
    """Where the film's corners land in the photo: tilted, seen at an angle, off centre, and shrunk until the
    whole film is in the picture (as the health worker is asked to take it)."""
    (fw, fh), (width, height) = film, photo
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.06, 0.06, 2) * np.array([width, height])
    angle = np.deg2rad(style.tilt_degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    jitter = rng.uniform(-style.perspective, style.perspective, (4, 2)) * np.array([fw, fh])
    box = np.array([[-fw / 2, -fh / 2], [fw / 2, -fh / 2], [fw / 2, fh / 2], [-fw / 2, fh / 2]])
    scale = style.film_share * min(width / fw, height / fh)
    while True:
        corners = ((box + jitter) @ rotation.T) * scale + centre
        inside = (corners.min(axis=0) > 0.03 * np.array(photo)).all() and (
            corners.max(axis=0) < 0.97 * np.array(photo)
        ).all()
        if inside:
            return corners.astype(np.float32)
        scale *= 0.95
        centre = 0.8 * centre + 0.2 * np.array([width / 2, height / 2])


def _draw_clip(photo: np.ndarray, corners: np.ndarray, rng: np.random.Generator) -> None:
    """A clip or thumb over the middle of one of the film's edges, reaching a little into the film."""
    side = int(rng.integers(4))
    start, end = corners[side], corners[(side + 1) % 4]
    point = start + (end - start) * rng.uniform(0.3, 0.7)
    size = int(0.035 * photo.shape[1])
    colour = [float(c) for c in rng.uniform(30, 200, 3)]
    cv2.ellipse(
        photo, (int(point[0]), int(point[1])), (size, size // 2), float(rng.uniform(0, 180)), 0, 360, colour, -1
    )


def _light(photo: np.ndarray, style: PhotoStyle, rng: np.random.Generator) -> np.ndarray:
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = ((xx / w - 0.5) * np.cos(direction) + (yy / h - 0.5) * np.sin(direction)) * 2
    falloff = 1 - style.light_falloff * (0.5 + 0.5 * np.tanh(1.5 * ramp))  # a curve, not a plane
    vignette = 1 - 0.25 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    lit = photo * (falloff * vignette)[..., None] * np.array(style.cast, np.float32)
    if style.glare:
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        radius = rng.uniform(0.01, 0.035) * w
        spot = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)))
        lit = lit + 255 * 1.3 * spot[..., None]
    return lit


def _barrel(photo: np.ndarray, strength: float) -> np.ndarray:
    """Straight lines bent outwards a little, as a phone's wide lens does away from the centre."""
    if strength <= 0:
        return photo
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)
    factor = 1 + strength * (nx**2 + ny**2)
    map_x, map_y = (nx * factor * w / 2 + w / 2).astype(np.float32), (ny * factor * h / 2 + h / 2).astype(np.float32)
    return cv2.remap(photo.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
