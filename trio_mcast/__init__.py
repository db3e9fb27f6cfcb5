"""Receive IP multicast with Trio: IPv4 and IPv6, any-source and source-specific.

``open_multicast_receiver`` joins groups on an interface and hands out each
datagram with its sender and group; ``serve_multicast`` runs a handler per
datagram in a nursery; ``open_multicast_sender`` sends. Every error names the
parameter, the value and the rule. ``diagnose`` says why multicast does not
arrive. ``python -m trio_mcast`` is the command line (``recv``, ``send``,
``doctor``, ``demo``).

Example:
    >>> import trio_mcast
    >>> async def main():
    ...     async with trio_mcast.open_multicast_receiver("239.1.2.3", 5000) as receiver:
    ...         async for datagram in receiver:
    ...             print(datagram.source, datagram.group, datagram.text())

    ``trio.run(main)`` runs it; the tutorial in ``docs/`` goes further.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._datagram import Datagram, ReceiverStatistics
from ._doctor import Finding, diagnose
from ._doctor import Status as FindingStatus
from ._errors import (
    ConfigError,
    InterfaceNotFoundError,
    InvalidArgumentError,
    InvalidGroupError,
    InvalidInterfaceError,
    InvalidPortError,
    InvalidSourceError,
    JoinError,
    MulticastError,
)
from ._events import (
    InterfaceLost,
    InterfaceReturned,
    ReceiverEvent,
    ReceiverState,
    Rejoined,
    RejoinFailed,
)
from ._membership import Membership
from ._open_receiver import open_multicast_receiver, serve_multicast
from ._receiver import MulticastReceiver
from ._sender import MulticastSender, open_multicast_sender
from ._steps import joinstep, recvstep, tryrecv
from ._validate import Interface, JoinSpec, validate_join_args

if TYPE_CHECKING:
    from collections.abc import Sequence

__version__ = "0.1.0"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trio-mcast`` command line; see :func:`trio_mcast._cli.main`.

    The command line is imported only when called: ``import trio_mcast``
    loads neither it nor :mod:`argparse`.

    Args:
        argv: The arguments, without the program name; ``None`` means
            ``sys.argv[1:]``.

    Returns:
        The exit code.
    """
    from ._cli import main as run

    return run(argv)


__all__ = [
    "ConfigError",
    "Datagram",
    "Finding",
    "FindingStatus",
    "Interface",
    "InterfaceLost",
    "InterfaceNotFoundError",
    "InterfaceReturned",
    "InvalidArgumentError",
    "InvalidGroupError",
    "InvalidInterfaceError",
    "InvalidPortError",
    "InvalidSourceError",
    "JoinError",
    "JoinSpec",
    "Membership",
    "MulticastError",
    "MulticastReceiver",
    "MulticastSender",
    "ReceiverEvent",
    "ReceiverState",
    "ReceiverStatistics",
    "RejoinFailed",
    "Rejoined",
    "__version__",
    "diagnose",
    "joinstep",
    "main",
    "open_multicast_receiver",
    "open_multicast_sender",
    "recvstep",
    "serve_multicast",
    "tryrecv",
    "validate_join_args",
]
