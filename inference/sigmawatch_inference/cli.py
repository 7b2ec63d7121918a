"""`sigmawatch`: serve the API, train from a file, make demo data.

    sigmawatch serve [--host H] [--port P] [--workers N]
    sigmawatch train --series ID --file data.csv|.npy|.npz [--detector mad] [--param threshold=4]
    sigmawatch train-fleet --run-id RUN (--source-uri TEMPLATE | --dataset) [...]
    sigmawatch rollout start|status|pause|resume|abort|list ...   (cli_rollouts.py)
    sigmawatch apikeys create|list|revoke ...                      (cli_apikeys.py)
    sigmawatch janitor [--grace-s S] [--dry-run]                  (cli_janitor.py)
    sigmawatch backup [--list] [--prune-older-than 30d] / restore ID  (cli_backup.py)
    sigmawatch demo  [--points N] [--seed S] [--out FILE | --predict SERIES]

`train` runs the same `train_series` as the REST endpoint. Errors print as
`{"error": {...}}` on stderr. Exit statuses (`sigmawatch.training_job.Exit`):
0 done, 1 unexpected failure, 2 bad input or configuration, 3 some series of
a fleet run were rejected, 4 the registry or the store did not answer.
"""

from __future__ import annotations

import argparse
import atexit
import getpass
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from sigmawatch import tracing, training_job
from sigmawatch.artifacts import store_for
from sigmawatch.audit import Actor, acting_as
from sigmawatch.datasets import read_training_file, write_training_file
from sigmawatch.demo import demo_series
from sigmawatch.errors import SigmawatchError
from sigmawatch.fleet import run_shard
from sigmawatch.logs import configure_logging
from sigmawatch.registry import Registry
from sigmawatch.registry.embedded import EmbeddedSupervisor
from sigmawatch.registry.postgres import database_url, open_registry
from sigmawatch.settings import ConfigError, StorageSettings, TrainingSettings, load_settings
from sigmawatch.training import train_series
from sigmawatch.training_job import Exit
from sigmawatch_inference import cli_apikeys, cli_backfill, cli_backup, cli_janitor, cli_rollouts
from sigmawatch_inference.security.settings import exposure_refusal
from sigmawatch_inference.settings import ServiceSettings


def _print_json(document: Any, stream: Any = None) -> None:
    stream = stream or sys.stdout
    stream.write(orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sigmawatch_inference.app import create_app
    from sigmawatch_inference.http_server import uvicorn_options

    # Settings first: they refuse more than one worker (docs/decisions/0018) before
    # anything starts.
    overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k)) is not None}
    settings = load_settings(ServiceSettings, **overrides)
    # uvicorn re-raises SIGTERM after its graceful shutdown. Turned into an
    # exception here, it lets atexit handlers run, and one of them stops the
    # embedded PostgreSQL; the default action would kill the process first.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    configure_logging(settings, "sigmawatch-inference")
    refusal = exposure_refusal(settings.host, settings)  # SEC-3: secure by default
    if refusal:
        raise ConfigError(refusal)
    if settings.database_url is None:
        # Started before the app, and kept running: this process restarts it if it dies.
        os.environ["SIGMAWATCH_DATABASE_URL"] = database_url(settings)
        supervisor = EmbeddedSupervisor(settings.data_dir).start()
        # Registered after the wheel's handler, so it runs first (atexit is LIFO).
        atexit.register(supervisor.stop)
        settings = load_settings(ServiceSettings, **overrides)
    # Timeouts, TLS and no server banner (SEC-1, SEC-5): http_server.py. One process.
    uvicorn.run(create_app(settings), **uvicorn_options(settings))
    return Exit.OK


@contextmanager
def _registry(settings: StorageSettings) -> Iterator[Registry]:
    """A small, migrated registry connection for one command."""
    registry = open_registry(settings, min_size=1, max_size=2)
    try:
        yield registry
    finally:
        registry.close()


def train(args: argparse.Namespace) -> int:
    settings = load_settings(TrainingSettings)
    configure_logging(settings, "sigmawatch-training")
    tracing.configure("sigmawatch-training")  # OBS-5: from the OTEL_* variables
    timestamps, values = read_training_file(Path(args.file))
    detector = training_job.detector_from_args(args)
    with _registry(settings) as registry:
        result = train_series(
            args.series,
            timestamps,
            values,
            registry=registry,
            store=store_for(settings),
            settings=settings,
            detector=detector.to_dict(),
            promote=not args.no_promote,
            source=args.source,
        )
    if args.json:
        _print_json(result.to_dict())
    else:
        state = "created" if result.created else "already existed"
        print(f"{result.record.series_id} {result.record.name} {state}")
        for warning in result.warnings():
            print(f"warning: {warning['message']}", file=sys.stderr)
    return Exit.OK


