"""A multicast network inside a test: private namespaces, hosts on a LAN, faults.

Testing multicast code needs more than one host, and must not put traffic on
a real network. This module gives a test process a private network
namespace (:func:`enter_private_network`), hosts on a bridge inside it
(:class:`MulticastLan`), programs and sockets inside each host, and faults
to inject (:meth:`Host.link_down`, :meth:`Host.recreate_link`). Linux only;
it works as root, and through an unprivileged user namespace otherwise.

With pytest, the plugin this package registers gives a ``multicast_lan``
fixture and a ``private_network`` marker; see :mod:`trio_mcast.testing._plugin`.
It needs ``ip`` (iproute2), ``nsenter`` and ``unshare`` (util-linux).

Example:
    >>> from trio_mcast.testing import MulticastLan
    >>> with MulticastLan(hosts=2) as lan:
    ...     [(host.name, host.ipv4, host.interface) for host in lan.hosts]
    [('h1', '10.213.0.1', 'eth0'), ('h2', '10.213.0.2', 'eth0')]
"""

from __future__ import annotations

from .._errors import NetworkSetupError
from ._lan import LAN_PREFIX4, LAN_PREFIX6, Host, lan_prefixes, spawn_host
from ._multicast_lan import LanFactory, MulticastLan
from ._namespace import (
    NamespaceState,
    enter_private_network,
    entered,
    in_private_network,
    namespace_state,
    run_ip,
    run_ip_batch,
    wait_for_multicast_routes,
)

__all__ = [
    "LAN_PREFIX4",
    "LAN_PREFIX6",
    "Host",
    "LanFactory",
    "MulticastLan",
    "NamespaceState",
    "NetworkSetupError",
    "enter_private_network",
    "entered",
    "in_private_network",
    "lan_prefixes",
    "namespace_state",
    "run_ip",
    "run_ip_batch",
    "spawn_host",
    "wait_for_multicast_routes",
]
