"""The prediction seam in process, without HTTP, on the in-memory registry (PRED-2..6)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import API
from sigmawatch_inference.offload import OFF_LOOP_ITEMS
from sigmawatch_inference.points import PointsRequest, Prediction
from support.data import START
from support.serving import Stack, run_async

TS = START + 300 * 500


def point(series_id: str, value: float = 10.0, version: int | None = None) -> PointsRequest:
    return PointsRequest(
        series_id, version, np.array([TS], dtype=np.int64), np.array([value], dtype=np.float64)
    )


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return Stack(tmp_path)


def test_one_point_names_the_version_and_counts_once(stack: Stack) -> None:
    stack.train("p1")
    first = run_async(stack.predictor.predict(point("p1", 10.0)))
    again = run_async(stack.predictor.predict(point("p1", 99.0)))
    assert (first.version, first.kind, bool(first.anomalies[0])) == (1, "zscore", False)
    assert bool(again.anomalies[0])
    assert not first.fallback
    assert stack.spy.calls["get_production"] == 1  # the second answer came from the cache
    assert stack.counter("sigmawatch_model_cache_misses_total") == 1
    assert stack.counter("sigmawatch_model_cache_hits_total") == 1
    assert stack.counter("sigmawatch_predictions_total", endpoint="single") == 2
    assert stack.counter("sigmawatch_anomalies_total", endpoint="single") == 1
    assert stack.usage.take() == {"p1": 2}
    assert stack.metrics.cache_hit_rate == 0.5


def test_a_series_without_a_model_is_asked_for_once(stack: Stack) -> None:
    for _ in range(3):
        with pytest.raises(SigmawatchError) as caught:
            run_async(stack.predictor.predict(point("ghost")))
        assert caught.value.code is ErrorCode.MODEL_NOT_FOUND
    assert stack.spy.calls["get_production"] == 1


def test_a_batch_resolves_each_model_once_and_isolates_bad_items(stack: Stack) -> None:
    stack.train("b1")
    stack.train("b2", seed=1)
    bad = SigmawatchError(ErrorCode.INVALID_REQUEST, "each item must be an object")
    requests: list[PointsRequest | SigmawatchError] = [
        point("b1"),
        point("b2", 99.0),
        bad,
        point("b1", 11.0),
        point("nobody"),
        point("b1", 10.0, version=7),
    ]
    answers = run_async(stack.predictor.predict_many(requests))
    assert [a.series_id for a in answers if isinstance(a, Prediction)] == ["b1", "b2", "b1"]
    assert answers[2] is bad
    errors = [a.code for a in answers if isinstance(a, SigmawatchError)]
    assert errors == [
        ErrorCode.INVALID_REQUEST,
        ErrorCode.MODEL_NOT_FOUND,
        ErrorCode.INVALID_VERSION,
    ]
    # Three distinct production lookups (b1, b2, nobody) and one explicit version.
    assert stack.spy.calls["get_production"] == 3
    assert stack.spy.calls["get_version"] == 1
    assert stack.counter("sigmawatch_predictions_total", endpoint="batch") == 3
    assert stack.counter("sigmawatch_anomalies_total", endpoint="batch") == 1
    assert stack.usage.take() == {"b1": 2, "b2": 1}


def test_a_batchs_misses_load_concurrently(stack: Stack) -> None:
    for i in range(4):
        stack.train(f"c{i}", seed=i)
    inside = threading.Barrier(4, timeout=10)

    def wait_for_the_other_three(*_: object) -> None:
        inside.wait()  # only loads that run at the same time get through

    stack.spy.before["get_production"] = wait_for_the_other_three
    answers = run_async(stack.predictor.predict_many([point(f"c{i}") for i in range(4)]))
    assert all(isinstance(a, Prediction) for a in answers)


def test_an_outage_fails_the_items_that_need_the_registry_only(stack: Stack) -> None:
    stack.train("warm")
    run_async(stack.predictor.predict(point("warm")))
    stack.train("cold", seed=1)
    stack.memory.down = True
    answers = run_async(stack.predictor.predict_many([point("warm"), point("cold")]))
    assert isinstance(answers[0], Prediction)
    assert isinstance(answers[1], SigmawatchError)
    assert answers[1].code is ErrorCode.STORAGE_UNAVAILABLE


def test_a_broken_artifact_answers_from_the_stored_moments(stack: Stack) -> None:
    record = stack.train("bent").record
    stack.store.delete(record.artifact_prefix + "manifest.json")
    answer = run_async(stack.predictor.predict(point("bent", 10.0)))
    assert answer.fallback
    assert answer.kind == "zscore"
    assert stack.counter("sigmawatch_fallback_predictions_total") == 1


def test_an_archive_notice_during_a_version_read_leaves_nothing_cached(stack: Stack) -> None:
    """The read started before the series changed: its answer serves this request
    but must not stay in the cache, where no later notice would remove it."""
    stack.train("arch")
    stack.spy.before["get_version"] = lambda series_id, *_: stack.cache.drop_series(series_id)
    answer = run_async(stack.predictor.predict(point("arch", version=1)))
    assert answer.version == 1
    assert stack.cache.get(("arch", 1)) is None


def test_another_series_changing_does_not_stop_pointer_caching(stack: Stack) -> None:
    stack.train("steady")
    stack.train("busy", seed=1)
    stack.spy.before["get_production"] = lambda *_: stack.cache.drop_series("busy")
    run_async(stack.predictor.predict(point("steady")))
    run_async(stack.predictor.predict(point("steady")))
    assert stack.spy.calls["get_production"] == 1


def test_a_rollback_notice_moves_the_answer_to_the_new_version(stack: Stack) -> None:
    stack.train("moved")
    stack.train("moved", seed=1)
    assert run_async(stack.predictor.predict(point("moved"))).version == 2
    stack.memory.set_production("moved", 1, by=API)
    stack.cache.drop_series("moved")  # what the listener does on the notification
    assert run_async(stack.predictor.predict(point("moved"))).version == 1


def test_a_batch_loads_a_bounded_number_of_models_at_once(stack: Stack) -> None:
    """SEC-1: 30 unknown series load through 3 workers, not 30 threads at once."""
    stack.predictor.models.concurrency = 3  # SIGMAWATCH_BATCH_LOAD_CONCURRENCY
    lock, running, most = threading.Lock(), [0], [0]

    def slow_lookup(*_: object) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1

    stack.spy.before["get_production"] = slow_lookup
    answers = run_async(stack.predictor.predict_many([point(f"u{i}") for i in range(30)]))
    assert all(isinstance(a, SigmawatchError) for a in answers)
    assert stack.spy.calls["get_production"] == 30
    assert most[0] == 3


def test_a_large_batch_is_scored_off_the_event_loop(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SEC-1: a batch of OFF_LOOP_ITEMS items leaves the loop free; a small one stays on it."""
    stack.train("big")
    score = stack.predictor._score
    threads: list[threading.Thread] = []

    def spy(*args: Any) -> Prediction:
        threads.append(threading.current_thread())
        return score(*args)

    monkeypatch.setattr(stack.predictor, "_score", spy)

    async def both() -> threading.Thread:
        await stack.predictor.predict_many([point("big")] * OFF_LOOP_ITEMS)
        await stack.predictor.predict_many([point("big")] * 3)
        return threading.current_thread()

    loop = run_async(both())
    assert [t is loop for t in threads] == [False] * OFF_LOOP_ITEMS + [True] * 3
