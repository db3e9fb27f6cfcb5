"""Pure validation and normalisation of the arguments of a multicast join.

Nothing here imports trio or touches a socket: every function maps its input
to a normalised, immutable value or raises a :class:`MulticastError`
subclass whose message names the parameter, the value and the broken rule.
The only outside state consulted is the ``MULTICAST_*`` environment, and only
by :func:`validate_join_args` when an argument is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from socket import AF_INET, AF_INET6, AddressFamily
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, TypeGuard, cast

from . import _config
from ._errors import (
    InvalidArgumentError,
    InvalidGroupError,
    InvalidInterfaceError,
    InvalidPortError,
    InvalidSourceError,
    describe,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "MAX_COUNT",
    "MAX_INTERFACE_INDEX",
    "MAX_INTERFACE_NAME_LENGTH",
    "AddressLike",
    "AddressesLike",
    "IPAddress",
    "Interface",
    "InterfaceLike",
    "JoinSpec",
    "SocketLike",
    "max_udp_payload",
    "validate_bool",
    "validate_group",
    "validate_groups",
    "validate_interface",
    "validate_join_args",
    "validate_max_datagram_size",
    "validate_max_datagram_size_or_default",
    "validate_port",
    "validate_positive_int",
    "validate_source",
    "validate_ttl",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address
#: One address as callers may spell it.
AddressLike: TypeAlias = str | IPv4Address | IPv6Address
#: One address, or any iterable of them (list, tuple, set, generator, ...).
AddressesLike: TypeAlias = AddressLike | Iterable[AddressLike]

#: Linux's IFNAMSIZ is 16 bytes including the terminating NUL.
MAX_INTERFACE_NAME_LENGTH: Final = 15
#: Interface indexes are unsigned 32-bit integers; 0 means "any" to the
#: kernel, which callers express as ``None`` instead.
MAX_INTERFACE_INDEX: Final = 2**32 - 1

_MAX_PORT: Final = 65535
_MAX_TTL: Final = 255
_NAME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@:"
)
_DOTTED_CHARS: Final = frozenset("0123456789.")
# Explicit networks rather than ``is_multicast`` and friends, whose answers for
# special addresses have shifted between Python versions.
_V4_MULTICAST: Final = IPv4Network("224.0.0.0/4")
_V6_MULTICAST: Final = IPv6Network("ff00::/8")
_V4_RESERVED: Final = IPv4Network("240.0.0.0/4")
_V4_BROADCAST: Final = IPv4Address("255.255.255.255")
_ADDRESS_TYPES: Final = "str, IPv4Address or IPv6Address"
# IPv6 multicast scopes (RFC 4291 2.7) whose groups exist once per interface.
_INTERFACE_SCOPES: Final = {1: "interface", 2: "link"}
_MAX_UDP_PAYLOAD: Final = {AF_INET: 65507, AF_INET6: 65527}
#: The largest count a socket option or a queue takes: a C ``int``.
MAX_COUNT: Final = 2**31 - 1


class SocketLike(Protocol):
    """What :func:`validate_join_args` requires of ``isock``: a file descriptor.

    :class:`socket.socket` and :class:`trio.socket.SocketType` both qualify.
    """

    def fileno(self) -> int:
        """Return the socket's file descriptor."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Interface:
    """A validated interface: exactly one of a name, an index or an address.

    Construct it with one keyword; the constructor validates like
    :func:`validate_interface` and raises :class:`InvalidInterfaceError`
    otherwise. ``None`` (not an ``Interface``) stands for the kernel's choice,
    so an unspecified address (``0.0.0.0``) is rejected here.

    Attributes:
        name: A Linux interface name such as ``"eth0"``, or ``None``.
        index: An interface index in 1..2**32-1, or ``None``.
        address: A local IPv4 unicast address of the interface, or ``None``.
            Only IPv4 memberships can name their interface by address.

    Example:
        >>> Interface(name="eth0")
        Interface(name='eth0')
        >>> Interface(index=2).label
        2
    """

    name: str | None = None
    index: int | None = None
    address: IPv4Address | None = None

    def __post_init__(self) -> None:
        given = [value for value in (self.name, self.index, self.address) if value is not None]
        if len(given) != 1:
            raise InvalidInterfaceError(
                "an Interface needs exactly one of name, index or address, got"
                f" name={_show(self.name)}, index={_show(self.index)},"
                f" address={_show(self.address)}",
                parameter="iface",
                value=(self.name, self.index, self.address),
            )
        # Normalise in place: an int subclass or an IPv4Interface would
        # otherwise make equal interfaces compare or hash differently.
        if self.name is not None:
            name = _check_name(self.name, label="iface", parameter="iface", value=self.name)
            object.__setattr__(self, "name", name)
        elif self.index is not None:
            index = _check_index(self.index, label="iface", parameter="iface", value=self.index)
            object.__setattr__(self, "index", index)
        else:
            address = _check_interface_address(
                self.address, label="iface", parameter="iface", value=self.address
            )
            if address is None:
                raise InvalidInterfaceError(
                    "an Interface cannot have the unspecified address 0.0.0.0:"
                    " use None for the kernel's choice",
                    parameter="iface",
                    value=self.address,
                )
            object.__setattr__(self, "address", address)

    def __repr__(self) -> str:
        if self.name is not None:
            return f"Interface(name={self.name!r})"
        if self.index is not None:
            return f"Interface(index={self.index!r})"
        return f"Interface(address={self.address!r})"

    @property
    def label(self) -> str | int:
        """The name, the index, or the address as text, for messages and errors."""
        if self.name is not None:
            return self.name
        if self.index is not None:
            return self.index
        return str(self.address)


#: What ``iface`` accepts: a name, an index, a local IPv4 address (as text or
#: an address object), or an already validated :class:`Interface`.
InterfaceLike: TypeAlias = Interface | str | int | IPv4Address


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinSpec:
    """The normalised arguments of a join, as :func:`validate_join_args` returns.

    Build it with :func:`validate_join_args`; the constructor does not
    validate. Feeding a spec's fields back into :func:`validate_join_args`
    gives an equal spec.

    Attributes:
        family: :data:`socket.AF_INET` or :data:`socket.AF_INET6`.
        groups: The multicast groups, without duplicates, in the order of
            first occurrence; all of ``family``.
        port: The UDP port, 1..65535.
        iface: The interface to join on, or ``None`` for the kernel's choice.
        bind_group: The group to bind the socket to, one of ``groups``, or
            ``None``.
        sources: The sources of a source-specific membership, without
            duplicates and in order; empty for any-source multicast.
        exclude: The senders an any-source membership excludes, without
            duplicates and in order; empty unless ``sources`` is empty.
        isock: A caller-supplied socket to use, unchanged; it takes no part
            in equality, hashing or the repr.
    """

    family: AddressFamily
    groups: tuple[IPAddress, ...]
    port: int
    iface: Interface | None
    bind_group: IPAddress | None
    sources: tuple[IPAddress, ...]
    isock: SocketLike | None = field(default=None, compare=False, repr=False)
    exclude: tuple[IPAddress, ...] = ()

    @property
    def group_strings(self) -> tuple[str, ...]:
        """The groups in their canonical text form."""
        return tuple(str(group) for group in self.groups)

    @property
    def source_strings(self) -> tuple[str, ...]:
        """The sources in their canonical text form."""
        return tuple(str(source) for source in self.sources)


