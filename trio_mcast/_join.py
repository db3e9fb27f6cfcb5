"""Socket set-up and group membership: the synchronous half of ``joinstep``.

Everything here is a quick system call that never blocks, so it is plain
synchronous code; the async public API wraps it with a checkpoint. OS errors
become :class:`~trio_mcast.JoinError` here and nowhere else.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import sys
from typing import TYPE_CHECKING, Final, NamedTuple

from . import _sockopts
from ._errors import InvalidArgumentError, describe, join_error_from_oserror
from ._membership import (
    EXCLUDE,
    INCLUDE,
    Action,
    Filter,
    Step,
    inverse,
    join_steps,
    leaving,
)
from ._netif import ResolvedInterface, resolve_interface

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._validate import IPAddress, JoinSpec

__all__ = [
    "JoinedSocket",
    "apply_receive_buffer_size",
    "apply_step",
    "apply_steps",
    "bind_receiver",
    "bind_to_interface",
    "binds_to_group",
    "bound_interface",
    "close_joined",
    "enable_ancillary_data",
    "initial_filter",
    "join_membership",
    "leave_membership",
    "new_receiver_socket",
    "open_joined_socket",
]

PLATFORM: Final = _sockopts.CURRENT
_LINUX: Final = sys.platform.startswith("linux")
_WINDOWS: Final = sys.platform.startswith(("win32", "cygwin"))
_SO_RCVBUFFORCE: Final = 33  # Linux, asm-generic/socket.h
_ANY4: Final = ipaddress.IPv4Address(0)


def _setsockopt(sock: socket.socket, level: int, option: int | None, value: int | bytes) -> bool:
    """Set an option the platform may lack; False when it does."""
    if option is None:
        return False
    sock.setsockopt(level, option, value)
    return True


def new_receiver_socket(family: socket.AddressFamily) -> socket.socket:
    """A non-blocking UDP socket, set up to share its port and hear only its groups.

    Raises:
        JoinError: The socket could not be created or configured.
    """
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise join_error_from_oserror(exc, operation="create a UDP socket") from exc
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Not SO_REUSEPORT on Linux, where SO_REUSEADDR alone lets receivers
        # share a UDP port, each getting its own copy of every multicast
        # datagram. Sockets in one SO_REUSEPORT group can instead have a
        # datagram handed to just one member (UDP early demux), whatever its
        # groups and source filter: lost for one receiver, leaked to another.
        if hasattr(socket, "SO_REUSEPORT") and not _LINUX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        configure_isolation(sock, family)
    except OSError as exc:
        sock.close()
        raise join_error_from_oserror(exc, operation="configure the socket") from exc
    except BaseException:
        sock.close()
        raise
    return sock


def configure_isolation(sock: socket.socket, family: socket.AddressFamily) -> None:
    """Deliver only the groups this socket joined, not every group on the port.

    Linux by default hands a socket bound to the wildcard every multicast
    datagram for its port that *any* socket joined (``IP_MULTICAST_ALL``).
    """
    if family == socket.AF_INET:
        _setsockopt(sock, socket.IPPROTO_IP, PLATFORM.ip_multicast_all, 0)
    else:
        _setsockopt(sock, socket.IPPROTO_IPV6, PLATFORM.ipv6_multicast_all, 0)


def enable_ancillary_data(
    sock: socket.socket, family: socket.AddressFamily, *, pktinfo: bool, timestamps: bool
) -> None:
    """Ask the kernel for the destination, interface and receive time per datagram.

    With ``timestamps`` (``metadata=True``), also for the TTL or hop limit and
    the TOS or traffic class, where the platform's option numbers are known.

    Raises:
        JoinError: The platform refused an option that was asked for.
    """
    try:
        if pktinfo:
            if family == socket.AF_INET:
                done = _setsockopt(sock, socket.IPPROTO_IP, PLATFORM.ip_pktinfo, 1)
            else:
                done = _setsockopt(sock, socket.IPPROTO_IPV6, PLATFORM.ipv6_recvpktinfo, 1)
            if not done:
                raise OSError(errno.ENOPROTOOPT, "packet info is not supported on this platform")
        if timestamps:
            option = PLATFORM.so_timestampns
            if option is None:
                raise OSError(errno.ENOPROTOOPT, "kernel timestamps are not supported here")
            sock.setsockopt(socket.SOL_SOCKET, option, 1)
            # TTL and TOS where the option numbers are known; elsewhere they stay None.
            if family == socket.AF_INET:
                _setsockopt(sock, socket.IPPROTO_IP, PLATFORM.ip_recvttl, 1)
                _setsockopt(sock, socket.IPPROTO_IP, PLATFORM.ip_recvtos, 1)
            else:
                _setsockopt(sock, socket.IPPROTO_IPV6, PLATFORM.ipv6_recvhoplimit, 1)
                _setsockopt(sock, socket.IPPROTO_IPV6, PLATFORM.ipv6_recvtclass, 1)
    except OSError as exc:
        raise join_error_from_oserror(exc, operation="enable per-datagram metadata") from exc


def apply_receive_buffer_size(sock: socket.socket, requested: int) -> int:
    """Request a receive buffer of ``requested`` bytes and return what took effect.

    The kernel caps ``SO_RCVBUF`` at ``net.core.rmem_max``; root may exceed
    that with ``SO_RCVBUFFORCE``, which is tried when the cap bit.

    Raises:
        JoinError: The option was refused outright.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, requested)
        effective = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        # Linux reports double the request (it counts its bookkeeping too).
        if _LINUX and effective < 2 * requested:
            # Only real root may force; anyone else keeps what the cap allowed.
            with contextlib.suppress(PermissionError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, requested)
            effective = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError as exc:
        raise join_error_from_oserror(
            exc, operation=f"set the receive buffer to {requested} bytes"
        ) from exc
    return effective


