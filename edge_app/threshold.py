"""Which probability threshold a scan uses, where it came from, and which values make sense.

A threshold of 0 refers every child and 1 refers none (NaN compares false with
everything, so it refers none too): each would silently turn the screen off, so
only values strictly between 0 and 1 are accepted, from any source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODEL, SITE, COMMAND_LINE = "model", "site", "command_line"
"""`threshold_source` of every scan record: the model's own threshold, the active
site calibration (`edge-scan calibrate`), or `--threshold` typed for this scan."""


def check_threshold(value: float) -> float:
    """`value` as a float if it is a usable threshold; ValueError with a plain reason otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number; give a probability between 0 and 1, such as 0.3.") from None
    if math.isnan(number):
        raise ValueError("NaN is not a threshold; give a probability between 0 and 1, such as 0.3.")
    if not 0.0 < number < 1.0:
        raise ValueError(
            f"{number:g} is not strictly between 0 and 1: a threshold of 0 (or below) would refer every child, "
            "and 1 (or above) none. Give a value such as 0.3."
        )
    return number


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold a scan uses, where it came from (MODEL, SITE or COMMAND_LINE), how it was chosen in words,
    and a warning when a site calibration exists but is not used."""

    value: float
    source: str
    detail: str
    warning: str | None = None
