"""Receive IP multicast with Trio."""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "InterfaceNotFoundError",
    "InvalidArgumentError",
    "InvalidGroupError",
    "InvalidInterfaceError",
    "InvalidPortError",
    "InvalidSourceError",
    "JoinError",
    "MulticastError",
    "__version__",
]
