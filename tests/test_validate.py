"""Tests of the pure argument validation and of the environment defaults."""

from __future__ import annotations

import ast
import dataclasses
import enum
import ipaddress
import os
import re
import socket
import subprocess
import sys
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar, cast

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.budgets import FUZZ_EXAMPLES
from trio_mcast import _config
from trio_mcast._errors import (
    MAX_SHOWN,
    ConfigError,
    InvalidArgumentError,
    InvalidGroupError,
    InvalidInterfaceError,
    InvalidPortError,
    InvalidSourceError,
    MulticastError,
    describe,
)
from trio_mcast._validate import (
    MAX_COUNT,
    Interface,
    JoinSpec,
    validate_bool,
    validate_group,
    validate_interface,
    validate_join_args,
    validate_max_datagram_size,
    validate_port,
    validate_positive_int,
    validate_ttl,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from trio_mcast._validate import AddressesLike, AddressLike, InterfaceLike, IPAddress

pytestmark = pytest.mark.no_network

_ENV_VARIABLES: Final = (
    _config.ENV_GROUP,
    _config.ENV_PORT,
    _config.ENV_TTL,
    _config.ENV_BUFFER_SIZE,
    _config.ENV_BIND_ADDR,
)
_T = TypeVar("_T")
_REPO: Final = Path(__file__).resolve().parents[1]
_PACKAGE: Final = _REPO / "trio_mcast"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Defaults must not depend on the developer's shell.
    for variable in _ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def exact(message: str) -> str:
    """A ``match=`` pattern for exactly ``message``."""
    return f"^{re.escape(message)}$"


class FakeSocket:
    """Stands in for a socket: validation only needs ``fileno()``."""

    def fileno(self) -> int:
        return -1


class Color(enum.IntEnum):
    GREEN = 2


def _generator(items: Iterable[_T]) -> Iterator[_T]:
    yield from items


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        pytest.param("224.0.0.1", ["224.0.0.1"], id="str"),
        pytest.param(IPv4Address("239.1.2.3"), ["239.1.2.3"], id="ipv4-object"),
        pytest.param(IPv6Address("ff05::1"), ["ff05::1"], id="ipv6-object"),
        pytest.param("FF05:0:0:0::0001", ["ff05::1"], id="ipv6-normalised"),
        pytest.param(["239.0.0.2", "239.0.0.1"], ["239.0.0.2", "239.0.0.1"], id="list-order"),
        pytest.param(("239.0.0.1",), ["239.0.0.1"], id="tuple"),
        pytest.param({"239.0.0.1"}, ["239.0.0.1"], id="set"),
        pytest.param(frozenset({"ff05::2"}), ["ff05::2"], id="frozenset"),
        pytest.param(
            dict.fromkeys(["239.0.0.3", "239.0.0.1"]), ["239.0.0.3", "239.0.0.1"], id="dict"
        ),
        pytest.param(
            ["239.0.0.1", IPv4Address("239.0.0.2"), IPv4Address("239.0.0.1"), "239.0.0.2"],
            ["239.0.0.1", "239.0.0.2"],
            id="duplicates-across-spellings",
        ),
        pytest.param(
            ["ff15::1", "ff15:0::1", IPv6Address("FF15::1"), "ff05::1"],
            ["ff15::1", "ff05::1"],
            id="ipv6-duplicates",
        ),
        pytest.param(ipaddress.ip_interface("239.1.1.1/24"), ["239.1.1.1"], id="interface-obj"),
    ],
)
def test_groups_are_normalised(groups: AddressesLike, expected: list[str]) -> None:
    spec = validate_join_args(groups, 5000)
    assert spec.group_strings == tuple(expected)
    assert all(type(group) in {IPv4Address, IPv6Address} for group in spec.groups)
    family = socket.AF_INET6 if ":" in expected[0] else socket.AF_INET
    assert spec.family is family


def test_groups_from_a_generator() -> None:
    spec = validate_join_args(_generator(["239.0.0.1", "239.0.0.1", "239.0.0.9"]), 5000)
    assert spec.group_strings == ("239.0.0.1", "239.0.0.9")


@pytest.mark.parametrize(
    ("groups", "value", "message"),
    [
        pytest.param(
            "10.0.0.1",
            "10.0.0.1",
            "group '10.0.0.1' is not a multicast address (IPv4 multicast is 224.0.0.0/4)",
            id="ipv4-unicast",
        ),
        pytest.param(
            [IPv4Address("240.0.0.1")],
            IPv4Address("240.0.0.1"),
            "group '240.0.0.1' is not a multicast address (IPv4 multicast is 224.0.0.0/4)",
            id="ipv4-reserved-object",
        ),
        pytest.param(
            "fe80::1",
            "fe80::1",
            "group 'fe80::1' is not a multicast address (IPv6 multicast is ff00::/8)",
            id="ipv6-unicast",
        ),
        pytest.param(
            "::ffff:224.0.0.1",
            "::ffff:224.0.0.1",
            "group '::ffff:224.0.0.1' is not a multicast address (IPv6 multicast is ff00::/8)",
            id="ipv4-mapped",
        ),
        pytest.param(
            ["224.0.0.1", "ff02::1"],
            "ff02::1",
            "group 'ff02::1' is IPv6 but group '224.0.0.1' is IPv4:"
            " all groups must be of one family",
            id="mixed-families",
        ),
        pytest.param(
            [IPv6Address("ff02::1"), IPv4Address("224.0.0.1")],
            IPv4Address("224.0.0.1"),
            "group '224.0.0.1' is IPv4 but group 'ff02::1' is IPv6:"
            " all groups must be of one family",
            id="mixed-families-objects",
        ),
        pytest.param(
            [],
            [],
            "groups is empty: pass at least one group, or None for the default (224.0.0.1)",
            id="empty-list",
        ),
        pytest.param(
            (),
            (),
            "groups is empty: pass at least one group, or None for the default (224.0.0.1)",
            id="empty-tuple",
        ),
        pytest.param(
            "example.com",
            "example.com",
            "group 'example.com' is not an IP address literal (host names are not resolved)",
            id="host-name",
        ),
        pytest.param(
            "",
            "",
            "group '' is not an IP address literal (host names are not resolved)",
            id="empty-string",
        ),
        pytest.param(
            "224.0.0.256",
            "224.0.0.256",
            "group '224.0.0.256' is not an IP address literal (host names are not resolved)",
            id="bad-octet",
        ),
        pytest.param(
            "224.0.0.1%eth0",
            "224.0.0.1%eth0",
            "group '224.0.0.1%eth0' is not an IP address literal (host names are not resolved)",
            id="ipv4-with-percent",
        ),
        pytest.param(
            " 224.0.0.1",
            " 224.0.0.1",
            "group ' 224.0.0.1' has leading or trailing whitespace",
            id="leading-space",
        ),
        pytest.param(
            ["224.0.0.1\n"],
            "224.0.0.1\n",
            "group '224.0.0.1\\n' has leading or trailing whitespace",
            id="trailing-newline",
        ),
        pytest.param(
            "ff02::1%eth0",
            "ff02::1%eth0",
            "group 'ff02::1%eth0' has a zone index: pass the interface via iface instead",
            id="scoped-literal",
        ),
        pytest.param(
            [IPv6Address("ff02::1%2")],
            IPv6Address("ff02::1%2"),
            "group 'ff02::1%2' has a zone index: pass the interface via iface instead",
            id="scoped-object",
        ),
        pytest.param(
            b"224.0.0.1",
            b"224.0.0.1",
            "groups must be a multicast address (str, IPv4Address or IPv6Address) or an"
            " iterable of them, got b'224.0.0.1' (decode bytes first)",
            id="bytes",
        ),
        pytest.param(
            bytearray(b"\xe0\x00\x00\x01"),
            bytearray(b"\xe0\x00\x00\x01"),
            "groups must be a multicast address (str, IPv4Address or IPv6Address) or an"
            " iterable of them, got bytearray(b'\\xe0\\x00\\x00\\x01') (decode bytes first)",
            id="bytearray",
        ),
        pytest.param(
            [b"224.0.0.1"],
            b"224.0.0.1",
            "group b'224.0.0.1' is not an IP address: pass a str, IPv4Address or IPv6Address"
            " (decode bytes first)",
            id="bytes-element",
        ),
        pytest.param(
            42,
            42,
            "groups must be a multicast address (str, IPv4Address or IPv6Address) or an"
            " iterable of them, got 42",
            id="int",
        ),
        pytest.param(
            1.5,
            1.5,
            "groups must be a multicast address (str, IPv4Address or IPv6Address) or an"
            " iterable of them, got 1.5",
            id="float",
        ),
        pytest.param(
            [3758096385],
            3758096385,
            "group 3758096385 is not an IP address: pass a str, IPv4Address or IPv6Address",
            id="int-element",
        ),
        pytest.param(
            [["224.0.0.1"]],
            ["224.0.0.1"],
            "group ['224.0.0.1'] is not an IP address: pass a str, IPv4Address or IPv6Address",
            id="nested-list",
        ),
        pytest.param(
            ["224.0.0.1", None],
            None,
            "group None is not an IP address: pass a str, IPv4Address or IPv6Address",
            id="none-element",
        ),
        pytest.param(
            ["x" * 200],
            "x" * 200,
            f"group {repr('x' * 200)[:77]}... is not an IP address literal"
            " (host names are not resolved)",
            id="long-value-truncated",
        ),
    ],
)
def test_invalid_groups(groups: object, value: object, message: str) -> None:
    with pytest.raises(InvalidGroupError, match=exact(message)) as info:
        validate_join_args(groups, 5000)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "groups"
    assert info.value.value == value
    assert info.value.group is info.value.value


