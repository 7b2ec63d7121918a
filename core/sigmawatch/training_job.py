"""The training Job's contract, written once for both sides of it.

The operator builds Jobs that run `sigmawatch train-fleet` in the
inference image; the CLI parses what the operator wrote. Both take the
API group, the flag names, the environment variables and the exit codes
from here, and `FleetRun` is the typed value that crosses: the operator
turns one into arguments (`to_args`), the CLI turns arguments back into
one (`from_args`), and a test checks the round trip.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sigmawatch.audit import correlation_for
from sigmawatch.detectors import DEFAULT_KIND, DetectorSpec

GROUP = "sigmawatch.dev"
VERSION = "v1alpha1"
COMMAND = "sigmawatch"
SUBCOMMAND = "train-fleet"
CONTAINER = "train"
# Explicit series lists travel in the environment: argv limits are tighter.
ENV_SERIES = "SIGMAWATCH_JOB_SERIES"
# Set by Kubernetes in every pod of an Indexed Job.
ENV_INDEX = "JOB_COMPLETION_INDEX"
# Who the audit log names for a Job's trainings (SEC-4): job/<namespace>/<run id>.
ENV_ACTOR = "SIGMAWATCH_AUDIT_ACTOR"
# The run's correlation id (OBS-3): on the operator's lines about the run, every line
# the Job logs, its training results and its audit entries.
ENV_CORRELATION = "SIGMAWATCH_CORRELATION_ID"


class Exit(IntEnum):
    """Exit statuses of the CLI; the Job's podFailurePolicy reads them."""

    OK = 0
    UNEXPECTED = 1  # a bug: the log has the traceback
    INVALID = 2  # bad input, arguments or configuration: a retry changes nothing
    SERIES_FAILED = 3  # the run finished but some series' data was rejected
    UNAVAILABLE = 4  # the registry or the store did not answer: retry later


# Exits after which retrying the pod is pointless: the Job fails that index instead.
NO_RETRY = (Exit.INVALID, Exit.SERIES_FAILED)


@dataclass(frozen=True, slots=True)
class FleetRun:
    """One training run's share for one pod: what to train, from where, and how."""

    run_id: str
    detector: DetectorSpec
    source_uri: str | None = None  # None: datasets uploaded through the API
    prefix: str | None = None  # without explicit series: every series with data and this prefix
    series: tuple[str, ...] = ()  # explicit series (passed in ENV_SERIES)
    shard_count: int = 1
    shard_index: int | None = None  # None: ENV_INDEX, else 0
    window_points: int | None = None
    window: str | None = None
    keep_versions: int | None = None
    promote: bool = True
    # Store prefix of the series list of each index (fleet.write_shard_lists): a pod
    # reads its own share instead of listing and hashing the whole fleet.
    shard_lists: str | None = None


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", default=DEFAULT_KIND, help="detector kind (zscore, mad)")
    parser.add_argument("--param", action="append", help="detector parameter name=value")


def detector_from_args(args: argparse.Namespace) -> DetectorSpec:
    """The detector spec named by --detector / --param (INVALID_DETECTOR when wrong)."""
    params: dict[str, Any] = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--param takes name=value, got {item!r}")
        try:
            params[name] = float(value)
        except ValueError:
            raise SystemExit(f"--param {name} needs a number, got {value!r}") from None
    return DetectorSpec.parse({"kind": args.detector, "params": params})


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", required=True, help="recorded with every outcome (the Job)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--source-uri", help="data URI template, e.g. s3://b/train/{series_id}.npy")
    where.add_argument("--dataset", action="store_true", help="use datasets uploaded via the API")
    parser.add_argument("--series", help=f"comma-separated ids (default: ${ENV_SERIES})")
    parser.add_argument("--prefix", help="without --series: every series with data and this prefix")
    parser.add_argument("--shard-index", type=int, help=f"default: ${ENV_INDEX} or 0")
    parser.add_argument("--shard-count", type=int, default=1)
    parser.add_argument("--shard-lists", help="store prefix of each index's series list")
    add_detector_arguments(parser)
    parser.add_argument("--window-points", type=int, help="train on at most the newest N points")
    parser.add_argument("--window", help="train on the newest span only, e.g. 30d")
    parser.add_argument("--keep-versions", type=int, help="retention: active versions per series")
    parser.add_argument("--no-promote", action="store_true", help="keep production where it is")


def to_args(run: FleetRun) -> list[str]:
    """The container arguments for `run` (its explicit series go in `env(run)`)."""
    args = [SUBCOMMAND, "--run-id", run.run_id, "--shard-count", str(run.shard_count)]
    args += ["--source-uri", run.source_uri] if run.source_uri else ["--dataset"]
    if run.prefix:
        args += ["--prefix", run.prefix]
    if run.shard_index is not None:
        args += ["--shard-index", str(run.shard_index)]
    if run.shard_lists:
        args += ["--shard-lists", run.shard_lists]
    args += ["--detector", run.detector.kind]
    for name, value in sorted(run.detector.params.items()):
        args += ["--param", f"{name}={value!r}"]  # repr: every digit, no rounding
    if run.window_points:
        args += ["--window-points", str(run.window_points)]
    if run.window:
        args += ["--window", run.window]
    if run.keep_versions is not None:
        args += ["--keep-versions", str(run.keep_versions)]
    if not run.promote:
        args.append("--no-promote")
    return args


def run_correlation(namespace: str, run_id: str) -> str:
    """A run's correlation id: the same on every operator replica that sees the run."""
    return correlation_for("train", namespace, run_id)


def env(run: FleetRun, namespace: str) -> dict[str, str]:
    found = {
        ENV_ACTOR: f"job/{namespace}/{run.run_id}",
        ENV_CORRELATION: run_correlation(namespace, run.run_id),
    }
    return found | ({ENV_SERIES: ",".join(run.series)} if run.series else {})


def from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> FleetRun:
    """The run `to_args` and `env` described, as the CLI receives it."""
    listed = args.series or environ.get(ENV_SERIES, "")
    return FleetRun(
        run_id=args.run_id,
        detector=detector_from_args(args),
        source_uri=args.source_uri,
        prefix=args.prefix,
        series=tuple(s for s in listed.split(",") if s),
        shard_count=args.shard_count,
        shard_index=args.shard_index,
        window_points=args.window_points,
        window=args.window,
        keep_versions=args.keep_versions,
        promote=not args.no_promote,
        shard_lists=args.shard_lists,
    )


def shard_index(run: FleetRun, environ: Mapping[str, str]) -> int:
    if run.shard_index is not None:
        return run.shard_index
    return int(environ.get(ENV_INDEX, "0"))
