"""For one comparison run only: the resident load's query before migration 0013.

`bench_resident.py --previous` times loads with it interleaved with today's, in
one workspace, so the before/after figures in docs/performance.md share their
minute. The quantiles come out of each row's jsonb statistics, and the wide
rows go through the sorts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sigmawatch.registry.postgres import _sql

PREVIOUS = """
    WITH k AS (
        SELECT * FROM unnest(%(kinds)s::text[], %(centres)s::text[], %(scales)s::text[])
            WITH ORDINALITY AS k(kind, centre, scale, position)
    ), picked AS (
        SELECT v.series_id, v.version, (k.position - 1)::int4 AS kind,
               (v.detector_params ->> 'threshold')::float8 AS threshold,
               (v.state ->> k.centre)::float8 AS centre, (v.state ->> k.scale)::float8 AS scale,
               v.training_start, v.training_end,
               float8send(coalesce((v.stats -> 'p1')::float8, 'NaN'))
                 || float8send(coalesce((v.stats -> 'p5')::float8, 'NaN'))
                 || float8send(coalesce((v.stats -> 'p25')::float8, 'NaN'))
                 || float8send(coalesce((v.stats -> 'p50')::float8, 'NaN'))
                 || float8send(coalesce((v.stats -> 'p75')::float8, 'NaN'))
                 || float8send(coalesce((v.stats -> 'p95')::float8, 'NaN'))
                 || float8send(coalesce((v.stats -> 'p99')::float8, 'NaN')) AS quantiles,
               row_number() OVER (ORDER BY s.usage_rank DESC NULLS LAST, s.series_id) AS n
        FROM series s
        JOIN model_versions v ON v.series_id = s.series_id AND v.version = s.production_version
        JOIN k ON k.kind = v.detector_kind
        WHERE v.is_production AND v.state ? k.centre AND v.state ? k.scale
          AND v.detector_params ? 'threshold' AND v.detector_params - 'threshold' = '{}'::jsonb
          AND (%(ids)s::text[] IS NULL OR s.series_id = ANY(%(ids)s::text[]))
    )
    SELECT string_agg(series_id, ',' ORDER BY n),
           string_agg(int4send(version), '' ORDER BY n), string_agg(int4send(kind), '' ORDER BY n),
           string_agg(float8send(threshold), '' ORDER BY n),
           string_agg(float8send(centre), '' ORDER BY n),
           string_agg(float8send(scale), '' ORDER BY n),
           string_agg(int8send(training_start), '' ORDER BY n),
           string_agg(int8send(training_end), '' ORDER BY n),
           string_agg(quantiles, '' ORDER BY n)
    FROM picked WHERE n <= %(limit)s GROUP BY (n - 1) / %(chunk)s ORDER BY (n - 1) / %(chunk)s
"""


@contextmanager
def previous_query() -> Iterator[None]:
    """Both of today's reads (most used first, and in any order) made that query."""
    saved = _sql.CENTRE_SCALE_STATES, _sql.CENTRE_SCALE_STATES_ANY_ORDER, _sql.ANY_ORDER_PLAN
    _sql.CENTRE_SCALE_STATES = _sql.CENTRE_SCALE_STATES_ANY_ORDER = PREVIOUS
    _sql.ANY_ORDER_PLAN = ()
    try:
        yield
    finally:
        _sql.CENTRE_SCALE_STATES, _sql.CENTRE_SCALE_STATES_ANY_ORDER, _sql.ANY_ORDER_PLAN = saved
