"""Why a rollout ended without promotion, as the rollback alerts' `reason` (OBS-4).

One vocabulary for the operator's `sigmawatch_operator_rollbacks_total` and
the service's `sigmawatch_rollouts_ended_total`: the first failing check's
name, `maxDuration`, or `aborted`.
"""

from __future__ import annotations

from sigmawatch.registry.rollout_records import RolloutRecord
from sigmawatch.rollouts.policy import Action, Decision, Phase

ABORTED = "aborted"
MAX_DURATION = "maxDuration"
UNKNOWN = "unknown"


def ended_reason(decision: Decision) -> str | None:
    """What `decision` ends a rollout for; None when it does not end one unpromoted."""
    if decision.action is Action.FAIL:
        return MAX_DURATION
    if decision.action is Action.ROLLBACK:
        return next((c.name for c in decision.checks if c.passed is False), UNKNOWN)
    return None


def record_reason(record: RolloutRecord) -> str | None:
    """The same, read from a stored rollout (its last analysis); None unless it ended
    unpromoted."""
    phase = record.state.phase
    if phase is Phase.ABORTED:
        return ABORTED
    if phase is Phase.FAILED:
        return MAX_DURATION
    if phase is not Phase.ROLLED_BACK:
        return None
    checks = (record.last_analysis or {}).get("checks") or []
    failed = (c.get("name") for c in checks if isinstance(c, dict) and c.get("passed") is False)
    return next((str(name) for name in failed if name), UNKNOWN)
