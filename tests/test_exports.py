"""The public surface: what ``trio_mcast`` exports, and what it must not do."""

from __future__ import annotations

import ast
import doctest
import importlib.metadata
import inspect
import pydoc
import socket
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import trio_mcast

pytestmark = pytest.mark.no_network

EXPECTED_EXPORTS = {
    "ConfigError",
    "Datagram",
    "Finding",
    "FindingStatus",
    "Interface",
    "InterfaceLost",
    "InterfaceNotFoundError",
    "InterfaceReturned",
    "InvalidArgumentError",
    "InvalidGroupError",
    "InvalidInterfaceError",
    "InvalidPortError",
    "InvalidSourceError",
    "JoinError",
    "JoinSpec",
    "Membership",
    "MulticastError",
    "MulticastReceiver",
    "MulticastSender",
    "ReceiverEvent",
    "ReceiverState",
    "ReceiverStatistics",
    "RejoinFailed",
    "Rejoined",
    "__version__",
    "diagnose",
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


#: Type aliases: typing objects, which cannot claim a module or a docstring.
TYPE_ALIASES = {"FindingStatus", "ReceiverEvent", "ReceiverState"}


def test_public_objects_claim_the_package_and_have_docstrings() -> None:
    for name in EXPECTED_EXPORTS - {"__version__"} - TYPE_ALIASES:
        obj = getattr(trio_mcast, name)
        assert obj.__module__ == "trio_mcast" or obj.__module__.startswith("trio_mcast."), name
        assert obj.__doc__, name


def test_type_aliases_name_only_public_values() -> None:
    assert set(typing.get_args(trio_mcast.ReceiverEvent)) == {
        trio_mcast.InterfaceLost,
        trio_mcast.InterfaceReturned,
        trio_mcast.Rejoined,
        trio_mcast.RejoinFailed,
    }
    assert typing.get_args(trio_mcast.ReceiverState) == (
        "joined",
        "waiting for interface",
        "unknown",
    )


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


def test_importing_the_package_loads_no_command_line() -> None:
    code = (
        "import sys, trio_mcast; print(sorted({'argparse', 'trio_mcast._cli'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    assert trio_mcast.main(["--version"]) == 0


def test_datagram_and_statistics_signatures_show_real_types() -> None:
    payload = inspect.signature(trio_mcast.Datagram).parameters["payload"].annotation
    drops = inspect.signature(trio_mcast.ReceiverStatistics).parameters["kernel_drops"].annotation
    assert payload is bytes
    assert drops == (int | None)
    assert "ForwardRef" not in pydoc.render_doc(trio_mcast.Datagram)


def test_the_package_docstring_says_what_it_is_with_an_example() -> None:
    doc = trio_mcast.__doc__ or ""
    assert doc.startswith("Receive IP multicast with Trio")
    # Short; tests/test_examples.py runs it with the other docstring examples.
    examples = doctest.DocTestParser().get_examples(doc)
    assert len(examples) == 2
    assert "open_multicast_receiver" in examples[1].source


def test_serve_multicast_takes_every_option_of_open_multicast_receiver() -> None:
    receiver = inspect.signature(trio_mcast.open_multicast_receiver).parameters
    server = inspect.signature(trio_mcast.serve_multicast).parameters
    for name, parameter in receiver.items():
        assert name in server, name
        assert (server[name].default, server[name].annotation, server[name].kind) == (
            parameter.default,
            parameter.annotation,
            parameter.kind,
        ), name


def test_the_distribution_declares_its_licence_urls_and_author() -> None:
    distribution = importlib.metadata.distribution("trio-mcast")
    metadata = distribution.metadata
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Author"] or metadata["Author-email"]
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    shipped = [file for file in distribution.files or [] if file.name == "LICENSE"]
    assert len(shipped) == 1
    text = shipped[0].read_text()
    assert text.startswith("MIT License")
    repository_copy = Path(__file__).resolve().parents[1] / "LICENSE"
    if repository_copy.is_file():
        assert text == repository_copy.read_text()


def test_the_library_never_imports_the_command_line() -> None:
    """Only ``__main__`` and the lazy ``main()`` reach into ``trio_mcast._cli``."""
    package = Path(trio_mcast.__file__).parent
    for path in sorted(package.glob("*.py")):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("_cli"):
                # The one allowed use: inside trio_mcast.main(), at call time.
                assert path.name == "__init__.py", path
                assert node.col_offset > 0, "imported at module level"
    assert (package / "_cli" / "__init__.py").is_file()
