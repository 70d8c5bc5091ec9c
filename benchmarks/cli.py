"""`edge-bench`: compare model variants on accuracy, speed and cost, on the same images."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchmarks.run import BenchConfig
from benchmarks.variants import VARIANT_NAMES, BenchmarkError
from edge_app.site.dataset import DatasetError
from lab.config import config_option, default_of, path_option


def _thread_counts(ctx, param, value: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"{value!r}: give positive thread counts separated by commas, e.g. 1,2,4.")
    return counts


@click.command(
    epilog="Example (the internal patient-level test split, full-resolution timing):\n\n"
    "edge-bench --data ../shared/data/chest_xray --splits runs/r1/splits.json --keras runs/r1/model.keras "
    "--quantized runs/q1 --timing-images ../shared/data/originals --out benchmarks/results\n\n"
    "On a Raspberry Pi (no TensorFlow): edge-bench --data chest_xray/test --quantized q1 --threads 1,2,4 "
    "--device-label 'Raspberry Pi 4B'"
)
@path_option(
    "--data",
    required=True,
    help="Labelled chest_xray-style folder (NORMAL/ and PNEUMONIA/ in it or in DATA/<split>), "
    "or with --splits the dataset root.",
)
@config_option(BenchConfig, "split", help="Which split to score (folder name or splits.json key).")
@path_option(
    "--splits",
    dir_okay=False,
    help="edge-train splits.json: score exactly that split's files (the internal patient-level test split).",
)
@click.option(
    "--models",
    multiple=True,
    help=f"Model to compare: a .tflite or .keras file, or one of {', '.join(VARIANT_NAMES)}. Repeatable. "
    "Default: every variant in --quantized, the shipped model, and --keras.",
)
@path_option("--keras", dir_okay=False, help="edge-train RUN/model.keras.")
@path_option("--quantized", file_okay=False, help="Folder edge-quantize wrote.")
@click.option(
    "--threads",
    default=",".join(map(str, default_of(BenchConfig, "threads"))),
    show_default=True,
    callback=_thread_counts,
    help="TFLite thread counts to time, comma-separated.",
)
@path_option(
    "--timing-images",
    file_okay=False,
    help="Folder of full-resolution images to time end to end (default: 100 of the labelled images).",
)
@click.option(
    "--out",
    default=Path("bench-results"),
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for results.md, results.json and the PNG plots.",
)
@click.option("--device-label", help="Name of this machine in the results (default: host name).")
@config_option(BenchConfig, "warmup", type=click.IntRange(0), help="Untimed runs before timing.")
@config_option(BenchConfig, "inference_runs", type=click.IntRange(1), help="Timed inference-alone calls.")
@config_option(BenchConfig, "cold_start_runs", type=click.IntRange(0), help="Fresh processes per model.")
@path_option(
    "--external",
    file_okay=False,
    help="Labelled folder from another site (NORMAL/ and PNEUMONIA/): every variant's AUC, sensitivity and "
    "specificity there with 95% CIs, at its own validation-chosen threshold, next to the internal split. "
    "For reporting and comparing models, never for choosing a threshold.",
)
@click.option("--no-scaling", is_flag=True, help="Skip the resolution and batch-size scaling runs.")
@click.option("--no-edge-scan", is_flag=True, help="Skip measuring the edge-scan speed targets.")
@click.option("--no-robustness", is_flag=True, help="Skip accuracy under simulated acquisition shifts.")
@click.option("--no-heatmap", is_flag=True, help="Skip timing the occlusion heatmaps of edge-scan --heatmap-dir.")
@click.option("--no-photo", is_flag=True, help="Skip timing how edge-scan --photo finds and straightens a film.")
def main(**options) -> None:
    """Benchmark model variants on the same images: AUC, sensitivity and specificity
    with 95% bootstrap CIs; latency (inference alone and end to end, by stage) per
    thread count; cold start; peak memory; size; and the edge-scan speed targets.
    Prints a Markdown table and writes results.md, results.json and PNG plots.
    """
    from benchmarks.plots import make_plots
    from benchmarks.report import markdown, write_results
    from benchmarks.run import run_benchmark

    skipped = ("scaling", "edge_scan", "robustness", "heatmap", "photo")
    measured = {part: not options.pop(f"no_{part}") for part in skipped}
    config = BenchConfig(**(options | {"models": tuple(options["models"])}), **measured)
    try:
        results = run_benchmark(config)
    except (BenchmarkError, DatasetError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    json_path, md_path = write_results(results, config.out)
    plots, message = make_plots(results, config.out)
    click.echo(markdown(results))
    click.echo(f"Wrote {md_path}, {json_path}" + "".join(f", {p}" for p in plots), err=True)
    if message:
        click.echo(message, err=True)