def bind_receiver(
    sock: socket.socket, spec: JoinSpec, bind_to: IPAddress | None, scope: int
) -> None:
    """Bind to ``bind_to`` (a group) or the wildcard, on the spec's port.

    Raises:
        JoinError: The bind failed (port taken without reuse, ...).
    """
    host = str(bind_to) if bind_to is not None else ""
    address: tuple[str, int] | tuple[str, int, int, int]
    if spec.family == socket.AF_INET6:
        address = (host or "::", spec.port, 0, scope if bind_to is not None else 0)
    else:
        address = (host or "0.0.0.0", spec.port)
    try:
        sock.bind(address)
    except OSError as exc:
        raise join_error_from_oserror(
            exc, operation=f"bind to port {spec.port}", group=host or None
        ) from exc


_SOURCE_OPTIONS: Final = {
    # action: (IPv4 option by address, protocol-independent option by index)
    Action.JOIN_SOURCE: ("ip_add_source_membership", "mcast_join_source_group"),
    Action.LEAVE_SOURCE: ("ip_drop_source_membership", "mcast_leave_source_group"),
    Action.BLOCK: ("ip_block_source", "mcast_block_source"),
    Action.UNBLOCK: ("ip_unblock_source", "mcast_unblock_source"),
}


def _membership_request(
    family: socket.AddressFamily, group: IPAddress, step: Step, interface: ResolvedInterface
) -> tuple[int, int, bytes]:
    """The (level, option, value) that carries out ``step`` on ``group``."""
    action, source = step
    if action in (Action.JOIN, Action.LEAVE):
        join = action is Action.JOIN
        if family == socket.AF_INET:
            assert isinstance(group, ipaddress.IPv4Address)
            option = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
            if _LINUX:
                value = _sockopts.pack_ip_mreqn(
                    group, interface.address or _ANY4, interface.ifindex
                )
            else:
                value = _sockopts.pack_ip_mreq(group, interface.address or _ANY4)
            return socket.IPPROTO_IP, option, value
        assert isinstance(group, ipaddress.IPv6Address)
        option = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
        return socket.IPPROTO_IPV6, option, _sockopts.pack_ipv6_mreq(group, interface.ifindex)
    assert source is not None
    by_address, by_index = _SOURCE_OPTIONS[action]
    level = socket.IPPROTO_IP if family == socket.AF_INET else socket.IPPROTO_IPV6
    indexed: int | None = getattr(PLATFORM, by_index)
    # IPv4 memberships made by address (no index) are found by address.
    if family == socket.AF_INET and (interface.ifindex == 0 or indexed is None):
        assert isinstance(group, ipaddress.IPv4Address)
        assert isinstance(source, ipaddress.IPv4Address)
        value = _sockopts.pack_ip_mreq_source(
            group, interface.address or _ANY4, source, PLATFORM.ip_mreq_source_layout
        )
        return level, _require(getattr(PLATFORM, by_address)), value
    value = _sockopts.pack_group_source_req(interface.ifindex, group, source, PLATFORM)
    return level, _require(indexed), value


def _require(option: int | None) -> int:
    if option is None:
        raise OSError(errno.ENOPROTOOPT, "source filtering is not supported here")
    return option


_OPERATIONS: Final = {
    Action.JOIN: "join",
    Action.LEAVE: "leave",
    Action.JOIN_SOURCE: "join",
    Action.LEAVE_SOURCE: "leave",
    Action.BLOCK: "block",
    Action.UNBLOCK: "unblock",
}


