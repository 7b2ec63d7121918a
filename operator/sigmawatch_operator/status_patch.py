"""A reconcile's outcome as the merge patch of the object's status.

kopf sends what the handlers put in its patch; sending only what changed
(RFC 7386, nulls for what was dropped) keeps every tick from patching an
unchanged status. The in-process test harnesses apply the same patch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from sigmawatch_operator.report import Outcome


def status_patch(previous: Mapping[str, Any], outcome: Outcome) -> dict[str, Any]:
    """The merge patch turning status `previous` into what `outcome` wants; kopf's own
    keys stay kopf's."""
    mine = {k: v for k, v in previous.items() if k != "kopf"}
    wanted = outcome.status if outcome.whole else {**mine, **outcome.status}
    return merge_patch(mine, wanted)


def write_status(patch: kopf.Patch, previous: Mapping[str, Any], outcome: Outcome) -> None:
    for key, value in status_patch(previous, outcome).items():
        patch.status[key] = value


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) turning `old` into `new`.

    Merge patches merge nested objects, so a key dropped from a nested
    object must be sent as null, or the stale value would survive.
    """
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(before, Mapping) and isinstance(value, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in old:
            if value is not None:  # null on an absent key changes nothing: send nothing
                patch[key] = value
        elif before != value:
            patch[key] = value
    return patch
