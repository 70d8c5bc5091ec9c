"""edge-train across two worker processes (MultiWorkerMirroredStrategy over TF_CONFIG on localhost).

This is how the recipe runs across several machines; here both workers share this one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import TINY_IMAGE_SIZE

WORKER_TIMEOUT_S = 900


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start_worker(index: int, cluster: list[str], data: Path, out: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        TF_CONFIG=json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}),
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    command = [sys.executable, "-c", "from train.cli import main; main()"]
    command += ["--data", str(data), "--out", str(out), "--epochs", "1", "--batch-size", "8", "--width", "0.5"]
    command += ["--image-size", str(TINY_IMAGE_SIZE), "--pretrain-epochs", "2"]
    log = (out.parent / f"worker{index}.log").open("w")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_two_local_workers_train_one_synchronised_model(tmp_path, fixture_data):
    from lab.keras_env import keras

    cluster = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    outs = [tmp_path / f"worker{i}" / "run" for i in range(2)]
    for out in outs:
        out.parent.mkdir()
    workers = [_start_worker(i, cluster, fixture_data, out) for i, out in enumerate(outs)]
    try:
        codes = [w.wait(timeout=WORKER_TIMEOUT_S) for w in workers]
    finally:
        for w in workers:
            w.kill()
    logs = [(tmp_path / f"worker{i}" / f"worker{i}.log").read_text()[-2000:] for i in range(2)]
    assert codes == [0, 0], logs

    reports = [json.loads((out / "report.json").read_text()) for out in outs]
    assert [r["strategy"] for r in reports] == ["CollectiveAllReduceStrategy"] * 2
    assert [len(r["epochs"]) for r in reports] == [1, 1]
    assert [len(r["pretraining"]["loss"]) for r in reports] == [2, 2]
    # gradients were all-reduced, in pretraining and in the fit: both workers end with the very same weights
    models = [keras.models.load_model(out / "model.keras") for out in outs]
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
