"""Words in messages, shared by the library and the command line."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, with an ``s`` unless there is exactly one.

    Args:
        count: How many.
        noun: The singular noun.

    Returns:
        The count and the noun.

    Example:
        >>> plural(1, "group"), plural(3, "group")
        ('1 group', '3 groups')
    """
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
