"""The emulated Raspberry Pi check's comparison (deploy/pi_check/compare.py): any change in a probability, a
verdict, a FHIR value or a heatmap pixel is a difference; times, folders and FHIR ids are not."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "pi_check" / "compare.py"
spec = importlib.util.spec_from_file_location("pi_check_compare", SCRIPT)
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def png(pixels: np.ndarray, level: int = 6) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def device_outputs(folder: Path, home: str, scanned_at: str, level: int = 6) -> Path:
    """What device_commands.sh leaves: scan JSON lines, a FHIR bundle, texts, heatmaps and the report."""
    (folder / "heatmaps").mkdir(parents=True)
    record = {"path": f"{home}/fixtures/a.jpeg", "status": "ok", "label": "PNEUMONIA", "probability": 0.8125}
    record |= {"refer": True, "scanned_at": scanned_at, "elapsed_ms": 12.5}
    (folder / "xrays.json").write_text(json.dumps(record) + "\n")
    fhir = {"id": scanned_at, "entry": [{"fullUrl": f"urn:uuid:{scanned_at}", "value": 0.8125, "text": "PNEUMONIA"}]}
    (folder / "history-fhir.json").write_text(json.dumps(fhir))
    (folder / "selftest.txt").write_text(f"Model {home}/m.tflite\n  [PASS] a.jpeg: score 81, 4.2 ms\n")
    heatmap = np.arange(64, dtype=np.uint8).reshape(8, 8)
    (folder / "heatmaps" / "a.heatmap.png").write_bytes(png(heatmap, level))
    data = base64.b64encode(png(heatmap, level)).decode()
    (folder / "report.html").write_text(f'<p>{scanned_at}</p><img src="data:image/png;base64,{data}">')
    return folder


@pytest.fixture
def outputs(tmp_path) -> tuple[Path, Path]:
    reference = device_outputs(tmp_path / "x86_64", "/var/tmp/w/home/pi", "2026-12-06T06:29:37.201+00:00")
    device = device_outputs(tmp_path / "cortex-a72", "/home/pi", "2026-12-06T06:51:02.7+00:00", level=1)
    return reference, device


def test_the_same_results_at_other_times_in_other_folders_are_no_difference(outputs):
    result = compare.compare(*outputs)
    assert result.differences == []
    assert result.counts["probability"] == 1 and result.counts["verdict"] == 2
    assert result.counts["heatmap"] == 2 and result.counts["heatmap pixel"] == 128
    assert compare.main(*outputs) == 0


def test_a_changed_probability_is_a_difference(outputs):
    scans = outputs[1] / "xrays.json"
    scans.write_text(scans.read_text().replace("0.8125", "0.8164"))
    assert [line.split(":")[0] for line in compare.compare(*outputs).differences] == ["xrays.json a.jpeg probability"]
    assert compare.main(*outputs) == 1


def test_a_changed_fhir_value_or_self_test_score_is_a_difference(outputs):
    fhir = outputs[1] / "history-fhir.json"
    fhir.write_text(fhir.read_text().replace('"PNEUMONIA"', '"NORMAL"'))
    selftest = outputs[1] / "selftest.txt"
    selftest.write_text(selftest.read_text().replace("score 81", "score 80"))
    assert len(compare.compare(*outputs).differences) == 2


def test_one_changed_heatmap_pixel_is_a_difference_in_the_file_and_in_the_report(outputs):
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)
    pixels[3, 4] += 1
    (outputs[1] / "heatmaps" / "a.heatmap.png").write_bytes(png(pixels))
    data = base64.b64encode(png(pixels)).decode()
    (outputs[1] / "report.html").write_text(f'<img src="data:image/png;base64,{data}">')
    assert [line.split(":")[1].strip() for line in compare.compare(*outputs).differences] == [
        "1 of 64 pixel values differ"
    ] * 2


def test_a_missing_output_or_result_is_a_difference(outputs):
    (outputs[1] / "history-fhir.json").unlink()
    (outputs[1] / "xrays.json").write_text("")
    differences = compare.compare(*outputs).differences
    assert "history-fhir.json: missing on the device" in differences
    assert any(line.startswith("xrays.json: number of results") for line in differences)


def test_nothing_to_compare_is_an_error_not_a_pass(outputs, tmp_path):
    shutil.rmtree(outputs[1])
    assert compare.main(*outputs) == 2
