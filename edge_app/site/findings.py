"""What a site rule found, as a stable code with the figures behind it and the English sentence for the engineer.

The rules (calibration refusals, monitoring warnings) live in edge_app.site and print English on the command
line; the health worker's screen looks the code up in its catalogues instead of showing the sentence, so the two
never have to agree word for word.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: why a calibration must not be activated, or what monitoring warns of."""

    code: str
    detail: str
    """The English sentence for the engineer (command line, saved profile, `edge-scan stats`)."""
    facts: dict[str, int | str] = field(default_factory=dict)
    """The figures a translated message names."""
