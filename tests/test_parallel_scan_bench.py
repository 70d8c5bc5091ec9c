"""edge-bench's --jobs measurement runs the real edge-scan and reports order, identity and memory."""

from __future__ import annotations

from benchmarks.parallel_scan import markdown_lines, parallel_speedup
from tests.conftest import FIXTURE_DATA, TINY_INT8_MODEL


def test_parallel_speedup_measures_both_job_counts_on_the_real_command(tmp_path):
    model = tmp_path / "tiny.tflite"
    model.write_bytes(TINY_INT8_MODEL.read_bytes())
    images = sorted((FIXTURE_DATA / "train" / "PNEUMONIA").glob("*.jpeg"))[:4]
    result = parallel_speedup(model, images, count=10, rounds=1)
    assert result["available"]
    assert [run["jobs"] for run in result["runs"]] == [1, 2]
    assert all(run["first_result_s"] <= run["last_result_s"] <= run["wall_s"] for run in result["runs"])
    assert result["in_input_order"] and result["same_results_for_every_job_count"]
    assert result["targets"]["speedup_jobs2_vs_jobs1"]["measured"] > 0
    assert 0 < result["targets"]["peak_rss_mb"]["measured"] < 1000
    assert all(0.5 < value < 4.0 for value in result["thread_capacity_before_after"])
    assert any("Speed-up of --jobs 2" in line for line in markdown_lines(result))
    assert any(line.startswith("Control: two threads") for line in markdown_lines(result))
