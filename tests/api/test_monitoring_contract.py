"""OBS-4: alert rules and dashboards are valid PromQL over metrics that really exist,
and docs/operations.md lists exactly the metrics the service and the operator export.

Both apps are scraped: the service as a real `sigmawatch serve` process, the
operator's metrics over their own HTTP endpoint (prometheus_client's
exporter on OperatorMetrics' registry, what the operator serves on its
metrics port). Every expression of prometheusrule.yaml and of the Grafana
dashboards goes into one rule file that `promtool check rules` must accept,
so a dashboard query that does not parse fails here, not in Grafana.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import start_http_server

from sigmawatch_operator.metrics import OperatorMetrics
from support.procs import free_port
from support.service import ServiceFactory
from support.tiers import require

yaml: Any = importlib.import_module("yaml")

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
OPERATIONS = ROOT / "docs" / "operations.md"
TABLE_HEADING = "## Metrics"
# kube-state-metrics and cAdvisor: the pod-level alerts read them; not ours to export.
FOREIGN = re.compile(r"^(kube_|container_)")
NAME = re.compile(r"\b(?:sigmawatch|kube|container|process|python)_[a-z0-9_]*[a-z0-9]\b")
# Grafana's variables, replaced by something PromQL accepts before promtool reads it.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def families(exposition: str) -> dict[str, str]:
    """Metric families of a /metrics page, name → type (prometheus_client's automatic
    `_created` gauges left out: they belong to their counter or histogram)."""
    found = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE))
    return {
        name: kind
        for name, kind in found.items()
        if not (
            name.endswith("_created")
            and {name.removesuffix("_created") + s for s in ("", "_total")} & found.keys()
        )
    }


def series_names(exported: dict[str, str]) -> set[str]:
    """The names a query can use: a histogram's family gives _bucket, _sum and _count."""
    names = set()
    for name, kind in exported.items():
        names |= {name, *(name + s for s in SUFFIXES.get(kind, ()))}
    return names


@pytest.fixture(scope="module")
def service_metrics(make_service: ServiceFactory) -> dict[str, str]:
    service = make_service("monitoring")
    return families(httpx.get(service.url + "/metrics", timeout=10).text)


@pytest.fixture(scope="module")
def operator_metrics() -> Iterator[dict[str, str]]:
    port = free_port()
    server, thread = start_http_server(
        port, addr="127.0.0.1", registry=OperatorMetrics().collectors
    )
    try:
        yield families(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def exported(service_metrics: dict[str, str], operator_metrics: dict[str, str]) -> dict[str, str]:
    assert "sigmawatch_http_requests_total" in service_metrics
    assert "sigmawatch_operator_reconciles_total" in operator_metrics
    return service_metrics | operator_metrics


def test_the_operator_exports_its_process_metrics_too(operator_metrics: dict[str, str]) -> None:
    """OBS-1: a crash-looping or leaking operator shows in its CPU, memory and files."""
    wanted = {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"}
    assert wanted <= set(operator_metrics), sorted(operator_metrics)


def alert_exprs() -> dict[str, str]:
    document = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return {
        f"alert {rule['alert']}": rule["expr"]
        for group in document["spec"]["groups"]
        for rule in group["rules"]
    }


def dashboard_exprs() -> dict[str, str]:
    found = {}
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found[f"{path.name}: {panel['title']} {target['refId']}"] = expr
        for variable in dashboard["templating"]["list"]:
            query = variable.get("query")
            if isinstance(query, dict):  # label_values(metric, label): Grafana's, not PromQL
                metric = re.fullmatch(r"label_values\((\w+), *\w+\)", query["query"])
                assert metric, f"{path.name}: unexpected variable query {query}"
                found[f"{path.name}: variable {variable['name']}"] = metric[1]
    assert len(found) > 40
    return found


def used_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(NAME.findall(without_strings))


def test_every_rule_and_dashboard_expression_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "alert rules", "promtool not found (make promtool)")
    assert promtool is not None
    exprs = alert_exprs() | dashboard_exprs()
    records = [{"record": f"check:expr_{i}", "expr": expr} for i, expr in enumerate(exprs.values())]
    path = tmp_path / "every-expression.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": records}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    names = list(exprs)
    # promtool names a failing rule by its index: say which expression it was.
    failing = [
        names[int(i)] for i in re.findall(r"check:expr_(\d+)", result.stdout + result.stderr)
    ]
    assert result.returncode == 0, f"{failing}\n{result.stdout}{result.stderr}"


def test_rules_and_dashboards_name_only_exported_metrics(exported: dict[str, str]) -> None:
    """A renamed metric must fail here, not silently disarm an alert or blank a panel."""
    known = series_names(exported)
    unknown = {
        f"{where}: {name}"
        for where, expr in (alert_exprs() | dashboard_exprs()).items()
        for name in used_names(expr)
        if name not in known and not FOREIGN.match(name)
    }
    assert not unknown, "expressions use metrics nothing exports:\n  " + "\n  ".join(
        sorted(unknown)
    )


def documented_metrics() -> set[str]:
    """Every metric name written (in backticks, in full) in the first column of the
    table under '## Metrics' in docs/operations.md."""
    text = OPERATIONS.read_text()
    start = text.index(f"\n{TABLE_HEADING}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end > 0 else len(text)]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= {m.split("{")[0] for m in re.findall(r"`([^`]+)`", first_cell)}
    return names


def test_the_operations_guide_lists_every_exported_metric_and_no_other(
    exported: dict[str, str],
) -> None:
    documented = documented_metrics()
    missing = sorted(set(exported) - documented)
    extra = sorted(documented - set(exported))
    assert (missing, extra) == ([], []), (
        f"docs/operations.md '{TABLE_HEADING}' table and /metrics differ "
        "(write counters with _total, histograms by their family name):\n"
        f"  exported but not documented: {missing}\n"
        f"  documented but not exported: {extra}"
    )
