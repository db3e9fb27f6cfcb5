"""The code examples of the README and the documentation, as the tests run them.

A document's code blocks are read in order (Markdown fences, reStructuredText
``code-block`` directives) and paired into examples:

- a ``python`` block is a program, and the next block, which must be a
  ``text`` block, is what it prints;
- a ``python`` block whose first line is ``# file: NAME`` is a file the
  examples after it use (a test module, say), written to their directory;
- a ``console`` block holds commands, each after ``$ ``, each followed by
  what it prints (standard output and error together);
- a ``text`` block that follows no program is sample output, and ``sh``
  blocks are the README's fresh-machine commands, which CI itself runs.

Any other language is an error, so that no example escapes the tests.
Expected output may use ``...`` for what varies (doctest's ``ELLIPSIS``).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

LANGUAGES: Final = frozenset({"python", "text", "console", "sh"})
FILE_PREFIX: Final = "# file: "
_FENCE: Final = re.compile(r"^(?P<indent>\s*)```(?P<language>\w*)\s*$")
_DIRECTIVE: Final = re.compile(r"^(?P<indent>\s*)\.\. code-block:: (?P<language>\w+)\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """A code block: where it is, its language and its text (dedented)."""

    path: str
    line: int
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Example:
    """What the tests run: a program with its output, a file, or console commands.

    Attributes:
        kind: ``"program"``, ``"file"`` or ``"console"``.
        block: The code.
        output: The expected output of a program; empty otherwise.
    """

    kind: str
    block: Block
    output: str = ""

    @property
    def where(self) -> str:
        return f"{self.block.path}:{self.block.line}"


def markdown_blocks(text: str, path: str) -> list[Block]:
    """The fenced code blocks of a Markdown document."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        start = index
        while index < len(lines) and lines[index].strip() != "```":
            index += 1
        body = textwrap.dedent("\n".join(lines[start:index])) + "\n"
        blocks.append(Block(path, start, opening["language"] or "", body))
        index += 1
    return blocks


def rst_blocks(text: str, path: str) -> list[Block]:
    """The ``code-block`` directives of a reStructuredText document."""
    blocks: list[Block] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        directive = _DIRECTIVE.match(line)
        if directive is None:
            continue
        indent = len(directive["indent"])
        index = number + 1
        while index < len(lines) and lines[index].strip().startswith(":"):
            index += 1
        body: list[str] = []
        while index < len(lines):
            current = lines[index]
            if current.strip() and len(current) - len(current.lstrip()) <= indent:
                break
            body.append(current)
            index += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(path, number + 1, directive["language"], code))
    return blocks


def examples(blocks: list[Block]) -> list[Example]:
    """Pair a document's blocks into examples.

    Raises:
        ValueError: A block of an unknown language, or a program without output.
    """
    found: list[Example] = []
    index = 0
    while index < len(blocks):
        block = blocks[index]
        index += 1
        if block.language not in LANGUAGES:
            raise ValueError(f"{block.path}:{block.line}: untested language {block.language!r}")
        if block.language == "console":
            found.append(Example("console", block))
        elif block.language == "python" and block.text.startswith(FILE_PREFIX):
            found.append(Example("file", block))
        elif block.language == "python":
            if index == len(blocks) or blocks[index].language != "text":
                raise ValueError(f"{block.path}:{block.line}: a program without a text output")
            found.append(Example("program", block, blocks[index].text))
            index += 1
    return found


def document_examples(path: Path, root: Path) -> list[Example]:
    """Every example of the document at ``path``, named relative to ``root``."""
    text = path.read_text()
    name = str(path.relative_to(root))
    blocks = markdown_blocks(text, name) if path.suffix == ".md" else rst_blocks(text, name)
    return examples(blocks)


def console_steps(text: str) -> list[tuple[str, str]]:
    """A console block's commands, each with the output shown after it."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"console output before any command: {line!r}")
    return [(command, "".join(f"{line}\n" for line in output)) for command, output in steps]
