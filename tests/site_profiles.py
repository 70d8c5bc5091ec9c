"""Site profiles as `edge-scan calibrate` saves them, made from synthetic scores, for tests that need one."""

from __future__ import annotations

import numpy as np

from edge_app.site import calibration
from edge_app.site.promise import Promise
from edge_app.site.site_profile import CalibrationImage, SiteProfile


def consistent_profile(
    model_sha256: str,
    threshold: float,
    model_threshold: float = 0.5,
    n_per_class: int = 70,
    seed: int = 0,
    next_children: int | None = 100,
) -> SiteProfile:
    """A profile whose figures hold together: its lowest pneumonia score is `threshold`, so calibrating (70
    children; 95 of the next 100 caught with 95% confidence: the lowest score) chooses exactly it. Pneumonia
    scores lie in 0.6-1.0, healthy ones in 0-0.2, except six healthy children just over the threshold."""
    rng = np.random.default_rng(seed)
    pneumonia = np.r_[threshold, rng.uniform(0.6, 1.0, n_per_class - 1)]
    healthy = rng.uniform(0.0, 0.2, n_per_class)
    healthy[:6] = threshold + 0.05
    images = [
        CalibrationImage(f"{index:064x}", label, float(score))
        for index, (label, score) in enumerate(
            [("NORMAL", score) for score in healthy] + [("PNEUMONIA", score) for score in pneumonia]
        )
    ]
    model = calibration.ScannedWith(model_sha256, "test", model_threshold)
    profile = calibration.build_profile(
        images, [], model, Promise(0.95, 0.95, next_children), "Tester", "synthetic site"
    )
    assert profile.threshold == threshold and not profile.refused, profile.refused
    return profile
