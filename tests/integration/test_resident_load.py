"""The resident load's packed drift quantiles (migration 0013; PERF-4, OBS-2): what only
the PostgreSQL registry has. That both registries hand the load the same quantiles is
the contract suite's (test_registry_versions.py)."""

from __future__ import annotations

import struct

import numpy as np
import psycopg

from sigmawatch.artifacts import FileStore
from sigmawatch.registry import API
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.registry.postgres.schema import available
from sigmawatch.settings import TrainingSettings
from sigmawatch.stats import QUANTILES
from sigmawatch_inference.resident_columns import ASKED
from support.training import train


def _packed(database_url: str) -> dict[tuple[str, int], bytes | None]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT series_id, version, drift_quantiles FROM model_versions")
        return {(s, v): None if q is None else bytes(q) for s, v, q in rows}


def _loaded(registry: PostgresRegistry) -> dict[str, list[float]]:
    chunks = registry.centre_scale_states(ASKED, 100)
    return {
        series_id: row.tolist()
        for chunk in chunks
        for series_id, row in zip(chunk.series_ids, chunk.quantiles, strict=True)  # type: ignore[arg-type]
    }


def test_registration_packs_the_quantiles_and_the_backfill_gives_the_same_bytes(
    registry: PostgresRegistry, database_url: str, file_store: FileStore, settings: TrainingSettings
) -> None:
    first = train(registry, file_store, settings, "packed", 0)
    train(registry, file_store, settings, "packed", 1)  # production moves to v2
    train(registry, file_store, settings, "other", 2, detector={"kind": "mad"})
    written = _packed(database_url)
    stats = first.record.stats
    expected = struct.pack(">7d", *(stats[f"p{q}"] for q in QUANTILES))
    assert written[("packed", 1)] == expected  # as float8send writes them, p1 … p99
    before = _loaded(registry)
    assert before["packed"] == [registry.get_version("packed", 2).stats[f"p{q}"] for q in QUANTILES]

    # Rows as they were before 0013: no packed quantiles; v1 is rolled back to later.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE model_versions SET drift_quantiles = NULL")
    assert _loaded(registry) == before  # read through packed_quantiles(stats) meanwhile
    (backfill,) = [s for s in available()[12].sql.splitlines() if s.startswith("UPDATE")]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(backfill.encode())
    again = _packed(database_url)
    assert again[("packed", 2)] == written[("packed", 2)]
    assert again[("other", 1)] == written[("other", 1)]
    assert again[("packed", 1)] is None  # not production: left to the fallback
    registry.set_production("packed", 1, by=API)
    assert _loaded(registry)["packed"] == np.frombuffer(expected, ">f8").tolist()


def test_quantiles_a_version_lacks_load_as_nan(
    registry: PostgresRegistry, database_url: str, file_store: FileStore, settings: TrainingSettings
) -> None:
    train(registry, file_store, settings, "partial", 0)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE model_versions SET stats = stats - 'p5', drift_quantiles = NULL")
        conn.execute(
            "UPDATE model_versions SET drift_quantiles = packed_quantiles(stats) WHERE version = 1"
        )
    loaded = np.array(_loaded(registry)["partial"])
    assert np.isnan(loaded).tolist() == [False, True, False, False, False, False, False]
