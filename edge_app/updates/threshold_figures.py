"""Is a model's threshold the one its own validation figures were computed for?

A signed package can still carry a wrong threshold (0.7 where validation chose 0.031 misses children with
pneumonia), and the sample X-rays alone may not notice. So edge-quantize records the int8 model's validation
scores of each class in the metadata (`validation_scores`), and an update is accepted only when the recorded
validation sensitivity and specificity recompute from those scores at the model's threshold, and that
sensitivity reaches the model's stated target. A score at or above the threshold is called PNEUMONIA.
"""

from __future__ import annotations

from edge_app.contract import LABELS
from edge_app.inference.model_metadata import is_number, threshold_value

FIGURES_TOLERANCE = 1e-9
SCORES_KEY = "validation_scores"


def score_distribution(labels: list[int], scores: list[float]) -> dict:
    """The `validation_scores` metadata entry: every validation score of each class, sorted."""
    by_class = {
        name: sorted(float(s) for s, y in zip(scores, labels, strict=True) if int(y) == i)
        for i, name in enumerate(LABELS)
    }
    return {"split": "val", "rule": f"{LABELS[1]} when score >= threshold", "scores": by_class}


def _number(value: object) -> float | None:
    return float(value) if is_number(value) else None


def _class_scores(metadata: dict) -> dict[str, list[float]]:
    recorded = metadata.get(SCORES_KEY)
    if not isinstance(recorded, dict):
        raise ValueError(
            "it records no validation score distribution (older metadata), so its threshold cannot be checked "
            "against its validation figures; rebuild it with a current edge-quantize"
        )
    scores = recorded.get("scores")
    if not isinstance(scores, dict) or any(
        not isinstance(scores.get(name), list) or not scores[name] for name in LABELS
    ):
        raise ValueError(f"its validation score distribution does not hold scores of both {' and '.join(LABELS)}")
    numbers = {name: [_number(s) for s in scores[name]] for name in LABELS}
    if any(s is None or not 0.0 <= s <= 1.0 for values in numbers.values() for s in values):
        raise ValueError("its validation score distribution holds values that are not probabilities")
    return numbers


def threshold_problems(metadata: dict) -> list[str]:
    """Why the threshold contradicts the model's own validation figures; empty when it is consistent."""
    if not isinstance(metadata, dict):
        return [f"its metadata is a JSON {type(metadata).__name__}, not an object"]
    try:
        threshold = threshold_value(metadata)
        scores = _class_scores(metadata)
    except ValueError as exc:
        return [str(exc)]
    negatives, positives = scores[LABELS[0]], scores[LABELS[1]]
    sensitivity = sum(s >= threshold for s in positives) / len(positives)
    specificity = sum(s < threshold for s in negatives) / len(negatives)
    val = (metadata.get("metrics") or {}).get("val") or {}
    problems = []
    if _number(val.get("threshold")) != threshold:
        problems.append(f"its validation figures were computed at threshold {val.get('threshold')!r}, not {threshold}")
    for name, value in (("sensitivity", sensitivity), ("specificity", specificity)):
        stated = _number(val.get(name))
        if stated is None or abs(stated - value) > FIGURES_TOLERANCE:
            problems.append(
                f"its stated validation {name} {stated} is not the {value:.4f} its scores give at {threshold}"
            )
    counts = (val.get("n"), val.get("n_positive"))
    if counts != (len(negatives) + len(positives), len(positives)):
        problems.append(f"its validation counts {counts} are not those of its score distribution")
    target = _number(metadata.get("target_sensitivity"))
    if target is None or sensitivity < target:
        problems.append(
            f"at threshold {threshold} its validation sensitivity is {sensitivity:.4f}, below its target "
            f"sensitivity {metadata.get('target_sensitivity')!r}"
        )
    return problems
