"""Status conditions in the Kubernetes convention (type, status, reason, message).

`lastTransitionTime` moves only when a condition's status flips, so
watchers can tell how long a model has been Degraded.
"""

from __future__ import annotations

from typing import Any

READY = "Ready"
TRAINING = "Training"
DEGRADED = "Degraded"


def condition(kind: str, status: bool, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
    }


def merge_conditions(
    previous: list[dict[str, Any]] | None,
    new: list[dict[str, Any]],
    *,
    now: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    before = {c.get("type"): c for c in previous or []}
    merged = []
    for entry in new:
        old = before.get(entry["type"]) or {}
        kept = old.get("status") == entry["status"]
        since = old.get("lastTransitionTime", now) if kept else now
        merged.append({**entry, "lastTransitionTime": since, "observedGeneration": generation})
    return merged


def is_true(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )
