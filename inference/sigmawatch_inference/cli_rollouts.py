"""`sigmawatch rollout ...`: the REST rollout calls from a shell, on the same registry.

    sigmawatch rollout start --series ID --candidate v2 --strategy shadow|canary
                             [--steps 5,25,50,100] [--analysis '{"minSamples": 200}']
    sigmawatch rollout status|pause|resume|abort (--series ID | --rollout r7)
    sigmawatch rollout list

A rollout started here is driven like one started through REST: by the
running services' loop (`rollout_loop.py`), so a service must be running
against the same registry for it to move.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import orjson

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import Driver, RolloutMember, RolloutRecord
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.spec import invalid, parse_rollout_spec
from sigmawatch.validation import parse_rollout_name, parse_version, validate_series_id


def add_commands(commands: Any, run: Any) -> None:
    """Add `rollout` to the CLI's sub-commands; `run(args, registry)` is its body."""
    p = commands.add_parser("rollout", help="start, follow and stop rollouts (like the REST calls)")
    actions = p.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start a shadow or canary rollout of one series")
    start.add_argument("--series", required=True)
    start.add_argument("--candidate", required=True, help="e.g. v2")
    start.add_argument("--strategy", required=True, choices=("shadow", "canary"))
    start.add_argument("--steps", help="canary weights, e.g. 5,25,50,100")
    start.add_argument("--analysis", help="the analysis spec as JSON (camelCase fields)")
    for name in ("status", "pause", "resume", "abort"):
        one = actions.add_parser(name, help=f"{name} a series' rollout")
        which = one.add_mutually_exclusive_group(required=True)
        which.add_argument("--series")
        which.add_argument("--rollout", help="e.g. r7")
    actions.add_parser("list", help="every active rollout")
    p.set_defaults(run=run)


def _spec_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"strategy": args.strategy}
    if args.steps:
        try:
            body["steps"] = [int(step) for step in args.steps.split(",")]
        except ValueError:
            raise invalid(
                "--steps takes whole percentages, e.g. 5,25,50,100", field="steps"
            ) from None
    if args.analysis:
        try:
            body["analysis"] = orjson.loads(args.analysis)
        except orjson.JSONDecodeError:
            raise invalid("--analysis must be a JSON object", field="analysis") from None
    return body


def _find(registry: Registry, args: argparse.Namespace) -> RolloutRecord:
    if args.rollout:
        return registry.get_rollout(parse_rollout_name(args.rollout))
    record = registry.series_rollout(validate_series_id(args.series))
    if record is None:
        raise SigmawatchError(
            ErrorCode.ROLLOUT_NOT_FOUND, f"series {args.series!r} has never had a rollout"
        )
    return record


def rollout(args: argparse.Namespace, registry: Registry) -> Any:
    """The JSON document the command prints."""
    now = datetime.now(UTC)
    if args.action == "list":
        return {"items": [r.to_dict() for r in registry.active_rollouts()]}
    if args.action == "start":
        series_id = validate_series_id(args.series)
        spec = parse_rollout_spec(_spec_body(args))
        candidate = parse_version(args.candidate)
        series = registry.get_series(series_id)
        stable = series.production_version if series else None
        if stable is None:
            raise SigmawatchError(ErrorCode.MODEL_NOT_FOUND, f"series {series_id!r} has no model")
        member = RolloutMember(series_id, stable, candidate)
        return driver.start(registry, spec, [member], driver=Driver.API, now=now).to_dict()
    record = _find(registry, args)
    if args.action == "pause":
        record = driver.pause(registry, record, Driver.API)
    elif args.action == "resume":
        record = driver.resume(registry, record, Driver.API, now)
    elif args.action == "abort":
        record = driver.abort(registry, record, Driver.API)
    return record.to_dict() | {
        "transitions": [t.to_dict() for t in registry.transitions(record.rollout_id)]
    }
