"""The OBS-4 alert rules: valid for Prometheus, on real metric names, and behaving as specified.

The rules live in a PrometheusRule object (manifests/monitoring), which
promtool cannot read: its spec is written out as a plain rule file, then
`promtool check rules` validates it and `promtool test rules` runs the unit
tests in manifests/monitoring/tests/ against it.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.tiers import require

# PyYAML comes with the kubernetes client but ships no type stubs.
yaml: Any = importlib.import_module("yaml")

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
RULE_FILE = "sigmawatch-rules.yaml"  # the name the unit tests' rule_files expects
SOURCES = (
    *sorted((ROOT / "inference" / "sigmawatch_inference").glob("metrics*.py")),
    ROOT / "operator" / "sigmawatch_operator" / "metrics.py",
)
# Metrics of kube-state-metrics and cAdvisor, which the pod-level alerts use.
KUBERNETES_METRICS = re.compile(r"^(kube_|container_)")
# The series prometheus_client exposes per metric type.
SERIES_SUFFIXES = {
    "Counter": ("_total",),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count"),
}


def rules() -> dict[str, Any]:
    document = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert document["kind"] == "PrometheusRule"
    spec: dict[str, Any] = document["spec"]
    return spec


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    require(
        path is not None, "alert rules", "promtool not found (Debian: apt-get install prometheus)"
    )
    assert path is not None
    return path


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / RULE_FILE).write_text(yaml.safe_dump(rules(), sort_keys=False))
    for test in (MONITORING / "tests").glob("*.test.yaml"):
        shutil.copy(test, tmp_path / test.name)
    return tmp_path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rules(promtool: str, rules_dir: Path) -> None:
    result = run(promtool, "check", "rules", str(rules_dir / RULE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str, rules_dir: Path) -> None:
    tests = sorted(rules_dir.glob("*.test.yaml"))
    assert tests
    result = run(promtool, "test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_use_only_metrics_the_code_exports() -> None:
    """A renamed metric must break this test, not silently disarm an alert."""
    exported: set[str] = set()
    for source in SOURCES:
        # A metric object, or the family a custom collector yields at scrape time.
        declared = r'\b(Counter|Gauge|Histogram)(?:MetricFamily)?\(\s*"([a-z0-9_]+)"'
        found = re.findall(declared, source.read_text())
        for kind, name in found:
            exported |= {name + suffix for suffix in SERIES_SUFFIXES[kind]}
    assert "sigmawatch_http_requests_total" in exported
    used: set[str] = set()
    for group in rules()["groups"]:
        for rule in group["rules"]:
            used |= set(re.findall(r"\b(?:sigmawatch|kube|container)_[a-z0-9_]+\b", rule["expr"]))
    unknown = {m for m in used if not KUBERNETES_METRICS.match(m)} - exported
    assert not unknown, f"rules use metrics nothing exports: {sorted(unknown)}"


def test_every_obs4_alert_is_there_with_its_severity() -> None:
    severities = {
        rule["alert"]: rule["labels"]["severity"]
        for group in rules()["groups"]
        for rule in group["rules"]
    }
    expected = {
        "SigmawatchAvailabilityLow": "critical",
        "SigmawatchErrorRateCritical": "critical",
        "SigmawatchPredictionLatencyP99Critical": "critical",
        "SigmawatchPredictionLatencyP99High": "warning",
        "SigmawatchErrorRateHigh": "warning",
        "SigmawatchModelCacheMissRateHigh": "warning",
        "SigmawatchAnomalyRateHigh": "warning",
        "SigmawatchFleetAnomalyRateHigh": "warning",
        "SigmawatchModelDrift": "warning",
        "SigmawatchRolloutRolledBack": "warning",
        "SigmawatchRolloutStuck": "warning",
        "SigmawatchModelFallbackRateHigh": "info",
        "SigmawatchPodMemoryHigh": "info",
        "SigmawatchInferenceDeployCompleted": "info",
    }
    assert expected.items() <= severities.items()


def test_every_alert_has_a_promtool_case_that_fires() -> None:
    """OBS-4: each rule is exercised; a case expecting no alert alone does not count."""
    alerts = {rule["alert"] for group in rules()["groups"] for rule in group["rules"]}
    fired: set[str] = set()
    for path in (MONITORING / "tests").glob("*.test.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            fired |= {t["alertname"] for t in case.get("alert_rule_test", []) if t["exp_alerts"]}
    assert alerts - fired == set(), f"alerts without a firing promtool case: {alerts - fired}"
    assert fired <= alerts
