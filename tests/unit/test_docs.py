"""Docs that must match the code: the README's settings table and commands."""

from __future__ import annotations

import re
from pathlib import Path

from sigmawatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_lists_every_setting_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `SIGMAWATCH_([A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_readme_shows_the_two_set_up_commands() -> None:
    assert "make run" in README
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_links_resolve() -> None:
    for link in re.findall(r"\]\(((?:docs/)[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
