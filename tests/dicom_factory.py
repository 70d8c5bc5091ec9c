"""Build DICOM files from the fixture X-rays, as an X-ray unit would write them.

A CR image from a JPEG: the 8-bit intensities become 12-bit detector values
through a non-linear response, stored inverted (MONOCHROME1), with a VOI LUT
that maps them to 16-bit display values, so a reader that skips any of these
steps sees a different picture from the JPEG's.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


def detector_values(jpeg: Path, bits: int = 12) -> np.ndarray:
    """A JPEG's intensities as `bits`-bit detector values (brighter = more signal), via a gamma 1.4 response."""
    gray = np.asarray(Image.open(jpeg).convert("L"), dtype=np.float64) / 255.0
    return np.round((2**bits - 1) * gray**1.4).astype(np.uint16)


def cr_dataset(
    jpeg: Path,
    *,
    monochrome1: bool = True,
    bits: int = 12,
    voi_lut: bool = True,
    modality: str = "CR",
    view: str = "PA",
    frames: int = 1,
    patient_id: str | None = "DCM-0007",
    study_uid: str | None = None,
) -> Dataset:
    """A CR dataset of the JPEG's picture (see the module docstring)."""
    values = detector_values(jpeg, bits)
    top = 2**bits - 1
    stored = (top - values) if monochrome1 else values
    dataset = _base_dataset(modality, patient_id, study_uid or generate_uid())
    dataset.ViewPosition = view
    dataset.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel = 1
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, bits, bits - 1
    dataset.PixelRepresentation = 0
    if voi_lut:
        item = Dataset()
        item.LUTDescriptor = [(top + 1) % 65536, 0, 16]  # 0 stands for 65536 entries
        lut = np.round(65535 * (np.arange(top + 1) / top) ** 0.7).astype(np.uint16).tolist()
        item.add_new("LUTData", "US", lut) if top < 2**15 else item.add_new("LUTData", "OW", _words(lut))
        dataset.VOILUTSequence = [item]
    else:
        dataset.WindowCenter, dataset.WindowWidth = top / 2, top
    if frames > 1:
        dataset.NumberOfFrames = frames
        stored = np.stack([stored] * frames)
    dataset.PixelData = stored.astype(np.uint16).tobytes()
    return dataset


def _words(values: list[int]) -> bytes:
    """A LUT too long for US (over 64 KB) as the OW bytes a unit writes instead."""
    return np.asarray(values, dtype="<u2").tobytes()


def _base_dataset(modality: str, patient_id: str | None, study_uid: str) -> Dataset:
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = CR_IMAGE_STORAGE if modality == "CR" else CTImageStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.Modality = modality
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = generate_uid()
    if patient_id is not None:
        dataset.PatientID = patient_id
    return dataset


def dicom_bytes(dataset: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file (preamble, DICM, file meta)."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_dicom(dataset: Dataset, path: Path) -> Path:
    path.write_bytes(dicom_bytes(dataset))
    return path


def bundled_file(name: str) -> Path:
    """One of the DICOM files that ship inside pydicom (CT_small.dcm, MR_small.dcm...)."""
    return Path(pydicom.data.get_testdata_file(name))


def clinic_batch(folder: Path, samples: Path) -> Path:
    """A clinic's folder: the sample X-rays (five NORMAL, five PNEUMONIA), a file that is not an image
    (notes.jpeg, rejected as not_an_image) and pydicom's CT (ct.dcm, rejected as wrong_modality)."""
    folder.mkdir(parents=True, exist_ok=True)
    for jpeg in sorted(samples.glob("*.jpeg")):
        shutil.copyfile(jpeg, folder / jpeg.name)
    (folder / "notes.jpeg").write_text("not an image")
    shutil.copyfile(bundled_file("CT_small.dcm"), folder / "ct.dcm")
    return folder
