"""The pytest plugin as a user gets it: a project of its own, our wheel, one test file.

tox builds the wheels beforehand (``commands_pre``), outside the private
namespace, where the package registry can be reached; the test installs
them with no index into a fresh virtual environment in a temporary
directory, and runs pytest there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from pathlib import Path

# A fresh virtual environment and three pytest runs: once per CI run is enough.
pytestmark = pytest.mark.once

#: Set by tox: a directory holding our wheel and those of trio, pytest and pytest-trio.
WHEELHOUSE_VARIABLE: Final = "TRIO_MCAST_WHEELHOUSE"

USER_TEST: Final = textwrap.dedent(
    '''
    """A user's tests of their own multicast code, with trio_mcast's plugin."""

    import socket

    import pytest
    import trio

    import trio_mcast
    from trio_mcast.testing import LanFactory


    async def test_my_receiver_hears_a_host(multicast_lan: LanFactory) -> None:
        lan = multicast_lan(hosts=1)
        (host,) = lan.hosts
        async with trio_mcast.open_multicast_receiver(
            "239.5.5.5", 45000, interface=lan.bridge
        ) as receiver:
            with host.sender() as out:
                out.sendto(b"from a user", ("239.5.5.5", 45000))
            with trio.fail_after(10):
                datagram = await receiver.receive()
        assert datagram.payload == b"from a user"
        assert datagram.source[0] == host.ipv4
        assert "site-packages" in trio_mcast.__file__


    @pytest.mark.private_network
    def test_only_loopback_is_here() -> None:
        assert [name for _, name in socket.if_nameindex()] == ["lo"]
    '''
)


def _wheelhouse() -> str:
    wheelhouse = os.environ.get(WHEELHOUSE_VARIABLE, "")
    if wheelhouse and os.path.isdir(wheelhouse):
        return wheelhouse
    reason = f"{WHEELHOUSE_VARIABLE} names no directory of wheels (tox sets it)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _run(argv: list[str], cwd: Path, *, ci: str = "true") -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "TOX", "HYPOTHESIS"))
    }
    # With CI=true a skip for want of a namespace is a failure.
    environment["CI"] = ci
    return subprocess.run(
        argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def user_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh virtual environment with our wheel, pytest and pytest-trio, from no index."""
    wheelhouse = _wheelhouse()
    home = tmp_path_factory.mktemp("user")
    venv = home / "venv"
    created = _run([sys.executable, "-m", "venv", str(venv)], home)
    assert created.returncode == 0, created.stderr
    python = str(venv / "bin" / "python")
    packages = ["trio-mcast", "pytest", "pytest-trio"]
    install = ["-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse]
    installed = _run([python, *install, *packages], home)
    assert installed.returncode == 0, installed.stderr
    return python


def _project(root: Path, files: dict[str, str]) -> Path:
    project = root / "user-project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
    for name, text in files.items():
        (project / name).write_text(text)
    return project


def test_a_project_of_its_own_tests_with_the_plugin_from_our_wheel(
    user_python: str, tmp_path: Path
) -> None:
    project = _project(tmp_path, {"test_mine.py": USER_TEST})
    result = _run([user_python, "-m", "pytest", "-p", "no:cacheprovider", "-v"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_mine.py::test_my_receiver_hears_a_host PASSED" in result.stdout
    assert "test_mine.py::test_only_loopback_is_here PASSED" in result.stdout
    assert "2 passed" in result.stdout


#: Makes the namespace impossible: a thread that runs before the plugin enters it.
THREAD_FIRST: Final = textwrap.dedent(
    """
    import threading

    threading.Thread(target=threading.Event().wait, daemon=True).start()
    """
)


@pytest.mark.parametrize(
    ("ci", "outcome", "says"),
    [
        ("true", "1 error", "Failed: this test needs a private network namespace: the process"),
        ("", "1 skipped", "no private network namespace: the process already runs 2 threads"),
    ],
    ids=["CI=true", "not CI"],
)
def test_without_a_namespace_a_test_is_skipped_with_the_reason_and_fails_on_ci(
    user_python: str, tmp_path: Path, ci: str, outcome: str, says: str
) -> None:
    files = {"conftest.py": THREAD_FIRST, "test_mine.py": USER_TEST.split("@pytest.mark")[0]}
    project = _project(tmp_path, files)
    result = _run([user_python, "-m", "pytest", "-p", "no:cacheprovider", "-rs"], project, ci=ci)
    assert outcome in result.stdout, result.stdout
    assert says in result.stdout
