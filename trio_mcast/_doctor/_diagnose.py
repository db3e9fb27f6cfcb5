"""``diagnose()``: read the host, listen, and decide."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import TYPE_CHECKING, Final

import trio

from .._errors import InvalidArgumentError, InvalidGroupError
from .._validate import validate_join_args
from ._decide import decide
from ._gather import gather, read_udp_counters
from ._listen import listen as listen_live

if TYPE_CHECKING:
    from .._validate import AddressesLike, AddressLike, InterfaceLike
    from ._facts import Finding

__all__ = ["DEFAULT_LISTEN", "MAX_LISTEN", "diagnose"]

#: Seconds the live listen lasts unless told otherwise.
DEFAULT_LISTEN: Final = 3.0
#: The longest listen allowed, in seconds.
MAX_LISTEN: Final = 3600.0


def validate_listen(listen: object, parameter: str = "listen") -> float:
    """``listen`` as seconds: a real number from 0 to :data:`MAX_LISTEN`.

    Args:
        listen: The value.
        parameter: Its name as the caller spelled it, for the error.

    Raises:
        InvalidArgumentError: It is not.
    """
    if (
        isinstance(listen, bool)
        or not isinstance(listen, (int, float))
        or not math.isfinite(listen)
        or not 0 <= listen <= MAX_LISTEN
    ):
        raise InvalidArgumentError(
            f"{parameter} must be a number of seconds from 0 to {MAX_LISTEN:g}, got {listen!r}",
            parameter=parameter,
            value=listen,
        )
    return float(listen)


async def diagnose(
    group: AddressLike,
    port: int | None = None,
    *,
    interface: InterfaceLike | None = None,
    sources: AddressesLike | None = None,
    listen: float = DEFAULT_LISTEN,
) -> tuple[Finding, ...]:
    """Say why multicast to ``group`` would not arrive here, check by check.

    It reads the host's state (interfaces, routes, sysctls, sockets on the
    port, the firewall if it can) and then, unless ``listen`` is 0, joins
    for real for ``listen`` seconds and notes what arrives. Nothing is
    changed on the host. Linux-only checks say ``unknown`` elsewhere.

    Args:
        group: The multicast group, as for :func:`open_multicast_receiver`.
        port: The UDP port; ``None`` is ``MULTICAST_PORT`` or 59259.
        interface: The interface to receive on; ``None`` checks the one the
            kernel's route chooses.
        sources: Senders of a source-specific join (``-s``).
        listen: Seconds to listen for real; 0 skips the listen.

    Returns:
        One :class:`Finding` per check, in a fixed order: interface, route,
        rp_filter, ssm, limits, buffers, scope, bridge, port, firewall,
        listen.

    Raises:
        MulticastError: An argument is invalid.

    Example:
        >>> async def main():
        ...     for finding in await diagnose("239.1.2.3", 5000, interface="eth0"):
        ...         print(finding.status, finding.check, finding.summary)
    """
    await trio.lowlevel.checkpoint()
    spec = validate_join_args(
        group, port, interface, sources=sources, interface_parameter="interface"
    )
    if len(spec.groups) != 1:
        raise InvalidGroupError(
            f"diagnose checks one group at a time, got {len(spec.groups)}", value=group
        )
    seconds = validate_listen(listen)
    address = spec.groups[0]
    # Reading the firewall runs a program: not on the event loop's thread.
    facts = await trio.to_thread.run_sync(gather, address, spec.port, spec.iface, spec.sources)
    if seconds:
        heard = await listen_live(spec, facts.interface, seconds)
        after = None
        with contextlib.suppress(OSError):
            after = read_udp_counters(address.version == 6)
        facts = dataclasses.replace(facts, listen=heard, udp_counters_after=after)
    return decide(facts)