def test_empty_generator_is_rejected() -> None:
    groups: Iterator[str] = _generator([])
    with pytest.raises(InvalidGroupError, match=r"^groups is empty: ") as info:
        validate_join_args(groups, 5000)
    assert info.value.value is groups


def test_errors_of_the_callers_iterator_propagate() -> None:
    def broken() -> Iterator[str]:
        yield "224.0.0.1"
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        validate_join_args(broken(), 5000)


def test_huge_int_group_still_gets_a_message() -> None:
    # repr() of such an int raises ValueError; the message must be built anyway.
    with pytest.raises(InvalidGroupError, match=r"^group .* is not an IP address: "):
        validate_join_args([10**5000], 5000)  # type: ignore[list-item]  # wrong type on purpose: it must be rejected


@pytest.mark.parametrize("port", [1, 1024, 59259, 65535])
def test_valid_ports(port: int) -> None:
    assert validate_join_args("224.0.0.1", port).port == port
    assert validate_port(port) == port


def test_int_subclass_port_is_normalised() -> None:
    port = validate_port(Color.GREEN)
    assert port == 2
    assert type(port) is int


@pytest.mark.parametrize(
    ("port", "shown"),
    [
        pytest.param(True, "True", id="true"),
        pytest.param(False, "False", id="false"),
        pytest.param(0, "0", id="zero"),
        pytest.param(-1, "-1", id="negative"),
        pytest.param(65536, "65536", id="too-large"),
        pytest.param("1234", "'1234'", id="str"),
        pytest.param(1234.0, "1234.0", id="float"),
        pytest.param(b"1", "b'1'", id="bytes"),
        pytest.param([1234], "[1234]", id="list"),
    ],
)
def test_invalid_ports(port: object, shown: str) -> None:
    message = f"port must be an int in 1..65535, got {shown}"
    with pytest.raises(InvalidPortError, match=exact(message)) as info:
        validate_join_args("224.0.0.1", port)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "port"
    assert info.value.value == port
    assert info.value.port is info.value.value
    with pytest.raises(InvalidPortError, match=exact(message)):
        validate_port(port)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected


def test_validate_port_rejects_none_and_names_the_parameter() -> None:
    with pytest.raises(
        InvalidPortError, match=exact("dest_port must be an int in 1..65535, got None")
    ) as info:
        validate_port(None, parameter="dest_port")  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "dest_port"


@pytest.mark.parametrize(
    ("iface", "expected"),
    [
        pytest.param("eth0", Interface(name="eth0"), id="name"),
        pytest.param("eth0.100", Interface(name="eth0.100"), id="vlan"),
        pytest.param("eth0:1", Interface(name="eth0:1"), id="alias"),
        pytest.param("br-lan_2@x", Interface(name="br-lan_2@x"), id="punctuation"),
        pytest.param("a" * 15, Interface(name="a" * 15), id="fifteen-chars"),
        pytest.param("2", Interface(index=2), id="digits-are-an-index"),
        pytest.param(Interface(name="2"), Interface(name="2"), id="digit-name"),
        pytest.param(1, Interface(index=1), id="index-1"),
        pytest.param(2**32 - 1, Interface(index=2**32 - 1), id="index-max"),
        pytest.param(Color.GREEN, Interface(index=2), id="index-int-subclass"),
        pytest.param("10.0.0.1", Interface(address=IPv4Address("10.0.0.1")), id="address-str"),
        pytest.param(
            IPv4Address("127.0.0.1"), Interface(address=IPv4Address("127.0.0.1")), id="loopback"
        ),
        pytest.param(
            ipaddress.ip_interface("10.1.2.3/8"),
            Interface(address=IPv4Address("10.1.2.3")),
            id="address-interface-object",
        ),
        pytest.param("0.0.0.0", None, id="unspecified-str"),
        pytest.param(IPv4Address(0), None, id="unspecified-object"),
        pytest.param(None, None, id="none"),
        pytest.param(Interface(name="lo"), Interface(name="lo"), id="interface-name"),
        pytest.param(Interface(index=7), Interface(index=7), id="interface-index"),
    ],
)
def test_valid_ipv4_interfaces(iface: InterfaceLike | None, expected: Interface | None) -> None:
    assert validate_join_args("224.0.0.1", 5000, iface).iface == expected
    assert validate_interface(iface, socket.AF_INET) == expected


@pytest.mark.parametrize(
    ("iface", "expected"),
    [
        pytest.param("eth0", Interface(name="eth0"), id="name"),
        pytest.param(3, Interface(index=3), id="index"),
        pytest.param("0.0.0.0", None, id="unspecified"),
        pytest.param(None, None, id="none"),
    ],
)
def test_valid_ipv6_interfaces(iface: InterfaceLike | None, expected: Interface | None) -> None:
    assert validate_join_args("ff05::1", 5000, iface).iface == expected


def test_interface_index_is_a_plain_int() -> None:
    spec = validate_join_args("224.0.0.1", 5000, Color.GREEN)
    assert spec.iface is not None
    assert type(spec.iface.index) is int


_ADDRESS_HINT: Final = "; pass a local unicast IPv4 address, an interface name or an index"
_NAME_CHARS_RULE: Final = "only letters, digits and . _ - @ : are allowed"


