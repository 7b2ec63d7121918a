"""Docs that must match the code: the README's settings table and commands, and
every repository path and Python symbol the docs name.

The docs are README.md and every .md file under docs/ (recursively). What
they name is checked by these rules:

Paths
    Candidates are the tokens (split on whitespace, surrounding quotes and
    punctuation stripped) of inline code spans and of fenced code blocks,
    and the targets of Markdown links ``[text](target)``.

    - In an inline code span, a token is a path when it contains "/" and
      starts with a top-level folder of the repository (``TOP_LEVEL``),
      starts with ``./`` or ``../``, or ends in a known file suffix
      (``SUFFIXES``); a bare file name with a known suffix (``fleet.py``,
      ``project.yaml``) is one too. In fenced blocks (shell sessions, YAML
      examples, trees) only tokens that start with a top-level folder and
      "/" count.
    - Tokens that cannot be repository paths are skipped: URLs (``://``),
      absolute or home paths (``/``, ``~``), flags (``-``), variables and
      placeholders (``$``, ``<``, ``{``, ``*``, ``=``, ``@``, ``%``).
    - A path that starts with a top-level folder must exist exactly there.
      A path starting with ``./`` or ``../`` must exist relative to the
      doc's folder, inside the repository. Any other path must exist
      relative to the doc's folder, or be the path suffix (whole components)
      of exactly one file or folder of the repository: ``routes/predict.py``
      and ``plot.js`` are fine while they are unique, ``app.py`` is not
      (write ``inference/sigmawatch_inference/app.py``).
    - Abbreviations (``inference/.../cache.py``) are refused: write the path.
    - Link targets (without ``#anchor``) are relative to the doc's folder and
      must exist inside the repository; ``http(s)://`` and ``mailto:`` links
      are not checked, except that decision records (docs/decisions/) may
      not link outside the repository at all: they cite facts instead.

Python symbols
    - An inline code span that is a dotted name whose first part is one of
      the project's packages (``PACKAGES``), optionally followed by ``()``,
      must resolve: the longest importable module prefix is imported and the
      rest is a ``getattr`` chain, where a class's dataclass fields,
      pydantic fields and annotations count as attributes. ``NOT_SYMBOLS``
      lists the few such spans that are not Python (the CRDs' API group, the
      placeholder host name).
    - A ``.py`` path span followed by a parenthesised list of code spans,
      "`` `resolver.py` (`ModelResolver.warm_up`) ``" or
      "`` `core/sigmawatch/training.py` (`train_series`, `TrainResult`) ``",
      names things defined in that file: each (``Name`` or ``Name.attr``,
      optionally with ``()``) must resolve in the module (imported when the
      file is under a source root, read with ``ast`` otherwise).
    - A span ``Class.attr`` whose first part is a class defined in the
      project's packages must resolve on that class (spans whose first part
      is no project class, ``gc.freeze()``, are left alone).
    - A span ``name()`` must be a function or class defined somewhere in the
      project's Python files, or a builtin.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from sigmawatch_inference.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
TOP_LEVEL = frozenset(
    {
        "core",
        "inference",
        "operator",
        "crds",
        "manifests",
        "tests",
        "e2e",
        "bench",
        "docs",
        "tools",
        ".ci",
    }
)
SUFFIXES = (
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".sql",
    ".sh",
    ".js",
    ".css",
    ".html",
    ".toml",
    ".txt",
    ".lua",
    ".json",
)
PACKAGES = frozenset({"sigmawatch", "sigmawatch_inference", "sigmawatch_operator"})
# Source roots: a file under one of these is the module its path spells.
SOURCE_ROOTS = ("core", "inference", "operator")
# Folders that are no part of the repository's content.
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "test-artifacts", "build", "dist"})
# Spans that look like a project symbol but are not Python.
NOT_SYMBOLS = frozenset(
    {
        "sigmawatch.dev",  # the Kubernetes API group of the CRDs
        "sigmawatch.example.com",  # the manifests' placeholder host name
    }
)

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
STRIP = "\"'()[],;:"
SKIP_TOKEN = re.compile(r"://|^[/~$<-]|[{}<>*=@%]")
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
CALL = re.compile(r"([A-Za-z_]\w*)\(\)")
CLASS_ATTR = re.compile(r"([A-Z]\w*)((?:\.[A-Za-z_]\w*)+)(?:\(\))?")
PATH_WITH_SYMBOLS = re.compile(r"`([^`\s]+\.py)`\s*\(((?:`[^`]+`(?:\s*,\s*|\s+and\s+)?)+)\)")


# -- the repository ------------------------------------------------------------------


@cache
def repository() -> tuple[frozenset[str], frozenset[str]]:
    """Every file and folder of the repository, as paths relative to the root."""
    files: set[str] = set()
    folders: set[str] = set()
    for top, dirs, names in os.walk(ROOT):
        dirs[:] = [
            d
            for d in dirs
            if (not d.startswith(".") or d == ".ci")
            and d not in SKIPPED_DIRS
            and not d.endswith(".egg-info")
        ]
        here = Path(top).relative_to(ROOT).as_posix()
        prefix = "" if here == "." else here + "/"
        folders.update(prefix + d for d in dirs)
        files.update(prefix + n for n in names)
    return frozenset(files), frozenset(folders)


def suffix_matches(path: str) -> list[str]:
    files, folders = repository()
    wanted = path.rstrip("/")
    pool = folders if path.endswith("/") else files | folders
    return sorted(p for p in pool if p == wanted or p.endswith("/" + wanted))


def inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT)


def resolve_path(token: str, doc: Path) -> str | None:
    """The problem with a path a doc names, or None when it exists."""
    if "..." in token or "…" in token:
        return f"`{token}` is abbreviated: write the full path"
    relative = doc.parent / token
    if token.startswith(("./", "../")):
        if inside(relative) and relative.exists():
            return None
        return f"`{token}` does not exist inside the repository (relative to {rel(doc.parent)}/)"
    if token.split("/", 1)[0] in TOP_LEVEL:
        return None if (ROOT / token).exists() else f"`{token}` does not exist"
    if relative.exists() and inside(relative):
        return None
    found = suffix_matches(token)
    if len(found) == 1:
        return None
    if not found:
        return f"`{token}` matches no file of the repository"
    return f"`{token}` is ambiguous ({', '.join(found)}): write the full path"


def rel(path: Path) -> str:
    return path.resolve().relative_to(ROOT).as_posix()


# -- Python -----------------------------------------------------------------------------


class _Missing:
    pass


MISSING = _Missing()


def attribute(obj: object, name: str) -> object:
    """`getattr`, where a class's declared fields also count (they may have no default)."""
    try:
        return getattr(obj, name)
    except AttributeError:
        pass
    if isinstance(obj, type):
        if dataclasses.is_dataclass(obj) and name in {f.name for f in dataclasses.fields(obj)}:
            return name
        if name in (getattr(obj, "model_fields", None) or {}):
            return name
        if any(name in vars(base).get("__annotations__", {}) for base in obj.__mro__):
            return name
    return MISSING


def resolve_symbol(dotted: str) -> bool:
    """Import the longest module prefix of `dotted`, then follow the rest as attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        try:
            obj: object = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                continue
            raise
        break
    else:
        return False
    for part in parts[end:]:
        obj = attribute(obj, part)
        if obj is MISSING:
            return False
    return True


def module_of(path: str) -> str | None:
    """The importable module a repository file is, when it lies under a source root."""
    root, _, inner = path.partition("/")
    if root not in SOURCE_ROOTS or not inner.endswith(".py"):
        return None
    return inner.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def defined_in_file(path: str, dotted: str) -> bool:
    """`Name` or `Name.attr` is defined in a Python file that is not importable (ast)."""
    body: list[ast.stmt] = ast.parse((ROOT / path).read_text()).body
    for part in dotted.split("."):
        node = next((n for n in body if part in names_defined(n)), None)
        if node is None:
            return False
        body = node.body if isinstance(node, ast.ClassDef) else []
    return True


def names_defined(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


@cache
def python_definitions() -> frozenset[str]:
    """Every function and class name defined in the project's Python files."""
    files, _ = repository()
    names: set[str] = set()
    for path in files:
        if path.endswith(".py"):
            tree = ast.parse((ROOT / path).read_text())
            names.update(
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            )
    return frozenset(names)


@cache
def project_classes() -> dict[str, list[str]]:
    """Class name → the modules of the project's packages that define it."""
    files, _ = repository()
    classes: dict[str, list[str]] = {}
    for path in sorted(files):
        module = module_of(path)
        if module is None or module.split(".")[0] not in PACKAGES:
            continue
        for node in ast.parse((ROOT / path).read_text()).body:
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, []).append(module)
    return classes


# -- reading a doc ------------------------------------------------------------------------


def tokens(span: str) -> Iterator[str]:
    for raw in span.split():
        token = raw.strip(STRIP).rstrip(".")
        if token and not SKIP_TOKEN.search(token):
            yield token


def is_path(token: str, *, inline: bool) -> bool:
    """Whether a token names a repository path (the rules in the module docstring)."""
    if "/" not in token:
        return inline and token.endswith(SUFFIXES) and not token.startswith(".")
    if token.split("/", 1)[0] in TOP_LEVEL:
        return True
    return inline and (token.endswith(SUFFIXES) or token.startswith(("./", "../")))


