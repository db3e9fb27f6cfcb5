"""The private network namespace a test process moves into, and ``ip`` inside it.

Nothing here sends a datagram. :func:`enter_private_network` moves the whole
process, once, into a fresh network namespace with only ``lo``; everything
:mod:`trio_mcast.testing` builds afterwards lives inside it or in namespaces
of its own, so no traffic can reach the machine's real interfaces.

As real root only a network namespace is needed; otherwise a user namespace
maps the caller to root first. Either way the namespace dies with the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .._errors import NetworkSetupError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

CLONE_NEWNET: Final = 0x40000000
CLONE_NEWUSER: Final = 0x10000000
_SIOCGIFFLAGS: Final = 0x8913
_SIOCSIFFLAGS: Final = 0x8914
_IFF_UP: Final = 0x1
_IFREQ_FLAGS: Final = struct.Struct("16sH14x")
_RTMGRP_LINK: Final = 0x1
_RTMGRP_IPV4_ROUTE: Final = 0x40
_RTMGRP_IPV6_ROUTE: Final = 0x400
_ROUTE_WAIT_SECONDS: Final = 5.0
#: The programs that building hosts and links runs.
TOOLS: Final = ("ip", "nsenter", "unshare")


@dataclass(frozen=True, slots=True)
class NamespaceState:
    """Whether this process got its private network namespace.

    Attributes:
        active: True when the process runs in a private namespace it created.
        reason: Why not, when ``active`` is False; empty otherwise.
        left_inode: The inode of the network namespace the process left (the
            machine's, or its container's), when it did.
    """

    active: bool
    reason: str = ""
    left_inode: int | None = None


@dataclass(frozen=True, slots=True)
class _Entered:
    state: NamespaceState
    inode: int | None


_entered: _Entered | None = None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _net_ns_inode(path: str = "/proc/thread-self/ns/net") -> int:
    return os.stat(path).st_ino


def _set_link_up(name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = _IFREQ_FLAGS.pack(name.encode(), 0)
        flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, _IFREQ_FLAGS.pack(name.encode(), flags | _IFF_UP))


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def enter_private_network() -> NamespaceState:
    """Move this process into a new network namespace that has only ``lo``, up.

    Call it while the process has a single thread: a user namespace demands
    it, and a thread that already exists would stay in the machine's
    namespace, so a second thread is refused with the reason. The move cannot
    be undone (an unprivileged process could not return), so everything the
    process does afterwards happens in the private namespace. Calls after the
    first return the first result.

    Returns:
        The outcome; when ``active`` is False, ``reason`` says why.

    Example:
        >>> state = enter_private_network()
        >>> state.active, state.reason
        (True, '')
    """
    global _entered
    if _entered is None:
        _entered = _enter()
    return _entered.state


def namespace_state() -> NamespaceState:
    """The result of :func:`enter_private_network`, entering the namespace if needed.

    Returns:
        Whether this process runs in its private network namespace, and why not.
    """
    return enter_private_network()


def in_private_network() -> bool:
    """Whether the calling thread is in the namespace :func:`enter_private_network` made.

    False before that call, when it failed, and in a thread that switched to
    another namespace (:func:`entered`).

    Returns:
        True only inside this process's own private namespace.
    """
    if _entered is None or _entered.inode is None:
        return False
    return _net_ns_inode() == _entered.inode


def require_private_network(what: str) -> None:
    """Refuse to build ``what`` anywhere but in this process's private namespace.

    Args:
        what: What is about to be built, for the message.

    Raises:
        NetworkSetupError: The calling thread is in another network namespace,
            possibly the machine's own.
    """
    if in_private_network():
        return
    state = _entered.state if _entered is not None else None
    why = (
        "enter_private_network() has not been called"
        if state is None
        else (state.reason or "this thread is in another network namespace")
    )
    raise NetworkSetupError(
        f"{what} is built only inside the private network namespace of"
        f" trio_mcast.testing.enter_private_network(), so that nothing can reach a real"
        f" interface; {why}"
    )


def _enter() -> _Entered:
    if not sys.platform.startswith("linux"):
        return _Entered(
            NamespaceState(False, f"network namespaces need Linux, not {sys.platform}"), None
        )
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        return _Entered(
            NamespaceState(
                False,
                f"the process already runs {threads} threads, and the others would stay in"
                " the machine's network namespace; enter it before starting threads",
            ),
            None,
        )
    libc = _libc()
    before = _net_ns_inode("/proc/self/ns/net")
    try:
        if os.geteuid() == 0:
            try:
                _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            except PermissionError:
                # Root inside a container without CAP_SYS_ADMIN: a user namespace may still work.
                _enter_user_namespace(libc)
        else:
            _enter_user_namespace(libc)
        _set_link_up("lo")
    except OSError as exc:
        reason = f"cannot create a private network namespace: {exc}"
        return _Entered(NamespaceState(False, reason), None)
    after = _net_ns_inode("/proc/self/ns/net")
    if after == before:
        reason = "unshare() returned but the network namespace is unchanged"
        return _Entered(NamespaceState(False, reason), None)
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        return _Entered(NamespaceState(False, f"the new namespace is not empty: {names}"), None)
    return _Entered(NamespaceState(True, left_inode=before), after)


def _enter_user_namespace(libc: ctypes.CDLL) -> None:
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare(CLONE_NEWUSER|CLONE_NEWNET)")
    with contextlib.suppress(FileNotFoundError):
        _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def missing_tools() -> list[str]:
    """The programs hosts need (``ip``, ``nsenter``, ``unshare``) that are not on PATH.

    Returns:
        Their names; empty when all are there.
    """
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def in_netns(argv: Sequence[str], netns_pid: int | None) -> list[str]:
    """``argv``, run inside the network namespace of process ``netns_pid`` when given.

    Args:
        argv: The command.
        netns_pid: A process whose network namespace to enter; ``None`` runs here.

    Returns:
        The command line to run.
    """
    if netns_pid is None:
        return list(argv)
    return ["nsenter", "-t", str(netns_pid), "-n", *argv]


def _run(command: list[str], stdin: str | None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        stderr = result.stderr.strip()
        raise NetworkSetupError(
            f"{' '.join(command)} failed: {stderr}", command=tuple(command), stderr=stderr
        )


def run_ip(*args: str, netns_pid: int | None = None) -> None:
    """Run ``ip ARGS``, in the network namespace of ``netns_pid`` when given.

    Args:
        *args: The arguments of ``ip``.
        netns_pid: A process whose network namespace to run in; ``None``: here.

    Raises:
        NetworkSetupError: ``ip`` failed; the message carries its stderr.

    Example:
        >>> run_ip("link", "add", "example0", "type", "bridge")
        >>> run_ip("link", "del", "example0")
    """
    _run(in_netns(["ip", *args], netns_pid), None)


def run_ip_batch(commands: Sequence[str], *, netns_pid: int | None = None) -> None:
    """Run several ``ip`` commands in one process (``ip -batch``), in order.

    Args:
        commands: One ``ip`` command line each, without the leading ``ip``.
        netns_pid: A process whose network namespace to run in; ``None``: here.

    Raises:
        NetworkSetupError: A command failed; the message carries ``ip``'s stderr.
    """
    _run(in_netns(["ip", "-batch", "-"], netns_pid), "\n".join(commands) + "\n")


def _routes_multicast(device: str, netns_pid: int | None) -> bool:
    try:
        run_ip("-6", "route", "get", "ff15::1", "oif", device, netns_pid=netns_pid)
        run_ip("route", "get", "239.0.0.1", "oif", device, netns_pid=netns_pid)
    except NetworkSetupError:
        return False
    return True


def wait_for_multicast_routes(device: str, *, netns_pid: int | None = None) -> None:
    """Block until ``device`` can send IPv4 and IPv6 multicast.

    A new veth gets its carrier, and with it its IPv6 multicast route, a
    moment after it comes up (the kernel's link watcher runs later); sending
    before that fails with ENETUNREACH. This listens to the namespace's
    routing notifications and asks the kernel again (``ip route get``) after
    each one, for at most five seconds.

    Args:
        device: The interface's name.
        netns_pid: A process whose network namespace holds it; ``None``: here.

    Raises:
        NetworkSetupError: The routes did not appear in time.
    """
    namespace = (
        entered(f"/proc/{netns_pid}/ns/net") if netns_pid is not None else contextlib.nullcontext()
    )
    with namespace:
        notifications = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with notifications:
        # Subscribe before the first look, so no change can slip in between.
        notifications.bind((0, _RTMGRP_LINK | _RTMGRP_IPV4_ROUTE | _RTMGRP_IPV6_ROUTE))
        deadline = time.monotonic() + _ROUTE_WAIT_SECONDS
        while not _routes_multicast(device, netns_pid):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([notifications], [], [], max(remaining, 0))
            if not ready:
                raise NetworkSetupError(
                    f"{device} cannot route multicast after {_ROUTE_WAIT_SECONDS} s"
                )
            notifications.recv(65536)


@contextlib.contextmanager
def entered(ns_path: str) -> Iterator[None]:
    """Switch the calling thread into another network namespace, and back.

    Sockets created inside stay in that namespace for life, so a test can
    create a socket for a host here and use it from trio afterwards. Keep the
    block synchronous: an ``await`` inside would run other tasks in the
    wrong namespace.

    Args:
        ns_path: The namespace's file, such as ``/proc/PID/ns/net``.

    Yields:
        Nothing; the thread is in that namespace until the block ends.

    Raises:
        OSError: ``setns()`` was refused.
    """
    libc = _libc()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(libc.setns(target, CLONE_NEWNET), f"setns({ns_path})")
        try:
            yield
        finally:
            _check(libc.setns(home, CLONE_NEWNET), "setns(back home)")
    finally:
        os.close(target)
        os.close(home)
