"""The resident model table answers exactly as the per-item path does (issue 10).

The per-item path (cache, registry, artifact) is the reference: every test
scores the same requests both ways and asks for identical answers, bit for
bit, then checks that the table follows the registry as it changes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import API
from sigmawatch.registry.rollout_records import Route
from sigmawatch.rollouts.spec import Strategy
from sigmawatch_inference import resident_columns
from sigmawatch_inference.background import Background
from sigmawatch_inference.columns import predict_columns
from sigmawatch_inference.points import ColumnsRequest, PointsRequest, Prediction
from sigmawatch_inference.security.keys import KeyCache
from sigmawatch_inference.stats_buffer import TrackBuffer
from support.data import START, series_data
from support.resident_checks import answered_by_table, per_version, point, same, train_fleet
from support.serving import Stack, run_async

TRAINED_END = START + 300 * 199  # the last training timestamp of a 200-point series
FLEET = 10_000

type Answer = Prediction | SigmawatchError


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # On tmpfs where there is one: each artifact is fsynced, ~1.5 ms a series on disk.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else tmp_path) as root:
        yield Stack(Path(root), resident_bytes=64 * 1024 * 1024)


def test_fleet_answers_equal_the_per_series_answers_bit_for_bit(stack: Stack) -> None:
    ids = train_fleet(stack, FLEET)
    assert stack.resident.load(stack.memory) == FLEET
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 6.0, FLEET) * rng.choice([1.0, 1.0, 3.0, 1e-3], FLEET)
    # Mostly inside the training range; some far outside it, some in the future.
    timestamps = rng.integers(START, TRAINED_END, FLEET)
    timestamps[::97] += 10**8
    requests: list[PointsRequest | SigmawatchError] = [
        point(s, int(t), float(v)) for s, t, v in zip(ids, timestamps, values, strict=True)
    ]
    requests[5] = point(ids[5], -1, 1.0)  # invalid: answered per item, as its error
    requests[6] = point(ids[6], START, 1e300)  # outside the plausible range
    requests[7] = point("fleet_unknown", START, 1.0)  # no model
    requests[8] = PointsRequest(ids[8], None, timestamps[:3], values[:3])  # three points
    fleet = run_async(stack.predictor.predict_many(requests))
    assert answered_by_table(stack) == FLEET - 3
    per_series = run_async(stack.predictor.per_item(requests))
    for a, b in zip(fleet, per_series, strict=True):
        same(a, b)
    assert sum(isinstance(a, Prediction) and bool(a.warnings) for a in fleet) >= FLEET // 100

    async def singles_of(items: list[PointsRequest]) -> list[Answer]:
        answers: list[Answer] = []
        for item in items:
            try:
                answers.append(await stack.predictor.predict(item))
            except SigmawatchError as exc:
                answers.append(exc)
        return answers

    # The single-point route answers from the table too, in Python floats.
    one_point = [r for r in requests[:2000] if isinstance(r, PointsRequest) and r.values.size == 1]
    before = answered_by_table(stack)
    for a, b in zip(
        run_async(singles_of(one_point)),
        run_async(stack.predictor.per_item(one_point)),
        strict=True,
    ):
        same(a, b)
    assert answered_by_table(stack) - before == len(one_point) - 3
    assert sum(isinstance(a, Prediction) and a.n_anomalies > 0 for a in fleet) > 100

    columns = run_async(predict_columns(stack.predictor, ColumnsRequest(ids, timestamps, values)))
    singles = run_async(
        stack.predictor.per_item(
            [point(s, int(t), float(v)) for s, t, v in zip(ids, timestamps, values, strict=True)]
        )
    )
    for row, single in enumerate(singles):
        assert isinstance(single, Prediction)
        assert columns.versions[row] == single.version
        assert columns.scores[row].view(np.int64) == single.scores.view(np.int64)[0]
        assert columns.anomalies[row] == single.anomalies[0]
    warned = [w for single in singles if isinstance(single, Prediction) for w in single.warnings]
    assert len(columns.warnings) == len(warned)
    assert not columns.errors


def test_columns_answer_each_failing_row_with_its_error(stack: Stack) -> None:
    ids = train_fleet(stack, 3)
    stack.resident.load(stack.memory)
    request = ColumnsRequest(
        [ids[0], "no such id!", "ghost", ids[1], ids[2]],
        np.array([START, START, START, -5, START]),
        np.array([10.0, 1.0, 1.0, 1.0, 1e300]),
    )
    answer = run_async(predict_columns(stack.predictor, request)).to_dict()
    assert answer["versions"] == ["v1", None, None, None, None]
    codes = [(e["row"], e["error"]["code"]) for e in answer["errors"]]
    assert codes == [
        (1, "INVALID_SERIES_ID"),
        (2, "MODEL_NOT_FOUND"),
        (3, "INVALID_TIMESTAMP"),
        (4, "INVALID_VALUE"),
    ]
    assert np.isnan(answer["scores"][1:]).all()
    assert not answer["anomalies"][1:].any()


def background(stack: Stack) -> Background:
    return Background(
        registry=stack.memory,
        cache=stack.cache,
        metrics=stack.metrics,
        usage=stack.usage,
        routing=stack.routing,
        stats=stack.stats,
        tracks=TrackBuffer("stable", stack.settings.stats_bucket_s),
        keys=KeyCache(1.0),
        settings=stack.settings,
        resident=stack.resident,
    )


def answer(stack: Stack, series_id: str, value: float = 10.0) -> Prediction:
    [found] = run_async(stack.predictor.predict_many([point(series_id, START, value)]))
    assert isinstance(found, Prediction)
    return found


def test_the_table_follows_versions_rollbacks_restores_and_a_missed_notification(
    stack: Stack,
) -> None:
    bg = background(stack)
    bg.watch_from_now()
    first = series_data(200, seed=1)
    stack.train_data("moving", *first)
    stack.resident.load(stack.memory)
    assert answer(stack, "moving").version == 1
    stack.train_data("moving", *series_data(200, seed=2))
    bg._on_change("moving")  # the notification
    assert answer(stack, "moving").version == 2
    stack.memory.set_production("moving", 1, by=API)
    bg._on_change("moving")
    assert answer(stack, "moving").version == 1
    # Retention archives v1 once enough newer versions exist; training its data again
    # restores it and makes it production.
    stack.settings = stack.settings.model_copy(update={"retention_versions": 1})
    for seed in (3, 4):
        stack.train_data("moving", *series_data(200, seed=seed))
    assert stack.memory.get_version("moving", 1).status == "archived"
    bg._on_change("moving")
    assert answer(stack, "moving").version == 4
    stack.train_data("moving", *first)
    # No notification this time: the refresh catches the change.
    assert answer(stack, "moving").version == 4
    assert bg.refresh() == 1
    assert answer(stack, "moving").version == 1
    assert stack.memory.get_version("moving", 1).status == "active"
    assert answered_by_table(stack) == 6


def test_the_first_refresh_keeps_what_was_current_when_the_process_started(
    stack: Stack,
) -> None:
    """A series changed just before start (inside the refresh's overlap) is not dropped
    by the first refresh: what the process caches was read after start. Dropping it made
    a pod reload every shadow candidate at once 30 s in (issue 10's fleet benchmark)."""
    stack.train("trained_before_start")
    bg = background(stack)
    bg.watch_from_now()
    assert bg.refresh() == 0
    stack.train("trained_before_start", seed=1)  # no notification: the refresh catches it
    assert bg.refresh() == 1
    assert bg.refresh() == 0


def test_a_series_the_table_does_not_hold_is_answered_through_the_cache(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = train_fleet(stack, 6)
    stack.memory.record_usage({ids[4]: 50, ids[5]: 40})
    # A budget of two rows keeps the two most-used series; two more collide on their
    # first hash and are left out too.
    stack.resident.max_bytes = 2 * (resident_columns.ROW_BYTES + len(ids[0]))
    assert stack.resident.load(stack.memory) == 2
    requests: list[PointsRequest | SigmawatchError] = [point(s, START, 30.0) for s in ids]
    answers = run_async(stack.predictor.predict_many(requests))
    assert answered_by_table(stack) == 2
    for a, b in zip(answers, run_async(stack.predictor.per_item(requests)), strict=True):
        same(a, b)

    real = hash
    monkeypatch.setattr(
        resident_columns, "hash", lambda s: 1 if s in ids[:2] else real(s), raising=False
    )
    stack.resident.max_bytes = 10**6
    assert stack.resident.load(stack.memory) == 4
    assert (stack.resident.lookup(ids) >= 0).tolist() == [False, False, True, True, True, True]


def test_statistics_and_usage_of_table_answers_match_the_per_item_path(
    tmp_path: Path,
) -> None:
    counts: list[Any] = []
    for resident_bytes in (0, 10**6):
        stack = Stack(tmp_path / str(resident_bytes), resident_bytes=resident_bytes)
        ids = train_fleet(stack, 4)
        stack.resident.load(stack.memory)
        batch: list[PointsRequest | SigmawatchError] = [
            point(s, START, v) for s in ids for v in (10.0, 60.0)
        ]
        run_async(stack.predictor.predict_many(batch))
        run_async(stack.predictor.predict_many(batch[:2]))
        stack.resident.spill()
        rows = sorted(
            (r.series_id, r.version, r.predictions, r.anomalies, sum(r.latency))
            for r in stack.stats.take()
        )
        counts.append((rows, stack.usage.take()))
        assert stack.counter("sigmawatch_predictions_total", endpoint="batch") == 10
    assert counts[0] == counts[1]
    assert counts[1][1][ids[0]] == 4


def shadow_fleet(stack: Stack, n: int) -> list[str]:
    """`n` series, the first half in a shadow rollout of a second version each."""
    ids = train_fleet(stack, n)
    routes = []
    for i, series_id in enumerate(ids[: n // 2]):
        stack.train_data(series_id, *series_data(200, seed=5000 + i), promote=False)
        routes.append(Route(1, 1, Strategy.SHADOW, 0, False, series_id, stable=1, candidate=2))
    stack.routing._replace([1], routes)
    stack.resident.load(stack.memory)
    return ids


def test_shadow_rollouts_stay_on_the_one_pass_and_count_as_per_item(tmp_path: Path) -> None:
    """Issue 10, item 2: stable from the table, candidates from the cache, one pass."""
    counted = []
    for resident_bytes in (0, 10**6):
        stack = Stack(tmp_path / str(resident_bytes), resident_bytes=resident_bytes)
        ids = shadow_fleet(stack, 300)
        rng = np.random.default_rng(3)
        batch: list[PointsRequest | SigmawatchError] = [
            point(s, START + 300 * int(rng.integers(0, 199)), float(rng.normal(10, 6))) for s in ids
        ]
        batch[10] = PointsRequest(
            ids[10], None, np.array([START, START + 300]), np.array([1.0, 99.0])
        )
        first = run_async(stack.predictor.predict_many(batch))  # loads the candidates
        on_table = answered_by_table(stack)
        again = run_async(stack.predictor.predict_many(batch))
        for a, b in zip(first, again, strict=True):
            same(a, b)
        if resident_bytes:
            assert on_table == 150  # the unrouted half; the routed one loaded candidates
            assert answered_by_table(stack) - on_table == 300  # then all of it
        stack.resident.spill()
        rows = per_version(stack.stats.take())  # drift bins included
        metrics = [
            stack.counter("sigmawatch_rollout_points_total", role=role)
            for role in ("stable", "shadow")
        ] + [
            stack.counter("sigmawatch_shadow_comparisons_total", outcome=outcome)
            for outcome in ("agreed", "disagreed")
        ]
        counted.append((rows, metrics, again))
    assert counted[0][0] == counted[1][0]
    assert counted[0][1] == counted[1][1]
    assert counted[1][1][3] > 0  # some disagreements: the comparison is not trivial
    for a, b in zip(counted[0][2], counted[1][2], strict=True):
        same(a, b)


def test_drift_bins_are_the_same_whichever_way_the_points_come(tmp_path: Path) -> None:
    """One series' batch (one search of its edges), single points (a bisect each) and
    a many-series batch (a gather per edge) bin the same values alike (OBS-2)."""
    stack = Stack(tmp_path, resident_bytes=10**6)
    ids = train_fleet(stack, 3)
    stack.resident.load(stack.memory)
    values = np.random.default_rng(9).normal(10.0, 8.0, 120).round(1)  # ties with edges too
    timestamps = START + 300 * np.arange(values.size)

    def bins_after(send: Any) -> dict[str, tuple[int, ...]]:
        send()
        stack.resident.spill()
        return {r.series_id: r.drift_bins for r in stack.stats.take()}

    def one_batch() -> None:
        item = PointsRequest(ids[0], None, timestamps, values)
        run_async(stack.predictor.predict_many([item]))

    def singles() -> None:
        for t, v in zip(timestamps.tolist(), values.tolist(), strict=True):
            run_async(stack.predictor.predict(point(ids[0], t, v)))

    def mixed() -> None:
        other = [point(ids[1], START, 10.0)]
        pairs = zip(timestamps.tolist(), values.tolist(), strict=True)
        items = [point(ids[0], t, v) for t, v in pairs]
        run_async(stack.predictor.predict_many(items + other))

    found = [bins_after(send)[ids[0]] for send in (one_batch, singles, mixed)]
    assert found[0] == found[1] == found[2]
    assert sum(found[0]) == values.size
    assert sum(1 for n in found[0] if n) >= 4  # the values spread over the bins