@pytest.mark.parametrize(
    ("groups", "iface", "message"),
    [
        pytest.param(
            "ff02::1",
            "10.0.0.1",
            "iface '10.0.0.1' is an IPv4 address; IPv6 groups need an interface name or index",
            id="ipv4-address-for-ipv6",
        ),
        pytest.param(
            "ff02::1",
            IPv4Address("10.0.0.1"),
            "iface '10.0.0.1' is an IPv4 address; IPv6 groups need an interface name or index",
            id="ipv4-object-for-ipv6",
        ),
        pytest.param(
            "ff02::1",
            Interface(address=IPv4Address("10.0.0.1")),
            "iface '10.0.0.1' is an IPv4 address; IPv6 groups need an interface name or index",
            id="ipv4-interface-for-ipv6",
        ),
        pytest.param(
            "224.0.0.1",
            "",
            "iface '' is empty: pass an interface name, index or local IPv4 address,"
            " or None for the kernel's choice",
            id="empty",
        ),
        pytest.param(
            "224.0.0.1",
            "a" * 16,
            f"iface '{'a' * 16}' is not a valid interface name: at most 15 characters",
            id="too-long",
        ),
        pytest.param(
            "224.0.0.1",
            "eth 0",
            f"iface 'eth 0' is not a valid interface name: {_NAME_CHARS_RULE}",
            id="space",
        ),
        pytest.param(
            "224.0.0.1",
            " eth0",
            f"iface ' eth0' is not a valid interface name: {_NAME_CHARS_RULE}",
            id="leading-space",
        ),
        pytest.param(
            "224.0.0.1",
            "eth/0",
            f"iface 'eth/0' is not a valid interface name: {_NAME_CHARS_RULE}",
            id="slash",
        ),
        pytest.param(
            "224.0.0.1",
            "ethé",
            f"iface 'ethé' is not a valid interface name: {_NAME_CHARS_RULE}",
            id="non-ascii",
        ),
        pytest.param(
            "224.0.0.1",
            "fe80::1%eth0",
            "iface 'fe80::1%eth0' is an IPv6 address; pass an interface name or index",
            id="scoped-ipv6",
        ),
        pytest.param("224.0.0.1", ".", "iface '.' is not a valid interface name", id="dot"),
        pytest.param("224.0.0.1", "..", "iface '..' is not a valid interface name", id="dot-dot"),
        pytest.param(
            "224.0.0.1",
            "10.0.0.300",
            "iface '10.0.0.300' is not a valid IPv4 address",
            id="bad-octet",
        ),
        pytest.param(
            "224.0.0.1",
            "010.0.0.1",
            "iface '010.0.0.1' is not a valid IPv4 address",
            id="leading-zero",
        ),
        pytest.param(
            "224.0.0.1",
            "fe80::1",
            "iface 'fe80::1' is an IPv6 address; pass an interface name or index",
            id="ipv6-literal",
        ),
        pytest.param(
            "ff02::1",
            IPv6Address("fe80::1"),
            "iface 'fe80::1' is an IPv6 address; pass an interface name or index",
            id="ipv6-object",
        ),
        pytest.param(
            "224.0.0.1",
            "224.0.0.1",
            f"iface '224.0.0.1' is a multicast address{_ADDRESS_HINT}",
            id="multicast",
        ),
        pytest.param(
            "224.0.0.1",
            "255.255.255.255",
            f"iface '255.255.255.255' is a reserved address{_ADDRESS_HINT}",
            id="broadcast",
        ),
        pytest.param(
            "224.0.0.1",
            0,
            "iface 0 is not a valid interface index: indexes are 1..4294967295",
            id="index-zero",
        ),
        pytest.param(
            "224.0.0.1",
            -3,
            "iface -3 is not a valid interface index: indexes are 1..4294967295",
            id="index-negative",
        ),
        pytest.param(
            "224.0.0.1",
            2**32,
            "iface 4294967296 is not a valid interface index: indexes are 1..4294967295",
            id="index-too-large",
        ),
        pytest.param(
            "224.0.0.1",
            True,
            "iface must be an interface name (str), index (int) or local IPv4 address, got True",
            id="bool",
        ),
        pytest.param(
            "224.0.0.1",
            2.0,
            "iface must be an interface name (str), index (int) or local IPv4 address, got 2.0",
            id="float",
        ),
        pytest.param(
            "224.0.0.1",
            b"eth0",
            "iface must be an interface name (str), index (int) or local IPv4 address,"
            " got b'eth0'",
            id="bytes",
        ),
    ],
)
def test_invalid_interfaces(groups: str, iface: object, message: str) -> None:
    with pytest.raises(InvalidInterfaceError, match=exact(message)) as info:
        validate_join_args(groups, 5000, iface)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "iface"
    assert info.value.value == iface
    assert info.value.interface is info.value.value


def test_validate_interface_names_its_parameter() -> None:
    with pytest.raises(
        InvalidInterfaceError,
        match=exact("interface 0 is not a valid interface index: indexes are 1..4294967295"),
    ) as info:
        validate_interface(0, socket.AF_INET6, parameter="interface")
    assert info.value.parameter == "interface"


def test_validate_interface_rejects_other_families() -> None:
    with pytest.raises(
        InvalidArgumentError,
        match=exact(
            "family must be socket.AF_INET or socket.AF_INET6, got <AddressFamily.AF_UNIX: 1>"
        ),
    ) as info:
        validate_interface("eth0", socket.AF_UNIX)
    assert info.value.parameter == "family"


