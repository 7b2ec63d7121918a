"""JSON logs and correlation ids, read from real processes (USE-3, OBS-3).

A service and a training Job's command (`sigmawatch train-fleet`, as the
operator runs it) share one registry. Every line either writes is parsed:
it is one JSON object whose first fields are the documented ones, in
order. A retrain and a rollout each keep one correlation id across the
request, the command's lines, the registry's training results and
rollouts, and the audit log, where `correlation_id=` finds them all. The
operator's side (the id in the Job's environment) is in
tests/operator/test_jobs.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from sigmawatch import __version__
from sigmawatch.logs import FIELDS
from sigmawatch.training_job import ENV_ACTOR, ENV_CORRELATION
from support.data import train_body
from support.procs import clean_env
from support.service import SOURCE_ROOTS, Service, ServiceFactory

ROOT = Path(__file__).resolve().parents[2]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
JOB_ARGS = ("--run-id", "logs-run", "--dataset", "--series", "logs_job_a,logs_job_b")


def parse(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object whose keys start with FIELDS, in order."""
    lines = []
    for line in text.splitlines():
        entry = orjson.loads(line)  # a line that is not JSON fails here
        assert tuple(entry)[: len(FIELDS)] == FIELDS, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
        lines.append(entry)
    return lines


_LOG_START: dict[Path, int] = {}


@pytest.fixture(scope="module")
def service(make_service: ServiceFactory) -> Service:
    made = make_service("logs", env={"SIGMAWATCH_LOG_LEVEL": "INFO"}, start=False)
    path = made.process.log_path
    _LOG_START[path] = path.stat().st_size if path.exists() else 0
    return made.start()


def written(service: Service) -> list[dict[str, Any]]:
    """The lines of this service's log since it started (the file keeps earlier runs')."""
    path = service.process.log_path
    return parse(path.read_bytes()[_LOG_START[path] :].decode())


def audit(service: Service, **query: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{service.url}/v1/audit", params={"limit": 1000, **query})
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()["items"]))


def test_a_request_names_its_operation_in_the_log_and_the_audit(service: Service) -> None:
    with service.client() as client:
        trained = client.post(
            "/v1/series/logs_1/train",
            json=train_body(seed=1),
            headers={
                "x-correlation-id": "retrain-7",
                "x-request-id": "req-logs-1",
                "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
            },
        )
        assert trained.status_code == 201, trained.text
        bare = client.post("/v1/series/logs_1/train", json=train_body(seed=2))
        assert bare.status_code == 201
    lines = written(service)
    assert {e["service"] for e in lines} == {"sigmawatch-inference"}
    assert {e["service_version"] for e in lines} == {__version__}
    [line] = [e for e in lines if e["message"] == "trained" and e["version"] == "v1"]
    assert (line["series_id"], line["correlation_id"], line["request_id"]) == (
        "logs_1",
        "retrain-7",
        "req-logs-1",
    )
    assert line["trace_id"] == TRACE
    [entry] = audit(service, correlation_id="retrain-7")
    assert (entry["action"], entry["version"], entry["request_id"]) == ("train", "v1", "req-logs-1")
    # Without a correlation id the request is its own operation: its request id.
    [other] = [e for e in audit(service, action="train") if e["version"] == "v2"]
    assert other["correlation_id"] == other["request_id"] is not None


def test_a_rollout_keeps_its_correlation_id_through_later_requests(service: Service) -> None:
    with service.client() as client:
        for seed in (3, 4):
            assert client.post("/v1/series/logs_2/train", json=train_body(seed=seed)).is_success
        client.post("/v1/series/logs_2/rollback", json={"version": "v1"}).raise_for_status()
        started = client.post(
            "/v1/series/logs_2/rollouts",
            json={"candidate": "v2", "strategy": "shadow"},
            headers={"x-correlation-id": "rollout-logs-2"},
        )
        assert started.status_code == 201, started.text
        assert started.json()["correlation_id"] == "rollout-logs-2"
        # Paused and aborted by requests that name no operation: still the rollout's.
        assert client.post("/v1/series/logs_2/rollout/pause").is_success
        assert client.post("/v1/series/logs_2/rollout/abort").is_success
    moves = audit(service, correlation_id="rollout-logs-2")
    assert [(e["action"], e["outcome"], e["series_id"]) for e in moves] == [
        ("rollout.start", "Shadowing", "logs_2"),
        ("rollout.transition", "Paused", "logs_2"),
        ("rollout.abort", "Aborted", "logs_2"),
    ]
    [line] = [e for e in written(service) if e["message"] == "rollout started"]
    assert line["correlation_id"] == "rollout-logs-2"