def validate_join_args(
    groups: AddressesLike | None,
    port: int | None,
    iface: InterfaceLike | None = None,
    bind_group: AddressLike | None = None,
    isock: SocketLike | None = None,
    *,
    sources: AddressesLike | None = None,
    exclude: AddressesLike | None = None,
    interface_parameter: str = "iface",
) -> JoinSpec:
    """Validate and normalise the arguments of a multicast join.

    Every invalid input raises a :class:`MulticastError` subclass. The one
    exception is an exception raised by the caller's own iterator while
    ``groups`` or ``sources`` is being iterated: it propagates unchanged.

    Args:
        groups: A multicast address (text or address object) or an iterable
            of them, all IPv4 (224.0.0.0/4) or all IPv6 (ff00::/8). Text must
            be an exact literal: no surrounding whitespace, no host names and
            no ``%zone`` suffix (pass the interface as ``iface``). Duplicates
            are dropped, keeping the first occurrence. ``None`` means the
            default group (``MULTICAST_GROUP``, else 224.0.0.1).
        port: The UDP port, an int in 1..65535 (not a bool or a str).
            ``None`` means the default port (``MULTICAST_PORT``, else 59259).
        iface: See :func:`validate_interface`. ``None`` and ``"0.0.0.0"``
            mean the kernel's choice, except that IPv4 joins then use
            ``MULTICAST_BIND_ADDR`` if it is set.
        bind_group: ``None``, or one of ``groups`` to bind the socket to.
        isock: ``None``, or a socket (any object with a ``fileno()`` method)
            to use instead of a new one; it is stored, never touched.
        sources: ``None`` or an empty iterable for any-source multicast, else
            one unicast address or an iterable of them, of the groups' family
            and not unspecified or broadcast. Duplicates are dropped.
        exclude: ``None`` or an empty iterable, else senders that an
            any-source membership filters out (exclude mode), validated like
            ``sources``; it cannot be combined with ``sources``.
        interface_parameter: How the caller spells ``iface`` in its own
            signature (``"interface"`` for the receiver), for error messages.

    Returns:
        The normalised arguments.

    Raises:
        InvalidGroupError: ``groups`` or ``bind_group`` is invalid.
        InvalidPortError: ``port`` is invalid.
        InvalidInterfaceError: ``iface`` is invalid or does not suit the
            groups' family, or is ``None`` while a group is IPv6 link-scoped
            (ff02::/16, ff12::/16 ...) or interface-scoped, which only an
            interface can name.
        InvalidSourceError: ``sources`` or ``exclude`` is invalid, or both
            are given.
        InvalidArgumentError: ``isock`` is not a socket.
        ConfigError: A default was needed and its environment variable is
            invalid.

    Example:
        >>> spec = validate_join_args(["239.1.1.1", "239.1.1.1"], 5000, "eth0")
        >>> spec.group_strings, spec.port, spec.iface
        (('239.1.1.1',), 5000, Interface(name='eth0'))
    """
    family, group_tuple = validate_groups(groups)
    valid_port = _config.default_port() if port is None else validate_port(port)

    valid_iface = validate_interface(iface, family, parameter=interface_parameter)
    if valid_iface is None and family == AF_INET:
        # The variable names an IPv4 address, so it cannot apply to IPv6 joins.
        default_address = _config.default_bind_addr()
        if default_address is not None:
            valid_iface = Interface(address=IPv4Address(default_address))

    valid_bind_group = _validate_bind_group(bind_group, family, group_tuple)
    source_tuple = _validate_sources(sources, family)
    exclude_tuple = _validate_sources(exclude, family, parameter="exclude")
    if source_tuple and exclude_tuple:
        raise InvalidSourceError(
            "sources and exclude cannot be used together: sources= joins for those senders"
            " only (include mode), exclude= for every sender but those (exclude mode)",
            parameter="exclude",
            value=exclude,
        )
    valid_isock = _validate_isock(isock)
    if valid_iface is None:
        _require_interface_for_scoped_groups(group_tuple, interface_parameter)
    return JoinSpec(
        family=family,
        groups=group_tuple,
        port=valid_port,
        iface=valid_iface,
        bind_group=valid_bind_group,
        sources=source_tuple,
        isock=valid_isock,
        exclude=exclude_tuple,
    )


def validate_group(group: AddressLike, parameter: str = "group") -> IPAddress:
    """Validate one multicast group.

    Args:
        group: A multicast address, as text or an address object.
        parameter: The parameter name to report in errors.

    Returns:
        The group as a plain :class:`IPv4Address` or :class:`IPv6Address`.

    Raises:
        InvalidGroupError: ``group`` is not a multicast address literal.

    Example:
        >>> validate_group("FF02::1")
        IPv6Address('ff02::1')
    """
    address = _parse_address(group, label=parameter, parameter=parameter, error=InvalidGroupError)
    _check_multicast(address, group, label=parameter, parameter=parameter)
    return address


