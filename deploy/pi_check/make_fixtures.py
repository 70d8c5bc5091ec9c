"""The inputs of the emulated Raspberry Pi check, made once on the host so both devices scan the same bytes.

xrays/   the 36 committed fixture X-rays (real chest X-rays, NORMAL/ and PNEUMONIA/);
site/    a labelled site folder for `edge-scan calibrate`, built as the calibration tests build theirs;
dicom/   CR DICOMs of fixture X-rays as an X-ray unit writes them (MONOCHROME1 with a VOI LUT), the same
         images RLE and JPEG 2000 compressed, and pydicom's CT (refused as wrong_modality).

Usage: python deploy/pi_check/make_fixtures.py OUT   (run from the repository root, with pydicom installed)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pydicom.uid import JPEG2000Lossless, RLELossless

from tests.conftest import FIXTURE_DATA
from tests.device.test_calibrate import SITE_VARIANTS, make_site
from tests.dicom_factory import bundled_file, cr_dataset, write_dicom

DICOM_SOURCES = 2  # X-rays per class written as DICOM (each in three encodings)
COMPRESSIONS = {"rle": RLELossless, "j2k": JPEG2000Lossless}


def write_dicoms(folder: Path) -> None:
    folder.mkdir(parents=True)
    for label in ("NORMAL", "PNEUMONIA"):
        for jpeg in sorted((FIXTURE_DATA / "train" / label).glob("*.jpeg"))[:DICOM_SOURCES]:
            write_dicom(cr_dataset(jpeg), folder / f"{jpeg.stem}.dcm")
            for suffix, syntax in COMPRESSIONS.items():
                dataset = cr_dataset(jpeg)
                dataset.compress(syntax)
                write_dicom(dataset, folder / f"{jpeg.stem}-{suffix}.dcm")
    shutil.copyfile(bundled_file("CT_small.dcm"), folder / "ct.dcm")


def main(out: Path) -> None:
    shutil.copytree(FIXTURE_DATA / "train", out / "xrays")
    make_site(out / "site", SITE_VARIANTS)
    write_dicoms(out / "dicom")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
