"""Benchmark results as Markdown tables and a JSON file with every number.

The Markdown is what people read (stdout and results.md); results.json is
what tools and later comparisons read, so nothing is left out of it.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import parallel_scan, photo_speed
from benchmarks.latency import STAGES
from benchmarks.scan_speed import LARGE_WIDTH
from edge_app.files import atomic_write_text

JSON_FILE = "results.json"
MARKDOWN_FILE = "results.md"


def _num(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(summary: dict, name: str, digits: int = 3) -> str:
    low, high = summary[f"{name}_ci95"]
    return f"{_num(summary[name], digits)} [{_num(low, digits)}–{_num(high, digits)}]"


def _mb(size_bytes: int) -> str:
    return f"{size_bytes / 1024:.0f} KB" if size_bytes < 1024 * 1024 else f"{size_bytes / 1024 / 1024:.1f} MB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def one_thread_speed(variant: dict) -> dict:
    return next((r for r in variant["speed"] if r["threads"] in (1, "tensorflow default")), variant["speed"][0])


def summary_table(results: dict) -> list[str]:
    """The one table a reader needs: accuracy, speed at one thread, and cost of each variant."""
    deltas = results["comparisons"].get("auc_minus_reference", {})
    rows = []
    for v in results["variants"]:
        a, s, cold = v["accuracy"], one_thread_speed(v), v["cold_start"] or {}
        rows.append(
            [
                f"`{v['name']}`",
                _ci(a, "auc"),
                _num(deltas.get(v["name"]), 4) if v["name"] in deltas else "ref",
                _ci(a, "sensitivity"),
                _ci(a, "specificity"),
                _num(s["inference"]["p50_ms"]),
                _num(s["end_to_end"]["p50_ms"], 1),
                _num(cold.get("median_s")),
                _num(cold.get("peak_rss_mb"), 0),
                f"{_mb(v['size_bytes'])} / {_mb(v['gzip_bytes'])}",
            ]
        )
    header = ["model", "AUC [95% CI]", "ΔAUC", "sensitivity", "specificity", "inference p50 ms (1 thr)",
              "end-to-end p50 ms (1 thr)", "cold start s", "peak RSS MB", "size raw / gzip"]  # fmt: skip
    return _table(header, rows)


def _accuracy_table(results: dict) -> list[str]:
    rows = []
    for v in results["variants"]:
        c = v["accuracy"]["confusion"]
        agree = v.get("agreement_with_reference") or {}
        rows.append(
            [
                f"`{v['name']}`",
                f"{v['threshold']:.4f} ({v['threshold_source']})",
                f"{c['tp']} / {c['fn']} / {c['tn']} / {c['fp']}",
                _num(agree.get("max_abs_probability_difference"), 4),
                _num(agree.get("same_call_fraction"), 4),
            ]
        )
    return _table(["model", "threshold (source)", "TP / FN / TN / FP", "max |Δp| vs ref", "same call as ref"], rows)


def generalization_table(results: dict) -> list[str]:
    """Internal split and external folder side by side, each model at its own validation-chosen threshold."""
    rows = []
    for v in results["variants"]:
        a, e = v["accuracy"], v["external"]
        rows.append(
            [
                f"`{v['name']}`",
                f"{v['threshold']:.4f}",
                _ci(a, "auc"),
                _ci(e, "auc"),
                _ci(e, "sensitivity"),
                _ci(e, "specificity"),
                "{tp} / {fn} / {tn} / {fp}".format(**e["confusion"]),
            ]
        )
    header = ["model", "threshold", "internal AUC", "external AUC", "external sensitivity",
              "external specificity", "external TP / FN / TN / FP"]  # fmt: skip
    return _table(header, rows)


def _generalization_lines(results: dict) -> list[str]:
    if not all("external" in v for v in results["variants"]):
        return []
    first = results["variants"][0]["external"]
    return [
        "",
        "## Generalization: an external site",
        "",
        f"External folder `{first['folder']}`: {first['n']} images ({first['n_positive']} pneumonia), "
        f"{first['use']}. Same thresholds as above.",
        "",
        *generalization_table(results),
    ]


def _speed_table(results: dict) -> list[str]:
    rows = []
    for v in results["variants"]:
        for r in v["speed"]:
            st = r["stages"]
            rows.append(
                [
                    f"`{v['name']}`",
                    str(r["threads"]),
                    f"{_num(r['inference']['p50_ms'])} / {_num(r['inference']['p95_ms'])}",
                    f"{_num(r['end_to_end']['p50_ms'])} / {_num(r['end_to_end']['p95_ms'])}",
                    *(_num(st[stage]["mean_ms"]) for stage in STAGES),
                    _num(r["images_per_second"], 1),
                ]
            )
    header = ["model", "threads", "inference p50 / p95 ms", "end-to-end p50 / p95 ms",
              *(f"{stage} mean ms" for stage in STAGES), "images/s"]  # fmt: skip
    return _table(header, rows)


def _cold_table(results: dict) -> list[str]:
    rows = []
    for v in results["variants"]:
        cold = v["cold_start"]
        if not cold:
            continue
        b = cold["breakdown_of_median_run"]
        rows.append(
            [
                f"`{v['name']}`",
                _num(cold["median_s"]),
                f"{_num(b['import_s'])} / {_num(b['load_s'], 3)} / {_num(b['first_image_s'], 3)}",
                _num(cold["peak_rss_mb"], 0),
                _mb(v["size_bytes"]),
                _mb(v["gzip_bytes"]),
            ]
        )
    header = ["model", "start to first result s (median)", "import / load / first image s", "peak RSS MB",
              "size", "gzip"]  # fmt: skip
    return _table(header, rows)


def _scaling_tables(scaling: dict) -> list[str]:
    def stage_cells(point: dict) -> list[str]:
        return [_num(point["stages"][stage]["mean_ms"]) for stage in STAGES]

    resolution = [
        [
            f"{p['width']}×{p['height']}",
            _mb(p["file_bytes"]),
            _num(p["end_to_end"]["p50_ms"]),
            *stage_cells(p),
            _num(p["peak_rss_mb"], 0),
        ]  # fmt: skip
        for p in scaling["resolution"]
    ]
    batch = [
        [
            str(p["batch"]),
            _num(p["end_to_end"]["p50_ms"]),
            *stage_cells(p),
            _num(p["images_per_second"], 1),
            _num(p["peak_rss_mb"], 0),
        ]  # fmt: skip
        for p in scaling["batch"]
    ]
    stages = [f"{stage} ms" for stage in STAGES]
    return [
        f"Model `{scaling['model']}`, one thread, each point in a fresh process. Resolution: "
        f"`{Path(scaling['source_image']).name}` re-encoded as a JPEG of each width.",
        "",
        *_table(["image", "JPEG size", "end-to-end p50 ms", *stages, "peak RSS MB"], resolution),
        "",
        "Batch: B images read, decoded and preprocessed, then one model invoke; times are per image.",
        "",
        *_table(["batch", "end-to-end p50 ms/image", *stages, "images/s", "peak RSS MB"], batch),
    ]


def _robustness_section(shifts: dict) -> list[str]:
    return [
        f"Model `{shifts['model']}` at its own threshold on the labelled images, each shift applied to the decoded "
        "image before the one preprocessing. Simulations of other detectors and exposures, not a second site.",
        "",
        *_table(
            ["shift", "AUC [95% CI]", "sensitivity", "specificity"],
            [[s["shift"], _ci(s, "auc"), _ci(s, "sensitivity"), _ci(s, "specificity")] for s in shifts["shifts"]],
        ),
    ]


def _edge_scan_section(scan: dict) -> list[str]:
    if not scan.get("available"):
        return [f"Not measured: {scan.get('reason')}"]
    names = {
        "start_to_first_result_s": ("process start to first JSON result (median of runs)", "s", 2),
        "end_to_end_median_ms": (
            f"end-to-end per image ≥ {LARGE_WIDTH} px wide ({scan['large_images']['images']} images, "
            f"from {scan['large_images']['min_width']} px), 1 thread, fresh process (median)",
            "ms",
            1,
        ),
        "batch_500_peak_rss_mb": (f"peak RSS of one {scan['batch']['images']}-image scan", "MB", 0),
    }
    rows = []
    for key, (label, unit, digits) in names.items():
        t = scan["targets"][key]
        met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        rows.append([label, f"≤ {t['target']:g} {unit}", f"{_num(t['measured'], digits)} {unit}", met])
    single = scan["single_image"]
    return [
        f"Command: `{scan['command']}` (model `{scan['model']}`, temporary PNEUMOSCAN_HOME). Single image "
        f"`{Path(single['path']).name}` ({single['size'][0]}×{single['size'][1]} px); runs: "
        + ", ".join(f"{s:.2f}" for s in single["start_to_first_result_runs_s"])
        + " s.",
        "",
        *_table(["target", "goal", "measured", "met"], rows),
        "",
        f"The {scan['batch']['images']}-image scan ({scan['batch']['distinct_files']} distinct files) returned "
        f"{scan['batch']['results']} results {scan['batch']['statuses']} in {scan['batch']['wall_s']:.1f} s.",
    ]


def _heatmap_section(heatmap: dict) -> list[str]:
    rows = [
        [
            f"{g['patch_px']} px squares every {g['stride_px']} px",
            str(g["occluded_copies"]),
            "yes" if g["batched"] else "no (one by one)",
            _num(g["model_median_ms"], 1),
            _num(g["median_ms"], 1),
            _num(g["p95_ms"], 1),
        ]
        for g in heatmap["grids"]
    ]
    return [
        f"`edge-scan scan --heatmap-dir` on top of the scan, model `{heatmap['model']}`, 1 thread, "
        f"{heatmap['grids'][0]['images']} images: occluded copies scored by the int8 model, then the PNG overlay. "
        f"The first row is the grid edge-scan uses; target ≤ {heatmap['target_ms']:g} ms: "
        f"{'met' if heatmap['met'] else '**not met**'}.",
        "",
        *_table(["grid", "copies", "batched", "model p50 ms", "total p50 ms", "total p95 ms"], rows),
    ]


def _comparison_lines(comparisons: dict) -> list[str]:
    lines = []
    if "keras_predict_over_int8_end_to_end_1_thread" in comparisons:
        lines.append(
            f"- int8 end to end at 1 thread is {comparisons['keras_predict_over_int8_end_to_end_1_thread']:.1f}× "
            "faster than Keras `predict` on single images (median, same images and stages)."
        )
    for threads, ratio in comparisons.get("float32_tflite_over_int8_inference_p50", {}).items():
        lines.append(
            f"- float32 TFLite / int8 inference time at {threads} thread(s): {ratio:.2f} "
            f"({'int8 faster' if ratio > 1 else 'int8 not faster'} on this CPU)."
        )
    return lines


def markdown(results: dict) -> str:
    m, data = results["machine"], results["data"]
    labelled, timing = data["labelled"], data["timing"]
    lines = [
        "# edge-bench results",
        "",
        f"Machine: **{m['device_label']}**: {m['cpu_model']} ({m['architecture']}, {m['usable_cores']} cores, "
        f"{' '.join(m['cpu_flags']) or 'no SIMD flags read'}"
        + (f", {m['memory_gib']:g} GiB memory" if m.get("memory_gib") else "")
        + f"), {m['os']}; Python {m['python']}, numpy {m['numpy']}, "
        f"Pillow {m['pillow']}, {m['runtime']['name']} {m['runtime']['version']}"
        + (f", TensorFlow {m['tensorflow']}" if m.get("tensorflow") else "")
        + ".",
        "",
        f"Accuracy on {labelled['images']} labelled images ({labelled['pneumonia']} pneumonia) from "
        f"`{labelled['source']}`" + (f" split `{labelled['split']}`" if labelled["split"] else "") + "; "
        f"timing on {timing['images']} images from `{timing['source']}` (median {timing['median_width']:.0f}×"
        f"{timing['median_height']:.0f} px). 95% bootstrap CIs; each model at its own operating threshold. "
        f"Run took {results['wall_seconds'] / 60:.1f} min.",
        "",
        "## Summary",
        "",
        *summary_table(results),
        "",
        *_comparison_lines(results["comparisons"]),
        "",
        "## Accuracy detail",
        "",
        *_accuracy_table(results),
        *_generalization_lines(results),
        "",
        "## Latency",
        "",
        "Inference alone: `predict` on preprocessed inputs. End to end: file read + JPEG decode + preprocess + "
        "inference, per image; the stage columns are means and add up to the end-to-end mean. Warm-up runs excluded.",
        "",
        *_speed_table(results),
        "",
        "## Cold start, memory and size",
        "",
        "Each in a fresh Python process: start to first result (imports, model load, first image), then peak "
        "resident memory over all timing images. Files are in the page cache, so this is a process cold start, "
        "not a disk cold start.",
        "",
        *_cold_table(results),
    ]
    if results.get("scaling"):
        lines += ["", "## Scaling with resolution and batch size", "", *_scaling_tables(results["scaling"])]
    if results.get("robustness"):
        lines += ["", "## Robustness to acquisition shifts", "", *_robustness_section(results["robustness"])]
    if results.get("edge_scan"):
        lines += ["", "## edge-scan speed targets", "", *_edge_scan_section(results["edge_scan"])]
        if "parallel" in results["edge_scan"]:
            parallel = parallel_scan.markdown_lines(results["edge_scan"]["parallel"])
            lines += ["", "## edge-scan parallel batch (--jobs)", "", *parallel]
    if results.get("heatmap"):
        lines += ["", "## Heatmap cost", "", *_heatmap_section(results["heatmap"])]
    if results.get("photo"):
        lines += ["", "## Photos of films (edge-scan scan --photo)", "", *photo_speed.markdown_lines(results["photo"])]
    return "\n".join(lines) + "\n"


def write_results(results: dict, out: Path) -> tuple[Path, Path]:
    """results.json (every number) and results.md (the tables), written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = atomic_write_text(out / JSON_FILE, json.dumps(results, indent=1))
    md_path = atomic_write_text(out / MARKDOWN_FILE, markdown(results))
    return json_path, md_path
