"""ModelRollout: validated and acknowledged, not yet acted on.

The shadow/canary controller comes in a later release. Until then the
operator checks what it can (the model exists, the candidate version is
registered and active) and says plainly in status that nothing routes
traffic by this rollout yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import ACTIVE, Registry
from sigmawatch.validation import parse_version
from sigmawatch_operator import conditions as cond

NOT_ACTED_ON = (
    "the rollout controller is not part of this release: the rollout is validated "
    "and recorded, but no traffic is routed by it"
)


def check_rollout(
    spec: dict[str, Any],
    get_model: Callable[[str], dict[str, Any] | None],
    registry: Registry,
) -> tuple[bool, str, str]:
    """(valid, reason, message) for a ModelRollout spec."""
    model_name = spec["modelRef"]["name"]
    model = get_model(model_name)
    if model is None:
        return (
            False,
            "ModelNotFound",
            f"AnomalyModel {model_name!r} does not exist in this namespace",
        )
    series_id = spec.get("seriesId") or ((model.get("spec") or {}).get("series") or {}).get("id")
    if not series_id:
        return False, "SeriesRequired", "set seriesId: the model covers more than one series"
    try:
        record = registry.get_version(series_id, parse_version(spec["candidateVersion"]))
    except SigmawatchError as exc:
        return False, exc.code.value, exc.message
    if record.status != ACTIVE:
        return False, "VERSION_ARCHIVED", f"{record.name} of {series_id} is archived"
    return True, "Validated", f"candidate {record.name} of {series_id} is registered"


def rollout_status(
    valid: bool,
    reason: str,
    message: str,
    now: str,
    previous: dict[str, Any],
    generation: int | None,
) -> dict[str, Any]:
    new = [
        cond.condition("Accepted", valid, reason, message),
        cond.condition("Progressing", False, "NotImplemented", NOT_ACTED_ON),
    ]
    return {
        "phase": "Pending" if valid else "Invalid",
        "observedGeneration": generation,
        "conditions": cond.merge_conditions(
            previous.get("conditions"), new, now=now, generation=generation
        ),
    }
