"""`sigmawatch`: serve the API, train from a file, make demo data.

    sigmawatch serve [--host H] [--port P] [--workers N]
    sigmawatch train --series ID --file data.csv|.npy|.npz [--detector mad] [--param threshold=4]
    sigmawatch train-fleet --run-id RUN (--source-uri TEMPLATE | --dataset) [...]
    sigmawatch demo  [--series ID] [--points N] (--out FILE | --json)

`train` runs the same `train_series` as the REST endpoint. Errors print as
`{"error": {...}}` on stderr with exit status 2 (bad input) or 1 (other).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from sigmawatch.artifacts import store_for
from sigmawatch.datasets import read_training_file, write_training_file
from sigmawatch.demo import demo_series
from sigmawatch.durations import parse_duration
from sigmawatch.errors import SigmawatchError
from sigmawatch.fleet import Window, select_shard, train_run
from sigmawatch.logs import configure_logging
from sigmawatch.registry import Registry, start_embedded
from sigmawatch.settings import Settings, load_settings
from sigmawatch.sources import dataset_source, uri_source
from sigmawatch.training import train_series

EXIT_INVALID = 2
# A training run that processed every series but some were rejected: the
# training Job's podFailurePolicy fails that index instead of retrying it.
EXIT_SERIES_FAILED = 3


def _print_json(document: Any, stream: Any = None) -> None:
    stream = stream or sys.stdout
    stream.write(orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")


def _database_url(settings: Settings) -> str:
    return settings.database_url or start_embedded(settings.data_dir)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    # uvicorn re-raises SIGTERM after its graceful shutdown. Turned into an
    # exception here, it lets atexit handlers run, and one of them stops the
    # embedded PostgreSQL; the default action would kill the process first.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k)) is not None}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    if settings.database_url is None:
        # Start the embedded server once here so every worker shares it.
        os.environ["SIGMAWATCH_DATABASE_URL"] = _database_url(settings)
        settings = load_settings(**overrides)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": settings.access_log,
        "log_config": None,
        "loop": "uvloop",
        "http": "httptools",
        "timeout_graceful_shutdown": 10,
    }
    if settings.workers > 1:
        uvicorn.run(
            "sigmawatch_inference.app:create_app_from_env",
            factory=True,
            workers=settings.workers,
            **options,
        )
    else:
        from sigmawatch_inference.app import create_app

        uvicorn.run(create_app(settings), **options)
    return 0


def _detector(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--param takes name=value, got {item!r}")
        try:
            params[name] = float(value)
        except ValueError:
            raise SystemExit(f"--param {name} needs a number, got {value!r}") from None
    return {"kind": args.detector, "params": params}


@contextmanager
def _registry(settings: Settings) -> Iterator[Registry]:
    """A small, migrated registry connection for one command."""
    registry = Registry(_database_url(settings), min_size=1, max_size=2)
    registry.open()
    try:
        registry.migrate()
        yield registry
    finally:
        registry.close()


def train(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    timestamps, values = read_training_file(Path(args.file))
    with _registry(settings) as registry:
        result = train_series(
            args.series,
            timestamps,
            values,
            registry=registry,
            store=store_for(settings),
            settings=settings,
            detector=_detector(args),
            promote=not args.no_promote,
            source=args.source,
        )
    if args.json:
        _print_json(result.to_dict())
    else:
        state = "created" if result.created else "already existed"
        print(f"{result.record.series_id} {result.record.name} {state}")
    return 0


def train_fleet(args: argparse.Namespace) -> int:
    """Train this pod's shard of a model's series and record each outcome."""
    settings = load_settings(
        **({"retention_versions": args.keep_versions} if args.keep_versions else {})
    )
    configure_logging(settings.log_level)
    store = store_for(settings)
    source = (
        dataset_source(store)
        if args.dataset
        else uri_source(
            args.source_uri, s3_endpoint_url=settings.s3_endpoint_url, s3_region=settings.s3_region
        )
    )
    listed = args.series or os.environ.get("SIGMAWATCH_JOB_SERIES", "")
    series = (
        [s for s in listed.split(",") if s] if listed else source.list_series(args.prefix or "")
    )
    index = (
        args.shard_index
        if args.shard_index is not None
        else int(os.environ.get("JOB_COMPLETION_INDEX", "0"))
    )
    mine = select_shard(series, index, args.shard_count)
    with _registry(settings) as registry:
        result = train_run(
            args.run_id,
            mine,
            source,
            registry=registry,
            store=store,
            settings=settings,
            detector=_detector(args),
            promote=not args.no_promote,
            window=Window(args.window_points, parse_duration(args.window) if args.window else None),
        )
    _print_json({"run_id": args.run_id, "shard": index, "series": len(mine), **result.to_dict()})
    return EXIT_SERIES_FAILED if result.failed else 0


def demo(args: argparse.Namespace) -> int:
    timestamps, values = demo_series(args.points, seed=args.seed)
    if args.out:
        write_training_file(Path(args.out), timestamps, values)
        print(f"wrote {args.points} points to {args.out}", file=sys.stderr)
    else:
        _print_json({"timestamps": timestamps, "values": values})
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="sigmawatch", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the REST API (settings from SIGMAWATCH_*)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(run=serve)

    p = commands.add_parser("train", help="train a new version of one series from a file")
    p.add_argument("--series", required=True, help="series_id")
    p.add_argument("--file", required=True, help="training data: .csv, .npy or .npz")
    p.add_argument("--detector", default="zscore", help="detector kind (zscore, mad)")
    p.add_argument("--param", action="append", help="detector parameter name=value")
    p.add_argument("--no-promote", action="store_true", help="keep production where it is")
    p.add_argument("--source", default="cli", help="recorded with the version")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(run=train)

    p = commands.add_parser("train-fleet", help="train a shard of a model's series (training Jobs)")
    p.add_argument("--run-id", required=True, help="recorded with every outcome (the Job name)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--source-uri", help="data URI template, e.g. s3://b/train/{series_id}.npy")
    where.add_argument("--dataset", action="store_true", help="use datasets uploaded via the API")
    p.add_argument("--series", help="comma-separated ids (default: $SIGMAWATCH_JOB_SERIES)")
    p.add_argument("--prefix", help="without --series: every series with data and this prefix")
    p.add_argument("--shard-index", type=int, help="default: $JOB_COMPLETION_INDEX or 0")
    p.add_argument("--shard-count", type=int, default=1)
    p.add_argument("--detector", default="zscore")
    p.add_argument("--param", action="append", help="detector parameter name=value")
    p.add_argument("--window-points", type=int, help="train on at most the newest N points")
    p.add_argument("--window", help="train on the newest span only, e.g. 30d")
    p.add_argument("--keep-versions", type=int, help="retention: active versions per series")
    p.add_argument("--no-promote", action="store_true")
    p.set_defaults(run=train_fleet)

    p = commands.add_parser("demo", help="generate a realistic demo series")
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", help="write .csv/.npy/.npz; without it print a JSON train body")
    p.set_defaults(run=demo)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except SigmawatchError as exc:
        _print_json({"error": exc.to_dict()}, sys.stderr)
        return EXIT_INVALID
    return code


if __name__ == "__main__":
    sys.exit(main())
