"""How hard the fuzz tests push.

The issues ask for at least 2000 examples per argument fuzzer in CI. Only
the fuzzers get that many; the other properties keep the profile's budget.
Import after ``tests/conftest.py`` has loaded the profile (collection does).
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import settings

CI_FUZZ_EXAMPLES: Final = 2000

FUZZ_EXAMPLES: Final = (
    max(settings().max_examples, CI_FUZZ_EXAMPLES)
    if os.environ.get("CI") == "true"
    else settings().max_examples
)
