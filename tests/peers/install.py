"""Install the real peers the tests run (iperf2), from Debian's packages, before the tests.

tox runs this ahead of pytest (``commands_pre``), outside the private
network namespace, where the package mirror can be reached. It installs
nothing that starts by itself: iperf2 is a command, not a service. Where
it cannot install (not root, no apt-get), it says why and leaves the tests
to skip; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Final

#: Program on PATH -> the Debian package that has it.
PEERS: Final = {"iperf": "iperf"}


def _apt_get(*args: str) -> bool:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "-y", "-q", *args]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}", file=sys.stderr)
    return result.returncode == 0


def main() -> int:
    missing = sorted({package for program, package in PEERS.items() if not shutil.which(program)})
    if not missing:
        return 0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            f"cannot install {', '.join(missing)}: needs root and apt-get; the tests that"
            " run them will skip (and fail with CI=true)",
            file=sys.stderr,
        )
        return 0
    install = ("install", "--no-install-recommends", *missing)
    # The package lists of a fresh machine may be missing or stale: refresh them once.
    if not _apt_get(*install) and _apt_get("update"):
        _apt_get(*install)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
