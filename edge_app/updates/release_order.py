"""Which of two models is newer, so an old signed package cannot be replayed over a newer model.

The authoritative date is the `created` field of the model's own metadata: it is
written once, when edge-quantize builds the model, and it is signed, because the
manifest signs the model's SHA-256 and metadata.json. The package's `created_at`
is not used: it only says when a file was signed, and re-signing an old model
does not make it newer. Versions are free text (20261129-4159debd, v2), so they
cannot be ordered. The built-in model's metadata carries the same date, so a
package older than the model that ships with PneumoScan is refused too.

A package is compared with the newest model this device has installed (installed
models are kept), not only with the active one: after a rollback, a package built
between the model rolled back to and the newer one is still a downgrade. Models
signed by a revoked key do not count, since whoever holds that key chose their
dates. A model dated more than FUTURE_TOLERANCE after the device clock is refused:
once installed it would make every genuine later release look older, for good; a
date that far ahead is a mistake or a forgery, or the device clock is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from edge_app.updates.model_package import PackageRefused

FUTURE_TOLERANCE = timedelta(days=2)
"""How far after this device's clock a model may be dated: clocks drift and a date may be written without its time
zone (read as UTC, up to 14 hours off), but no release reaches a device two days before it is built."""
DATED_IN_FUTURE = "dated_in_future"


def device_clock() -> datetime:
    """Now, on this device's clock (timezone-aware)."""
    return datetime.now(UTC)


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


def newest_release(models: Iterable[tuple[str, dict | None]]) -> tuple[str, datetime] | None:
    """The (model id, creation date) of the newest of `models` ((id, metadata) pairs); dates after the device
    clock's tolerance (a model installed before such dates were refused) and unreadable dates are left out."""
    latest = device_clock() + FUTURE_TOLERANCE
    dated = [(created, model_id) for model_id, metadata in models if (created := model_created(metadata))]
    plausible = [(created, model_id) for created, model_id in dated if created <= latest]
    if not plausible:
        return None
    created, model_id = max(plausible)
    return model_id, created


def _created(new: dict) -> datetime:
    """The new model's creation date, refused when it is missing or too far after this device's clock."""
    created = model_created(new)
    if created is None:
        raise PackageRefused(
            "incompatible",
            "The model's metadata holds no readable creation date ('created'), so this device cannot tell whether "
            "it is older than the models installed here.",
        )
    now = device_clock()
    if created > now + FUTURE_TOLERANCE:
        raise PackageRefused(
            DATED_IN_FUTURE,
            f"The model is dated {created.isoformat()}, more than {FUTURE_TOLERANCE.days} days after this "
            f"device's clock ({now.replace(microsecond=0).isoformat()}). If the clock is wrong, set the date and "
            "time and install again; otherwise the package is mis-dated and must not be installed.",
        )
    return created


def is_downgrade(new: dict, newest: tuple[str, datetime] | None, allow_downgrade: bool) -> bool:
    """Whether installing the model described by `new` goes back in time from `newest` (`newest_release` of the
    models installed on this device).

    Raises PackageRefused when it does and the operator did not allow it, when the new
    model carries no date (then nobody can tell whether it is older), and when it is
    dated too far after the device clock (allowing a downgrade does not allow that)."""
    created = _created(new)
    if newest is None or created >= newest[1]:
        return False
    if not allow_downgrade:
        model_id, newest_created = newest
        raise PackageRefused(
            "downgrade",
            f"The package holds a model built {created.isoformat()}, older than model {model_id} "
            f"(built {newest_created.isoformat()}), the newest installed on this device. An old package may be "
            "replayed to undo a fix; if you really mean to go back, install it again with --allow-downgrade "
            "(the change is logged), or use `edge-scan model rollback`.",
        )
    return True