class TestInterfaceValue:
    def test_repr_and_label(self) -> None:
        assert repr(Interface(name="eth0")) == "Interface(name='eth0')"
        assert repr(Interface(index=3)) == "Interface(index=3)"
        address = Interface(address=IPv4Address("10.0.0.1"))
        assert repr(address) == "Interface(address=IPv4Address('10.0.0.1'))"
        assert Interface(name="eth0").label == "eth0"
        assert Interface(index=3).label == 3
        assert address.label == "10.0.0.1"

    def test_frozen_slotted_hashable(self) -> None:
        iface = Interface(name="eth0")
        with pytest.raises(dataclasses.FrozenInstanceError):
            iface.name = "eth1"  # type: ignore[misc]  # assigning to a frozen field on purpose
        assert not hasattr(iface, "__dict__")
        assert hash(iface) == hash(Interface(name="eth0"))
        assert Interface(index=Color.GREEN) == Interface(index=2)
        assert hash(Interface(index=Color.GREEN)) == hash(Interface(index=2))

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param(
                {},
                "an Interface needs exactly one of name, index or address, got name=None,"
                " index=None, address=None",
                id="none-set",
            ),
            pytest.param(
                {"name": "eth0", "index": 2},
                "an Interface needs exactly one of name, index or address, got name='eth0',"
                " index=2, address=None",
                id="two-set",
            ),
            pytest.param(
                {"name": "eth 0"},
                f"iface 'eth 0' is not a valid interface name: {_NAME_CHARS_RULE}",
                id="bad-name",
            ),
            pytest.param(
                {"name": 5},
                "iface 5 is not a valid interface name: it must be a non-empty str",
                id="name-not-str",
            ),
            pytest.param(
                {"index": True},
                "iface True is not a valid interface index: indexes are 1..4294967295",
                id="bool-index",
            ),
            pytest.param(
                {"address": "10.0.0.1"},
                "iface '10.0.0.1' is not an IPv4 address",
                id="address-str",
            ),
            pytest.param(
                {"address": IPv4Address(0)},
                "an Interface cannot have the unspecified address 0.0.0.0:"
                " use None for the kernel's choice",
                id="unspecified",
            ),
            pytest.param(
                {"address": IPv4Address("239.0.0.1")},
                f"iface '239.0.0.1' is a multicast address{_ADDRESS_HINT}",
                id="multicast",
            ),
        ],
    )
    def test_invalid_construction(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(InvalidInterfaceError, match=exact(message)) as info:
            Interface(**kwargs)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        assert info.value.parameter == "iface"


@pytest.mark.parametrize(
    ("groups", "bind_group", "expected"),
    [
        pytest.param("224.0.0.1", None, None, id="none"),
        pytest.param("224.0.0.1", "224.0.0.1", IPv4Address("224.0.0.1"), id="single"),
        pytest.param(
            ["239.0.0.1", "239.0.0.2"],
            IPv4Address("239.0.0.2"),
            IPv4Address("239.0.0.2"),
            id="object",
        ),
        pytest.param(
            ["ff15::1", "ff05::2"], "FF05:0::2", IPv6Address("ff05::2"), id="ipv6-spelling"
        ),
    ],
)
def test_valid_bind_groups(
    groups: AddressesLike, bind_group: AddressLike | None, expected: IPAddress | None
) -> None:
    assert validate_join_args(groups, 5000, bind_group=bind_group).bind_group == expected


@pytest.mark.parametrize(
    ("groups", "bind_group", "message"),
    [
        pytest.param(
            "224.0.0.1",
            "10.0.0.1",
            "bind_group '10.0.0.1' is not a multicast address (IPv4 multicast is 224.0.0.0/4)",
            id="unicast",
        ),
        pytest.param(
            "224.0.0.1",
            "ff02::1",
            "bind_group 'ff02::1' is IPv6 but the groups are IPv4:"
            " bind_group must be one of the groups",
            id="family",
        ),
        pytest.param(
            ["224.0.0.1", "224.0.0.3"],
            "224.0.0.2",
            "bind_group '224.0.0.2' is not one of the groups (224.0.0.1, 224.0.0.3)",
            id="not-a-member",
        ),
        pytest.param(
            "224.0.0.1",
            ["224.0.0.1"],
            "bind_group ['224.0.0.1'] is not an IP address:"
            " pass a str, IPv4Address or IPv6Address",
            id="list",
        ),
        pytest.param(
            "224.0.0.1",
            "group.example",
            "bind_group 'group.example' is not an IP address literal"
            " (host names are not resolved)",
            id="host-name",
        ),
    ],
)
def test_invalid_bind_groups(groups: AddressesLike, bind_group: object, message: str) -> None:
    with pytest.raises(InvalidGroupError, match=exact(message)) as info:
        validate_join_args(groups, 5000, bind_group=bind_group)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "bind_group"
    assert info.value.value == bind_group
    assert info.value.group is info.value.value


@pytest.mark.parametrize(
    ("groups", "sources", "expected"),
    [
        pytest.param("232.1.1.1", None, [], id="none"),
        pytest.param("232.1.1.1", [], [], id="empty-list"),
        pytest.param("232.1.1.1", (), [], id="empty-tuple"),
        pytest.param("232.1.1.1", "10.0.0.1", ["10.0.0.1"], id="str"),
        pytest.param("232.1.1.1", IPv4Address("127.0.0.1"), ["127.0.0.1"], id="loopback-obj"),
        pytest.param("224.0.0.1", ["10.0.0.1"], ["10.0.0.1"], id="asm-range-allowed"),
        pytest.param(
            "232.1.1.1",
            ["10.0.0.2", "10.0.0.1", IPv4Address("10.0.0.2")],
            ["10.0.0.2", "10.0.0.1"],
            id="duplicates-order",
        ),
        pytest.param(
            "ff3e::1234",
            ["2001:db8::1", "FE80::1", "2001:DB8::1"],
            ["2001:db8::1", "fe80::1"],
            id="ipv6",
        ),
    ],
)
def test_valid_sources(
    groups: AddressesLike, sources: AddressesLike | None, expected: list[str]
) -> None:
    spec = validate_join_args(groups, 5000, sources=sources)
    assert spec.source_strings == tuple(expected)
    assert all(type(source) in {IPv4Address, IPv6Address} for source in spec.sources)


@pytest.mark.parametrize(
    ("groups", "sources", "value", "message"),
    [
        pytest.param(
            "232.1.1.1",
            "232.1.1.2",
            "232.1.1.2",
            "source '232.1.1.2' is a multicast address: sources must be unicast",
            id="multicast",
        ),
        pytest.param(
            "232.1.1.1",
            ["10.0.0.1", "0.0.0.0"],
            "0.0.0.0",
            "source '0.0.0.0' is the unspecified address: sources must be unicast",
            id="unspecified-v4",
        ),
        pytest.param(
            "ff3e::1",
            [IPv6Address("::")],
            IPv6Address("::"),
            "source '::' is the unspecified address: sources must be unicast",
            id="unspecified-v6",
        ),
        pytest.param(
            "232.1.1.1",
            "255.255.255.255",
            "255.255.255.255",
            "source '255.255.255.255' is the broadcast address: sources must be unicast",
            id="broadcast",
        ),
        pytest.param(
            "ff3e::1",
            "::ffff:10.0.0.1",
            "::ffff:10.0.0.1",
            "source '::ffff:10.0.0.1' is an IPv4-mapped IPv6 address:"
            " pass IPv4 sources with IPv4 groups",
            id="mapped",
        ),
        pytest.param(
            "232.1.1.1",
            "2001:db8::1",
            "2001:db8::1",
            "source '2001:db8::1' is IPv6 but the groups are IPv4:"
            " sources must be of the groups' family",
            id="v6-source-v4-groups",
        ),
        pytest.param(
            "ff3e::1",
            [IPv4Address("10.0.0.1")],
            IPv4Address("10.0.0.1"),
            "source '10.0.0.1' is IPv4 but the groups are IPv6:"
            " sources must be of the groups' family",
            id="v4-source-v6-groups",
        ),
        pytest.param(
            "232.1.1.1",
            "source.example",
            "source.example",
            "source 'source.example' is not an IP address literal (host names are not resolved)",
            id="host-name",
        ),
        pytest.param(
            "232.1.1.1",
            "",
            "",
            "source '' is not an IP address literal (host names are not resolved)",
            id="empty-string",
        ),
        pytest.param(
            "ff3e::1",
            "fe80::1%eth0",
            "fe80::1%eth0",
            "source 'fe80::1%eth0' has a zone index: pass the interface via iface instead",
            id="scoped",
        ),
        pytest.param(
            "232.1.1.1",
            7,
            7,
            "sources must be a unicast address (str, IPv4Address or IPv6Address) or an"
            " iterable of them, got 7",
            id="int",
        ),
        pytest.param(
            "232.1.1.1",
            b"10.0.0.1",
            b"10.0.0.1",
            "sources must be a unicast address (str, IPv4Address or IPv6Address) or an"
            " iterable of them, got b'10.0.0.1' (decode bytes first)",
            id="bytes",
        ),
        pytest.param(
            "232.1.1.1",
            [("10.0.0.1",)],
            ("10.0.0.1",),
            "source ('10.0.0.1',) is not an IP address: pass a str, IPv4Address or IPv6Address",
            id="nested",
        ),
    ],
)
def test_invalid_sources(groups: str, sources: object, value: object, message: str) -> None:
    with pytest.raises(InvalidSourceError, match=exact(message)) as info:
        validate_join_args(groups, 5000, sources=sources)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "sources"
    assert info.value.value == value
    assert info.value.source is info.value.value


def test_isock_is_stored_unchanged_and_ignored_by_equality() -> None:
    sock = FakeSocket()
    spec = validate_join_args("224.0.0.1", 5000, isock=sock)
    assert spec.isock is sock
    plain = validate_join_args("224.0.0.1", 5000)
    assert spec == plain
    assert hash(spec) == hash(plain)
    assert "isock" not in repr(spec)


@pytest.mark.parametrize(
    ("isock", "shown"),
    [
        pytest.param(3, "3", id="int-fd"),
        pytest.param("sock", "'sock'", id="str"),
        pytest.param(object, "<class 'object'>", id="class-without-fileno"),
    ],
)
def test_invalid_isock(isock: object, shown: str) -> None:
    message = f"isock must be a socket (an object with a fileno() method), got {shown}"
    with pytest.raises(InvalidArgumentError, match=exact(message)) as info:
        validate_join_args("224.0.0.1", 5000, isock=isock)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "isock"
    assert info.value.value is isock


def test_join_spec_shape() -> None:
    spec = validate_join_args(
        ["232.1.1.1", "232.1.1.2"], 4000, "eth0", "232.1.1.2", sources=["10.0.0.1"]
    )
    assert spec == JoinSpec(
        family=socket.AF_INET,
        groups=(IPv4Address("232.1.1.1"), IPv4Address("232.1.1.2")),
        port=4000,
        iface=Interface(name="eth0"),
        bind_group=IPv4Address("232.1.1.2"),
        sources=(IPv4Address("10.0.0.1"),),
    )
    assert spec.group_strings == ("232.1.1.1", "232.1.1.2")
    assert spec.source_strings == ("10.0.0.1",)
    assert not hasattr(spec, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.port = 1  # type: ignore[misc]  # assigning to a frozen field on purpose


@pytest.mark.parametrize("ttl", [0, 1, 255])
def test_valid_ttl(ttl: int) -> None:
    assert validate_ttl(ttl) == ttl


@pytest.mark.parametrize(
    ("ttl", "shown"), [(-1, "-1"), (256, "256"), (True, "True"), ("1", "'1'"), (1.0, "1.0")]
)
def test_invalid_ttl(ttl: object, shown: str) -> None:
    with pytest.raises(
        InvalidArgumentError, match=exact(f"ttl must be an int in 0..255, got {shown}")
    ) as info:
        validate_ttl(ttl)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "ttl"
    assert info.value.value == ttl


def test_validate_ttl_names_its_parameter() -> None:
    with pytest.raises(
        InvalidArgumentError, match=exact("hops must be an int in 0..255, got 300")
    ) as info:
        validate_ttl(300, parameter="hops")
    assert info.value.parameter == "hops"


@pytest.mark.parametrize("size", [1, 1500, 65535])
def test_valid_max_datagram_size(size: int) -> None:
    assert validate_max_datagram_size(size) == size


@pytest.mark.parametrize(("size", "shown"), [(0, "0"), (65536, "65536"), (False, "False")])
def test_invalid_max_datagram_size(size: object, shown: str) -> None:
    message = f"max_datagram_size must be an int in 1..65535, got {shown}"
    with pytest.raises(InvalidArgumentError, match=exact(message)) as info:
        validate_max_datagram_size(size)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert info.value.parameter == "max_datagram_size"


def test_validate_positive_int() -> None:
    assert validate_positive_int(1, "count") == 1
    assert validate_positive_int(10**30, "count") == 10**30
    for value, shown in [(0, "0"), (-5, "-5"), (True, "True"), (1.0, "1.0"), (None, "None")]:
        with pytest.raises(
            InvalidArgumentError, match=exact(f"count must be a positive int, got {shown}")
        ) as info:
            validate_positive_int(value, "count")  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        assert info.value.parameter == "count"
        assert info.value.value == value


def test_validate_group() -> None:
    assert validate_group("FF02::1") == IPv6Address("ff02::1")
    assert validate_group(IPv4Address("239.1.1.1")) == IPv4Address("239.1.1.1")
    with pytest.raises(
        InvalidGroupError,
        match=exact(
            "target '10.0.0.1' is not a multicast address (IPv4 multicast is 224.0.0.0/4)"
        ),
    ) as info:
        validate_group("10.0.0.1", parameter="target")
    assert info.value.parameter == "target"
    with pytest.raises(
        InvalidGroupError,
        match=exact("group None is not an IP address: pass a str, IPv4Address or IPv6Address"),
    ):
        validate_group(None)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected


def test_none_uses_the_built_in_defaults() -> None:
    spec = validate_join_args(None, None)
    assert spec.group_strings == (_config.DEFAULT_GROUP,)
    assert spec.port == _config.DEFAULT_PORT
    assert spec.iface is None


def test_none_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTICAST_GROUP", "239.9.9.9")
    monkeypatch.setenv("MULTICAST_PORT", "4321")
    monkeypatch.setenv("MULTICAST_BIND_ADDR", "127.0.0.1")
    spec = validate_join_args(None, None)
    assert spec.group_strings == ("239.9.9.9",)
    assert spec.port == 4321
    assert spec.iface == Interface(address=IPv4Address("127.0.0.1"))


def test_explicit_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTICAST_GROUP", "239.9.9.9")
    monkeypatch.setenv("MULTICAST_PORT", "4321")
    monkeypatch.setenv("MULTICAST_BIND_ADDR", "127.0.0.1")
    spec = validate_join_args("224.0.0.5", 1000, "eth0")
    assert spec.group_strings == ("224.0.0.5",)
    assert spec.port == 1000
    assert spec.iface == Interface(name="eth0")


def test_ipv6_group_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTICAST_GROUP", " ff05::123 ")
    spec = validate_join_args(None, 5000)
    assert spec.family is socket.AF_INET6
    assert spec.group_strings == ("ff05::123",)


def test_unspecified_iface_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # "0.0.0.0" means the same as None, so feeding a spec back stays idempotent.
    monkeypatch.setenv("MULTICAST_BIND_ADDR", "10.1.1.1")
    spec = validate_join_args("224.0.0.1", 5000, "0.0.0.0")
    assert spec.iface == Interface(address=IPv4Address("10.1.1.1"))
    assert validate_join_args(spec.groups, spec.port, spec.iface) == spec


def test_bind_addr_of_zero_means_the_kernels_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTICAST_BIND_ADDR", "0.0.0.0")
    assert validate_join_args("224.0.0.1", 5000).iface is None


def test_bind_addr_is_not_read_for_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTICAST_BIND_ADDR", "not an address")
    assert validate_join_args("ff05::1", 5000).iface is None


@pytest.mark.parametrize(
    ("variable", "raw", "groups", "port"),
    [
        pytest.param("MULTICAST_GROUP", "10.0.0.1", None, 5000, id="group-unicast"),
        pytest.param("MULTICAST_GROUP", "example.com", None, 5000, id="group-name"),
        pytest.param("MULTICAST_PORT", "http", "224.0.0.1", None, id="port-text"),
        pytest.param("MULTICAST_PORT", "70000", "224.0.0.1", None, id="port-range"),
        pytest.param("MULTICAST_BIND_ADDR", "224.0.0.1", "224.0.0.1", 5000, id="bind-multicast"),
        pytest.param("MULTICAST_BIND_ADDR", "eth0", "224.0.0.1", 5000, id="bind-name"),
    ],
)
def test_invalid_environment_raises_config_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, groups: str | None, port: int | None
) -> None:
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ConfigError, match=rf"^environment variable {variable}=") as info:
        validate_join_args(groups, port)
    assert info.value.variable == variable
    assert info.value.value == raw


