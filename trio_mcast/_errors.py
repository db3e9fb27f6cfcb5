"""The one exception hierarchy of trio_mcast.

Every error the package raises on purpose is a :class:`MulticastError`. Each
carries the facts that caused it as attributes, so callers can react to the
parameter and value instead of parsing the message.
"""

from __future__ import annotations

import errno as _errno
from ipaddress import IPv4Address, IPv6Address
from typing import Final

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
    "NetlinkError",
    "NetworkSetupError",
    "describe",
    "join_error_from_oserror",
]

#: Messages show at most this many characters of a rejected value.
MAX_SHOWN: Final = 80


def describe(value: object) -> str:
    """A rejected value as an error message shows it: its repr, cut to :data:`MAX_SHOWN`.

    Addresses show as quoted text. Building the text never fails, whatever
    the value's ``__repr__`` does.

    Example:
        >>> describe("x" * 100)[-5:]
        'xx...'
    """
    if isinstance(value, (IPv4Address, IPv6Address)):
        text = f"'{value}'"
    else:
        try:
            text = repr(value)
        except Exception:
            text = f"<{type(value).__name__} object>"
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 3] + "..."
    return text


class MulticastError(ValueError):
    """Base class of every error raised by trio_mcast.

    It subclasses :class:`ValueError` because most of them reject a value the
    caller passed; :class:`JoinError` is also an :class:`OSError`.
    """


class InvalidArgumentError(MulticastError):
    """An argument failed validation.

    Attributes:
        parameter: The name of the parameter, as the caller spelled it.
        value: The rejected value, exactly as passed.
    """

    def __init__(self, message: str, *, parameter: str, value: object) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value


class InvalidGroupError(InvalidArgumentError):
    """A group is not a multicast address, or the groups are inconsistent.

    Attributes:
        group: The rejected group (the same object as ``value``).
    """

    def __init__(self, message: str, *, value: object, parameter: str = "group") -> None:
        super().__init__(message, parameter=parameter, value=value)
        self.group = value


class InvalidPortError(InvalidArgumentError):
    """A port is not an int in 1..65535.

    Attributes:
        port: The rejected port (the same object as ``value``).
    """

    def __init__(self, message: str, *, value: object, parameter: str = "port") -> None:
        super().__init__(message, parameter=parameter, value=value)
        self.port = value


class InvalidSourceError(InvalidArgumentError):
    """A source for source-specific multicast is not a usable unicast address.

    Attributes:
        source: The rejected source (the same object as ``value``).
    """

    def __init__(self, message: str, *, value: object, parameter: str = "sources") -> None:
        super().__init__(message, parameter=parameter, value=value)
        self.source = value


class InvalidInterfaceError(InvalidArgumentError):
    """An interface is neither a name, an index nor a local IPv4 address.

    Attributes:
        interface: The rejected interface (the same object as ``value``).
    """

    def __init__(self, message: str, *, value: object, parameter: str = "interface") -> None:
        super().__init__(message, parameter=parameter, value=value)
        self.interface = value


class InterfaceNotFoundError(InvalidInterfaceError):
    """An interface is well formed but does not exist on this host.

    Attributes:
        errno: Always :data:`errno.ENODEV`.
    """

    errno: int = _errno.ENODEV


class ConfigError(MulticastError):
    """A ``MULTICAST_*`` environment variable holds an invalid value.

    Attributes:
        variable: The name of the environment variable.
        value: Its raw text.
    """

    def __init__(self, message: str, *, variable: str, value: str) -> None:
        super().__init__(message)
        self.variable = variable
        self.value = value


