"""The first admin key, from a Kubernetes Secret (`SIGMAWATCH_ADMIN_API_KEY`).

At start-up the service makes sure the key is registered as
`bootstrap-admin`. Changing the Secret and restarting the pods rotates it:
the old key is revoked when the new one is registered. Only its hash is
stored, as for every key.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sigmawatch.access import NewApiKey, Role, hash_key, key_hint
from sigmawatch.audit import Actor, acting_as
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry

log = logging.getLogger(__name__)

NAME = "bootstrap-admin"
ACTOR = Actor("service/bootstrap")


def ensure_bootstrap_key(registry: Registry, key: str) -> None:
    key_hash = hash_key(key)
    found = registry.api_key(key_hash)
    if found is not None and found.usable(datetime.now(UTC)):
        return
    if found is not None:
        log.warning("SIGMAWATCH_ADMIN_API_KEY is revoked or expired; it is not registered again")
        return
    with acting_as(ACTOR):
        # The Secret changed: rotate. Not when the live one is this key (same hint):
        # another pod registered it a moment ago.
        hint = key_hint(key)
        if any(k.name == NAME and k.hint != hint for k in registry.list_api_keys()):
            registry.revoke_api_key(NAME)
        try:
            registry.create_api_key(NewApiKey(NAME, Role.ADMIN, key_hash, hint, ACTOR.name))
        except SigmawatchError as exc:
            if exc.code is not ErrorCode.API_KEY_EXISTS:  # another pod registered it first
                raise
    log.info("bootstrap admin key registered", extra={"key_name": NAME})
