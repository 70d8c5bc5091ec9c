"""Dataset discovery and patient-level splitting."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_app.site.dataset import DatasetError, discover, find_root, patient_id, patient_splits


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("person123_bacteria_456.jpeg", "person123"),
        ("person123_virus_7.jpeg", "person123"),
        ("IM-0115-0001.jpeg", "im-115"),
        ("NORMAL2-IM-1427-0001.jpeg", "normal2-1427"),
        ("NORMAL-1003233-0001.jpeg", "v2-1003233"),
        ("BACTERIA-1008087-0002.jpeg", "v2-1008087"),
        ("VIRUS-1008087-0001.jpeg", "v2-1008087"),
        ("scan.png", None),
    ],
)
def test_patient_id_from_kermany_names(name, expected):
    assert patient_id(name) == expected


def _image(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)


def _fake_dataset(root: Path, patients_per_class: int = 20) -> None:
    for p in range(patients_per_class):
        for n in range(3):  # several images per patient
            _image(root / "train" / "PNEUMONIA" / f"person{p}_bacteria_{p * 10 + n}.jpeg", (p * 7 + n) % 250)
        for n in range(2):
            _image(root / "train" / "NORMAL" / f"IM-{p:04d}-{n + 1:04d}.jpeg", (p * 11 + n + 3) % 250)


def test_find_root_accepts_kaggle_nesting(tmp_path):
    _fake_dataset(tmp_path / "chest_xray" / "chest_xray")
    assert find_root(tmp_path / "chest_xray") == tmp_path / "chest_xray" / "chest_xray"


def test_splits_never_share_a_patient(tmp_path):
    _fake_dataset(tmp_path)
    examples = discover(tmp_path)["train"]
    splits = patient_splits(examples, seed=1, val_fraction=0.2, test_fraction=0.2)

    patients = {name: {e.patient for e in items} for name, items in splits.items()}
    assert not patients["train"] & patients["val"]
    assert not patients["train"] & patients["test"]
    assert not patients["val"] & patients["test"]
    assert sum(len(items) for items in splits.values()) == len(examples)
    for items in splits.values():
        assert {e.label for e in items} == {0, 1}


DUPLICATED_PATIENTS = 12


@pytest.fixture(scope="module")
def duplicated_dataset(tmp_path_factory) -> Path:
    """30 patients per class, each image distinct noise, except that each of the first 12 pneumonia
    patients has an image stored again, byte for byte, under a new patient's name (person9NN)."""
    root = tmp_path_factory.mktemp("duplicated")
    rng = np.random.default_rng(0)
    for p in range(30):
        for folder, name in (("PNEUMONIA", f"person{p}_bacteria_{p}.jpeg"), ("NORMAL", f"IM-{p:04d}-0001.jpeg")):
            path = root / "train" / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(path)
    for p in range(DUPLICATED_PATIENTS):
        source = root / "train" / "PNEUMONIA" / f"person{p}_bacteria_{p}.jpeg"
        (root / "train" / "PNEUMONIA" / f"person9{p:02d}_virus_1.jpeg").write_bytes(source.read_bytes())
    return root


@pytest.mark.parametrize("seed", range(40))
def test_byte_identical_images_under_two_patients_always_share_a_split(duplicated_dataset, seed):
    """With a third of the patients in each split, twelve unlinked pairs would all share a split by chance
    about once in half a million seeds; linked by SHA-256 they must, for every seed."""
    splits = patient_splits(discover(duplicated_dataset)["train"], seed=seed, val_fraction=0.33, test_fraction=0.33)
    split_of = {e.patient: name for name, items in splits.items() for e in items}
    apart = [p for p in range(DUPLICATED_PATIENTS) if split_of[f"person{p}"] != split_of[f"person9{p:02d}"]]
    assert apart == [], f"byte-identical images of these patients landed in different splits: {apart}"


def test_splits_are_reproducible_from_the_seed(tmp_path):
    _fake_dataset(tmp_path)
    examples = discover(tmp_path)["train"]
    first = patient_splits(examples, seed=7)
    assert first == patient_splits(examples, seed=7)
    assert first != patient_splits(examples, seed=8)


def test_missing_folder_and_empty_class_fail_clearly(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        find_root(tmp_path / "nope")
    with pytest.raises(DatasetError, match="holds no train/"):
        find_root(tmp_path)
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    _image(tmp_path / "train" / "PNEUMONIA" / "person1_virus_1.jpeg", 9)
    with pytest.raises(DatasetError, match="NORMAL: holds no"):
        discover(tmp_path)
