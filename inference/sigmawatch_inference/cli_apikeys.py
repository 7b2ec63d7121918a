"""`sigmawatch apikeys ...`: create, list and revoke API keys on the registry (SEC-3).

    sigmawatch apikeys create --name NAME --role viewer|trainer|admin [--expires-in 90d]
    sigmawatch apikeys list [--all]
    sigmawatch apikeys revoke --name NAME

It talks to the registry directly (`SIGMAWATCH_DATABASE_URL`), as `train`
does, so the first admin key can be made before any key exists. `create`
prints the key once; only its hash is stored.
"""

from __future__ import annotations

import argparse
from typing import Any

from sigmawatch.access import Role, new_api_key
from sigmawatch.audit import current_actor
from sigmawatch.registry import Registry


def add_commands(commands: Any, run: Any) -> None:
    """Add `apikeys` to the CLI's sub-commands; `run(args, registry)` is its body."""
    p = commands.add_parser("apikeys", help="create, list and revoke API keys")
    actions = p.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it (this once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--expires-in", help="e.g. 90d or 12h (default: never)")
    listed = actions.add_parser("list", help="the live keys (--all: revoked ones too)")
    listed.add_argument("--all", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a key: every service refuses it")
    revoke.add_argument("--name", required=True)
    p.set_defaults(run=run)


def apikeys(args: argparse.Namespace, registry: Registry) -> dict[str, Any]:
    if args.action == "create":
        key, new = new_api_key(args.name, args.role, args.expires_in, current_actor().name)
        return registry.create_api_key(new).to_dict() | {"key": key}
    if args.action == "revoke":
        return registry.revoke_api_key(args.name).to_dict()
    keys = registry.list_api_keys(include_revoked=args.all)
    return {"items": [k.to_dict() for k in keys]}