def validate_source(
    source: AddressLike, family: AddressFamily, parameter: str = "source"
) -> IPAddress:
    """Validate one sender address for a group of ``family``.

    Args:
        source: A unicast address of the family, as text or an address object.
        family: :data:`socket.AF_INET` or :data:`socket.AF_INET6`.
        parameter: The parameter name to report in errors.

    Returns:
        The source as a plain address object.

    Raises:
        InvalidSourceError: ``source`` is not one unicast address of the family.

    Example:
        >>> validate_source("10.0.0.7", AF_INET)
        IPv4Address('10.0.0.7')
    """
    if not isinstance(source, (str, IPv4Address, IPv6Address)):
        raise InvalidSourceError(
            f"{parameter} must be one unicast address ({_ADDRESS_TYPES}), got {_show(source)}",
            parameter=parameter,
            value=source,
        )
    (address,) = _validate_sources(source, _check_family(family), parameter=parameter)
    return address


def validate_port(port: int, parameter: str = "port") -> int:
    """Validate a UDP port.

    Args:
        port: An int in 1..65535; a bool, a float or a str is rejected.
        parameter: The parameter name to report in errors.

    Returns:
        The port as a plain int.

    Raises:
        InvalidPortError: ``port`` is not an int in 1..65535.

    Example:
        >>> validate_port(5000)
        5000
    """
    return _check_int(port, 1, _MAX_PORT, parameter=parameter, error=InvalidPortError)


def validate_ttl(ttl: int, parameter: str = "ttl") -> int:
    """Validate a multicast TTL (IPv6 hop limit).

    Args:
        ttl: An int in 0..255; a bool is rejected.
        parameter: The parameter name to report in errors.

    Returns:
        The TTL as a plain int.

    Raises:
        InvalidArgumentError: ``ttl`` is not an int in 0..255.

    Example:
        >>> validate_ttl(1)
        1
    """
    return _check_int(ttl, 0, _MAX_TTL, parameter=parameter, error=InvalidArgumentError)


def validate_max_datagram_size(size: int, parameter: str = "max_datagram_size") -> int:
    """Validate the largest datagram a receiver accepts.

    Args:
        size: An int in 1..65535; a bool is rejected.
        parameter: The parameter name to report in errors.

    Returns:
        The size as a plain int.

    Raises:
        InvalidArgumentError: ``size`` is not an int in 1..65535.

    Example:
        >>> validate_max_datagram_size(1500)
        1500
    """
    return _check_int(
        size, 1, _config.MAX_DATAGRAM_SIZE, parameter=parameter, error=InvalidArgumentError
    )


def validate_max_datagram_size_or_default(
    size: int | None, parameter: str = "max_datagram_size"
) -> int:
    """Like :func:`validate_max_datagram_size`, with ``None`` for the default.

    Args:
        size: An int in 1..65535, or ``None`` for ``MULTICAST_BUFFER_SIZE``
            (65535 when unset).
        parameter: The parameter name to report in errors.

    Returns:
        The size as a plain int.

    Raises:
        InvalidArgumentError: ``size`` is not an int in 1..65535.
        ConfigError: ``size`` is ``None`` and ``MULTICAST_BUFFER_SIZE`` is invalid.
    """
    if size is None:
        return _config.default_max_datagram_size()
    return validate_max_datagram_size(size, parameter)


def max_udp_payload(family: AddressFamily) -> int:
    """The largest UDP payload one datagram of ``family`` carries (no jumbograms).

    IPv4: 65535 minus a 20-byte IP and an 8-byte UDP header. IPv6: 65535
    minus the 8-byte UDP header (its 40-byte header is not in the length).

    Example:
        >>> max_udp_payload(AF_INET), max_udp_payload(AF_INET6)
        (65507, 65527)
    """
    return _MAX_UDP_PAYLOAD[_check_family(family)]


