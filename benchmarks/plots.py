"""PNG plots of a benchmark: ROC curves, and latency against AUC against size.

matplotlib is in the engineers' extra only; on a device without it the
plots are skipped with a message and the tables and JSON are still written.
"""

from __future__ import annotations

from pathlib import Path

from edge_app.files import atomic_write

ROC_FILE = "roc.png"
TRADEOFF_FILE = "latency_auc_size.png"
SCALING_FILE = "scaling.png"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(figure, path: Path) -> Path:
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png"))
    return path


def _roc(plt, results: dict, out: Path) -> Path:
    """Full ROC curves, and a zoom on the high-sensitivity corner where a screening tool operates."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax in axes:
        for v in results["variants"]:
            a = v["accuracy"]
            line = ax.plot(a["roc"]["fpr"], a["roc"]["tpr"], label=f"{v['name']} (AUC {a['auc']:.4f})", linewidth=1.2)
            ax.plot(1 - a["specificity"], a["sensitivity"], "o", markersize=4, color=line[0].get_color())
        ax.set(xlabel="1 − specificity", ylabel="sensitivity")
    axes[0].plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    axes[0].set_title("ROC (dot: each model's operating threshold)")
    axes[1].set(xlim=(0, 0.4), ylim=(0.8, 1.005), title="Zoom: high sensitivity")
    axes[1].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return _save(figure, out / ROC_FILE)


def _tradeoff(plt, results: dict, out: Path) -> Path:
    from benchmarks.report import one_thread_speed

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, key, label in ((axes[0], "inference", "inference alone"), (axes[1], "end_to_end", "end to end")):
        for v in results["variants"]:
            latency = one_thread_speed(v)[key]["p50_ms"]
            size_kb = v["size_bytes"] / 1024
            ax.scatter(latency, v["accuracy"]["auc"], s=30 + size_kb / 4, alpha=0.6)
            ax.annotate(f"{v['name']}\n{size_kb:.0f} KB", (latency, v["accuracy"]["auc"]), fontsize=7,
                        textcoords="offset points", xytext=(6, 4))  # fmt: skip
        ax.set_xscale("log")
        ax.set(xlabel=f"{label}: p50 ms per image, 1 thread (log)", title=f"AUC vs {label} latency")
    axes[0].set_ylabel("AUC (marker area: model size)")
    figure.tight_layout()
    return _save(figure, out / TRADEOFF_FILE)


def _scaling(plt, scaling: dict, out: Path) -> Path:
    from benchmarks.latency import STAGES

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, points, key, xlabel in (
        (axes[0], scaling["resolution"], "width", "image width (px)"),
        (axes[1], scaling["batch"], "batch", "batch size"),
    ):
        xs = [str(p[key]) for p in points]
        bottom = [0.0] * len(points)
        for stage in STAGES:
            heights = [p["stages"][stage]["mean_ms"] for p in points]
            ax.bar(xs, heights, bottom=bottom, label=stage)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        memory = ax.twinx()
        memory.plot(xs, [p["peak_rss_mb"] for p in points], "k.-", label="peak RSS")
        memory.set_ylabel("peak RSS (MB)")
        memory.set_ylim(bottom=0)
        ax.set(xlabel=xlabel, ylabel="ms per image (mean)")
    axes[0].legend(fontsize=8, loc="upper left")
    figure.suptitle(f"Where the time goes ({scaling['model']}, 1 thread); line: peak RSS")
    figure.tight_layout()
    return _save(figure, out / SCALING_FILE)


def make_plots(results: dict, out: Path) -> tuple[list[Path], str | None]:
    """The plot files written, and a message when they could not be made."""
    plt = _pyplot()
    if plt is None:
        return [], "matplotlib is not installed: plots skipped (pip install matplotlib)."
    paths = [_roc(plt, results, out), _tradeoff(plt, results, out)]
    if results.get("scaling"):
        paths.append(_scaling(plt, results["scaling"], out))
    plt.close("all")
    return paths, None
