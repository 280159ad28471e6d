"""Who the client is, behind the proxies identity trusts (for per-client rate limits).

Pure: the peer address, the ``X-Forwarded-For`` header and the trusted networks are
passed in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """The proxies' networks, from CIDR notation (a bare address is one host)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address a request came from.

    ``X-Forwarded-For`` counts only when the peer is a trusted proxy; then the
    right-most address that is not a trusted proxy is the client (every address to
    its left was written by the client itself, and may be forged).
    """
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
