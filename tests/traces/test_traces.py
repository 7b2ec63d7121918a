"""Traces as an operator sees them in Jaeger (OBS-5): real services, a real receiver.

Each test drives real processes (`sigmawatch serve`, `sigmawatch train-fleet`)
that export over OTLP/HTTP, then reads the spans back through Jaeger's
query API and checks the tree: names, parents, attributes.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import baggage
from opentelemetry import context as otel_context

from sigmawatch import tracing
from sigmawatch.training_job import ENV_CORRELATION, ENV_SERIES
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.jobs import build_job
from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.run_size import RunSize
from support.data import series_data, train_body
from support.jaeger import Jaeger, Span, by_name
from support.procs import clean_env
from support.s3 import S3Server
from support.service import ROOT, SOURCE_ROOTS, Service, ServiceFactory

from .conftest import otel_env, unique

PREDICT = "POST /v1/series/{series_id}/predict"
BATCH = "POST /v1/predict"
TRAIN = "POST /v1/series/{series_id}/train"
JOB_ARGS = ("train-fleet", "--run-id", "tr-job", "--dataset")
NOW = int(series_data(12_000)[0][-1]) + 300


@pytest.fixture(scope="module")
def service(traced_service: Callable[..., Service]) -> Service:
    return traced_service(unique("sigmawatch-inference"))


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


def name_of(service: Service) -> str:
    return service.process.env["OTEL_SERVICE_NAME"]


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def child_of(spans: dict[str, Span], name: str, parent: str) -> Span:
    span = spans[name]
    assert span.parent_id == spans[parent].span_id, f"{name} is not a child of {parent}"
    return span


def predict_traces(jaeger: Jaeger, service: Service, series: str, count: int) -> list[list[Span]]:
    """The traces of `series`' predicts, once `count` have arrived."""

    def find() -> list[list[Span]] | None:
        found = [
            t
            for t in jaeger.traces(name_of(service), PREDICT)
            if any(s.name == PREDICT and s.tags.get(tracing.SERIES_ID) == series for s in t)
        ]
        return found if len(found) >= count else None

    return jaeger.wait_for(find, f"{count} predict traces of {series}")


def test_a_cache_missing_predict_is_one_trace_of_load_query_read_and_score(
    client: httpx.Client, service: Service, jaeger: Jaeger
) -> None:
    """HTTP → model.load → (registry.get_production, artifact.read) and HTTP → model.score."""
    assert client.post("/v1/series/tr_miss/train", json=train_body(seed=3)).status_code == 201
    answer = client.post("/v1/series/tr_miss/predict", json={"timestamp": NOW, "value": 1.0})
    assert answer.status_code == 200, answer.text

    (found,) = predict_traces(jaeger, service, "tr_miss", 1)
    trace = jaeger.trace_with(found[0].trace_id, PREDICT, "model.load", "model.score")
    spans = by_name(trace)
    assert set(spans) == {
        PREDICT,
        "model.load",
        "registry.get_production",
        "artifact.read",
        "model.score",
    }, sorted(spans)
    assert len({s.trace_id for s in trace}) == 1
    server = spans[PREDICT]
    assert server.parent_id is None  # no traceparent came in: the trace starts here
    assert server.tags["span.kind"] == "server"
    assert server.tags["http.route"] == "/v1/series/{series_id}/predict"
    assert server.tags["http.response.status_code"] == 200
    assert server.tags[tracing.SERIES_ID] == "tr_miss"
    load = child_of(spans, "model.load", PREDICT)
    assert (load.tags[tracing.SERIES_ID], load.tags[tracing.VERSION]) == ("tr_miss", 1)
    assert load.tags[tracing.DETECTOR_KIND] == "zscore"
    assert load.tags["model.fallback"] is False
    query = child_of(spans, "registry.get_production", "model.load")
    assert query.tags["span.kind"] == "client"
    assert query.tags[tracing.DB_SYSTEM] == "postgresql"
    assert query.tags[tracing.DB_OPERATION] == "get_production"
    read = child_of(spans, "artifact.read", "model.load")
    assert read.tags[tracing.ARTIFACT_KEY].startswith("models/tr_miss/")
    assert read.tags[tracing.ARTIFACT_KEY].endswith("manifest.json")
    assert read.tags[tracing.ARTIFACT_BYTES] > 0
    score = child_of(spans, "model.score", PREDICT)
    assert score.tags[tracing.VERSION] == 1
    assert score.tags["model.points"] == 1

    # The next predict hits the cache: scoring only, no load, no query.
    assert client.post("/v1/series/tr_miss/predict", json={"timestamp": NOW, "value": 2.0})
    traces = predict_traces(jaeger, service, "tr_miss", 2)
    (other,) = {s.trace_id for t in traces for s in t} - {trace[0].trace_id}
    hit = jaeger.trace_with(other, PREDICT, "model.score")
    assert {s.name for s in hit} == {PREDICT, "model.score"}