def test_a_training_job_logs_and_records_under_the_operators_id(
    service: Service, tmp_path: Path
) -> None:
    with service.client() as client:
        for series in ("logs_job_a", "logs_job_b"):
            assert client.put(f"/v1/series/{series}/dataset", json=train_body(seed=5)).is_success
    env = clean_env(
        {
            "PYTHONPATH": SOURCE_ROOTS,
            "SIGMAWATCH_DATABASE_URL": service.process.env["SIGMAWATCH_DATABASE_URL"],
            "SIGMAWATCH_ARTIFACTS_URL": (
                Path(service.process.env["SIGMAWATCH_DATA_DIR"]) / "artifacts"
            ).as_uri(),
            "SIGMAWATCH_DATA_DIR": str(tmp_path),
            ENV_ACTOR: "job/ns/logs-run",
            ENV_CORRELATION: "0123456789abcdef",
        }
    )
    job = subprocess.run(
        [sys.executable, "-m", "sigmawatch_inference.cli", "train-fleet", *JOB_ARGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert job.returncode == 0, job.stderr
    lines = parse(job.stderr)
    assert lines, "the command wrote no log line"
    assert {(e["service"], e["correlation_id"]) for e in lines} == {
        ("sigmawatch-training", "0123456789abcdef")
    }
    assert {e["series_id"] for e in lines if e["message"] == "trained"} == {
        "logs_job_a",
        "logs_job_b",
    }
    trainings = audit(service, correlation_id="0123456789abcdef")
    assert {(e["actor"], e["action"], e["series_id"]) for e in trainings} == {
        ("job/ns/logs-run", "train", "logs_job_a"),
        ("job/ns/logs-run", "train", "logs_job_b"),
    }
    with psycopg.connect(service.process.env["SIGMAWATCH_DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT series_id, correlation_id FROM training_results WHERE run_id = 'logs-run'"
            " ORDER BY series_id"
        ).fetchall()
    assert rows == [("logs_job_a", "0123456789abcdef"), ("logs_job_b", "0123456789abcdef")]


def test_debug_lines_are_kept_for_a_share_of_operations_alike_in_every_process() -> None:
    """SIGMAWATCH_LOG_DEBUG_SAMPLE decides per operation: the same ids are kept in two
    processes, every line of a kept one is, and about the share of them are."""
    script = (
        "import logging\n"
        "from sigmawatch.audit import Actor, acting_as\n"
        "from sigmawatch.logs import configure_logging\n"
        "from sigmawatch.settings import StorageSettings, load_settings\n"
        "configure_logging(load_settings(StorageSettings), 'sample-check')\n"
        "log = logging.getLogger('sample')\n"
        "for i in range(2000):\n"
        "    with acting_as(Actor('cli/t', correlation_id=f'op-{i}')):\n"
        "        log.debug('first', extra={'i': i}); log.debug('second', extra={'i': i})\n"
        "        log.info('always', extra={'i': i})\n"
    )
    env = clean_env(
        {
            "PYTHONPATH": SOURCE_ROOTS,
            "SIGMAWATCH_LOG_LEVEL": "DEBUG",
            "SIGMAWATCH_LOG_DEBUG_SAMPLE": "0.1",
        }
    )

    def kept() -> tuple[dict[str, set[int]], int]:
        run = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        lines = [e for e in parse(run.stderr) if e["logger"] == "sample"]
        by_message: dict[str, set[int]] = {"first": set(), "second": set(), "always": set()}
        for entry in lines:
            by_message[entry["message"]].add(entry["i"])
        return by_message, len(lines)

    first, _ = kept()
    again, _ = kept()
    assert first == again  # deterministic across processes
    assert first["first"] == first["second"]  # a kept operation keeps all its DEBUG lines
    assert len(first["always"]) == 2000  # INFO is never sampled
    assert 120 <= len(first["first"]) <= 280  # ~10% of 2,000


def test_the_documented_log_fields_are_the_ones_written() -> None:
    """docs/operations.md lists every field each line starts with (issue 9)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("\n## Logs\n", 1)[1].split("\n## ", 1)[0]
    documented = tuple(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == FIELDS
    assert "SIGMAWATCH_LOG_DEBUG_SAMPLE" in section
    assert "X-Correlation-Id" in section


@pytest.mark.parametrize("value", ["x" * 129, "bad id!"])
def test_an_unusable_correlation_header_is_replaced_not_stored(
    service: Service, value: str
) -> None:
    with service.client() as client:
        answer = client.post(
            "/v1/series/logs_none/rollback",
            json={"version": "v1"},
            headers={"x-correlation-id": value},
        )
    assert answer.status_code == 404
    [entry] = audit(service, series_id="logs_none")[-1:]
    assert entry["correlation_id"] == entry["request_id"] != value