def train_fleet(args: argparse.Namespace) -> int:
    """Train this pod's shard of a model's series and record each outcome."""
    run = training_job.from_args(args, os.environ)
    settings = load_settings(TrainingSettings)
    configure_logging(settings, "sigmawatch-training")
    tracing.configure("sigmawatch-training")
    with _registry(settings) as registry:
        outcome = run_shard(
            run, registry=registry, store=store_for(settings), settings=settings, environ=os.environ
        )
    _print_json(outcome.to_dict(run.run_id))
    return Exit.SERIES_FAILED if outcome.result.failed else Exit.OK


def rollout(args: argparse.Namespace) -> int:
    settings = load_settings(StorageSettings)
    configure_logging(settings, "sigmawatch-cli")
    with _registry(settings) as registry:
        _print_json(cli_rollouts.rollout(args, registry))
    return Exit.OK


def apikeys(args: argparse.Namespace) -> int:
    settings = load_settings(StorageSettings)
    configure_logging(settings, "sigmawatch-cli")
    with _registry(settings) as registry:
        _print_json(cli_apikeys.apikeys(args, registry))
    return Exit.OK


def janitor(args: argparse.Namespace) -> int:
    settings = load_settings(StorageSettings)
    configure_logging(settings, "sigmawatch-cli")
    with _registry(settings) as registry:
        _print_json(cli_janitor.janitor(args, registry, settings))
    return Exit.OK


def demo(args: argparse.Namespace) -> int:
    timestamps, values = demo_series(args.points, seed=args.seed)
    if args.out:
        write_training_file(Path(args.out), timestamps, values)
        print(f"wrote {args.points} points to {args.out}", file=sys.stderr)
    elif args.predict:
        # One item per point, as many sensors' requests would be: a canary routes each alone.
        items = [
            {"series_id": args.predict, "timestamps": [int(t)], "values": [float(v)]}
            for t, v in zip(timestamps, values, strict=True)
        ]
        _print_json({"items": items})
    else:
        _print_json({"timestamps": timestamps, "values": values})
    return Exit.OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="sigmawatch", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the REST API (settings from SIGMAWATCH_*)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="only 1: one process per pod (decision 0018)")
    p.set_defaults(run=serve)

    p = commands.add_parser("train", help="train a new version of one series from a file")
    p.add_argument("--series", required=True, help="series_id")
    p.add_argument("--file", required=True, help="training data: .csv, .npy or .npz")
    training_job.add_detector_arguments(p)
    p.add_argument("--no-promote", action="store_true", help="keep production where it is")
    p.add_argument("--source", default="cli", help="recorded with the version")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(run=train)

    p = commands.add_parser(
        training_job.SUBCOMMAND, help="train a shard of a model's series (training Jobs)"
    )
    training_job.add_fleet_arguments(p)
    p.set_defaults(run=train_fleet)

    cli_rollouts.add_commands(commands, rollout)
    cli_apikeys.add_commands(commands, apikeys)
    cli_janitor.add_commands(commands, janitor)
    cli_backup.add_commands(commands, _print_json)
    cli_backfill.add_commands(commands, _print_json)

    p = commands.add_parser("demo", help="generate a realistic demo series")
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", help="write .csv/.npy/.npz; without it print a JSON train body")
    p.add_argument(
        "--predict",
        metavar="SERIES",
        help="print a batch predict body for SERIES, a point per item",
    )
    p.set_defaults(run=demo)
    return root


def actor(environ: Mapping[str, str]) -> Actor:
    """Who the audit log names for this command's changes: a training Job names itself
    (`SIGMAWATCH_AUDIT_ACTOR`, set by the operator), anyone else is `cli/<user>`. The
    command acts within the operation `SIGMAWATCH_CORRELATION_ID` names, if set."""
    correlation = environ.get(training_job.ENV_CORRELATION, "")[:128] or None
    named = environ.get(training_job.ENV_ACTOR)
    if named:
        return Actor(named[:200], correlation_id=correlation)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = str(os.getuid())
    return Actor(f"cli/{user}", correlation_id=correlation)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        # A training Job's pod continues the operator's trace (TRACEPARENT, BAGGAGE).
        with acting_as(actor(os.environ)), tracing.continued(os.environ):
            code: int = args.run(args)
    except ConfigError as exc:
        print(f"sigmawatch: {exc}", file=sys.stderr)
        return Exit.INVALID
    except SigmawatchError as exc:
        _print_json({"error": exc.to_dict()}, sys.stderr)
        return Exit.UNAVAILABLE if exc.retryable else Exit.INVALID
    return code


if __name__ == "__main__":
    sys.exit(main())
