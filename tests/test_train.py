"""End-to-end training on the committed fixture, and edge-train's bad-input handling."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from edge_app.contract import LABELS
from train.cli import main as edge_train


def test_training_run_writes_model_splits_and_report(tiny_training_run):
    report = json.loads((tiny_training_run / "report.json").read_text())
    splits = json.loads((tiny_training_run / "splits.json").read_text())["splits"]

    assert (tiny_training_run / "model.keras").stat().st_size > 0
    for checkpoint in ("checkpoint", "pretrain_checkpoint"):
        assert not (tiny_training_run / checkpoint).exists(), "a finished run leaves no resume checkpoint behind"
    assert report["contract"]["labels"] == list(LABELS)
    assert report["contract"]["input_shape"] == [32, 32, 1]
    assert len(report["epochs"]) == 2 and "val_auc" in report["epochs"][0]
    assert report["pretraining"]["epochs"] == len(report["pretraining"]["loss"]) == report["config"]["pretrain_epochs"]
    assert sum(report["data"]["splits"][s]["NORMAL"] + report["data"]["splits"][s]["PNEUMONIA"] for s in splits) == 36
    train_patients = {e["patient"] for e in splits["train"]}
    assert not train_patients & {e["patient"] for e in splits["val"] + splits["test"]}
    for split in ("val", "test"):
        summary = report["evaluation"][split]
        assert 0.0 <= summary["auc"] <= 1.0
        assert summary["auc_ci95"][0] <= summary["auc"] <= summary["auc_ci95"][1]
        assert summary["threshold"] == report["operating_threshold"]["value"]
    # the threshold reaches the target sensitivity on the split it was chosen on
    assert report["evaluation"]["val"]["sensitivity"] >= report["operating_threshold"]["target_sensitivity"]
    assert report["libraries"]["tf_keras"].startswith("2.")


def test_trained_model_takes_the_shared_preprocessing(tiny_training_run, fixture_data):
    from edge_app.intake.preprocess import preprocess
    from lab.keras_env import keras

    model = keras.models.load_model(tiny_training_run / "model.keras")
    x = np.stack([preprocess(p, 32) for p in sorted(fixture_data.rglob("*.jpeg"))[:4]])
    scores = model.predict(x, verbose=0).ravel()
    assert scores.shape == (4,) and ((scores >= 0) & (scores <= 1)).all()


def test_corrupt_files_are_skipped_and_listed(tmp_path, fixture_data):
    data = tmp_path / "chest_xray"
    shutil.copytree(fixture_data, data)
    normal = data / "train" / "NORMAL"
    (normal / "IM-9001-0001.jpeg").write_text("not an image")
    good = next(normal.glob("*.jpeg")).read_bytes()
    (normal / "IM-9002-0001.jpeg").write_bytes(good[: len(good) // 2])

    result = CliRunner().invoke(
        edge_train, ["--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--image-size", "32"]
    )
    assert result.exit_code == 0, result.output
    skipped = json.loads((tmp_path / "run" / "report.json").read_text())["data"]["skipped_files"]
    assert sorted((s["path"].rsplit("/", 1)[1], s["reason"].split(":")[0]) for s in skipped) == [
        ("IM-9001-0001.jpeg", "not_an_image"),
        ("IM-9002-0001.jpeg", "corrupt_image"),
    ]


def test_missing_dataset_fails_before_training(tmp_path):
    result = CliRunner().invoke(edge_train, ["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "no such folder" in result.output
    assert not (tmp_path / "run").exists()


def test_empty_class_fails_before_training(tmp_path, fixture_data):
    data = tmp_path / "chest_xray"
    shutil.copytree(fixture_data, data)
    for image in (data / "train" / "NORMAL").iterdir():
        image.unlink()
    result = CliRunner().invoke(edge_train, ["--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "NORMAL: holds no" in result.output


def test_an_interrupted_run_resumes_from_its_last_finished_epoch(tmp_path, fixture_data, monkeypatch):
    from lab.keras_env import keras
    from train.training import CHECKPOINT_DIR, TrainConfig, train

    class PowerCut(Exception):
        pass

    class CutAfterTwoEpochs(keras.callbacks.EarlyStopping):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                raise PowerCut

    config = TrainConfig(
        data=fixture_data, out=tmp_path / "run", epochs=3, image_size=32, batch_size=8, width=0.5, pretrain_epochs=2
    )
    with monkeypatch.context() as patch:
        patch.setattr(keras.callbacks, "EarlyStopping", CutAfterTwoEpochs)
        with pytest.raises(PowerCut):
            train(config)
    assert any((tmp_path / "run" / CHECKPOINT_DIR).iterdir()), "the interrupted run left a checkpoint"
    assert not (tmp_path / "run" / "model.keras").exists(), "no final model from an interrupted run"

    report = train(config)
    assert [e["epoch"] for e in report["epochs"]] == [3], "only the third epoch was left to run"
    assert "loss" not in report["pretraining"], "the resumed run did not pretrain again"
    assert (tmp_path / "run" / "model.keras").exists()
