"""Real programs the tests talk to, and how the test environment gets them."""
