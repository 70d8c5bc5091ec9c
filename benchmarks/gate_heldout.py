"""Held-out images for judging the chest X-ray gate: none of them was used to train it.

- scikit-image's bundled sample images (camera, moon, coins, retina, a CT phantom ...);
- pydicom's bundled test files that hold pixel data (CT, MR, NM, ultrasound, segmentations,
  secondary captures), middle frame of multi-frame files;
- generated kinds the gate never trained on: fractal (1/f) noise, Voronoi cells, a
  Mandelbrot set, concentric rings, random-walk line art.

Every image is written as an 8-bit grayscale PNG with a short side of at least 256 px, so the
colour and size checks cannot reject it and the gate itself has to.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MIN_SIDE = 256


def _as_gray_image(pixels: np.ndarray) -> Image.Image | None:
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        pixels = pixels[..., :3].mean(axis=-1)
    if pixels.ndim != 2 or min(pixels.shape) < 8 or np.ptp(pixels) == 0:
        return None
    scaled = (pixels - pixels.min()) / np.ptp(pixels) * 255.0
    image = Image.fromarray(scaled.astype(np.uint8), mode="L")
    factor = max(1.0, MIN_SIDE / min(image.size))
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BILINEAR)


def skimage_images() -> Iterator[tuple[str, Image.Image]]:
    import skimage.data

    for name in skimage.data.__all__:
        function = getattr(skimage.data, name)
        if not callable(function) or name in ("download_all", "file_hash", "lbp_frontal_face_cascade_filename"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pixels = function()
        except Exception:  # images that need a download are not available offline
            continue
        if isinstance(pixels, tuple):
            pixels = pixels[0]
        pixels = np.asarray(pixels)
        if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
            pixels = pixels[len(pixels) // 2]  # a stack: its middle slice
        image = _as_gray_image(pixels)
        if image is not None:
            yield f"skimage_{name}", image


def pydicom_images() -> Iterator[tuple[str, Image.Image]]:
    import pydicom
    from pydicom.data import get_testdata_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = sorted(get_testdata_files("*.dcm"))
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dataset = pydicom.dcmread(path)
                pixels = np.asarray(dataset.pixel_array)
        except Exception:  # test files without pixel data or with codecs we lack
            continue
        frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
        if frames > 1:
            pixels = pixels[frames // 2]
        image = _as_gray_image(pixels)
        if image is not None:
            yield f"pydicom_{dataset.get('Modality', 'NA')}_{Path(path).stem}", image


def fractal_noise(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    spectrum = np.fft.fft2(rng.normal(size=(size, size)))
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    return np.real(np.fft.ifft2(spectrum / np.maximum(np.hypot(fx, fy), 1 / size) ** rng.uniform(1.0, 2.0)))


def voronoi(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    points = rng.uniform(0, size, (int(rng.integers(8, 60)), 2))
    yy, xx = np.mgrid[0:size, 0:size]
    distances = np.hypot(yy[..., None] - points[:, 0], xx[..., None] - points[:, 1])
    nearest = np.sort(distances, axis=-1)
    return nearest[..., 1] - nearest[..., 0] if rng.random() < 0.5 else rng.random(len(points))[distances.argmin(-1)]


def mandelbrot(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    centre = complex(rng.uniform(-1.5, 0.3), rng.uniform(-0.8, 0.8))
    span = rng.uniform(0.05, 2.5)
    ys, xs = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    c = centre + span * (xs + 1j * ys)
    z, count = np.zeros_like(c), np.zeros(c.shape)
    for _ in range(60):
        inside = np.abs(z) <= 2
        z[inside] = z[inside] ** 2 + c[inside]
        count += inside
    return count


def rings(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    radius = np.hypot(yy - rng.uniform(0, size), xx - rng.uniform(0, size))
    return np.sin(radius / rng.uniform(2, 20)) + 0.5 * np.sin(radius**1.3 / rng.uniform(5, 40))


def line_art(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    point = rng.uniform(0, size, 2)
    for _ in range(int(rng.integers(50, 400))):
        nxt = np.clip(point + rng.normal(scale=20, size=2), 0, size)
        draw.line((*point, *nxt), fill=int(rng.integers(0, 120)), width=int(rng.integers(1, 4)))
        point = nxt
    return np.asarray(image, np.float64)


UNSEEN_KINDS = {
    "fractal_noise": fractal_noise,
    "voronoi": voronoi,
    "mandelbrot": mandelbrot,
    "rings": rings,
    "line_art": line_art,
}


def generated_images(per_kind: int, seed: int) -> Iterator[tuple[str, Image.Image]]:
    for name, make in UNSEEN_KINDS.items():
        for i in range(per_kind):
            image = _as_gray_image(make(np.random.default_rng([seed, i, len(name)])))
            if image is not None:
                yield f"generated_{name}_{i}", image


def write_heldout(folder: Path, per_kind: int = 20, seed: int = 7) -> dict[str, str]:
    """Write every held-out image into `folder` as PNG; returns file name -> source."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {}
    for source, images in (
        ("skimage", skimage_images()),
        ("pydicom", pydicom_images()),
        ("generated", generated_images(per_kind, seed)),
    ):
        for name, image in images:
            image.save(folder / f"{name}.png")
            sources[f"{name}.png"] = source
    return sources