def test_answers_from_the_resident_table_carry_their_scoring_span(
    client: httpx.Client, traced_service: Callable[..., Service], jaeger: Jaeger
) -> None:
    """A resident answer has no load and no query, but still its `model.score`."""
    for series in ("tr_res_a", "tr_res_b"):  # trained first: a pod loads its table at start
        trained = client.post(f"/v1/series/{series}/train", json=train_body(seed=4))
        assert trained.status_code == 201
    service = traced_service(unique("sigmawatch-resident"), resident=True)
    with service.client() as client:
        assert client.get("/healthcheck").json()["models_resident"] >= 2
        one = client.post("/v1/series/tr_res_a/predict", json={"timestamp": NOW, "value": 1.0})
        assert one.status_code == 200
        items = [
            {"series_id": s, "timestamps": [NOW, NOW + 300], "values": [10.0, 99.0]}
            for s in ("tr_res_a", "tr_res_b")
        ]
        assert client.post("/v1/predict", json={"items": items}).status_code == 200

    (single,) = predict_traces(jaeger, service, "tr_res_a", 1)
    spans = by_name(jaeger.trace_with(single[0].trace_id, PREDICT, "model.score"))
    assert set(spans) == {PREDICT, "model.score"}, sorted(spans)
    score = child_of(spans, "model.score", PREDICT)
    assert score.tags["model.resident"] is True
    assert (score.tags[tracing.SERIES_ID], score.tags[tracing.VERSION]) == ("tr_res_a", 1)
    assert score.tags["model.points"] == 1

    def batch() -> list[list[Span]] | None:
        return jaeger.traces(name_of(service), BATCH) or None

    (found,) = jaeger.wait_for(batch, "the batch's trace")
    spans = by_name(jaeger.trace_with(found[0].trace_id, BATCH, "model.score"))
    assert set(spans) == {BATCH, "model.score"}, sorted(spans)
    score = child_of(spans, "model.score", BATCH)
    assert (score.tags["model.items"], score.tags["model.points"]) == (2, 4)
    assert score.tags["model.anomalies"] == 2  # 99.0 is far out in both series


def test_an_incoming_traceparent_is_continued_and_its_baggage_kept(
    client: httpx.Client, jaeger: Jaeger
) -> None:
    assert client.post("/v1/series/tr_parent/train", json=train_body(seed=4)).status_code == 201
    trace_id, parent, header = traceparent()
    answer = client.post(
        "/v1/series/tr_parent/predict",
        json={"timestamp": NOW, "value": 1.0},
        headers={"traceparent": header, "baggage": "tenant=acme,site=plant%207"},
    )
    assert answer.status_code == 200, answer.text
    trace = jaeger.trace_with(trace_id, PREDICT, "model.load", "model.score")
    spans = by_name(trace)
    server = spans[PREDICT]
    assert server.trace_id == trace_id
    assert server.parent_id == parent  # the caller's span, not a new root
    assert server.tags["baggage.tenant"] == "acme"
    assert server.tags["baggage.site"] == "plant 7"
    assert child_of(spans, "model.load", PREDICT).trace_id == trace_id


def test_training_through_the_api_is_traced_and_the_audit_names_its_trace(
    client: httpx.Client, service: Service, jaeger: Jaeger
) -> None:
    trained = client.post("/v1/series/tr_train/train", json=train_body(seed=5))
    assert trained.status_code == 201, trained.text
    entries = httpx.get(
        f"{service.url}/v1/audit", params={"series_id": "tr_train", "action": "train"}
    ).json()["items"]
    (entry,) = entries
    trace_id = entry["trace_id"]
    assert trace_id is not None  # no traceparent came in: the service's own trace

    trace = jaeger.trace_with(trace_id, TRAIN, "training.series", "artifact.write")
    spans = {s.name: s for s in trace}
    assert TRAIN in spans, sorted(spans)
    training = child_of(spans, "training.series", TRAIN)
    assert training.tags[tracing.SERIES_ID] == "tr_train"
    assert training.tags[tracing.VERSION] == 1
    assert training.tags[tracing.DETECTOR_KIND] == "zscore"
    assert training.tags["training.created"] is True
    assert child_of(spans, "artifact.write", "training.series").tags[tracing.ARTIFACT_BYTES] > 0
    queries = {s.name for s in trace if s.parent_id == training.span_id}
    assert {"registry.find_by_data", "registry.register"} <= queries, sorted(queries)


