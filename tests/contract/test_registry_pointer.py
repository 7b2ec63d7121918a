"""Registry contract, the production pointer (REG-4, docs/decisions/0010): memory and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from sigmawatch.artifacts import FileStore
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import API, TRAINING, Registry, Writer
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import TrainResult
from support.training import train

PIN = Writer.pin("plant", "pump-1")
OTHER_PIN = Writer.pin("plant", "pump-1-copy")


def held(call: Callable[[], object]) -> SigmawatchError:
    with pytest.raises(SigmawatchError) as caught:
        call()
    assert caught.value.code is ErrorCode.POINTER_HELD
    return caught.value


def test_a_pin_holds_production_against_every_other_writer(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for seed in range(3):
        train(any_registry, file_store, settings, "p", seed)
    move = any_registry.set_production("p", 1, by=PIN)
    assert (move.record.name, move.previous) == ("v1", 3)
    series = any_registry.get_series("p")
    assert series is not None
    assert series.holder == PIN.holder
    refused = held(lambda: any_registry.set_production("p", 2, by=API))
    assert refused.details["holder"] == "pin:plant/pump-1"
    assert "AnomalyModel plant/pump-1" in refused.message
    held(lambda: any_registry.set_production("p", 2, by=OTHER_PIN))
    # A training asking for promotion registers its version and leaves production alone.
    promoted = train(any_registry, file_store, settings, "p", 10, promote=True)
    assert promoted.created
    assert not promoted.record.is_production
    assert promoted.held_by == PIN.holder
    assert promoted.warnings()[0]["code"] == "POINTER_HELD"
    assert any_registry.get_production("p").name == "v1"
    # The holder moves it as often as it likes; nothing changes when nothing needs to.
    assert any_registry.set_production("p", 2, by=PIN).previous == 1
    assert any_registry.set_production("p", 2, by=PIN).previous == 2


def test_a_released_pointer_is_free_again_where_it_stands(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for seed in range(2):
        train(any_registry, file_store, settings, "r", seed)
    any_registry.set_production("r", 1, by=PIN)
    assert not any_registry.release_pointer("r", by=OTHER_PIN)  # not the holder
    assert any_registry.release_pointer("r", by=PIN)
    assert not any_registry.release_pointer("r", by=PIN)
    series = any_registry.get_series("r")
    assert series is not None
    assert (series.production_version, series.holder) == (1, None)
    assert any_registry.set_production("r", 2, by=API).record.is_production
    assert train(any_registry, file_store, settings, "r", 5).record.is_production


def test_pin_rollback_and_promoting_training_racing_end_as_the_pin_says(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """Whatever the order, the pin ends holding its version; every loser is told."""
    for round_ in range(6):
        series = f"race_{round_}"
        for seed in range(3):
            train(any_registry, file_store, settings, series, seed)
        rolled_back, trained = _race(any_registry, file_store, settings, series, 100 + round_)
        state = any_registry.get_series(series)
        assert state is not None
        assert (state.production_version, state.holder) == (1, PIN.holder), round_
        # The rollback either moved a free pointer before the pin or was refused.
        assert not isinstance(rolled_back, ErrorCode) or rolled_back is ErrorCode.POINTER_HELD
        assert trained.created


def _race(
    registry: Registry, store: FileStore, settings: TrainingSettings, series: str, seed: int
) -> tuple[object, TrainResult]:
    barrier = threading.Barrier(3)

    def pin() -> object:
        barrier.wait()
        return registry.set_production(series, 1, by=PIN)

    def rollback() -> object:
        barrier.wait()
        try:
            return registry.set_production(series, 2, by=API)
        except SigmawatchError as exc:
            return exc.code

    def promote() -> TrainResult:
        barrier.wait()
        return train(registry, store, settings, series, seed, promote=True)

    with ThreadPoolExecutor(3) as pool:
        pinned, rolled_back, trained = pool.submit(pin), pool.submit(rollback), pool.submit(promote)
        pinned.result()
        return rolled_back.result(), trained.result()


def test_each_move_reports_the_pointer_it_replaced(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """The previous version is read in the transaction that moves the pointer, so
    concurrent moves form one chain: every previous is some earlier move's target."""
    for seed in range(8):
        train(any_registry, file_store, settings, "chain", seed)
    barrier = threading.Barrier(8)

    def move(version: int) -> tuple[int | None, int]:
        barrier.wait()
        return any_registry.set_production("chain", version, by=API).previous, version

    with ThreadPoolExecutor(8) as pool:
        moves = list(pool.map(move, range(1, 9)))
    final = any_registry.get_production("chain").version
    # v8 was production first; each move's previous is the target of the move before it.
    assert sorted([p or 0 for p, _ in moves] + [final]) == sorted([t for _, t in moves] + [8])


def test_training_promotion_is_the_training_writer(any_registry: Registry) -> None:
    assert not TRAINING.holds
    assert PIN.holds
    assert PIN.holder == "pin:plant/pump-1"