def apply_step(
    sock: socket.socket,
    family: socket.AddressFamily,
    group: IPAddress,
    step: Step,
    interface: ResolvedInterface,
) -> None:
    """Carry out one membership step.

    Joining a membership the socket already holds is not an error.

    Raises:
        JoinError: The kernel refused, with the errno and a hint.
    """
    try:
        level, option, value = _membership_request(family, group, step, interface)
        sock.setsockopt(level, option, value)
    except OSError as exc:
        if step.action in (Action.JOIN, Action.JOIN_SOURCE) and exc.errno == errno.EADDRINUSE:
            return
        raise join_error_from_oserror(
            exc,
            operation=_OPERATIONS[step.action],
            group=str(group),
            interface=interface.label,
            source=None if step.source is None else str(step.source),
        ) from exc


def apply_steps(
    sock: socket.socket,
    family: socket.AddressFamily,
    group: IPAddress,
    steps: Sequence[Step],
    interface: ResolvedInterface,
) -> None:
    """Carry out ``steps`` in order, all or nothing.

    A refused step undoes the ones before it, in reverse, so the kernel's
    filter is left exactly as it was: a refusal (say, past the kernel's limit
    of sources per group) must not leave sources half-joined or half-blocked
    where the receiver's bookkeeping could never reach them.

    Raises:
        JoinError: A step was refused; the earlier ones are undone.
    """
    done: list[Step] = []
    try:
        for step in steps:
            apply_step(sock, family, group, step, interface)
            done.append(step)
    except BaseException:
        for step in reversed(done):
            with contextlib.suppress(OSError):
                apply_step(sock, family, group, inverse(step), interface)
        raise


def join_membership(
    sock: socket.socket,
    family: socket.AddressFamily,
    group: IPAddress,
    source: IPAddress | None,
    interface: ResolvedInterface,
) -> None:
    """Join ``group`` (from ``source`` only, if given) on ``interface``.

    Joining a membership the socket already holds is not an error.

    Raises:
        JoinError: The kernel refused, with the errno and a hint.
    """
    step = Step(Action.JOIN) if source is None else Step(Action.JOIN_SOURCE, source)
    apply_step(sock, family, group, step, interface)


def leave_membership(
    sock: socket.socket,
    family: socket.AddressFamily,
    group: IPAddress,
    source: IPAddress | None,
    interface: ResolvedInterface,
) -> None:
    """Leave a membership that :func:`join_membership` made.

    Raises:
        JoinError: The kernel refused (for example, not a member).
    """
    step = Step(Action.LEAVE) if source is None else Step(Action.LEAVE_SOURCE, source)
    apply_step(sock, family, group, step, interface)


def binds_to_group(spec: JoinSpec, bind_to_group: bool | None) -> IPAddress | None:
    """Which group to bind to, or ``None`` for the wildcard.

    Binding to the group makes the kernel filter by destination, which is
    the cheapest isolation there is; Windows cannot bind to a group.
    """
    if _WINDOWS or bind_to_group is False:
        return None
    if spec.bind_group is not None:
        return spec.bind_group
    if len(spec.groups) == 1:
        return spec.groups[0]
    return None


class JoinedSocket(NamedTuple):
    """A socket that :func:`open_joined_socket` bound and joined.

    Attributes:
        sock: The non-blocking stdlib socket.
        interface: The interface the memberships are on.
        bound_group: The group it is bound to, or ``None`` for the wildcard.
        receive_buffer_size: The effective ``SO_RCVBUF``.
        ingress_check: The interface index every datagram must have arrived
            on, where the receiver must check it itself (the kernel would
            not bind the socket to the interface); ``None`` otherwise.
    """

    sock: socket.socket
    interface: ResolvedInterface
    bound_group: IPAddress | None
    receive_buffer_size: int
    ingress_check: int | None = None


def bound_interface(sock: socket.socket) -> int:
    """The index of the device ``sock`` is bound to; 0 for none, or where that is unknown."""
    option = PLATFORM.so_bindtoifindex
    if option is None:
        return 0
    try:
        return sock.getsockopt(socket.SOL_SOCKET, option)
    except OSError:
        return 0


def bind_to_interface(sock: socket.socket, ifindex: int) -> bool:
    """Have the kernel deliver to ``sock`` only what arrives on ``ifindex``.

    Linux hands an IPv6 multicast datagram to every socket that joined its
    group on *any* interface (its membership check ignores the interface,
    unlike IPv4's), so a receiver joined on eth0 also gets the group from
    eth1 when some other socket joined it there. ``SO_BINDTOIFINDEX`` makes
    the kernel check the ingress interface.

    Returns:
        False where the platform lacks the option or refuses it (before
        Linux 5.7, an unprivileged caller; a socket already bound to another
        device): the caller must then check the ingress interface itself.
    """
    option = PLATFORM.so_bindtoifindex
    if option is None:
        return False
    try:
        if sock.getsockopt(socket.SOL_SOCKET, option) == ifindex:
            return True
        sock.setsockopt(socket.SOL_SOCKET, option, ifindex)
    except OSError:
        return False
    return True


