"""OBS-4: the Alertmanager example routes each severity of the alert rules to its receiver.

`amtool check-config` validates manifests/monitoring/alertmanager.yaml and
`amtool config routes test` answers where an alert with given labels goes,
as a running Alertmanager would route it.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.tiers import require

yaml: Any = importlib.import_module("yaml")

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
CONFIG = MONITORING / "alertmanager.yaml"
RECEIVERS = {"critical": "pager-critical", "warning": "chat-warning", "info": "notes-info"}


@pytest.fixture
def amtool() -> str:
    path = shutil.which("amtool")
    require(
        path is not None,
        "alertmanager config",
        "amtool not found (make alertmanager; Debian: apt-get install prometheus-alertmanager)",
    )
    assert path is not None
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def routed(amtool: str, config: Path, *labels: str) -> str:
    result = run(amtool, "config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_amtool_accepts_the_configuration(amtool: str) -> None:
    result = run(amtool, "check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_configuration_is_refused(amtool: str, tmp_path: Path) -> None:
    """The check can fail: a route naming a receiver that does not exist."""
    broken = tmp_path / "alertmanager.yaml"
    broken.write_text(CONFIG.read_text().replace("receiver: pager-critical", "receiver: nobody"))
    result = run(amtool, "check-config", str(broken))
    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


def test_every_alert_routes_by_its_severity(amtool: str) -> None:
    document = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    alerts = [rule for group in document["spec"]["groups"] for rule in group["rules"]]
    assert {rule["labels"]["severity"] for rule in alerts} == set(RECEIVERS)
    for rule in alerts:
        labels = [f"{k}={v}" for k, v in rule["labels"].items()]
        receiver = routed(amtool, CONFIG, f"alertname={rule['alert']}", "namespace=prod", *labels)
        assert receiver == RECEIVERS[rule["labels"]["severity"]], rule["alert"]
    # An alert without a severity still reaches people.
    assert routed(amtool, CONFIG, "alertname=Unlabelled") == "chat-warning"