def validate_positive_int(value: int, parameter: str, maximum: int | None = None) -> int:
    """Validate an int that must be at least 1 (and at most ``maximum``).

    Args:
        value: An int >= 1; a bool is rejected.
        parameter: The parameter name to report in errors.
        maximum: The largest value allowed, or ``None`` for no limit.

    Returns:
        The value as a plain int.

    Raises:
        InvalidArgumentError: ``value`` is not an int in range.

    Example:
        >>> validate_positive_int(3, "count")
        3
    """
    if maximum is not None:
        return _check_int(value, 1, maximum, parameter=parameter, error=InvalidArgumentError)
    if not _is_int(value) or value < 1:
        raise InvalidArgumentError(
            f"{parameter} must be a positive int, got {_show(value)}",
            parameter=parameter,
            value=value,
        )
    return int(value)


def validate_bool(value: bool, parameter: str) -> bool:
    """Validate a flag: ``True`` or ``False``, nothing merely truthy.

    A string such as ``"no"`` is truthy, so accepting it would silently do
    the opposite of what the caller wrote.

    Args:
        value: ``True`` or ``False``.
        parameter: The parameter name to report in errors.

    Returns:
        The flag.

    Raises:
        InvalidArgumentError: ``value`` is not a bool.

    Example:
        >>> validate_bool(False, "metadata")
        False
    """
    if not isinstance(value, bool):
        raise InvalidArgumentError(
            f"{parameter} must be True or False, got {_show(value)}",
            parameter=parameter,
            value=value,
        )
    return value


def validate_interface(
    iface: InterfaceLike | None, family: AddressFamily, *, parameter: str = "iface"
) -> Interface | None:
    """Validate an interface for joins of one address family.

    This reads no environment variable: ``None`` stays ``None``.

    Args:
        iface: ``None`` for the kernel's choice; an interface name (1..15
            ASCII letters, digits and ``. _ - @ :``, not ``.`` or ``..``); an
            index (an int in 1..2**32-1, not a bool, or a string of ASCII
            digits such as ``"2"``, as on the command line); a local IPv4
            unicast address as text or :class:`IPv4Address`, IPv4 only, where
            ``0.0.0.0`` means ``None``; or an :class:`Interface` (use
            ``Interface(name="1")`` for an interface whose name is all digits).
        family: :data:`socket.AF_INET` or :data:`socket.AF_INET6`, the
            family of the groups.
        parameter: The parameter name to report in errors.

    Returns:
        The interface, or ``None`` for the kernel's choice.

    Raises:
        InvalidInterfaceError: ``iface`` is malformed, or is an address but
            ``family`` is IPv6.
        InvalidArgumentError: ``family`` is neither AF_INET nor AF_INET6.

    Example:
        >>> import socket
        >>> validate_interface("10.0.0.1", socket.AF_INET)
        Interface(address=IPv4Address('10.0.0.1'))
    """
    family = _check_family(family)
    result = _parse_interface(iface, parameter=parameter)
    if result is not None and result.address is not None and family == AF_INET6:
        raise InvalidInterfaceError(
            f"{parameter} {_show(iface)} is an IPv4 address;"
            " IPv6 groups need an interface name or index",
            parameter=parameter,
            value=iface,
        )
    return result


def _require_interface_for_scoped_groups(groups: tuple[IPAddress, ...], parameter: str) -> None:
    for group in groups:
        if isinstance(group, IPv6Address) and group.packed[1] & 0x0F in _INTERFACE_SCOPES:
            scope = _INTERFACE_SCOPES[group.packed[1] & 0x0F]
            raise InvalidInterfaceError(
                f"group '{group}' is {scope}-scoped, so it needs an interface:"
                f" pass {parameter} (a name or an index)",
                parameter=parameter,
                value=None,
            )


