"""What `edge-scan info` reports: the model, how it was checked, and what runs it.

A health programme auditing a device needs to know exactly which model made
its results (the SHA-256 is stored with every scan) and how good that model
was measured to be. The text form says it in a screenful, including how the
model did on a separate collection it never trained on, which is closer to a new clinic
than its own test split; the JSON form carries the embedded metadata in full.
"""

from __future__ import annotations

from edge_app.inference.model_store import ScanModel
from edge_app.reasons import EXPLANATIONS
from edge_app.scoring import UNCERTAIN_MARGIN
from edge_app.storage.paths import data_dir, history_path

EXTERNAL_HEADING = (
    "The same hospital's later, expert-checked test collection (other patients, never trained or tuned on; "
    "not another hospital)"
)
EXTERNAL_MEANING = (
    "`external` is one third of the patients of the Kermany collection's official test split: X-rays of children "
    "from the same hospital (Guangzhou Women and Children's Medical Center), taken later and checked by experts, "
    "never used to train or tune the model. It is not another hospital. Published Kermany-trained networks lost "
    "much of their accuracy at other hospitals: a ResNet-50 with AUC 0.95 on the Guangzhou test set reached AUC "
    "0.54 on 383 children's X-rays from NIH ChestX-ray14 (Xin, Li & Yi, Emergency Radiology 29(1):107-113, 2022, "
    "doi:10.1007/s10140-021-01954-x), and pneumonia networks for adults did worse outside their own hospitals in "
    "3 of 5 comparisons (Zech et al., PLOS Medicine 15(11):e1002683, 2018). So each site calibrates on its own "
    "children (edge-scan calibrate) and keeps measuring with confirmed outcomes (edge-scan outcome, edge-scan stats)."
)


def describe(model: ScanModel) -> dict:
    runtime = model.classifier.runtime
    return {
        "model_path": str(model.path),
        "model_sha256": model.sha256,
        "integrity": model.integrity,
        "model_version": model.version,
        "input_shape": list(model.classifier.input_shape),
        "input_dtype": model.classifier.input_dtype,
        "threshold": model.threshold,
        "threshold_source": model.threshold_source,
        "threshold_detail": model.threshold_detail,
        "uncertain_margin": UNCERTAIN_MARGIN,
        "labels": list(model.labels),
        "runtime": runtime.name,
        "runtime_version": runtime.version,
        "kernels": model.classifier.kernel_path,
        "runtime_verified": model.runtime_verified,
        "runtime_check": model.runtime_check.detail if model.runtime_check else None,
        "data_dir": str(data_dir()),
        "history_db": str(history_path()),
        "metadata": model.metadata,
        "rejection_reasons": dict(EXPLANATIONS),
        "gate_sha256": model.gate.sha256 if model.gate else None,
    }


def _metric_line(name: str, metrics: dict) -> str | None:
    if name not in metrics:
        return None
    low, high = metrics.get(f"{name}_ci95", (None, None))
    interval = f" (95% CI {low:.3f}-{high:.3f})" if low is not None else ""
    return f"  {name}: {metrics[name]:.3f}{interval}"


def _runtime_verdict(verified: bool | None) -> str:
    return {True: "yes", False: "NO, results are marked runtime_verified: false"}.get(verified, "not checked")


def format_description(description: dict) -> str:
    """Plain text for people; the JSON form has the same facts."""
    lines = [
        f"Model:        {description['model_path']}",
        f"SHA-256:      {description['model_sha256']} ({description['integrity']})",
        f"Version:      {description['model_version']}",
        f"Input:        {description['input_shape']} {description['input_dtype']}",
        f"Threshold:    {description['threshold']:.3f} ({description['threshold_source']}: "
        f"{description['threshold_detail']}); "
        f"score 50 at the threshold, uncertain from {50 - description['uncertain_margin']} "
        f"to {50 + description['uncertain_margin']}",
        f"Labels:       {', '.join(description['labels'])}",
        f"Runtime:      {description['kernels']}",
        f"Same numbers: {_runtime_verdict(description['runtime_verified'])} ({description['runtime_check']})",
        f"X-ray gate:   {description['gate_sha256'] or 'none'} (refuses non-chest-X-rays, rights turned ones)",
        f"History:      {description['history_db']}",
    ]
    metadata = description["metadata"]
    if metadata is None:
        lines.append("Metadata:     none in this model (development model: threshold 0.5 and default labels used)")
        return "\n".join(lines)
    measured = metadata.get("metrics", {})
    for split, heading in (
        ("test", "Test results, patients the model never saw, from the collection it was trained on"),
        ("external", EXTERNAL_HEADING),
    ):
        if measured.get(split):
            lines.append(f"{heading} (n={measured[split].get('n', '?')}):")
            shown = (_metric_line(name, measured[split]) for name in ("auc", "sensitivity", "specificity"))
            lines.extend(line for line in shown if line)
    if measured.get("external"):
        lines.append(
            "What this collection is, and what is known of other hospitals: see the model card (MODEL_CARD.md)."
        )
    if "intended_use" in metadata:
        lines.append(f"Intended use: {metadata['intended_use']}")
    lines.append("Everything the model records about itself: edge-scan info --format json")
    return "\n".join(lines)
