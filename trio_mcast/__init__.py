"""Receive IP multicast with Trio."""

from __future__ import annotations

from ._cli import main
from ._datagram import Datagram, ReceiverStatistics
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
from ._open_receiver import open_multicast_receiver, serve_multicast
from ._receiver import MulticastReceiver
from ._sender import MulticastSender, open_multicast_sender
from ._steps import joinstep, recvstep, tryrecv
from ._validate import Interface, JoinSpec, validate_join_args

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Datagram",
    "Interface",
    "InterfaceNotFoundError",
    "InvalidArgumentError",
    "InvalidGroupError",
    "InvalidInterfaceError",
    "InvalidPortError",
    "InvalidSourceError",
    "JoinError",
    "JoinSpec",
    "MulticastError",
    "MulticastReceiver",
    "MulticastSender",
    "ReceiverStatistics",
    "__version__",
    "joinstep",
    "main",
    "open_multicast_receiver",
    "open_multicast_sender",
    "recvstep",
    "serve_multicast",
    "tryrecv",
    "validate_join_args",
]
