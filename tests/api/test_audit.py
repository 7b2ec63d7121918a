"""The audit log through a real service process (SEC-4): every action, with its actor.

A trainer and an admin (API keys) upload, train, retrain, label, roll back,
restore, roll out and manage keys; a refused attempt is recorded too. The
log then answers who did what through `GET /v1/audit`, with filters and a
cursor. The operator's and a training Job's entries are checked in
tests/cluster/test_operator.py, on the same registry code.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.data import train_body
from support.service import JSON_HEADERS, Service, ServiceFactory

ADMIN_KEY = "swk_audit_" + secrets.token_urlsafe(24)
TRACE = "0af7651916cd43dd8448eb211c80319c"
ENV = {
    "SIGMAWATCH_AUTH": "api_key",
    "SIGMAWATCH_ADMIN_API_KEY": ADMIN_KEY,
    "SIGMAWATCH_MIN_TRAINING_POINTS": "200",
    "SIGMAWATCH_RETENTION_VERSIONS": "2",
    # On with authentication; this module retrains series within minutes.
    "SIGMAWATCH_RATE_LIMIT_SERIES_TRAININGS": "100 per minute",
}


class Callers:
    def __init__(self, service: Service) -> None:
        self.admin = httpx.Client(
            base_url=service.url, timeout=30, headers={**JSON_HEADERS, "x-api-key": ADMIN_KEY}
        )
        made = self.admin.post("/v1/apikeys", json={"name": "ci-trainer", "role": "trainer"})
        assert made.status_code == 201, made.text
        self.trainer = httpx.Client(
            base_url=service.url,
            timeout=30,
            headers={
                **JSON_HEADERS,
                "x-api-key": made.json()["key"],
                "traceparent": f"00-{TRACE}-b7ad6b7169203331-01",
            },
        )

    def entries(self, **query: Any) -> list[dict[str, Any]]:
        answer = self.admin.get("/v1/audit", params={"limit": 1000, **query})
        assert answer.status_code == 200, answer.text
        return list(reversed(answer.json()["items"]))  # oldest first


@pytest.fixture(scope="module")
def callers(make_service: ServiceFactory) -> Iterator[Callers]:
    made = Callers(make_service("audit", env=ENV))
    yield made
    made.admin.close()
    made.trainer.close()


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def test_every_action_is_recorded_with_who_did_it(callers: Callers) -> None:
    trainer, admin = callers.trainer, callers.admin
    ok(trainer.put("/v1/series/aud_1/dataset", json=train_body(400, seed=9)))
    ok(trainer.post("/v1/series/aud_1/train", json=train_body(400, seed=1)), 201)
    ok(trainer.post("/v1/series/aud_1/train", json=train_body(400, seed=1)))  # the same data
    ok(trainer.post("/v1/series/aud_1/train", json=train_body(400, seed=2)), 201)
    ok(trainer.post("/v1/series/aud_1/train", json=train_body(400, seed=3)), 201)  # archives v1
    short = trainer.post("/v1/series/aud_1/train", json=train_body(50, seed=4))
    assert short.json()["error"]["code"] == "INSUFFICIENT_DATA"
    assert trainer.post("/v1/series/aud_1/rollback", json={"version": "v2"}).status_code == 403
    ok(
        trainer.post(
            "/v1/series/aud_1/feedback", json={"timestamps": [1], "values": [1.0], "labels": [True]}
        )
    )
    ok(admin.post("/v1/series/aud_1/rollback", json={"version": "v2"}))
    ok(admin.post("/v1/series/aud_1/versions/v1/restore"))
    ok(admin.post("/v1/series/aud_1/rollouts", json={"candidate": "v3", "strategy": "shadow"}), 201)
    ok(admin.post("/v1/series/aud_1/rollout/pause"))
    ok(admin.post("/v1/series/aud_1/rollout/abort"))
    ok(admin.post("/v1/apikeys/ci-trainer/revoke"))

    seen = [
        (e["actor"], e["action"], e["outcome"], e["version"])
        for e in callers.entries()
        if e["series_id"] == "aud_1" or e["action"].startswith("apikey.")
    ]
    trainer_key, admin_key = "key/ci-trainer", "key/bootstrap-admin"
    assert seen == [
        ("service/bootstrap", "apikey.create", "created", None),
        (admin_key, "apikey.create", "created", None),
        (trainer_key, "dataset.upload", "stored", None),
        (trainer_key, "train", "created", "v1"),
        (trainer_key, "train", "existing", "v1"),
        (trainer_key, "train", "created", "v2"),
        (trainer_key, "train", "created", "v3"),
        (trainer_key, "archive", "archived", "v1"),
        (trainer_key, "train", "refused:INSUFFICIENT_DATA", None),
        (trainer_key, "rollback", "refused:FORBIDDEN", None),
        (trainer_key, "feedback", "stored", None),
        (admin_key, "rollback", "moved", "v2"),
        (admin_key, "restore", "restored", "v1"),
        (admin_key, "rollout.start", "Shadowing", "v3"),
        (admin_key, "rollout.transition", "Paused", None),
        (admin_key, "rollout.abort", "Aborted", None),
        (admin_key, "apikey.revoke", "revoked", None),
    ]


def test_entries_carry_the_request_they_came_from(callers: Callers) -> None:
    [upload] = callers.entries(action="dataset.upload", series_id="aud_1")
    assert upload["client"] == "127.0.0.1"
    assert upload["trace_id"] == TRACE
    assert len(upload["request_id"]) >= 8
    named = callers.admin.post(
        "/v1/series/aud_none/rollback", json={"version": "v1"}, headers={"x-request-id": "req-42"}
    )
    assert named.status_code == 404
    [refused] = callers.entries(series_id="aud_none")
    assert (refused["request_id"], refused["outcome"]) == ("req-42", "refused:MODEL_NOT_FOUND")


def test_the_log_filters_and_pages(callers: Callers) -> None:
    moves = callers.entries(action="rollout.")
    assert {e["action"] for e in moves} == {"rollout.start", "rollout.transition", "rollout.abort"}
    first = callers.admin.get("/v1/audit", params={"limit": 3}).json()
    second = callers.admin.get("/v1/audit", params={"limit": 3, "cursor": first["next_cursor"]})
    ids = [e["id"] for e in first["items"] + second.json()["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 6
    assert callers.admin.get("/v1/audit", params={"cursor": "x"}).status_code == 400
    assert all(e["actor"] != "unknown" for e in callers.entries())
