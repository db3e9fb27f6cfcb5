"""rtnetlink: the kernel's interface, address and route notifications (Linux).

:mod:`._messages` parses and builds messages (pure); :mod:`._socket` opens
the sockets and asks the kernel.
"""

from __future__ import annotations

from ._messages import AddressMessage, LinkMessage, Message, RouteMessage, parse_messages
from ._socket import (
    AVAILABLE,
    addresses,
    ipv4_addresses,
    links,
    open_notifications,
    read_notifications,
    route_interface,
    route_lookup,
)

__all__ = [
    "AVAILABLE",
    "AddressMessage",
    "LinkMessage",
    "Message",
    "RouteMessage",
    "addresses",
    "ipv4_addresses",
    "links",
    "open_notifications",
    "parse_messages",
    "read_notifications",
    "route_interface",
    "route_lookup",
]
