"""The caller's address: the TCP peer, or what a trusted proxy says it forwarded for.

`X-Forwarded-For` is read only when the peer is one of `SIGMAWATCH_TRUSTED_PROXIES`,
and then from the right: each trusted proxy appends the address it received
from, so the first address from the right that is not a trusted proxy is the
client. Anything left of it was written by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sigmawatch.settings import comma_list

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: bytes | None, proxies: Sequence[Network]
) -> str | None:
    if peer is None or not proxies or forwarded_for is None or not _trusted(peer, proxies):
        return peer
    hops = comma_list(forwarded_for.decode("latin-1"))
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer
