"""Which of two models is newer, so an old signed package cannot be replayed over a newer model.

The authoritative date is the `created` field of the model's own metadata: it is
written once, when edge-quantize builds the model, and it is signed, because the
manifest signs the model's SHA-256 and metadata.json. The package's `created_at`
is not used: it only says when a file was signed, and re-signing an old model
does not make it newer. Versions are free text (20261129-4159debd, v2), so they
cannot be ordered. The built-in model's metadata carries the same date, so a
package older than the model that ships with PneumoScan is refused too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from edge_app.updates.model_package import PackageRefused


def model_created(metadata: dict | None) -> datetime | None:
    """When the model was built (timezone-aware), or None when its metadata holds no readable date."""
    text = (metadata or {}).get("created")
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def is_downgrade(new: dict, active: dict | None, allow_downgrade: bool) -> bool:
    """Whether installing the model described by `new` goes back in time from the `active` one.

    Raises PackageRefused when it does and the operator did not allow it, and when
    the new model carries no date (then nobody can tell whether it is older)."""
    created = model_created(new)
    if created is None:
        raise PackageRefused(
            "incompatible",
            "The model's metadata holds no readable creation date ('created'), so this device cannot tell whether "
            "it is older than the active model.",
        )
    active_created = model_created(active)
    if active_created is None or created >= active_created:
        return False
    if not allow_downgrade:
        raise PackageRefused(
            "downgrade",
            f"The package holds a model built {created.isoformat()}, older than the active model "
            f"(built {active_created.isoformat()}). An old package may be replayed to undo a fix; "
            "if you really mean to go back, install it again with --allow-downgrade (the change is logged), "
            "or use `edge-scan model rollback`.",
        )
    return True