def test_unused_invalid_environment_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in _ENV_VARIABLES:
        monkeypatch.setenv(variable, "garbage")
    spec = validate_join_args("224.0.0.1", 5000, "eth0")
    assert spec.port == 5000


class TestConfig:
    """The ``_config`` defaults, read through ``environ=`` and ``os.environ``."""

    @pytest.mark.parametrize(
        ("function", "variable", "raw", "expected"),
        [
            pytest.param(
                _config.default_group, "MULTICAST_GROUP", "239.1.1.1", "239.1.1.1", id="group"
            ),
            pytest.param(
                _config.default_group, "MULTICAST_GROUP", "FF05::0001", "ff05::1", id="group6"
            ),
            pytest.param(_config.default_port, "MULTICAST_PORT", "1234", 1234, id="port"),
            pytest.param(_config.default_port, "MULTICAST_PORT", "65535", 65535, id="port-max"),
            pytest.param(_config.default_ttl, "MULTICAST_TTL", "0", 0, id="ttl-min"),
            pytest.param(_config.default_ttl, "MULTICAST_TTL", "255", 255, id="ttl-max"),
            pytest.param(
                _config.default_max_datagram_size, "MULTICAST_BUFFER_SIZE", "1500", 1500, id="size"
            ),
            pytest.param(
                _config.default_bind_addr, "MULTICAST_BIND_ADDR", "10.0.0.1", "10.0.0.1", id="bind"
            ),
            pytest.param(
                _config.default_bind_addr, "MULTICAST_BIND_ADDR", "0.0.0.0", None, id="bind-any"
            ),
        ],
    )
    def test_valid(
        self,
        monkeypatch: pytest.MonkeyPatch,
        function: Callable[..., object],
        variable: str,
        raw: str,
        expected: object,
    ) -> None:
        assert function({variable: raw}) == expected
        monkeypatch.setenv(variable, raw)
        assert function() == expected

    @pytest.mark.parametrize(
        ("function", "expected"),
        [
            (_config.default_group, _config.DEFAULT_GROUP),
            (_config.default_port, _config.DEFAULT_PORT),
            (_config.default_ttl, _config.DEFAULT_TTL),
            (_config.default_max_datagram_size, _config.MAX_DATAGRAM_SIZE),
            (_config.default_bind_addr, None),
        ],
    )
    def test_unset_or_blank(self, function: Callable[..., object], expected: object) -> None:
        assert function() == expected
        assert function({}) == expected
        for variable in _ENV_VARIABLES:
            assert function({variable: "  "}) == expected

    @pytest.mark.parametrize(
        ("function", "variable", "raw", "rule"),
        [
            pytest.param(
                _config.default_group,
                "MULTICAST_GROUP",
                "nonsense",
                "expected a multicast address (IPv4 224.0.0.0/4 or IPv6 ff00::/8)",
                id="group-text",
            ),
            pytest.param(
                _config.default_group,
                "MULTICAST_GROUP",
                "10.0.0.1",
                "expected a multicast address (IPv4 224.0.0.0/4 or IPv6 ff00::/8)",
                id="group-unicast",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "12ab",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-text",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "0",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-low",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "65536",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-high",
            ),
            pytest.param(
                _config.default_ttl,
                "MULTICAST_TTL",
                "1.5",
                "expected an integer in 0..255 (ASCII digits only)",
                id="ttl-text",
            ),
            pytest.param(
                _config.default_ttl,
                "MULTICAST_TTL",
                "256",
                "expected an integer in 0..255 (ASCII digits only)",
                id="ttl-high",
            ),
            pytest.param(
                _config.default_ttl,
                "MULTICAST_TTL",
                "-1",
                "expected an integer in 0..255 (ASCII digits only)",
                id="ttl-negative",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "\uff15\uff19\uff12\uff15\uff19",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-fullwidth-digits",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "\u0665\u0660\u0660\u0660",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-arabic-indic-digits",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "5_000",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-underscore",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "+5000",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-plus-sign",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                "5000\n",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-newline",
            ),
            pytest.param(
                _config.default_port,
                "MULTICAST_PORT",
                " 1234 ",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="port-spaces",
            ),
            pytest.param(
                _config.default_max_datagram_size,
                "MULTICAST_BUFFER_SIZE",
                "big",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="size-text",
            ),
            pytest.param(
                _config.default_max_datagram_size,
                "MULTICAST_BUFFER_SIZE",
                "65536",
                "expected an integer in 1..65535 (ASCII digits only)",
                id="size-high",
            ),
            pytest.param(
                _config.default_bind_addr,
                "MULTICAST_BIND_ADDR",
                "eth0",
                "expected a local IPv4 unicast address, or 0.0.0.0 for the kernel's choice",
                id="bind-text",
            ),
            pytest.param(
                _config.default_bind_addr,
                "MULTICAST_BIND_ADDR",
                "255.255.255.255",
                "expected a local IPv4 unicast address, or 0.0.0.0 for the kernel's choice",
                id="bind-broadcast",
            ),
            pytest.param(
                _config.default_bind_addr,
                "MULTICAST_BIND_ADDR",
                "::1",
                "expected a local IPv4 unicast address, or 0.0.0.0 for the kernel's choice",
                id="bind-ipv6",
            ),
        ],
    )
    def test_invalid(
        self,
        monkeypatch: pytest.MonkeyPatch,
        function: Callable[..., object],
        variable: str,
        raw: str,
        rule: str,
    ) -> None:
        message = f"environment variable {variable}={raw!r} is invalid: {rule}"
        with pytest.raises(ConfigError, match=exact(message)) as info:
            function({variable: raw})
        assert info.value.variable == variable
        assert info.value.value == raw
        monkeypatch.setenv(variable, raw)
        with pytest.raises(ConfigError, match=exact(message)):
            function()