def open_joined_socket(
    spec: JoinSpec,
    *,
    bind_to_group: bool | None = None,
    metadata: bool = False,
    receive_buffer_size: int | None = None,
) -> JoinedSocket:
    """Create (or adopt ``spec.isock``), configure, bind and join.

    A socket given as ``spec.isock`` is duplicated: the caller keeps the
    original, and memberships are made on the shared socket.

    Args:
        spec: The validated arguments.
        bind_to_group: ``None`` binds to the group when there is exactly one
            (or to ``spec.bind_group``); ``False`` always binds the wildcard.
        metadata: Enable interface and timestamp ancillary data.
        receive_buffer_size: ``SO_RCVBUF`` to request, or ``None``.

    Returns:
        The socket and what was decided about it.

    Raises:
        InterfaceNotFoundError: The interface does not exist.
        JoinError: The OS refused a step; the socket is closed.
    """
    interface = resolve_interface(spec.iface, need_address=not _LINUX)
    sock = _adopt(spec) if spec.isock is not None else new_receiver_socket(spec.family)
    joined: dict[IPAddress, Filter] = {}
    try:
        bound_group = binds_to_group(spec, bind_to_group)
        ingress_check = None
        if spec.family == socket.AF_INET6 and interface.ifindex:
            ingress_check = (
                None if bind_to_interface(sock, interface.ifindex) else interface.ifindex
            )
        enable_ancillary_data(
            sock,
            spec.family,
            pktinfo=bound_group is None or metadata or ingress_check is not None,
            timestamps=metadata,
        )
        effective = (
            apply_receive_buffer_size(sock, receive_buffer_size)
            if receive_buffer_size is not None
            else sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        )
        if not _is_bound(sock):
            bind_receiver(sock, spec, bound_group, interface.ifindex)
        for group in spec.groups:
            steps = join_steps(group, None, spec.sources, spec.exclude, value=group)
            apply_steps(sock, spec.family, group, steps, interface)
            joined[group] = initial_filter(spec)
    except BaseException:
        # An adopted socket lives on in the caller's descriptor: closing ours
        # would leave these memberships on it.
        close_joined(sock, spec.family, joined, interface)
        raise
    return JoinedSocket(sock, interface, bound_group, effective, ingress_check)


def _adopt(spec: JoinSpec) -> socket.socket:
    """A non-blocking duplicate of ``spec.isock``, checked to be a UDP socket of the family.

    Raises:
        InvalidArgumentError: ``isock`` is not a UDP socket of the groups' family.
        JoinError: The descriptor could not be duplicated or configured.
    """
    assert spec.isock is not None
    try:
        # A duplicate descriptor shares the socket (and its memberships)
        # but can be closed without closing the caller's.
        fd = os.dup(spec.isock.fileno())
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(
            f"isock {describe(spec.isock)} has no open file descriptor",
            parameter="isock",
            value=spec.isock,
        ) from exc
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        os.close(fd)
        raise InvalidArgumentError(
            f"isock {describe(spec.isock)} is not a socket", parameter="isock", value=spec.isock
        ) from exc
    try:
        if sock.family != spec.family or sock.type != socket.SOCK_DGRAM:
            family = "IPv6" if spec.family == socket.AF_INET6 else "IPv4"
            raise InvalidArgumentError(
                f"isock {describe(spec.isock)} is not a UDP socket of the groups' family"
                f" ({family})",
                parameter="isock",
                value=spec.isock,
            )
        sock.setblocking(False)
        configure_isolation(sock, spec.family)
    except OSError as exc:
        sock.close()
        raise join_error_from_oserror(exc, operation="adopt the given socket") from exc
    except BaseException:
        sock.close()
        raise
    return sock


def initial_filter(spec: JoinSpec) -> Filter:
    """The filter each of ``spec``'s groups is joined with."""
    if spec.sources:
        return Filter(INCLUDE, spec.sources)
    return Filter(EXCLUDE, spec.exclude)


def close_joined(
    sock: socket.socket,
    family: socket.AddressFamily,
    memberships: Mapping[IPAddress, Filter],
    interface: ResolvedInterface,
) -> None:
    """Leave every membership in ``memberships``, then close ``sock``.

    Leaving explicitly matters for an adopted socket, which the caller's
    descriptor keeps alive (with its memberships) after ours is closed.
    Refusals are ignored: the interface may be gone, which drops the
    membership anyway.
    """
    try:
        if sock.fileno() != -1:
            for group, current in memberships.items():
                for step in leaving(current):
                    with contextlib.suppress(OSError):
                        apply_step(sock, family, group, step, interface)
    finally:
        sock.close()


def _is_bound(sock: socket.socket) -> bool:
    return int(sock.getsockname()[1]) != 0
