"""The API reference is complete: every public name, parameter, field and attribute.

The reference (``docs/reference.rst``) is built from the docstrings, so a
name missing there, or a parameter or field missing from its docstring, is
missing from the documentation. Napoleon reads the Google-style sections
checked here (``Args:``, ``Attributes:``).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

import trio_mcast
import trio_mcast.testing
from trio_mcast.testing import _plugin

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.no_network

ROOT: Final = Path(__file__).resolve().parent.parent
REFERENCE: Final = (ROOT / "docs" / "reference.rst").read_text()
MODULES: Final = (trio_mcast, trio_mcast.testing)
_SECTION: Final = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Z][a-z]+):\s*$")


def section(doc: str, title: str) -> set[str]:
    """The names a Google-style section (``Args:``, ``Attributes:``) documents."""
    names: set[str] = set()
    lines = doc.splitlines()
    for number, line in enumerate(lines):
        heading = _SECTION.match(line)
        if heading is None or heading["name"] != title:
            continue
        indent = len(heading["indent"])
        for entry in lines[number + 1 :]:
            if entry.strip() and len(entry) - len(entry.lstrip()) <= indent:
                break
            documented = re.match(r"^\s*(\**[A-Za-z_][A-Za-z_0-9]*)( \(.*\))?:", entry)
            if documented:
                names.add(documented[1])
    return names


def public_objects() -> Iterator[tuple[str, object]]:
    for module in MODULES:
        for name in module.__all__:
            yield f"{module.__name__}.{name}", getattr(module, name)


def documented_callables() -> Iterator[tuple[str, object]]:
    """Public functions and the public methods of public classes."""
    for name, value in public_objects():
        if inspect.isfunction(value):
            yield name, value
        elif inspect.isclass(value) and value.__module__.startswith("trio_mcast"):
            for member_name, member in vars(value).items():
                if member_name.startswith("_") and member_name != "__call__":
                    continue
                if inspect.isfunction(member) and member.__doc__ is not None:
                    yield f"{name}.{member_name}", member
    yield "multicast_lan", _plugin.multicast_lan


def _parameters(function: object) -> list[str]:
    wrapped = inspect.unwrap(function)  # type: ignore[arg-type]  # any callable here
    names = []
    for parameter in inspect.signature(wrapped).parameters.values():
        if parameter.name in {"self", "cls"}:
            continue
        prefixes: dict[inspect._ParameterKind, str] = {
            inspect.Parameter.VAR_POSITIONAL: "*",
            inspect.Parameter.VAR_KEYWORD: "**",
        }
        prefix = prefixes.get(parameter.kind, "")
        names.append(prefix + parameter.name)
    return names


def _fields(cls: type) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [field.name for field in dataclasses.fields(cls) if not field.name.startswith("_")]
    return list(getattr(cls, "_fields", ()))


def test_the_reference_names_every_public_name() -> None:
    missing = []
    for full_name, _ in public_objects():
        name = full_name.rsplit(".", 1)[1]
        directive = rf"^\.\. (auto)?\w+:: +{re.escape(name)}$"
        continued = rf"^ +{re.escape(name)}$"  # a second name of one directive
        if not any(re.search(form, REFERENCE, re.MULTILINE) for form in (directive, continued)):
            missing.append(full_name)
    assert missing == []


@pytest.mark.parametrize(("name", "function"), list(documented_callables()))
def test_every_parameter_is_documented(name: str, function: object) -> None:
    doc = inspect.getdoc(function) or ""
    assert doc, f"{name} has no docstring"
    parameters = _parameters(function)
    assert set(parameters) <= section(doc, "Args"), name


def test_every_field_and_attribute_is_documented() -> None:
    missing: list[str] = []
    for name, value in public_objects():
        if not inspect.isclass(value) or not value.__module__.startswith("trio_mcast"):
            continue
        doc = inspect.getdoc(value) or ""
        documented = section(doc, "Attributes")
        fields = _fields(value)
        if issubclass(value, BaseException) and "__init__" in vars(value):
            source = inspect.getsource(vars(value)["__init__"])
            fields = [*fields, *re.findall(r"self\.([a-z]\w*) =", source)]
        missing.extend(f"{name}.{field}" for field in fields if field not in documented)
    assert missing == []


def test_the_section_reader_finds_what_napoleon_would() -> None:
    doc = inspect.cleandoc(
        """Summary.

        Args:
            first: One.
            second (int): Two,
                on two lines.
            *args: More.

        Returns:
            Nothing: not an argument.
        """
    )
    assert section(doc, "Args") == {"first", "second", "*args"}
    assert section(doc, "Attributes") == set()
