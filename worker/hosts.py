"""Host names for the servers of this project (the dashboard, the HTTP API).

Both answer only to the host names they were given, so a page elsewhere cannot reach
them by pointing its own name at this machine (DNS rebinding), and both refuse to bind
beyond loopback without a secret.
"""

from __future__ import annotations

import ipaddress


def host_name(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8089`` → ``::1``), lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps a server on this machine."""
    if host_name(host) == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_name(host)).is_loopback
    except ValueError:
        return False