def problems_in(text: str, doc: Path) -> list[str]:
    """Everything in one doc that names a path or symbol the repository lacks."""
    problems: list[str] = []
    fenced = [m.group(0) for m in FENCE.finditer(text)]
    prose = FENCE.sub("", text)

    for block in fenced:
        problems.extend(
            resolve_path(t, doc) or "" for t in tokens(block) if is_path(t, inline=False)
        )
    for span in CODE_SPAN.findall(prose):
        problems.extend(resolve_path(t, doc) or "" for t in tokens(span) if is_path(t, inline=True))
        problems.append(check_symbol_span(span.strip()))

    for match in PATH_WITH_SYMBOLS.finditer(prose):
        problems.extend(check_path_symbols(match.group(1), match.group(2), doc))

    decision = rel(doc).startswith("docs/decisions/")
    for target in LINK.findall(prose):
        if target.startswith(("http://", "https://", "mailto:")):
            if decision:
                problems.append(f"link {target} leaves the repository (cite the fact instead)")
            continue
        path = target.split("#", 1)[0]
        if not path:
            continue
        resolved = doc.parent / path
        if not (inside(resolved) and resolved.exists()):
            problems.append(f"link {target} does not resolve inside the repository")
    return [p for p in problems if p]


def check_symbol_span(span: str) -> str:
    name = span.removesuffix("()")
    if name in NOT_SYMBOLS:
        return ""
    if DOTTED.fullmatch(name) and name.split(".")[0] in PACKAGES:
        return "" if resolve_symbol(name) else f"`{span}` does not resolve"
    call = CALL.fullmatch(span)
    if call:
        known = call.group(1) in python_definitions() or hasattr(builtins, call.group(1))
        return "" if known else f"`{span}` is defined nowhere in the project"
    member = CLASS_ATTR.fullmatch(span)
    if member and member.group(1) in project_classes():
        modules = project_classes()[member.group(1)]
        if not any(resolve_symbol(m + "." + name) for m in modules):
            return f"`{span}` does not resolve on {member.group(1)} ({', '.join(modules)})"
    return ""


def check_path_symbols(token: str, symbols: str, doc: Path) -> list[str]:
    problem = resolve_path(token, doc)
    if problem:
        return []  # reported with the path itself
    relative = doc.parent / token
    if token.split("/", 1)[0] in TOP_LEVEL:
        path = token
    elif inside(relative) and relative.exists():
        path = rel(relative)
    else:
        path = suffix_matches(token)[0]
    problems = []
    for raw in re.findall(r"`([^`]+)`", symbols):
        name = raw.removesuffix("()")
        if not DOTTED.fullmatch(name):
            problems.append(f"`{raw}` after `{token}` is not a name defined in it")
            continue
        module = module_of(path)
        found = (
            resolve_symbol(f"{module}.{name}")
            if module is not None
            else defined_in_file(path, name)
        )
        if not found:
            problems.append(f"`{raw}` is not defined in {path}")
    return problems


# -- the tests --------------------------------------------------------------------------------


def test_readme_lists_every_setting_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `SIGMAWATCH_([A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    assert documented == {name.upper() for name in ServiceSettings.model_fields}


def test_readme_shows_the_two_set_up_commands() -> None:
    assert "make run" in README
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_links_resolve() -> None:
    for link in re.findall(r"\]\(((?:docs/)[^)#]+)\)", README):
        assert (ROOT / link).exists(), link


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: rel(doc))
def test_every_path_and_symbol_a_doc_names_exists(doc: Path) -> None:
    problems = problems_in(doc.read_text(), doc)
    assert not problems, f"{rel(doc)}:\n  " + "\n  ".join(problems)


def test_the_checks_catch_what_is_missing() -> None:
    """The rules above refuse a doc that names things the repository does not have."""
    doc = ROOT / "docs" / "decisions" / "9999-example.md"
    text = "\n".join(
        [
            "Paths: `core/sigmawatch/nothing.py`, `inference/.../cache.py`, `app.py`,",
            "`no_such_module_anywhere.py`, [gone](../gone.md), [out](../../../outside.md),",
            "[web](https://example.com/notes).",
            "Symbols: `sigmawatch.training.no_such_function`, `sigmawatch.nowhere`,",
            "`core/sigmawatch/training.py` (`train_series`, `no_such_name`),",
            "`VersionRecord.no_such_field`, `no_such_function_anywhere()`.",
            "```sh",
            "kubectl apply -k manifests/no-such-overlay",
            "```",
        ]
    )
    problems = problems_in(text, doc)
    expected = [
        "core/sigmawatch/nothing.py",
        "inference/.../cache.py",
        "`app.py` is ambiguous",
        "no_such_module_anywhere.py",
        "link ../gone.md",
        "link ../../../outside.md",
        "link https://example.com/notes",
        "sigmawatch.training.no_such_function",
        "sigmawatch.nowhere",
        "`no_such_name` is not defined in core/sigmawatch/training.py",
        "VersionRecord.no_such_field",
        "no_such_function_anywhere()",
        "manifests/no-such-overlay",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert not any("`train_series`" in p for p in problems), problems
    assert len(problems) == len(expected), problems