def validate_groups(groups: object) -> tuple[AddressFamily, tuple[IPAddress, ...]]:
    """Validate one group or several of one family.

    Args:
        groups: As for :func:`validate_join_args`; ``None`` is the default group.

    Returns:
        The family and the groups, without duplicates, in order.

    Raises:
        InvalidGroupError: A group is invalid, or the families are mixed.
        ConfigError: ``groups`` is ``None`` and ``MULTICAST_GROUP`` is invalid.

    Example:
        >>> validate_groups(["239.1.1.1", "239.1.1.1"])[1]
        (IPv4Address('239.1.1.1'),)
    """
    raw = _config.default_group() if groups is None else groups
    seen: dict[IPAddress, None] = {}
    first: IPAddress | None = None
    for item in _iterate(raw, parameter="groups", noun="multicast", error=InvalidGroupError):
        address = _parse_address(item, label="group", parameter="groups", error=InvalidGroupError)
        _check_multicast(address, item, label="group", parameter="groups")
        if first is None:
            first = address
        elif address.version != first.version:
            raise InvalidGroupError(
                f"group {_show(item)} is IPv{address.version} but group '{first}' is"
                f" IPv{first.version}: all groups must be of one family",
                parameter="groups",
                value=item,
            )
        seen.setdefault(address)
    if first is None:
        raise InvalidGroupError(
            "groups is empty: pass at least one group, or None for the default"
            f" ({_config.DEFAULT_GROUP})",
            parameter="groups",
            value=groups,
        )
    return _family_of(first), tuple(seen)


def _validate_bind_group(
    bind_group: object, family: AddressFamily, groups: tuple[IPAddress, ...]
) -> IPAddress | None:
    if bind_group is None:
        return None
    label = "bind_group"
    address = _parse_address(bind_group, label=label, parameter=label, error=InvalidGroupError)
    _check_multicast(address, bind_group, label=label, parameter=label)
    if _family_of(address) != family:
        raise InvalidGroupError(
            f"bind_group {_show(bind_group)} is IPv{address.version} but the groups are"
            f" IPv{groups[0].version}: bind_group must be one of the groups",
            parameter=label,
            value=bind_group,
        )
    if address not in groups:
        listed = ", ".join(str(group) for group in groups)
        raise InvalidGroupError(
            f"bind_group {_show(bind_group)} is not one of the groups ({listed})",
            parameter=label,
            value=bind_group,
        )
    return address


def _validate_sources(
    sources: object, family: AddressFamily, *, parameter: str = "sources"
) -> tuple[IPAddress, ...]:
    if sources is None:
        return ()
    version = 4 if family == AF_INET else 6
    seen: dict[IPAddress, None] = {}
    for item in _iterate(sources, parameter=parameter, noun="unicast", error=InvalidSourceError):
        address = _parse_address(
            item, label="source", parameter=parameter, error=InvalidSourceError
        )
        problem: str | None = None
        if _is_multicast(address):
            problem = "is a multicast address: sources must be unicast"
        elif int(address) == 0:
            problem = "is the unspecified address: sources must be unicast"
        elif address == _V4_BROADCAST:
            problem = "is the broadcast address: sources must be unicast"
        elif isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            problem = "is an IPv4-mapped IPv6 address: pass IPv4 sources with IPv4 groups"
        elif address.version != version:
            problem = (
                f"is IPv{address.version} but the groups are IPv{version}:"
                " sources must be of the groups' family"
            )
        if problem is not None:
            raise InvalidSourceError(
                f"source {_show(item)} {problem}", parameter=parameter, value=item
            )
        seen.setdefault(address)
    return tuple(seen)


def _validate_isock(isock: object) -> SocketLike | None:
    if isock is None:
        return None
    if not callable(getattr(isock, "fileno", None)):
        raise InvalidArgumentError(
            f"isock must be a socket (an object with a fileno() method), got {_show(isock)}",
            parameter="isock",
            value=isock,
        )
    return cast("SocketLike", isock)


def _iterate(
    value: object, *, parameter: str, noun: str, error: type[InvalidArgumentError]
) -> Iterator[object]:
    if isinstance(value, (str, IPv4Address, IPv6Address)):
        return iter((value,))
    expected = (
        f"{parameter} must be a {noun} address ({_ADDRESS_TYPES}) or an iterable of them,"
        f" got {_show(value)}"
    )
    # Iterating bytes would yield ints, which is never what the caller meant.
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise error(f"{expected} (decode bytes first)", parameter=parameter, value=value)
    try:
        return iter(cast("Iterable[object]", value))
    except TypeError:
        raise error(expected, parameter=parameter, value=value) from None


