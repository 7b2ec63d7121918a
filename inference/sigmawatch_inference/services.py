"""Everything a serving process holds between requests, and its start-up order.

Start-up runs in a worker thread while the HTTP server already answers
`/liveness`; `/readiness` turns true only after the registry is migrated,
storage answered and the warm-up finished (MON-3, MOD-7). After that,
storage health is reported by /healthcheck and metrics, not by readiness
(docs/decisions/0009).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sigmawatch.artifacts import ArtifactStore, GuardedStore, store_for
from sigmawatch.artifacts.versioning import log_versioning
from sigmawatch.breaker import Breaker, State
from sigmawatch.errors import ErrorCode, SigmawatchError, StorageUnavailableError
from sigmawatch.registry import Registry
from sigmawatch.registry.postgres import open_registry
from sigmawatch_inference.background import Background
from sigmawatch_inference.cache import ModelCache
from sigmawatch_inference.janitor_loop import JanitorLoop
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.predictor import Predictor
from sigmawatch_inference.resident import ResidentTable
from sigmawatch_inference.resident_path import ResidentPath
from sigmawatch_inference.resolver import ModelResolver
from sigmawatch_inference.rollout_loop import RolloutLoop
from sigmawatch_inference.routing import RoutingTable
from sigmawatch_inference.security.bootstrap import ensure_bootstrap_key
from sigmawatch_inference.security.keys import KeyCache
from sigmawatch_inference.security.ratelimits import RateLimits
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.stats_buffer import StatsBuffer, TrackBuffer
from sigmawatch_inference.storage_monitor import STARTING, StorageMonitor, StorageState
from sigmawatch_inference.usage import UsageCounter

log = logging.getLogger(__name__)

STARTING_MESSAGE = "service is starting; retry shortly"
STOP_BUDGET_S = 2.5


STATE_VALUES = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


def _postgres(settings: ServiceSettings, breaker: Breaker) -> Registry:
    return open_registry(settings, breaker=breaker)


@dataclass
class Services:
    settings: ServiceSettings
    # How the registry is opened, behind its breaker: PostgreSQL (embedded by
    # default); tests pass others.
    open_registry: Callable[[ServiceSettings, Breaker], Registry] = _postgres
    open_store: Callable[[ServiceSettings], ArtifactStore] = store_for
    metrics: Metrics = field(default_factory=Metrics)
    usage: UsageCounter = field(default_factory=UsageCounter)
    started_at: float = field(default_factory=time.time)
    ready: threading.Event = field(default_factory=threading.Event)
    # The code of the last start-up failure; its detail is in the log only.
    startup_error: str | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    registry: Registry | None = None
    store: ArtifactStore | None = None
    cache: ModelCache | None = None
    resident: ResidentTable | None = None
    predictor: Predictor | None = None
    background: Background | None = None
    monitor: StorageMonitor | None = None
    rollouts: RolloutLoop | None = None
    janitor: JanitorLoop | None = None
    routing: RoutingTable = field(default_factory=RoutingTable)
    tracks: TrackBuffer = field(init=False)
    keys: KeyCache = field(init=False)
    # AV-2: one per backend, kept across start-up retries.
    breakers: dict[str, Breaker] = field(init=False)
    # SEC-2; built by the app's lifespan, in the event loop its storage is bound to.
    limits: RateLimits | None = None

    def __post_init__(self) -> None:
        self.tracks = TrackBuffer(self.settings.track, self.settings.stats_bucket_s)
        self.keys = KeyCache(self.settings.api_key_cache_s)
        policy = self.settings.breaker_policy()
        self.breakers = {
            name: Breaker(name, policy, on_change=self._breaker_changed)
            for name in ("registry", "artifacts")
        }
        for name in self.breakers:
            self.metrics.breaker_state.labels(name).set(0)
            self.metrics.breaker_opened.labels(name)
        self.metrics.system.watch_disk(self.settings.data_dir)

    def _breaker_changed(self, breaker: Breaker, state: State) -> None:
        self.metrics.breaker_state.labels(breaker.name).set(STATE_VALUES[state])
        if state is State.OPEN:
            self.metrics.breaker_opened.labels(breaker.name).inc()

    def start(self) -> None:
        """Blocking start-up, retried with backoff until it succeeds or `stop()`.

        A dependency that is down at boot (database, bucket) delays readiness
        instead of killing the process; readiness reports the last error's code.
        """
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._start()
                self.startup_error = None
                return
            except Exception as exc:
                self.startup_error = (
                    exc.code.value if isinstance(exc, SigmawatchError) else type(exc).__name__
                )
                log.exception("start-up failed; retrying", extra={"retry_in_s": delay})
                self._teardown()
            self._stopping.wait(delay)
            delay = min(delay * 2, 30.0)

    def _start(self) -> None:
        settings = self.settings
        self.registry = self.open_registry(settings, self.breakers["registry"])
        log.info("registry ready")
        self.store = GuardedStore(self.open_store(settings), self.breakers["artifacts"])
        log_versioning(self.store)  # DUR-2: says in the log whether S3 versioning is on
        if settings.admin_api_key is not None:
            ensure_bootstrap_key(self.registry, settings.admin_api_key.get_secret_value())
        cache = self.cache = ModelCache(
            settings.cache_max_entries, settings.cache_max_bytes, settings.cache_ttl_s
        )
        self.monitor = StorageMonitor(
            self.registry, self.store, self.metrics, changes=lambda: cache.invalidations
        )
        first = self.monitor.start()  # the start-up storage check, done once
        if not first.ok:
            raise StorageUnavailableError("storage did not answer at start-up")
        resolver = ModelResolver(self.registry, self.store, self.cache, self.metrics.model_load)
        stats = StatsBuffer(settings.stats_bucket_s)
        resident = self.resident = ResidentTable(stats, self.usage, settings.resident_max_bytes)
        self.predictor = Predictor(
            resolver,
            settings,
            self.metrics,
            self.usage,
            stats,
            self.routing,
            ResidentPath(
                resident,
                self.routing,
                settings,
                self.metrics,
                stats,
                cached=lambda series_id, version: cache.get((series_id, version)),
            ),
        )
        self.background = Background(
            registry=self.registry,
            cache=self.cache,
            metrics=self.metrics,
            usage=self.usage,
            routing=self.routing,
            stats=stats,
            tracks=self.tracks,
            keys=self.keys,
            settings=settings,
            resident=resident,
        )
        # Listen before warming up, so no change slips between the two.
        self.background.start()
        self.rollouts = RolloutLoop(
            self.registry, self.store, settings.rollout_tick_s, self.metrics.api_rollouts
        )
        self.rollouts.start()
        started = time.perf_counter()
        rows = self.background.load_resident()
        log.info(
            "resident table loaded",
            extra={"models": rows, "bytes": resident.nbytes, "seconds": _since(started)},
        )
        started = time.perf_counter()
        loaded = resolver.warm_up(settings.warmup_top_n, skip=lambda ids: resident.lookup(ids) >= 0)
        seconds = time.perf_counter() - started
        self.metrics.warmup_seconds.set(seconds)
        self.metrics.warmup_models.set(loaded)
        self.metrics.observe_cache(self.cache.size, self.cache.nbytes)
        log.info("warm-up finished", extra={"models": loaded, "seconds": round(seconds, 3)})
        self.startup_error = None  # before readiness: no one sees ready beside an old error
        self.ready.set()
        self.janitor = JanitorLoop(
            self.registry,
            self.store,
            interval_s=settings.janitor_interval_s,
            grace_s=settings.janitor_grace_s,
        )
        self.janitor.start()

    def stop(self) -> None:
        self._stopping.set()
        self.ready.clear()
        self._teardown()

    def _teardown(self, budget_s: float = STOP_BUDGET_S) -> None:
        """Stop every part within `budget_s` in all, whatever storage does (SIGTERM)."""
        deadline = time.monotonic() + budget_s

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        if self.janitor is not None:
            self.janitor.stop(left())
        if self.rollouts is not None:
            self.rollouts.stop(left())
        if self.monitor is not None:
            self.monitor.stop(left())
        if self.background is not None:
            self.background.stop(left())
        if self.registry is not None:
            self.registry.close()
        self.registry = self.store = self.predictor = self.cache = self.resident = None
        self.background = self.monitor = None
        self.rollouts = self.janitor = None

    # -- what handlers need ---------------------------------------------------------

    def require(self) -> tuple[Registry, ArtifactStore, Predictor]:
        """The started components, or STORAGE_UNAVAILABLE while starting."""
        if (
            not self.ready.is_set()
            or self.registry is None
            or self.store is None
            or self.predictor is None
        ):
            raise SigmawatchError(ErrorCode.STORAGE_UNAVAILABLE, STARTING_MESSAGE)
        return self.registry, self.store, self.predictor

    def storage(self) -> StorageState:
        """The last background check of registry and store (never blocks)."""
        return self.monitor.state() if self.monitor is not None else STARTING

    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state.value for name, breaker in self.breakers.items()}


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
