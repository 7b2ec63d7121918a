"""Who may move a series' production pointer (docs/decisions/0010).

A pointer is either free or *held*. A free pointer moves for any writer,
and the last move wins. A held pointer moves only for its holder; every
other writer is refused with POINTER_HELD naming the holder, and a
training that asked for promotion registers its version without moving
the pointer. Only holding writers (a GitOps pin, a rollout) take a hold,
and only of a free pointer: holders never take a hold from each other.

Both registry implementations call `check_move` inside the transaction
that moves the pointer, so no writer can overwrite another by racing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sigmawatch.errors import ErrorCode, SigmawatchError


class WriterKind(StrEnum):
    TRAINING = "training"  # a training with promote
    API = "api"  # POST /v1/series/{id}/rollback
    PIN = "pin"  # an AnomalyModel's spec.production.pinnedVersion
    ROLLOUT = "rollout"  # a shadow or canary rollout, from its start to its end


HOLDING = frozenset({WriterKind.PIN, WriterKind.ROLLOUT})


@dataclass(frozen=True, slots=True)
class Writer:
    kind: WriterKind
    name: str = ""  # pins: "<namespace>/<AnomalyModel name>"

    @classmethod
    def pin(cls, namespace: str, model: str) -> Writer:
        return cls(WriterKind.PIN, f"{namespace}/{model}")

    @classmethod
    def rollout(cls, rollout_id: int) -> Writer:
        return cls(WriterKind.ROLLOUT, str(rollout_id))

    @property
    def holds(self) -> bool:
        return self.kind in HOLDING

    @property
    def holder(self) -> str:
        """The holder string stored with the series while this writer holds it."""
        return f"{self.kind.value}:{self.name}"


# The codes a move refused by a holder answers with.
HELD_CODES = frozenset({ErrorCode.POINTER_HELD, ErrorCode.ROLLOUT_IN_PROGRESS})

TRAINING = Writer(WriterKind.TRAINING)
API = Writer(WriterKind.API)


def describe_holder(holder: str) -> str:
    kind, _, name = holder.partition(":")
    if kind == WriterKind.PIN:
        return f"AnomalyModel {name} pins it"
    if kind == WriterKind.ROLLOUT:
        return f"rollout r{name} is in progress"
    return f"{holder} holds it"


def pointer_held(series_id: str, holder: str) -> SigmawatchError:
    kind, _, name = holder.partition(":")
    details: dict[str, object] = {"series_id": series_id, "holder": holder}
    if kind == WriterKind.ROLLOUT:
        code = ErrorCode.ROLLOUT_IN_PROGRESS
        details |= {
            "rollout": f"r{name}",
            "hint": f"GET /v1/series/{series_id}/rollout; abort it to move production by hand",
        }
    else:
        code = ErrorCode.POINTER_HELD
        details["hint"] = (
            "change or remove the AnomalyModel's spec.production.pinnedVersion"
            if kind == WriterKind.PIN
            else "wait until the holder releases it"
        )
    return SigmawatchError(
        code, f"production of {series_id!r} is held: {describe_holder(holder)}", **details
    )


def check_move(series_id: str, holder: str | None, writer: Writer) -> None:
    """Raise POINTER_HELD unless `writer` may move a pointer `holder` holds (None: free)."""
    if holder is None or (writer.holds and holder == writer.holder):
        return
    raise pointer_held(series_id, holder)


def may_promote(holder: str | None) -> bool:
    """A training's promotion moves only a free pointer."""
    return holder is None