def _parse_address(
    value: object, *, label: str, parameter: str, error: type[InvalidArgumentError]
) -> IPAddress:
    shown = _show(value)
    if isinstance(value, IPv6Address) and value.scope_id is not None:
        raise error(
            f"{label} {shown} has a zone index: pass the interface via iface instead",
            parameter=parameter,
            value=value,
        )
    if isinstance(value, IPv4Address):
        return IPv4Address(int(value))
    if isinstance(value, IPv6Address):
        return IPv6Address(int(value))
    if isinstance(value, str):
        if value != value.strip():
            raise error(
                f"{label} {shown} has leading or trailing whitespace",
                parameter=parameter,
                value=value,
            )
        head, percent, _ = value.partition("%")
        if percent and _parses_as_ipv6(head):
            raise error(
                f"{label} {shown} has a zone index: pass the interface via iface instead",
                parameter=parameter,
                value=value,
            )
        try:
            return _plain(ip_address(value))
        except ValueError:
            raise error(
                f"{label} {shown} is not an IP address literal (host names are not resolved)",
                parameter=parameter,
                value=value,
            ) from None
    hint = " (decode bytes first)" if isinstance(value, (bytes, bytearray, memoryview)) else ""
    raise error(
        f"{label} {shown} is not an IP address: pass a {_ADDRESS_TYPES}{hint}",
        parameter=parameter,
        value=value,
    )


def _check_multicast(address: IPAddress, value: object, *, label: str, parameter: str) -> None:
    if not _is_multicast(address):
        network = _V4_MULTICAST if address.version == 4 else _V6_MULTICAST
        raise InvalidGroupError(
            f"{label} {_show(value)} is not a multicast address"
            f" (IPv{address.version} multicast is {network})",
            parameter=parameter,
            value=value,
        )


def _parse_interface(iface: object, *, parameter: str) -> Interface | None:
    if iface is None:
        return None
    if isinstance(iface, Interface):
        # Rebuilt from its one field so that the message names the parameter;
        # a name stays a name even when it is all digits.
        if iface.name is not None:
            name = _check_name(iface.name, label=parameter, parameter=parameter, value=iface)
            return Interface(name=name)
        inner: object = iface.index if iface.index is not None else iface.address
        return _parse_interface_value(inner, parameter=parameter, value=iface)
    return _parse_interface_value(iface, parameter=parameter, value=iface)


def _parse_interface_value(inner: object, *, parameter: str, value: object) -> Interface | None:
    label = parameter
    if _is_int(inner):
        return Interface(index=_check_index(inner, label=label, parameter=parameter, value=value))
    if isinstance(inner, (IPv4Address, IPv6Address)):
        address = _check_interface_address(inner, label=label, parameter=parameter, value=value)
        return None if address is None else Interface(address=address)
    if not isinstance(inner, str):
        raise InvalidInterfaceError(
            f"{parameter} must be an interface name (str), index (int) or local IPv4 address,"
            f" got {_show(value)}",
            parameter=parameter,
            value=value,
        )
    if inner == "":
        raise InvalidInterfaceError(
            f"{parameter} '' is empty: pass an interface name, index or local IPv4 address,"
            " or None for the kernel's choice",
            parameter=parameter,
            value=value,
        )
    if inner.isascii() and inner.isdigit():
        # As on the command line and in 'ip link': digits are an index.
        index = _check_index(int(inner), label=label, parameter=parameter, value=value)
        return Interface(index=index)
    try:
        v4: IPv4Address | None = IPv4Address(inner)
    except ValueError:
        v4 = None
    if v4 is not None:
        address = _check_interface_address(v4, label=label, parameter=parameter, value=value)
        return None if address is None else Interface(address=address)
    # Without these two checks a mistyped address would pass as a name and
    # only fail later, at the join, as "no such device".
    if "." in inner and not set(inner) <= {"."} and set(inner) <= _DOTTED_CHARS:
        raise InvalidInterfaceError(
            f"{parameter} {_show(value)} is not a valid IPv4 address",
            parameter=parameter,
            value=value,
        )
    if ":" in inner and _parses_as_ipv6(inner):
        raise InvalidInterfaceError(
            f"{parameter} {_show(value)} is an IPv6 address; pass an interface name or index",
            parameter=parameter,
            value=value,
        )
    return Interface(name=_check_name(inner, label=label, parameter=parameter, value=value))