def test_importing_reads_no_environment_and_keeps_the_default_timeout() -> None:
    # A fresh interpreter, because this process imported everything long ago.
    code = (
        "import pkgutil, socket, sys\n"
        "socket.setdefaulttimeout(12.5)\n"
        "import trio_mcast, trio_mcast._config, trio_mcast._validate\n"
        "for module in pkgutil.iter_modules(trio_mcast.__path__, 'trio_mcast.'):\n"
        "    if not module.name.endswith('__main__'):\n"
        "        __import__(module.name)\n"
        "assert socket.getdefaulttimeout() == 12.5, socket.getdefaulttimeout()\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(_REPO)}
    env.update(dict.fromkeys(_ENV_VARIABLES, "garbage"))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.parametrize("module", ["_validate.py", "_config.py", "_errors.py"])
def test_pure_modules_import_neither_trio_nor_sockets(module: str) -> None:
    tree = ast.parse((_PACKAGE / module).read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module == "socket":
                # Constants and the enum type only: nothing that could make a socket.
                assert {alias.name for alias in node.names} <= {
                    "AF_INET",
                    "AF_INET6",
                    "AddressFamily",
                }
            else:
                modules.add(node.module)
    assert not {name.partition(".")[0] for name in modules} & {"trio", "socket"}


V4_GROUPS: Final = st.ip_addresses(v=4, network="224.0.0.0/4")
V6_GROUPS: Final = st.ip_addresses(v=6, network="ff00::/8")
V4_SOURCES: Final = st.ip_addresses(v=4).filter(
    lambda a: not (a.is_multicast or a.is_unspecified or a == IPv4Address("255.255.255.255"))
)
V6_SOURCES: Final = st.ip_addresses(v=6).filter(
    lambda a: (
        not (a.is_multicast or a.is_unspecified or cast("IPv6Address", a).ipv4_mapped is not None)
    )
)


# Names that start with a non-hex letter can never parse as an address.
def _needs_an_interface(group: IPAddress) -> bool:
    return group.version == 6 and group.packed[1] & 0x0F in (1, 2)


IFACE_NAMES: Final = st.from_regex(r"[g-zG-Z][A-Za-z0-9._@-]{0,11}(:[0-9]{1,2})?", fullmatch=True)
IFACE_INDEXES: Final = st.integers(1, 2**32 - 1)
IFACE_ADDRESSES: Final = st.ip_addresses(v=4).filter(
    lambda a: not (a.is_multicast or cast("IPv4Address", a) in ipaddress.ip_network("240.0.0.0/4"))
)
CONTAINERS: Final = st.sampled_from(["list", "tuple", "generator", "dict", "set", "single"])


def _spellings(address: IPAddress) -> st.SearchStrategy[AddressLike]:
    forms: list[AddressLike] = [address, str(address), address.exploded, address.exploded.upper()]
    if isinstance(address, IPv4Address):
        forms.append(ipaddress.IPv4Interface(f"{address}/32"))
    return st.sampled_from(forms)


def _contain(kind: str, items: list[AddressLike]) -> tuple[AddressesLike, list[AddressLike]]:
    """Wrap ``items`` in a container; also return the order iteration will see."""
    if kind == "single" and len(items) == 1:
        return items[0], items
    if kind == "tuple":
        return tuple(items), items
    if kind == "generator":
        return cast("AddressesLike", _generator(items)), items
    if kind == "dict":
        mapping = dict.fromkeys(items)
        return mapping, list(mapping)
    if kind == "set":
        unordered = set(items)
        return unordered, list(unordered)
    return list(items), items


def _dedup(items: Iterable[AddressLike]) -> tuple[IPAddress, ...]:
    return tuple(
        dict.fromkeys(ipaddress.ip_address(str(item).partition("/")[0]) for item in items)
    )


class JoinCase(NamedTuple):
    groups: AddressesLike
    port: int | None
    iface: InterfaceLike | None
    bind_group: AddressLike | None
    sources: AddressesLike | None
    family: socket.AddressFamily
    expected_groups: tuple[IPAddress, ...]
    expected_port: int
    expected_iface: Interface | None
    expected_bind_group: IPAddress | None
    expected_sources: tuple[IPAddress, ...]


@st.composite
def join_cases(draw: st.DrawFn) -> JoinCase:
    ipv6 = draw(st.booleans())
    addresses = draw(st.lists(V6_GROUPS if ipv6 else V4_GROUPS, min_size=1, max_size=4))
    # Picking with replacement makes duplicates likely, in several spellings.
    picks = draw(st.lists(st.sampled_from(addresses), min_size=1, max_size=8))
    spelled = [draw(_spellings(address)) for address in picks]
    groups, group_order = _contain(draw(CONTAINERS), spelled)

    port = draw(st.none() | st.integers(1, 65535))

    iface_kind = draw(st.sampled_from(["none", "name", "index", "address", "object"]))
    iface: InterfaceLike | None = None
    expected_iface: Interface | None = None
    if iface_kind == "name":
        iface = draw(IFACE_NAMES)
        expected_iface = Interface(name=iface)
    elif iface_kind == "index":
        iface = draw(IFACE_INDEXES)
        expected_iface = Interface(index=iface)
    elif iface_kind == "address" and not ipv6:
        address = cast("IPv4Address", draw(IFACE_ADDRESSES))
        address_forms: list[InterfaceLike] = [address, str(address)]
        iface = draw(st.sampled_from(address_forms))
        expected_iface = None if address.is_unspecified else Interface(address=address)
    elif iface_kind == "object":
        expected_iface = draw(
            st.builds(Interface, name=IFACE_NAMES) | st.builds(Interface, index=IFACE_INDEXES)
        )
        iface = expected_iface

    if expected_iface is None and any(map(_needs_an_interface, _dedup(group_order))):
        # Link- and interface-scoped IPv6 groups exist once per link: no
        # interface is an error for them (tested on its own).
        iface = expected_iface = Interface(name="eth0")

    bind_group = draw(st.none() | st.sampled_from(spelled))
    expected_bind_group = None if bind_group is None else _dedup([bind_group])[0]

    source_addresses = draw(st.lists(V6_SOURCES if ipv6 else V4_SOURCES, max_size=3))
    sources: AddressesLike | None = None
    expected_sources: tuple[IPAddress, ...] = ()
    if draw(st.booleans()):
        picked = (
            draw(st.lists(st.sampled_from(source_addresses), max_size=5))
            if source_addresses
            else []
        )
        spelled_sources = [draw(_spellings(address)) for address in picked]
        sources, source_order = _contain(draw(CONTAINERS), spelled_sources)
        expected_sources = _dedup(source_order)

    return JoinCase(
        groups=groups,
        port=port,
        iface=iface,
        bind_group=bind_group,
        sources=sources,
        family=socket.AF_INET6 if ipv6 else socket.AF_INET,
        expected_groups=_dedup(group_order),
        expected_port=_config.DEFAULT_PORT if port is None else port,
        expected_iface=expected_iface,
        expected_bind_group=expected_bind_group,
        expected_sources=expected_sources,
    )


JOIN_CASES: Final = join_cases()


@given(case=JOIN_CASES)
def test_valid_arguments_normalise_idempotently(case: JoinCase) -> None:
    spec = validate_join_args(
        case.groups, case.port, case.iface, case.bind_group, sources=case.sources
    )
    assert spec.family is case.family
    assert spec.groups == case.expected_groups
    assert spec.port == case.expected_port
    assert spec.iface == case.expected_iface
    assert spec.bind_group == case.expected_bind_group
    assert spec.sources == case.expected_sources
    assert len(set(spec.groups)) == len(spec.groups)
    assert all(type(address) in {IPv4Address, IPv6Address} for address in spec.groups)

    again = validate_join_args(
        spec.groups, spec.port, spec.iface, spec.bind_group, sources=spec.sources
    )
    assert again == spec
    assert hash(again) == hash(spec)
    from_text = validate_join_args(
        spec.group_strings,
        spec.port,
        spec.iface,
        None if spec.bind_group is None else str(spec.bind_group),
        sources=spec.source_strings,
    )
    assert from_text == spec


_HASHABLE: Final = st.one_of(
    st.none(), st.integers(), st.text(), st.binary(), st.booleans(), st.ip_addresses()
)
_SCALARS: Final = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(),
    st.binary(),
    st.booleans(),
    st.ip_addresses(),
    st.builds(bytearray, st.binary()),
    st.sampled_from(["224.0.0.1", "ff02::1", "10.0.0.1", "eth0", "0.0.0.0", "ff02::1%lo"]),
)
ANY_VALUE: Final[st.SearchStrategy[object]] = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(_HASHABLE, children, max_size=4),
        st.frozensets(_HASHABLE, max_size=4),
    ),
    max_leaves=12,
)
# Each argument mixes arbitrary values with valid ones, so that the later
# checks (iface, bind_group, sources) are reached often enough to be fuzzed.
ANY_GROUPS: Final = st.one_of(
    ANY_VALUE, st.lists(V4_GROUPS, min_size=1, max_size=3), st.lists(V6_GROUPS, max_size=3)
)
ANY_PORT: Final = st.one_of(ANY_VALUE, st.integers(1, 65535))
ANY_IFACE: Final = st.one_of(
    ANY_VALUE,
    IFACE_NAMES,
    IFACE_INDEXES,
    IFACE_ADDRESSES,
    st.builds(Interface, name=IFACE_NAMES),
)
ANY_BIND_GROUP: Final = st.one_of(ANY_VALUE, st.none(), V4_GROUPS, V6_GROUPS)
ANY_SOURCES: Final = st.one_of(
    ANY_VALUE, st.none(), st.lists(V4_SOURCES, max_size=3), st.lists(V6_SOURCES, max_size=3)
)
ANY_ISOCK: Final = st.one_of(st.none(), ANY_VALUE, st.builds(FakeSocket))


