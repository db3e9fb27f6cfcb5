"""Every code example of the README, the documentation and the docstrings runs, and says what
the text says it does.

Document examples run as programs inside host ``h1`` of a LAN
(``10.213.0.1``, interface ``eth0``), while ``h2`` (``10.213.0.2``) sends
``hello`` to 239.1.2.3, 239.1.2.4, 232.1.1.1 and ff15::1:2 on port 5000,
every 20 ms, and ``h3`` (``10.213.0.3``) sends ``other`` to 232.1.1.1. The
documents say so where they show the examples. Docstring examples run with
:mod:`doctest` in this process, which is in the private namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

import trio_mcast
import trio_mcast.testing
from tests.examples import Example, console_steps, document_examples
from trio_mcast import testing
from trio_mcast._cli._args import build_parser
from trio_mcast._cli._exits import EXIT_CODES

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT: Final = Path(__file__).resolve().parent.parent
DOCUMENTS: Final = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
#: The documents that show programs or sessions (the others only link or describe).
RUNNABLE: Final = [
    path
    for path in DOCUMENTS
    if re.search(r"^\s*(```|\.\. code-block:: )(python|console)$", path.read_text(), re.M)
]
#: The README's fresh-machine commands: CI runs the second, a test below the first.
FRESH_MACHINE: Final = (
    "pip install . && python -m trio_mcast demo\n",
    "pip install tox && tox\n",
)
EXAMPLE_TIMEOUT: Final = 60.0
_CHECKER: Final = doctest.OutputChecker()
_OPTIONS: Final = doctest.ELLIPSIS

TRAFFIC: Final = """
import socket, sys, time
payload, groups = sys.argv[1].encode(), sys.argv[2:]
v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("eth0"))
while True:
    for group in groups:
        (v6 if ":" in group else v4).sendto(payload, (group, 5000))
    time.sleep(0.02)
"""
SENDS: Final = {
    "h2": ("hello", "239.1.2.3", "239.1.2.4", "232.1.1.1", "ff15::1:2"),
    "h3": ("other", "232.1.1.1"),
}


def _matches(want: str, got: str) -> bool:
    return _CHECKER.check_output(want, got, _OPTIONS)


@contextlib.contextmanager
def _traffic(lan: testing.MulticastLan) -> Iterator[None]:
    senders: list[subprocess.Popen[bytes]] = []
    try:
        for host in lan.hosts:
            if host.name in SENDS:
                argv = [sys.executable, "-c", TRAFFIC, *SENDS[host.name]]
                senders.append(host.popen(argv, stdin=subprocess.DEVNULL))
        yield
    finally:
        for sender in senders:
            sender.kill()
            sender.wait()


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    # The examples run "trio-mcast" and "pytest" as a user would: this environment's.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment["COLUMNS"] = "100"
    return environment


def _run(example: Example, host: testing.Host, workdir: Path) -> None:
    environment = _environment()
    if example.kind == "file":
        first, _, rest = example.block.text.partition("\n")
        (workdir / first.removeprefix("# file: ").strip()).write_text(rest)
        return
    if example.kind == "program":
        program = workdir / "example.py"
        program.write_text(example.block.text)
        result = host.run(
            [sys.executable, str(program)], cwd=workdir, env=environment, timeout=EXAMPLE_TIMEOUT
        )
        assert result.returncode == 0, f"{example.where}: failed\n{result.stderr}"
        assert _matches(example.output, result.stdout), (
            f"{example.where}: printed\n{result.stdout}\ninstead of\n{example.output}"
        )
        return
    for command, want in console_steps(example.block.text):
        result = host.run(
            ["sh", "-c", f"exec 2>&1\n{command}"],
            cwd=workdir,
            env=environment,
            timeout=EXAMPLE_TIMEOUT,
        )
        assert _matches(want, result.stdout), (
            f"{example.where}: $ {command}\nprinted\n{result.stdout}\ninstead of\n{want}"
        )


@pytest.mark.no_network
def test_every_code_block_is_an_example_the_tests_run() -> None:
    # Reading them raises on a block of another language, or a program without output.
    counts = {path.name: len(document_examples(path, ROOT)) for path in DOCUMENTS}
    assert counts["README.md"] >= 2
    assert counts["tutorial.rst"] >= 10
    assert {path.name for path in RUNNABLE} == {name for name, count in counts.items() if count}
    readme = (ROOT / "README.md").read_text()
    blocks = [block for block in FRESH_MACHINE if f"```sh\n{block}```" in readme]
    assert blocks == list(FRESH_MACHINE)
    assert readme.count("```sh") == len(FRESH_MACHINE)


@pytest.mark.once
@pytest.mark.parametrize("document", RUNNABLE, ids=[path.name for path in RUNNABLE])
def test_the_examples_of_a_document_run_and_print_what_it_shows(
    document: Path, multicast_lan: testing.LanFactory, tmp_path: Path
) -> None:
    examples = document_examples(document, ROOT)
    assert any(example.kind != "file" for example in examples)
    lan = multicast_lan(hosts=3)
    with _traffic(lan):
        for example in examples:
            _run(example, lan.hosts[0], tmp_path)


def test_the_readme_demo_command_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trio_mcast", "demo"],
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("hello from the trio-mcast demo") == 5


@pytest.mark.no_network
def test_the_command_line_page_documents_every_command_and_option() -> None:
    page = (ROOT / "docs" / "cli.rst").read_text()
    parser = build_parser()
    commands = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    assert set(commands.choices) == {"recv", "RECV", "send", "SAY", "doctor", "demo"}
    for name, command in commands.choices.items():
        assert re.search(rf"^{name}\b|``{name}``", page, re.MULTILINE), name
        for action in command._actions:
            for option in action.option_strings:
                assert f"``{option}" in page or f"``{option}``" in page, f"{name} {option}"
    for code in EXIT_CODES:
        assert re.search(rf"^   \* - {code}$", page, re.MULTILINE), code


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(trio_mcast.__path__, "trio_mcast."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_every_modules_docstring_examples_run(name: str) -> None:
    # Private modules too: their examples are the documentation of the pure core.
    module = importlib.import_module(name)
    # The names a reader of the documentation has imported.
    public = {
        **{key: getattr(trio_mcast, key) for key in trio_mcast.__all__},
        **{key: getattr(testing, key) for key in testing.__all__},
    }
    results = doctest.testmod(module, extraglobs=public, optionflags=_OPTIONS, report=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"
