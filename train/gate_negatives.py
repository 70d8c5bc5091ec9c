"""Images that are not chest X-rays, for teaching the gate what to refuse.

A health worker can pick any file: a photo, a scan of a form, a CT or MR slice
exported from another system, a blank or noisy frame. The gate learns to
refuse such images from two sources:
- synthetic kinds drawn here (noise, gradients, text, shapes, tiled textures,
  smooth blobs, CT/MR-like round slices, and blends of them);
- grayscale crops of the photographs and scientific images that ship offline
  with scikit-learn and matplotlib.

scikit-image's and pydicom's bundled sample images are deliberately NOT used:
they are the held-out images the gate is judged on (benchmarks/gate_eval.py).
Every generator takes a numpy Generator and returns a PIL grayscale image of
random size, so the gate sees them through the same preprocessing as X-rays.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Generator = Callable[[np.random.Generator], Image.Image]


def _size(rng: np.random.Generator) -> tuple[int, int]:
    side = int(rng.integers(128, 512))
    aspect = float(rng.uniform(0.6, 1.6))
    return side, max(96, int(side * aspect))


def _to_image(pixels: np.ndarray) -> Image.Image:
    low, high = float(pixels.min()), float(pixels.max())
    scaled = (pixels - low) / max(high - low, 1e-6) * 255.0
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def noise(rng: np.random.Generator) -> Image.Image:
    """White, salt-and-pepper or coarse block noise."""
    width, height = _size(rng)
    kind = rng.integers(3)
    if kind == 0:
        pixels = rng.normal(size=(height, width))
    elif kind == 1:
        pixels = (rng.random((height, width)) < rng.uniform(0.05, 0.5)).astype(np.float32)
    else:
        coarse = rng.random((int(rng.integers(4, 32)), int(rng.integers(4, 32))))
        return _to_image(coarse).resize((width, height), Image.Resampling.NEAREST)
    return _to_image(pixels)


def gradient(rng: np.random.Generator) -> Image.Image:
    """Linear or radial ramps, sometimes with a little noise."""
    width, height = _size(rng)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        pixels = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    else:
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        pixels = np.hypot(xx - cx, yy - cy)
    pixels = pixels ** rng.uniform(0.5, 2.0) if pixels.min() >= 0 else pixels
    return _to_image(pixels + rng.normal(scale=rng.uniform(0, 0.05) * np.ptp(pixels), size=pixels.shape))


def smooth_blobs(rng: np.random.Generator) -> Image.Image:
    """A sum of Gaussian blobs: soft shapes with no anatomy."""
    width, height = _size(rng)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(2, 12))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        sx, sy = rng.uniform(0.03, 0.3) * width, rng.uniform(0.03, 0.3) * height
        pixels += rng.uniform(-1, 1) * np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2) / 2)
    return _to_image(pixels)


def shapes(rng: np.random.Generator) -> Image.Image:
    """Rectangles, ellipses, lines and polygons on a plain or noisy ground."""
    width, height = _size(rng)
    image = Image.new("L", (width, height), int(rng.integers(0, 256)))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 25))):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        fill = int(rng.integers(0, 256))
        kind = rng.integers(4)
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == 2:
            draw.line((x0, y0, x1, y1), fill=fill, width=int(rng.integers(1, 12)))
        else:
            points = [
                (int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(int(rng.integers(3, 7)))
            ]
            draw.polygon(points, fill=fill)
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 6))))
    return image


def text(rng: np.random.Generator) -> Image.Image:
    """Lines of random characters, like a photographed form or a screenshot."""
    width, height = _size(rng)
    dark_on_light = rng.random() < 0.7
    image = Image.new("L", (width, height), 235 if dark_on_light else 20)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(rng.integers(8, 40)))
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:-/"))
    y = int(rng.integers(0, 20))
    while y < height:
        line = "".join(rng.choice(alphabet, int(rng.integers(5, 60))))
        draw.text((int(rng.integers(0, 30)), y), line, fill=20 if dark_on_light else 235, font=font)
        y += int(rng.integers(10, 50))
    return image


def tiled_texture(rng: np.random.Generator) -> Image.Image:
    """A small random tile repeated, stripes, a checkerboard or a sine grating."""
    width, height = _size(rng)
    kind = rng.integers(3)
    if kind == 0:
        tile = rng.random((int(rng.integers(4, 48)), int(rng.integers(4, 48))))
        reps = (height // tile.shape[0] + 1, width // tile.shape[1] + 1)
        return _to_image(np.tile(tile, reps)[:height, :width])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(4, 60)
    if kind == 1:
        angle = rng.uniform(0, np.pi)
        return _to_image(np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period))
    return _to_image(((xx // period + yy // period) % 2).astype(np.float32))


def round_slice(rng: np.random.Generator) -> Image.Image:
    """A CT- or MR-like cross-section: a bright-rimmed oval with soft inner structures on black."""
    width, height = _size(rng)
    side = min(width, height)
    image = Image.new("L", (width, height), int(rng.integers(0, 30)))
    draw = ImageDraw.Draw(image)
    cx, cy = width / 2 + rng.normal(scale=side * 0.05), height / 2 + rng.normal(scale=side * 0.05)
    rx, ry = side * rng.uniform(0.3, 0.48), side * rng.uniform(0.3, 0.48)
    rim = rng.uniform(0.02, 0.08)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=int(rng.integers(150, 256)))
    draw.ellipse(
        (cx - rx * (1 - rim), cy - ry * (1 - rim), cx + rx * (1 - rim), cy + ry * (1 - rim)),
        fill=int(rng.integers(60, 160)),
    )
    for _ in range(int(rng.integers(3, 15))):
        ex, ey = cx + rng.uniform(-0.6, 0.6) * rx, cy + rng.uniform(-0.6, 0.6) * ry
        er, eh = rng.uniform(0.05, 0.3) * rx, rng.uniform(0.05, 0.3) * ry
        draw.ellipse((ex - er, ey - eh, ex + er, ey + eh), fill=int(rng.integers(0, 256)))
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3))))
    pixels = np.asarray(image, np.float32) + rng.normal(scale=rng.uniform(0, 12), size=(height, width))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


@cache
def offline_photos() -> tuple[Image.Image, ...]:
    """Grayscale photographs and scientific images bundled with scikit-learn and matplotlib."""
    images: list[Image.Image] = []
    try:
        from sklearn.datasets import load_sample_images

        images.extend(Image.fromarray(array).convert("L") for array in load_sample_images().images)
    except ImportError:
        pass
    try:
        import matplotlib.cbook

        folder = Path(matplotlib.get_data_path()) / "sample_data"
        for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"):
            images.append(Image.open(folder / name).convert("L"))
        with gzip.open(folder / "s1045.ima.gz") as handle:  # an MR head slice, 256x256 16-bit
            mr = np.frombuffer(handle.read(), np.uint16).reshape(256, 256).astype(np.float32)
        images.append(_to_image(mr))
        for name, key in (("jacksboro_fault_dem.npz", "elevation"), ("topobathy.npz", "topo")):
            with matplotlib.cbook.get_sample_data(name) as data:
                images.append(_to_image(np.asarray(data[key], np.float32)))
    except (ImportError, OSError, KeyError, ValueError):
        pass
    return tuple(images)


def photo_crop(rng: np.random.Generator) -> Image.Image:
    """A random crop of a bundled photograph, resized, sometimes flipped and gamma-shifted."""
    photos = offline_photos()
    if not photos:
        return smooth_blobs(rng)
    photo = photos[int(rng.integers(len(photos)))]
    width, height = photo.size
    crop_w, crop_h = int(width * rng.uniform(0.3, 1.0)), int(height * rng.uniform(0.3, 1.0))
    x0, y0 = int(rng.integers(0, width - crop_w + 1)), int(rng.integers(0, height - crop_h + 1))
    crop = photo.crop((x0, y0, x0 + crop_w, y0 + crop_h)).resize(_size(rng), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = (np.asarray(crop, np.float32) / 255.0) ** rng.uniform(0.5, 2.0)
    return _to_image(pixels)


KINDS: dict[str, Generator] = {
    "noise": noise,
    "gradient": gradient,
    "smooth_blobs": smooth_blobs,
    "shapes": shapes,
    "text": text,
    "tiled_texture": tiled_texture,
    "round_slice": round_slice,
    "photo_crop": photo_crop,
}
"""Negative kinds by name; photographs are drawn twice as often as each synthetic kind."""

_WEIGHTS = np.array([2.0 if name == "photo_crop" else 1.0 for name in KINDS])


def blend(rng: np.random.Generator) -> Image.Image:
    """Two negatives of different kinds mixed: fills the gaps between the pure kinds."""
    first, second = (_draw_one(rng) for _ in range(2))
    second = second.resize(first.size, Image.Resampling.BILINEAR)
    return Image.blend(first, second, float(rng.uniform(0.2, 0.8)))


def _draw_one(rng: np.random.Generator) -> Image.Image:
    names = list(KINDS)
    return KINDS[names[int(rng.choice(len(names), p=_WEIGHTS / _WEIGHTS.sum()))]](rng)


def draw_negative(rng: np.random.Generator) -> Image.Image:
    """One random non-X-ray image (one in six a blend of two kinds)."""
    return blend(rng) if rng.random() < 1 / 6 else _draw_one(rng)
