"""Calibration counts different X-rays and children, not files: copied or nearly copied sets are refused with a
sentence saying why, and so are swapped folders."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edge_app.cli.main import main
from edge_app.site import variety
from tests.conftest import FIXTURE_DATA


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PNEUMOSCAN_MODEL", raising=False)
    return tmp_path / "home"


def _first(label: str) -> Path:
    return sorted((FIXTURE_DATA / "train" / label).glob("*.jpeg"))[0]


def _noisy(source: Path, seed: int, quality: int) -> bytes:
    pixels = np.asarray(Image.open(source).convert("L"), dtype=np.float64)
    noisy = np.clip(pixels + np.random.default_rng(seed).normal(0, 6, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _copied_site(folder: Path, near: bool) -> Path:
    """One NORMAL and one PNEUMONIA X-ray, each as 60 files under new names: exact copies, or noisy re-encodings."""
    for label in ("NORMAL", "PNEUMONIA"):
        (folder / label).mkdir(parents=True)
        for n in range(60):
            target = folder / label / f"site-{label.lower()}-{n:03d}.jpeg"
            if near:
                target.write_bytes(_noisy(_first(label), n, 70 + n % 25))
            else:
                shutil.copyfile(_first(label), target)
    return folder


@pytest.mark.parametrize("near", [False, True], ids=["exact_copies", "noisy_near_copies"])
def test_one_xray_per_class_copied_sixty_times_is_refused(home, tmp_path, near):
    result = CliRunner().invoke(main, ["calibrate", str(_copied_site(tmp_path / "site", near))])
    assert result.exit_code == 1, result.output
    assert "REFUSED" in result.output and not (home / "site_profile.json").exists()
    assert "only 1 different children" in result.output
    assert "Only 1 usable NORMAL images" in result.output and "Only 1 usable PNEUMONIA images" in result.output
    assert "118 of 120 files are copies of others" in result.output


def test_near_copies_are_found_but_different_xrays_are_not(tmp_path):
    from edge_app.intake.preprocess import preprocess

    originals = sorted((FIXTURE_DATA / "train" / "NORMAL").glob("*.jpeg"))[:6]
    prints = [variety.fingerprint(preprocess(path, 224)) for path in originals]
    noisy = [variety.fingerprint(preprocess(_noisy(path, 1, 40), 224)) for path in originals]
    mirrored = [variety.fingerprint(preprocess(path, 224)[:, ::-1]) for path in originals]
    copies = variety.copy_of([f"{i:064x}" for i in range(18)], prints + noisy + mirrored)
    assert copies == [None] * 6 + list(range(6)) + list(range(6))


def test_the_same_xray_in_both_folders_is_named(home, tmp_path):
    site = tmp_path / "site"
    for label in ("NORMAL", "PNEUMONIA"):
        shutil.copytree(FIXTURE_DATA / "train" / label, site / label)
    shutil.copyfile(_first("NORMAL"), site / "PNEUMONIA" / "also-here.jpeg")
    result = CliRunner().invoke(main, ["calibrate", str(site)])
    assert result.exit_code == 1 and "appear in both the NORMAL and the PNEUMONIA folder" in result.output


def test_swapped_folders_are_named_in_a_sentence(home, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(FIXTURE_DATA / "train" / "NORMAL", site / "PNEUMONIA")
    shutil.copytree(FIXTURE_DATA / "train" / "PNEUMONIA", site / "NORMAL")
    result = CliRunner().invoke(main, ["calibrate", str(site)])
    assert result.exit_code == 1 and "seem to be swapped" in result.output
    assert "strictly between" not in result.output and "Traceback" not in result.output