class JoinError(MulticastError, OSError):
    """The operating system refused to set up the socket or a membership.

    Attributes:
        message: The whole message, as ``str()`` of the error gives it.
        errno: The OS error number.
        group: The group being joined or left, if any.
        interface: The interface involved, if any.
        source: The source of a source-specific membership, if any.
        hint: A sentence on what to do about it, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        errno: int,
        group: str | None = None,
        interface: str | int | None = None,
        source: str | None = None,
        hint: str | None = None,
    ) -> None:
        OSError.__init__(self, errno, message)
        self.message = message
        self.group = group
        self.interface = interface
        self.source = source
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # OSError pickles by its args; keep the keyword attributes as well.
        return (
            _rebuild_join_error,
            (self.message, self.errno, self.group, self.interface, self.source, self.hint),
        )


def _rebuild_join_error(
    message: str,
    errno: int,
    group: str | None,
    interface: str | int | None,
    source: str | None,
    hint: str | None,
) -> JoinError:
    return JoinError(
        message, errno=errno, group=group, interface=interface, source=source, hint=hint
    )


_HINTS: Final[dict[int, str]] = {
    _errno.ENOBUFS: (
        "the per-socket limit of IPv4 groups was reached; raise"
        " net.ipv4.igmp_max_memberships, or spread the groups over several receivers"
    ),
    _errno.ENODEV: "no such interface; list interfaces with 'ip link'",
    _errno.EADDRNOTAVAIL: (
        "the interface has no address of this family, or the address is not local;"
        " check 'ip addr' and pass the interface by name or index"
    ),
    _errno.EADDRINUSE: (
        "the port is taken by a socket that does not allow reuse; stop that program"
        " or choose another port"
    ),
    _errno.EACCES: "permission denied; ports below 1024 need privileges",
    _errno.EPERM: "operation not permitted; this may need CAP_NET_ADMIN or root",
    _errno.ENETUNREACH: "no route for multicast; add a route or pass an interface",
}


def _limit_hint(code: int, *, ipv6: bool, source: bool) -> str | None:
    """Which kernel limit an ``ENOBUFS`` or ``ENOMEM`` from a join ran into.

    IPv4 counts groups per socket (``igmp_max_memberships``) and sources per
    group (``igmp_max_msf``). IPv6 has no count of groups: each membership
    takes socket option memory, bounded by ``net.core.optmem_max``, which is
    what ``ENOMEM`` means there; it does count sources per group
    (``mld_max_msf``).
    """
    spread = "or spread them over several receivers"
    if ipv6:
        if code == _errno.ENOMEM:
            return (
                "the socket's option memory for IPv6 memberships is used up; raise"
                f" net.core.optmem_max, {spread}"
            )
        if source:
            return (
                "the per-group limit of IPv6 sources was reached (or the socket's option"
                f" memory); raise net.ipv6.mld_max_msf (or net.core.optmem_max), {spread}"
            )
        return f"the socket's option memory is used up; raise net.core.optmem_max, {spread}"
    if source:
        return (
            "a per-socket limit was reached: sources per group (net.ipv4.igmp_max_msf) or"
            f" groups (net.ipv4.igmp_max_memberships); raise it, {spread}"
        )
    if code == _errno.ENOBUFS:
        return None
    return f"the socket's option memory is used up; raise net.core.optmem_max, {spread}"


def join_error_from_oserror(
    exc: OSError,
    *,
    operation: str,
    group: str | None = None,
    interface: str | int | None = None,
    source: str | None = None,
) -> JoinError:
    """Translate an :class:`OSError` into a :class:`JoinError` with a hint.

    This is the one place where the package turns OS errors into its own. The
    caller raises the result ``from exc``.

    Args:
        exc: The error the socket call raised.
        operation: What was attempted, for the message (``"join"``, ``"bind"``).
        group: The group involved, if any.
        interface: The interface involved, if any.
        source: The source of a source-specific membership, if any.

    Returns:
        The translated error, ready to raise.
    """
    code = exc.errno if exc.errno is not None else 0
    what = operation
    if group is not None:
        what += f" group {group}"
    if source is not None:
        what += f" from source {source}"
    if interface is not None:
        what += f" on interface {interface!r}"
    reason = exc.strerror or _errno.errorcode.get(code, str(exc))
    hint = _HINTS.get(code)
    ipv6 = group is not None and ":" in group
    if code in (_errno.ENOBUFS, _errno.ENOMEM):
        hint = _limit_hint(code, ipv6=ipv6, source=source is not None) or hint
    if code in (_errno.ENODEV, _errno.ENETUNREACH) and interface is None:
        hint = (
            "no interface was given and no route chooses one for multicast; pass an"
            " interface, or add a route such as 'ip route add 224.0.0.0/4 dev eth0'"
        )
    message = f"cannot {what}: {reason} (errno {code})"
    if hint is not None:
        message += f"; hint: {hint}"
    return JoinError(
        message, errno=code, group=group, interface=interface, source=source, hint=hint
    )


class NetlinkError(MulticastError):
    """The kernel's rtnetlink data could not be parsed, or a request failed.

    Attributes:
        offset: Where in the data the problem is, in bytes; ``None`` for a
            request the kernel refused.
        errno: The kernel's error number for a refused request, else ``None``.
    """

    def __init__(
        self, message: str, *, offset: int | None = None, errno: int | None = None
    ) -> None:
        super().__init__(message)
        self.offset = offset
        self.errno = errno


class NetworkSetupError(RuntimeError):
    """Building a test network with :mod:`trio_mcast.testing` failed.

    Not a :class:`MulticastError`: it reports the test environment (a missing
    tool, a refused namespace, a failed ``ip`` command), not a value passed to
    the library.

    Attributes:
        command: The command that failed, as run; empty when no command ran.
        stderr: What it printed on standard error, stripped.
    """

    def __init__(self, message: str, *, command: tuple[str, ...] = (), stderr: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.stderr = stderr