def _check_name(name: object, *, label: str, parameter: str, value: object) -> str:
    problem: str | None = None
    if not isinstance(name, str) or name == "":
        problem = "is not a valid interface name: it must be a non-empty str"
    elif len(name) > MAX_INTERFACE_NAME_LENGTH:
        problem = f"is not a valid interface name: at most {MAX_INTERFACE_NAME_LENGTH} characters"
    elif not set(name) <= _NAME_CHARS:
        problem = "is not a valid interface name: only letters, digits and . _ - @ : are allowed"
    elif name in {".", ".."}:
        problem = "is not a valid interface name"
    if problem is not None:
        raise InvalidInterfaceError(
            f"{label} {_show(value)} {problem}", parameter=parameter, value=value
        )
    return str(cast("str", name))


def _check_index(index: object, *, label: str, parameter: str, value: object) -> int:
    if not _is_int(index) or not 1 <= index <= MAX_INTERFACE_INDEX:
        raise InvalidInterfaceError(
            f"{label} {_show(value)} is not a valid interface index:"
            f" indexes are 1..{MAX_INTERFACE_INDEX}",
            parameter=parameter,
            value=value,
        )
    return int(index)


def _check_interface_address(
    address: object, *, label: str, parameter: str, value: object
) -> IPv4Address | None:
    if isinstance(address, IPv6Address):
        raise InvalidInterfaceError(
            f"{label} {_show(value)} is an IPv6 address; pass an interface name or index",
            parameter=parameter,
            value=value,
        )
    if not isinstance(address, IPv4Address):
        raise InvalidInterfaceError(
            f"{label} {_show(value)} is not an IPv4 address", parameter=parameter, value=value
        )
    plain = IPv4Address(int(address))
    if plain.is_unspecified:
        return None
    problem: str | None = None
    if plain in _V4_MULTICAST:
        problem = "a multicast address"
    elif plain in _V4_RESERVED:
        problem = "a reserved address"
    if problem is not None:
        raise InvalidInterfaceError(
            f"{label} {_show(value)} is {problem}; pass a local unicast IPv4 address,"
            " an interface name or an index",
            parameter=parameter,
            value=value,
        )
    return plain


def _check_family(family: object) -> AddressFamily:
    if family == AF_INET:
        return AF_INET
    if family == AF_INET6:
        return AF_INET6
    raise InvalidArgumentError(
        f"family must be socket.AF_INET or socket.AF_INET6, got {_show(family)}",
        parameter="family",
        value=family,
    )


def _check_int(
    value: object, low: int, high: int, *, parameter: str, error: type[InvalidArgumentError]
) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise error(
            f"{parameter} must be an int in {low}..{high}, got {_show(value)}",
            parameter=parameter,
            value=value,
        )
    return int(value)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass, but True as a port or an index is always a bug.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_multicast(address: IPAddress) -> bool:
    if isinstance(address, IPv4Address):
        return address in _V4_MULTICAST
    return address in _V6_MULTICAST


def _parses_as_ipv6(text: str) -> bool:
    try:
        IPv6Address(text)
    except ValueError:
        return False
    return True


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv4Address):
        return IPv4Address(int(address))
    return IPv6Address(int(address))


def _family_of(address: IPAddress) -> AddressFamily:
    return AF_INET if address.version == 4 else AF_INET6


def _show(value: object) -> str:
    if isinstance(value, Interface):
        return describe(value.label)
    return describe(value)
