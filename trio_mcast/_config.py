"""Defaults and their ``MULTICAST_*`` environment overrides.

The environment is read when a default is needed, never at import, and
reading it changes no process-wide state.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Final

from ._errors import ConfigError, describe

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_BIND_ADDR",
    "DEFAULT_GROUP",
    "DEFAULT_PORT",
    "DEFAULT_TTL",
    "ENV_BIND_ADDR",
    "ENV_BUFFER_SIZE",
    "ENV_GROUP",
    "ENV_PORT",
    "ENV_TTL",
    "MAX_DATAGRAM_SIZE",
    "default_bind_addr",
    "default_group",
    "default_max_datagram_size",
    "default_port",
    "default_ttl",
    "parse_decimal",
]

DEFAULT_GROUP: Final = "224.0.0.1"
DEFAULT_PORT: Final = 59259
DEFAULT_TTL: Final = 1
#: The largest UDP payload a datagram can carry over IPv6 jumbo-less paths
#: (65535 - 8 bytes UDP header for IPv6, which is larger than IPv4's 65507).
MAX_DATAGRAM_SIZE: Final = 65535
#: ``0.0.0.0`` means "let the kernel choose the interface".
DEFAULT_BIND_ADDR: Final = "0.0.0.0"

ENV_GROUP: Final = "MULTICAST_GROUP"
ENV_PORT: Final = "MULTICAST_PORT"
ENV_TTL: Final = "MULTICAST_TTL"
ENV_BUFFER_SIZE: Final = "MULTICAST_BUFFER_SIZE"
ENV_BIND_ADDR: Final = "MULTICAST_BIND_ADDR"


def _raw(variable: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(variable)
    if value is None or value.strip() == "":
        return None
    return value


def _int_setting(
    variable: str, default: int, low: int, high: int, environ: Mapping[str, str] | None
) -> int:
    raw = _raw(variable, environ)
    if raw is None:
        return default
    value = parse_decimal(raw)
    if value is None or not low <= value <= high:
        raise ConfigError(
            f"environment variable {variable}={describe(raw)} is invalid:"
            f" expected an integer in {low}..{high} (ASCII digits only)",
            variable=variable,
            value=raw,
        )
    return value


def parse_decimal(text: str) -> int | None:
    """``text`` as an integer if it is ASCII digits with an optional leading ``-``.

    Python's ``int()`` also accepts other scripts' digits (fullwidth or Arabic-Indic ones),
    underscores, a ``+`` and surrounding white space; none of these is a
    number a user meant to type, so none is accepted here.

    Example:
        >>> parse_decimal("5000"), parse_decimal("5_000"), parse_decimal("-1")
        (5000, None, -1)
    """
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(text, 10)


def default_group(environ: Mapping[str, str] | None = None) -> str:
    """The default group: ``MULTICAST_GROUP`` if set, else ``224.0.0.1``.

    Args:
        environ: The environment to read; ``None`` means :data:`os.environ`.

    Returns:
        The group's address in its canonical text form.

    Raises:
        ConfigError: The variable is not an IPv4 or IPv6 multicast address.
    """
    raw = _raw(ENV_GROUP, environ)
    if raw is None:
        return DEFAULT_GROUP
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        address = None
    if address is None or not address.is_multicast:
        raise ConfigError(
            f"environment variable {ENV_GROUP}={describe(raw)} is invalid: expected a multicast"
            " address (IPv4 224.0.0.0/4 or IPv6 ff00::/8)",
            variable=ENV_GROUP,
            value=raw,
        )
    return str(address)


def default_port(environ: Mapping[str, str] | None = None) -> int:
    """The default port: ``MULTICAST_PORT`` if set, else 59259.

    Raises:
        ConfigError: The variable is not an integer in 1..65535.
    """
    return _int_setting(ENV_PORT, DEFAULT_PORT, 1, 65535, environ)


def default_ttl(environ: Mapping[str, str] | None = None) -> int:
    """The default multicast TTL (hop limit): ``MULTICAST_TTL`` if set, else 1.

    Raises:
        ConfigError: The variable is not an integer in 0..255.
    """
    return _int_setting(ENV_TTL, DEFAULT_TTL, 0, 255, environ)


def default_max_datagram_size(environ: Mapping[str, str] | None = None) -> int:
    """The default receive limit: ``MULTICAST_BUFFER_SIZE`` if set, else 65535.

    Raises:
        ConfigError: The variable is not an integer in 1..65535.
    """
    return _int_setting(ENV_BUFFER_SIZE, MAX_DATAGRAM_SIZE, 1, MAX_DATAGRAM_SIZE, environ)


def default_bind_addr(environ: Mapping[str, str] | None = None) -> str | None:
    """The default local interface address: ``MULTICAST_BIND_ADDR`` if set.

    Returns:
        A local IPv4 address literal, or ``None`` when unset or ``0.0.0.0``
        (the kernel chooses the interface).

    Raises:
        ConfigError: The variable is not an IPv4 unicast address or ``0.0.0.0``.
    """
    raw = _raw(ENV_BIND_ADDR, environ)
    if raw is None:
        return None
    try:
        address = ipaddress.IPv4Address(raw.strip())
    except ValueError:
        address = None
    if address is None or address.is_multicast or address.is_reserved:
        raise ConfigError(
            f"environment variable {ENV_BIND_ADDR}={describe(raw)} is invalid: expected a local"
            " IPv4 unicast address, or 0.0.0.0 for the kernel's choice",
            variable=ENV_BIND_ADDR,
            value=raw,
        )
    if address.is_unspecified:
        return None
    return str(address)
