"""Every YAML example in docs/operator.md and docs/rollouts.md applies to a real API server
as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.plant import Plant

DOCS = Path(__file__).resolve().parents[2] / "docs"
OPERATOR = re.findall(r"```yaml\n(.*?)```", (DOCS / "operator.md").read_text(), flags=re.DOTALL)
ROLLOUTS = re.findall(r"```yaml\n(.*?)```", (DOCS / "rollouts.md").read_text(), flags=re.DOTALL)
EXAMPLES = OPERATOR + ROLLOUTS


def first(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, pattern
    return match.group(1)


def test_the_page_has_examples_of_both_kinds() -> None:
    kinds = {first(r"^kind: (\w+)", e) for e in OPERATOR}
    assert kinds == {"AnomalyModel", "ModelRollout"}
    assert len(OPERATOR) >= 4
    assert [first(r"^kind: (\w+)", e) for e in ROLLOUTS] == ["ModelRollout"]


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[first(r"^  name: ([\w-]+)", e) for e in EXAMPLES]
)
def test_example_applies(plant: Plant, namespace: str, example: str) -> None:
    result = plant.cluster.kubectl("apply", "-n", namespace, "-f", "-", input=example)
    assert "created" in result.stdout
    kind = first(r"^kind: (\w+)", example).lower()
    stored = plant.cluster.kubectl(
        "get", kind, first(r"^  name: ([\w-]+)", example), "-n", namespace, "-o", "yaml"
    ).stdout
    if kind == "anomalymodel" and "keepVersions" not in example:
        # The schema's defaults are filled in by the API server.
        assert "keepVersions: 10" in stored