def _job_env(job: dict[str, Any]) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_a_training_job_joins_the_trace_of_the_reconcile_that_made_it(
    client: httpx.Client, service: Service, jaeger: Jaeger
) -> None:
    """Operator (in this process) → the Job's TRACEPARENT/BAGGAGE → `train-fleet` spans."""
    series = "tr_job"
    assert client.put(f"/v1/series/{series}/dataset", json=train_body(seed=6)).is_success
    operator = unique("sigmawatch-operator")
    assert tracing.configure(operator, otel_env(jaeger, operator))
    try:
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            with tracing.span("operator.reconcile") as reconcile:
                job = build_job(
                    model={"metadata": {"name": "tr", "namespace": "plant", "uid": "u-1"}},
                    spec=parse_spec({"series": {"id": series}, "source": {"dataset": {}}}),
                    key="k" * 64,
                    name="tr-job",
                    size=RunSize(1, 1, 3600, 1.0),
                    config=OperatorConfig(),
                )
        finally:
            otel_context.detach(token)
    finally:
        tracing.shutdown()  # flushes the reconcile span
    env = _job_env(job)
    trace_id = format(reconcile.get_span_context().trace_id, "032x")
    assert env["TRACEPARENT"].split("-")[1] == trace_id
    assert env["BAGGAGE"] == "tenant=acme"

    assert env[ENV_SERIES] == series
    training = unique("sigmawatch-training")
    done = subprocess.run(
        [sys.executable, "-m", "sigmawatch_inference.cli", *JOB_ARGS],
        env=clean_env(
            {
                "PYTHONPATH": SOURCE_ROOTS,
                "SIGMAWATCH_DATABASE_URL": service.process.env["SIGMAWATCH_DATABASE_URL"],
                "SIGMAWATCH_ARTIFACTS_URL": service.process.env["SIGMAWATCH_ARTIFACTS_URL"],
                "SIGMAWATCH_DATA_DIR": service.process.env["SIGMAWATCH_DATA_DIR"],
                **env,  # the Job's own: actor, correlation, series, TRACEPARENT, BAGGAGE
                **otel_env(jaeger, training),
            }
        ),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr

    trace = jaeger.trace_with(
        trace_id, "operator.reconcile", "training.run", "training.series", "artifact.write"
    )
    spans = {s.name: s for s in trace}
    assert spans["operator.reconcile"].service == operator
    run = child_of(spans, "training.run", "operator.reconcile")
    assert run.service == training
    assert run.tags["training.run_id"] == "tr-job"
    assert run.tags["baggage.tenant"] == "acme"
    assert child_of(spans, "dataset.read", "training.run").tags[tracing.SERIES_ID] == series
    assert child_of(spans, "training.series", "training.run").tags[tracing.VERSION] == 1
    assert child_of(spans, "artifact.write", "training.series")
    assert any(s.name.startswith("registry.") and s.service == training for s in trace)
    # The Job's audit entries name the trace they were written in.
    query: dict[str, str | int] = {"correlation_id": env[ENV_CORRELATION], "limit": 100}
    audited = client.get("/v1/audit", params=query).json()["items"]
    assert {e["action"] for e in audited} >= {"train"}, audited
    assert {e["trace_id"] for e in audited} == {trace_id}


def test_a_service_on_s3_traces_its_artifacts_and_s3_accepts_the_propagated_context(
    make_service: ServiceFactory, s3_server: S3Server, jaeger: Jaeger
) -> None:
    """Every S3 request inside a trace carries traceparent (added after signing): the
    server still verifies each, so training writes and the cache miss reads."""
    name = unique("sigmawatch-inference-s3")
    env = s3_server.env | otel_env(jaeger, name)
    env["SIGMAWATCH_ARTIFACTS_URL"] = f"s3://{s3_server.new_bucket()}/sigmawatch"
    env["SIGMAWATCH_RESIDENT_MAX_BYTES"] = "0"
    service = make_service(name, env=env)
    trace_id, _, header = traceparent()
    with service.client() as client:
        trained = client.post(
            "/v1/series/tr_s3/train", json=train_body(seed=7), headers={"traceparent": header}
        )
        assert trained.status_code == 201, trained.text
        answer = client.post("/v1/series/tr_s3/predict", json={"timestamp": NOW, "value": 1.0})
        assert answer.status_code == 200, answer.text
    written = by_name(jaeger.trace_with(trace_id, TRAIN, "training.series", "artifact.write"))
    assert written["artifact.write"].tags[tracing.ARTIFACT_BYTES] > 0
    (found,) = predict_traces(jaeger, service, "tr_s3", 1)
    read = by_name(jaeger.trace_with(found[0].trace_id, PREDICT, "artifact.read"))
    assert child_of(read, "artifact.read", "model.load").tags[tracing.ARTIFACT_BYTES] > 0
