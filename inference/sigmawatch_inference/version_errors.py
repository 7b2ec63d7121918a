"""Points a version could not score because its model did not load (OBS-2: error rate
per version).

Per (series, version) they go to the statistics buffer, so the stats route's
`errors` and `error_rate` and a rollout's analysis see them; in Prometheus
only by the version's role, never by series. A canary candidate's or a shadow's
failure always counts (stable answers beside it). The version that had to
answer counts only for faults of ours (5xx): an unknown series or an archived
version is the caller's mistake. For production its version is the cached
pointer; with no pointer known (the registry never answered) the points are
counted in Prometheus only.
"""

from __future__ import annotations

from collections.abc import Callable

from sigmawatch.errors import SigmawatchError
from sigmawatch_inference.metrics import Tally
from sigmawatch_inference.points import PointsRequest, Target
from sigmawatch_inference.stats_buffer import StatsBuffer

CANDIDATE, SHADOW, SERVED = "candidate", "shadow", "served"


class VersionErrors:
    def __init__(
        self,
        stats: StatsBuffer,
        tally: Tally,
        pointer: Callable[[str], tuple[bool, int | None]],
    ) -> None:
        self.stats = stats
        self.tally = tally
        self.pointer = pointer  # series → (known, production version), without I/O

    def beside(self, request: PointsRequest, version: int | None, role: str) -> None:
        """A candidate (CANDIDATE or SHADOW) failed while stable answered."""
        points = int(request.values.size)
        self.tally.add(role, points)
        if version is not None:  # always, for a candidate; typed as a target's version
            self.stats.failed(request.series_id, version, points)

    def unserved(self, request: PointsRequest, target: Target, error: SigmawatchError) -> None:
        """The version that had to answer failed with `error`; the caller gets it."""
        if error.http_status < 500:
            return
        points = int(request.values.size)
        self.tally.add(SERVED, points)
        version = target.fallback if target.fallback is not None else target.version
        if version is None:
            version = self.pointer(request.series_id)[1]
        if version is not None:
            self.stats.failed(request.series_id, version, points)
