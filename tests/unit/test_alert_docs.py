"""docs/operations.md lists every alert the rules define, with its severity (OBS-4)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_alert_table_is_the_rules() -> None:
    rules = yaml.safe_load((ROOT / "manifests/monitoring/prometheusrule.yaml").read_text())
    defined = {
        (rule["alert"], rule["labels"]["severity"])
        for group in rules["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    guide = (ROOT / "docs/operations.md").read_text()
    section = guide.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(Sigmawatch\w+)` \| (\w+) \|", section, flags=re.MULTILINE))
    assert documented == defined
