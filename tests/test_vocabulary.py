"""Below the API layer the code speaks neutral words: no vendor name and no vendor's own word (such as
VoilaNorbert's "massive") in an identifier or a string constant. Docstrings and other bare strings may
cite a vendor. Migrations are exempt: they name the values they rename."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mailsleuth"
BELOW_API = ("engine", "service", "store", "jobs", "web", "config.py")
EXEMPT = (PACKAGE / "store" / "migrations",)
VENDOR_WORDS = re.compile(r"voila|norbert|leadgenius|emailguess|lg_|kaspr|hunter|reacher|massive", re.IGNORECASE)


def modules() -> list[Path]:
    found: list[Path] = []
    for part in BELOW_API:
        path = PACKAGE / part
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [path for path in found if not any(path.is_relative_to(folder) for folder in EXEMPT)]


def words(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every identifier and string constant that is not a bare string statement."""
    bare = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare:
            yield line, node.value
        elif isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield line, node.name
        elif isinstance(node, ast.arg):
            yield line, node.arg
        elif isinstance(node, ast.keyword) and node.arg:
            yield line, node.arg
        elif isinstance(node, ast.alias):
            yield line, node.name
            if node.asname:
                yield line, node.asname


def vendor_words(source: str) -> list[tuple[int, str]]:
    return [(line, text) for line, text in words(ast.parse(source)) if VENDOR_WORDS.search(text)]


def test_the_layers_below_the_api_use_no_vendor_words() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in modules()
        for line, text in sorted(vendor_words(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "vendor words below the API layer:\n" + "\n".join(found)


def test_the_scan_covers_every_layer_below_the_api() -> None:
    scanned = {path.relative_to(PACKAGE).parts[0] for path in modules()}
    assert scanned == set(BELOW_API)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("KIND = 'massive'", [(1, "massive")]),
        ("def massive_payload(job): pass", [(1, "massive_payload")]),
        ("from x import kaspr_profile as p", [(1, "kaspr_profile")]),
        ("f(source='emailguess')", [(1, "emailguess")]),
        ("x.lg_bulk = 1", [(1, "lg_bulk")]),
        ("def f(hunter_key): pass", [(1, "hunter_key")]),
        ("'''Cites VoilaNorbert in a docstring.'''\nclass A:\n    '''And Reacher.'''", []),
        ("def f():\n    '''Hunter's source object.'''\n    return 'find_file'", []),
    ],
)
def test_the_scan_sees_identifiers_and_strings_but_not_docstrings(source: str, expected: list[tuple[int, str]]) -> None:
    assert vendor_words(source) == expected