@settings(max_examples=FUZZ_EXAMPLES)
@given(
    groups=ANY_GROUPS,
    port=ANY_PORT,
    iface=ANY_IFACE,
    bind_group=ANY_BIND_GROUP,
    isock=ANY_ISOCK,
    sources=ANY_SOURCES,
)
def test_any_input_gives_a_spec_or_a_multicast_error(
    groups: object, port: object, iface: object, bind_group: object, isock: object, sources: object
) -> None:
    outcome: JoinSpec | MulticastError
    try:
        outcome = validate_join_args(
            groups,  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
            port,  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
            iface,  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
            bind_group,  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
            isock,  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
            sources=sources,  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        )
    except MulticastError as error:
        outcome = error
    event(type(outcome).__name__)
    if isinstance(outcome, InvalidArgumentError):
        assert outcome.parameter in {"groups", "port", "iface", "bind_group", "isock", "sources"}
    if isinstance(outcome, MulticastError):
        assert str(outcome)
        return
    assert outcome.groups
    version = 4 if outcome.family == socket.AF_INET else 6
    assert all(address.version == version and address.is_multicast for address in outcome.groups)
    assert all(address.version == version for address in outcome.sources)


@settings(max_examples=FUZZ_EXAMPLES)
@given(value=ANY_VALUE)
def test_small_validators_accept_or_raise_multicast_errors(value: object) -> None:
    validators: list[Callable[[object], object]] = [
        validate_port,  # type: ignore[list-item]  # wrong type on purpose: it must be rejected
        validate_ttl,  # type: ignore[list-item]  # wrong type on purpose: it must be rejected
        validate_group,  # type: ignore[list-item]  # wrong type on purpose: it must be rejected
        validate_max_datagram_size,  # type: ignore[list-item]  # wrong type on purpose: it must be rejected
        lambda v: validate_positive_int(v, "count"),  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        lambda v: validate_interface(v, socket.AF_INET),  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        lambda v: validate_interface(v, socket.AF_INET6),  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    ]
    for validator in validators:
        try:
            validator(value)
        except MulticastError as error:
            message = str(error)
        else:
            message = "accepted"
        assert message


