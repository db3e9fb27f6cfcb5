"""The public surface: what ``trio_mcast`` exports, and what it must not do."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

import trio_mcast

pytestmark = pytest.mark.no_network

EXPECTED_EXPORTS = {
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
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(trio_mcast.__all__) == EXPECTED_EXPORTS
    assert len(trio_mcast.__all__) == len(set(trio_mcast.__all__))
    for name in trio_mcast.__all__:
        assert hasattr(trio_mcast, name), name


def test_public_objects_claim_the_package_and_have_docstrings() -> None:
    for name in EXPECTED_EXPORTS - {"__version__"}:
        obj = getattr(trio_mcast, name)
        assert obj.__module__.startswith("trio_mcast."), name
        assert obj.__doc__, name


def test_error_hierarchy() -> None:
    assert issubclass(trio_mcast.MulticastError, ValueError)
    assert issubclass(trio_mcast.JoinError, OSError)
    for name in EXPECTED_EXPORTS:
        obj = getattr(trio_mcast, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, trio_mcast.MulticastError), name


def test_package_ships_py_typed() -> None:
    assert (Path(trio_mcast.__file__).parent / "py.typed").is_file()


def test_import_leaves_process_wide_state_alone() -> None:
    # A fresh interpreter with a broken MULTICAST_* environment still imports,
    # and the default socket timeout stays unset (the seed set it at import).
    code = "import socket, trio_mcast; print(socket.getdefaulttimeout())"
    env = {"MULTICAST_PORT": "not-a-port", "MULTICAST_TTL": "x", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "None"
    assert socket.getdefaulttimeout() is None


def test_private_modules_of_the_pure_core_do_not_import_trio() -> None:
    code = (
        "import sys\n"
        "for name in ('_validate', '_queue', '_sockopts', '_config', '_errors', '_datagram'):\n"
        "    __import__('trio_mcast.' + name)\n"
        "print('trio' in sys.modules)\n"
    )
    # Import the submodules without the package __init__ pulling in trio.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util, sys\n"
            "spec = importlib.util.find_spec('trio_mcast')\n"
            "import types\n"
            "pkg = types.ModuleType('trio_mcast')\n"
            "pkg.__path__ = spec.submodule_search_locations\n"
            "sys.modules['trio_mcast'] = pkg\n" + code,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
