"""Parallel reading and decoding (`edge-scan scan --jobs N`): same results, input order, bounded memory."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference import model_store
from edge_app.inference.model_store import load_model
from edge_app.scan.ordered_pool import MAX_DEFAULT_JOBS, default_jobs, ordered_map
from edge_app.scan.scanner import collect_images, scan_prepared_files
from edge_app.storage import history
from tests.device.test_scan import make_mixed_batch, with_checksum


def test_ordered_map_keeps_input_order_whatever_order_threads_finish_in():
    def slow_square(n: int) -> int:
        time.sleep(random.uniform(0, 0.01))
        return n * n

    assert list(ordered_map(slow_square, range(50), jobs=4)) == [n * n for n in range(50)]


def test_ordered_map_runs_work_on_several_threads_at_once():
    both_inside = threading.Barrier(2, timeout=10)  # broken (and the test failed) unless two items run together
    names = set()

    def meet(n: int) -> int:
        names.add(threading.current_thread().name)
        if n < 2:
            both_inside.wait()
        return n

    assert list(ordered_map(meet, range(8), jobs=2, group=1)) == list(range(8))
    assert len(names) == 2 and threading.main_thread().name not in names


def test_ordered_map_holds_a_bounded_number_of_items_however_long_the_batch():
    pulled = 0

    def source():
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            yield n

    most_ahead = 0
    for consumed, _ in enumerate(ordered_map(lambda n: n, source(), jobs=2, in_flight=4, group=3), start=1):
        most_ahead = max(most_ahead, pulled - consumed)
    assert consumed == 1000 and most_ahead <= 4 * 3


def test_ordered_map_hands_items_to_threads_in_groups_and_keeps_order():
    threads_of = {}

    def record_thread(n: int) -> int:
        threads_of[n] = threading.current_thread().name
        return n

    assert list(ordered_map(record_thread, range(23), jobs=2, group=5)) == list(range(23))
    groups = [[threads_of[n] for n in range(start, min(start + 5, 23))] for start in range(0, 23, 5)]
    assert all(len(set(names)) == 1 for names in groups)


def test_a_worker_exception_reaches_the_caller():
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    with pytest.raises(ValueError, match="three"):
        list(ordered_map(fail_on_three, range(10), jobs=2))


def test_default_jobs_is_the_cpu_count_at_most_four():
    assert 1 <= default_jobs() <= MAX_DEFAULT_JOBS


@pytest.fixture
def model(tiny_int8_model, tmp_path):
    return load_model(with_checksum(tiny_int8_model, tmp_path / "model"))


def test_parallel_scan_gives_the_same_results_in_the_same_order_and_records_them_in_order(model, tmp_path):
    make_mixed_batch(tmp_path / "batch")
    files = collect_images([tmp_path / "batch"]) * 3  # repeated, so threads overlap on a longer batch
    one = [s.result for s in scan_prepared_files(files, model, jobs=1)]
    db = history.connect(tmp_path / "history.sqlite3")
    recorded = []
    four = [
        s.result
        for s in scan_prepared_files(
            files, model, record=lambda r: recorded.append(r.path) or history.record(db, r), jobs=4
        )
    ]
    keys = ("path", "status", "reason", "probability", "sha256")
    assert [[getattr(r, k) for k in keys] for r in four] == [[getattr(r, k) for k in keys] for r in one]
    assert recorded == [r.path for r in one]
    assert [r["path"] for r in history.query(db)] == [r.path for r in one]


def test_scan_command_jobs_option(tiny_int8_model, tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(tiny_int8_model, tmp_path / "models")))
    make_mixed_batch(tmp_path / "batch")
    outputs = {}
    for jobs in ("1", "2"):
        result = CliRunner().invoke(main, ["scan", str(tmp_path / "batch"), "--format", "json", "--jobs", jobs])
        assert result.exit_code == 1  # the batch holds rejected files
        outputs[jobs] = [
            (r["path"], r["status"], r["probability"]) for r in map(json.loads, result.stdout.split("\n")[:-1])
        ]
    assert outputs["1"] == outputs["2"] and len(outputs["1"]) == 8
    refused = CliRunner().invoke(main, ["scan", str(tmp_path / "batch"), "--jobs", "0"])
    assert refused.exit_code == 2 and "--jobs" in refused.output