def test_a_long_environment_value_is_shown_cut_short() -> None:
    raw = "9" * 500
    with pytest.raises(ConfigError) as info:
        _config.default_port({"MULTICAST_PORT": raw})
    assert str(info.value) == (
        f"environment variable MULTICAST_PORT={describe(raw)} is invalid:"
        " expected an integer in 1..65535 (ASCII digits only)"
    )
    assert len(describe(raw)) == MAX_SHOWN
    assert info.value.value == raw


@pytest.mark.parametrize("value", ["no", "", 0, 1, None, "False"])
def test_flags_must_be_bools(value: object) -> None:
    with pytest.raises(
        InvalidArgumentError, match=exact(f"metadata must be True or False, got {value!r}")
    ) as info:
        validate_bool(value, "metadata")  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    assert (info.value.parameter, info.value.value) == ("metadata", value)


@pytest.mark.parametrize("value", [True, False])
def test_bools_pass_as_themselves(value: bool) -> None:
    assert validate_bool(value, "metadata") is value


@pytest.mark.parametrize("value", [0, MAX_COUNT + 1, 2**63, True])
def test_bounded_counts_name_their_range(value: int) -> None:
    with pytest.raises(
        InvalidArgumentError,
        match=exact(f"queue_size must be an int in 1..{MAX_COUNT}, got {value!r}"),
    ):
        validate_positive_int(value, "queue_size", MAX_COUNT)


@pytest.mark.parametrize(
    ("group", "scope"),
    [
        ("ff02::1", "link"),
        ("ff12::1:2", "link"),
        ("ff32::8000:1", "link"),
        ("ff01::1", "interface"),
    ],
)
def test_scoped_ipv6_groups_need_an_interface(group: str, scope: str) -> None:
    message = (
        f"group '{group}' is {scope}-scoped, so it needs an interface:"
        " pass iface (a name or an index)"
    )
    with pytest.raises(InvalidInterfaceError, match=exact(message)) as info:
        validate_join_args(group, 5000)
    assert (info.value.parameter, info.value.value) == ("iface", None)
    with pytest.raises(
        InvalidInterfaceError, match=r"^group .* pass interface \(a name or an index\)$"
    ):
        validate_join_args(["ff05::1", group], 5000, interface_parameter="interface")
    assert validate_join_args(group, 5000, "eth0").iface == Interface(name="eth0")


@pytest.mark.parametrize("group", ["ff05::1", "ff15::1", "ff0e::1", "ff3e::1"])
def test_wider_ipv6_scopes_need_no_interface(group: str) -> None:
    assert validate_join_args(group, 5000).iface is None


def test_interface_errors_use_the_callers_parameter_name() -> None:
    with pytest.raises(
        InvalidInterfaceError, match=r"^interface 'bad name!' is not a valid"
    ) as info:
        validate_join_args("239.1.1.1", 5000, "bad name!", interface_parameter="interface")
    assert info.value.parameter == "interface"


@pytest.mark.parametrize(("text", "index"), [("1", 1), ("42", 42), ("4294967295", 2**32 - 1)])
def test_a_string_of_digits_is_an_index_as_on_the_command_line(text: str, index: int) -> None:
    assert validate_interface(text, socket.AF_INET) == Interface(index=index)
    assert validate_interface(Interface(name=text), socket.AF_INET) == Interface(name=text)


@pytest.mark.parametrize("text", ["0", "4294967296", "\u0663"])
def test_a_string_of_digits_out_of_range_is_not_an_index(text: str) -> None:
    with pytest.raises(
        InvalidInterfaceError, match=r"^iface .* is not a valid interface (index|name)"
    ):
        validate_interface(text, socket.AF_INET)


def test_sources_and_exclude_together_are_refused_naming_both() -> None:
    with pytest.raises(
        InvalidSourceError,
        match=exact(
            "sources and exclude cannot be used together: sources= joins for those senders"
            " only (include mode), exclude= for every sender but those (exclude mode)"
        ),
    ) as info:
        validate_join_args("232.1.1.1", 5000, sources=["10.0.0.1"], exclude=["10.0.0.2"])
    assert info.value.parameter == "exclude"


def test_exclude_is_validated_and_normalised_like_sources() -> None:
    spec = validate_join_args("239.1.1.1", 5000, exclude=["10.0.0.2", "10.0.0.2", "10.0.0.1"])
    assert spec.exclude == (IPv4Address("10.0.0.2"), IPv4Address("10.0.0.1"))
    assert spec.sources == ()
    with pytest.raises(
        InvalidSourceError,
        match=exact("source '239.1.1.2' is a multicast address: sources must be unicast"),
    ) as info:
        validate_join_args("239.1.1.1", 5000, exclude=["239.1.1.2"])
    assert info.value.parameter == "exclude"


EXCLUDE_LISTS: Final = st.lists(
    st.one_of(V4_SOURCES, V6_SOURCES, st.sampled_from(["239.1.1.1", "0.0.0.0", "bad", ""])),
    max_size=4,
)


@given(st.sampled_from(["239.1.1.1", "ff15::1"]), EXCLUDE_LISTS)
@settings(max_examples=FUZZ_EXAMPLES)
def test_exclude_accepts_and_refuses_exactly_what_sources_does(
    group: str, addresses: list[object]
) -> None:
    def outcome(keyword: str) -> object:
        try:
            spec = validate_join_args(group, 5000, **{keyword: addresses})  # type: ignore[arg-type]  # arbitrary input on purpose
        except InvalidSourceError as error:
            return (type(error), str(error), error.parameter)
        return spec.sources if keyword == "sources" else spec.exclude

    as_sources, as_exclude = outcome("sources"), outcome("exclude")
    if isinstance(as_sources, tuple) and as_sources and isinstance(as_sources[0], type):
        assert isinstance(as_exclude, tuple)
        assert as_exclude[:2] == as_sources[:2]
        assert (as_sources[2], as_exclude[2]) == ("sources", "exclude")
    else:
        assert as_exclude == as_sources
