"""Bad arguments everywhere: the argument fuzzers get at least 2,000 examples in CI.

The fuzz properties of ``validate_join_args`` (tests/test_validate.py) and of
the CLI's argv (tests/test_cli.py) take their example budget from the
Hypothesis profile, or from their own ``@settings``. This checks the budget
they would run with under ``CI=true``, in a fresh interpreter that loads the
profiles exactly as pytest does (``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

pytestmark = pytest.mark.no_network

REPOSITORY: Final = Path(__file__).resolve().parents[2]
MINIMUM_EXAMPLES: Final = 2000
FUZZERS: Final = (
    ("tests.test_validate", "test_any_input_gives_a_spec_or_a_multicast_error"),
    ("tests.test_validate", "test_small_validators_accept_or_raise_multicast_errors"),
    ("tests.test_cli", "test_random_argv_gives_a_documented_code_and_no_traceback"),
)
# Hypothesis keeps the settings a @given test will run with on the test
# function; there is no public accessor.
PROBE: Final = """
import importlib, json, sys
import tests.conftest  # registers and loads the Hypothesis profile, as pytest does
budgets = {}
for module, name in json.loads(sys.argv[1]):
    test = getattr(importlib.import_module(module), name)
    budgets[f"{module}.{name}"] = test._hypothesis_internal_use_settings.max_examples
print(json.dumps(budgets))
"""


def test_argument_fuzzers_run_at_least_2000_examples_in_ci() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    environment["CI"] = "true"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(FUZZERS)],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    budgets: dict[str, int] = json.loads(result.stdout)
    assert len(budgets) == len(FUZZERS)
    too_few = {name: count for name, count in budgets.items() if count < MINIMUM_EXAMPLES}
    assert too_few == {}, (
        f"under CI=true these fuzzers run fewer than {MINIMUM_EXAMPLES} examples: {too_few};"
        " raise max_examples of the 'ci' profile in tests/conftest.py"
    )
