"""The AMI protocol layer stays pure: no Django, Channels, asyncio, sockets or Twisted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AMI = Path(__file__).resolve().parents[1] / "ami"
FORBIDDEN = {"django", "channels", "asyncio", "socket", "twisted"}


def imported_roots(source: str) -> set[str]:
    """Top-level package of every import in ``source`` (relative imports count as our own)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
            "import_module",
            "__import__",
        ):
            # importlib.import_module("asyncio") would hide an import from the checks above.
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                roots.add(node.args[0].value.split(".")[0])
    return roots


def test_the_checker_sees_every_kind_of_import():
    source = "import asyncio.tasks\nfrom django.db import models\nimport os, socket as s\nimportlib.import_module('twisted.internet')\n"
    assert imported_roots(source) == {"asyncio", "django", "os", "socket", "twisted"}
    assert imported_roots("from . import message\nfrom .framing import Framer\n") == set()


@pytest.mark.parametrize("path", sorted(AMI.rglob("*.py")), ids=lambda p: str(p.relative_to(AMI)))
def test_no_ami_module_imports_an_event_loop_a_socket_or_django(path):
    assert FORBIDDEN.isdisjoint(imported_roots(path.read_text(encoding="utf-8"))), path


def test_the_ami_package_has_its_modules():
    names = {p.stem for p in AMI.glob("*.py")}
    assert {"framing", "message", "actions", "correlate", "trace"} <= names
