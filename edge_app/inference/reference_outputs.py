"""The same numbers on every device: fixed inputs whose raw outputs the model recorded when it was built.

LiteRT chooses its kernels on the device: the XNNPACK delegate where it loads, else its built-in or reference
kernels, whose int8 rounding differs by a few output steps. Near the threshold a few steps change a verdict, so
a device must reproduce, exactly, the outputs the build computed with XNNPACK on a few fixed inputs, some of them
scoring near the threshold. The inputs are made from their seed by SHAKE-256 (standard, the same everywhere), so
the metadata stores only seeds and outputs, and nothing but the interpreter can make a device differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from edge_app.inference.runtime import TFLiteClassifier

RECIPE = "shake256-noise-v1"
RECIPE_TEXT = (
    "input = the first H*W*C bytes of SHAKE-256(seed) read as int8, divided by 128 and multiplied by percent/100 "
    "(float32, the preprocessed range), then quantized with the model's input parameters like an image; "
    "output = the raw output tensor"
)
SPREAD_INPUTS = 2
NEAR_THRESHOLD_INPUTS = 4
_SEARCHED_SEEDS = 200
_PERCENTS = (100, 50)


@dataclass(frozen=True)
class RuntimeCheck:
    """Whether this device's runtime reproduced the model's recorded outputs: True, False, or None when the model
    records none (older metadata), with the reason in words."""

    verified: bool | None
    detail: str


def fixed_input(seed: str, percent: int, shape: tuple[int, ...]) -> np.ndarray:
    """The fixed input named by (seed, percent), as a preprocessed float image of the model's input shape."""
    size = int(np.prod(shape))
    noise = np.frombuffer(hashlib.shake_256(seed.encode("utf-8")).digest(size), dtype=np.int8)
    return (noise.astype(np.float32) / np.float32(128)) * np.float32(percent / 100)


def _raw(classifier: TFLiteClassifier, seed: str, percent: int) -> list:
    return classifier.raw_outputs(fixed_input(seed, percent, classifier.input_shape)).tolist()


def record_reference_outputs(classifier: TFLiteClassifier, threshold: float) -> dict:
    """The `reference_outputs` metadata entry, computed on this (build) machine: two spread inputs and the inputs
    of a fixed search that score closest to `threshold`."""
    candidates = [(f"pneumoscan-{n}", percent) for n in range(_SEARCHED_SEEDS) for percent in _PERCENTS]
    scored = [
        (abs(float(classifier.outputs(fixed_input(s, p, classifier.input_shape))[0]) - threshold), s, p)
        for s, p in candidates
    ]
    near = [(s, p) for _, s, p in sorted(scored)[:NEAR_THRESHOLD_INPUTS]]
    chosen = candidates[:SPREAD_INPUTS] + [c for c in near if c not in candidates[:SPREAD_INPUTS]]
    return {
        "recipe": RECIPE,
        "how": RECIPE_TEXT,
        "computed_with": classifier.kernel_path,
        "inputs": [{"seed": s, "percent": p, "output": _raw(classifier, s, p)} for s, p in chosen],
    }


def check_reference_outputs(classifier: TFLiteClassifier, metadata: dict | None) -> RuntimeCheck:
    """Run the recorded fixed inputs on this device and compare every output value exactly."""
    recorded = (metadata or {}).get("reference_outputs")
    path = classifier.kernel_path
    if not isinstance(recorded, dict) or recorded.get("recipe") != RECIPE or not recorded.get("inputs"):
        return RuntimeCheck(
            None,
            f"the model records no reference outputs, so this device's runtime ({path}) "
            "cannot be compared with the build's",
        )
    try:
        differing = [
            (item["seed"], item["percent"], got, item["output"])
            for item in recorded["inputs"]
            if (got := _raw(classifier, str(item["seed"]), int(item["percent"]))) != list(item["output"])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        return RuntimeCheck(False, f"the model's reference outputs are malformed ({exc!r})")
    built = recorded.get("computed_with", "the build machine's runtime")
    if not differing:
        return RuntimeCheck(True, f"{len(recorded['inputs'])} fixed inputs give exactly the build's outputs on {path}")
    seed, percent, got, want = differing[0]
    return RuntimeCheck(
        False,
        f"this device runs the model on {path}, which does not reproduce the numbers the model was built and "
        f"validated with ({built}): {len(differing)} of {len(recorded['inputs'])} fixed inputs differ (input "
        f"{seed} at {percent}%: {got} instead of {want}). Scores near the threshold can change verdict here. "
        "Run PneumoScan with the XNNPACK path (unset PNEUMOSCAN_OP_RESOLVER; install ai-edge-litert; make sure "
        "/sys/devices/system/cpu is readable)",
    )
