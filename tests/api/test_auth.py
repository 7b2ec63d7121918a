"""Authentication and roles against real service processes (SEC-3).

Two `sigmawatch serve` processes share one registry with `SIGMAWATCH_AUTH=api_key,jwt`:
every route of the OpenAPI document is called as nobody, as each role, with
expired and revoked keys and with bad tokens; a key revoked on one process
stops working on the other within seconds; nothing secret reaches the logs.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from support.procs import clean_env, wait_for
from support.service import JSON_HEADERS, SOURCE_ROOTS, Service, ServiceFactory

ADMIN_KEY = "swk_bootstrap_" + secrets.token_urlsafe(24)
JWT_SECRET = "jwt-" + secrets.token_urlsafe(32)
ISSUER, AUDIENCE = "https://login.test", "sigmawatch-tests"
AUTH_ENV = {
    "SIGMAWATCH_AUTH": "api_key,jwt",
    "SIGMAWATCH_ADMIN_API_KEY": ADMIN_KEY,
    "SIGMAWATCH_JWT_SECRET": JWT_SECRET,
    "SIGMAWATCH_JWT_ISSUER": ISSUER,
    "SIGMAWATCH_JWT_AUDIENCE": AUDIENCE,
    "SIGMAWATCH_MIN_TRAINING_POINTS": "200",
}
# Every key and secret this module makes: none may appear in any log.
SECRETS: list[str] = [ADMIN_KEY, JWT_SECRET]
CLI = (sys.executable, "-m", "sigmawatch_inference.cli")
FILL = {"series_id": "matrix_s", "version": "v1", "rollout": "r1", "action": "pause", "name": "x"}


def bearer(secret: str = JWT_SECRET, **claims: Any) -> str:
    payload = {
        "sub": "ada",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": datetime.now(UTC) + timedelta(minutes=10),
        "roles": ["write"],
    } | claims
    return "Bearer " + jwt.encode(payload, secret, "HS256")


@dataclass
class Secured:
    a: Service
    b: Service
    keys: dict[str, str] = field(default_factory=dict)

    def call(
        self, service: Service, method: str, path: str, headers: dict[str, str]
    ) -> httpx.Response:
        body = b"{}" if method in ("POST", "PUT") else None
        return httpx.request(
            method,
            service.url + path,
            content=body,
            headers={**JSON_HEADERS, **headers},
            timeout=30,
        )

    def admin(self, method: str, path: str, **json: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.a.url + path,
            json=json or None,
            headers={**JSON_HEADERS, "x-api-key": ADMIN_KEY},
            timeout=30,
        )

    def new_key(self, name: str, role: str, **extra: Any) -> str:
        created = self.admin("POST", "/v1/apikeys", name=name, role=role, **extra)
        assert created.status_code == 201, created.text
        key = str(created.json()["key"])
        SECRETS.append(key)
        return key


@pytest.fixture(scope="module")
def secured(make_service: ServiceFactory) -> Secured:
    pods = Secured(
        make_service("auth-a", env=AUTH_ENV, shares="auth"),
        make_service("auth-b", env=AUTH_ENV, shares="auth"),
    )
    for role in ("viewer", "trainer", "admin"):
        pods.keys[role] = pods.new_key(f"matrix-{role}", role)
    pods.keys["expired"] = pods.new_key("matrix-expired", "admin", expires_in="1s")
    pods.keys["revoked"] = pods.new_key("matrix-revoked", "admin")
    assert pods.admin("POST", "/v1/apikeys/matrix-revoked/revoke").status_code == 200
    time.sleep(1.2)  # the expired key's second passes
    return pods


def principals(pods: Secured) -> dict[str, tuple[dict[str, str], str | None]]:
    """Credentials, and the role they carry (None: refused with 401)."""
    keyed: dict[str, tuple[dict[str, str], str | None]] = {
        name: ({"x-api-key": key}, name) for name, key in pods.keys.items()
    }
    keyed["expired"] = (keyed["expired"][0], None)
    keyed["revoked"] = (keyed["revoked"][0], None)
    return keyed | {
        "nobody": ({}, None),
        "bad signature": ({"authorization": bearer("another-secret-" + "x" * 32)}, None),
        "wrong audience": ({"authorization": bearer(aud="someone-else")}, None),
        "token with write": ({"authorization": bearer()}, "trainer"),
    }


RANK = {"viewer": 1, "trainer": 2, "admin": 3}


def test_every_route_answers_each_caller_by_its_role(secured: Secured) -> None:
    schema = secured.admin("GET", "/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    checked = 0
    for template, operations in schema["paths"].items():
        path = template.format(**FILL)
        for method, operation in operations.items():
            needed = operation["x-required-role"]
            for who, (headers, role) in principals(secured).items():
                answer = secured.call(secured.a, method.upper(), path, headers)
                where = f"{method} {template} as {who}: {answer.status_code} {answer.text[:200]}"
                if needed is None:
                    assert answer.status_code not in (401, 403), where
                elif role is None:
                    assert answer.status_code == 401, where
                    assert answer.json()["error"]["code"] in (
                        "UNAUTHENTICATED",
                        "INVALID_CREDENTIALS",
                    )
                    assert "ApiKey" in answer.headers["www-authenticate"], where
                    assert "Bearer" in answer.headers["www-authenticate"], where
                elif RANK[role] < RANK[needed]:
                    assert answer.status_code == 403, where
                    assert answer.json()["error"]["details"]["required_role"] == needed, where
                else:
                    assert answer.status_code not in (401, 403), where
                checked += 1
    operations = sum(len(ops) for ops in schema["paths"].values())
    assert operations >= 27
    assert checked == operations * len(principals(secured))  # every operation, every caller


def test_docs_and_plot_follow_the_roles(secured: Secured) -> None:
    for path in ("/docs", "/plot?series_id=matrix_s"):
        assert secured.call(secured.a, "GET", path, {}).status_code == 401
        seen = secured.call(secured.a, "GET", path, {"x-api-key": secured.keys["viewer"]})
        assert seen.status_code != 401
    assert secured.call(secured.a, "GET", "/readiness", {}).status_code == 200
    assert secured.call(secured.a, "GET", "/metrics", {}).status_code == 200


def test_a_revoked_key_stops_working_on_every_process_within_seconds(secured: Secured) -> None:
    key = secured.new_key("short-lived", "viewer")
    for pod in (secured.a, secured.b):
        assert secured.call(pod, "GET", "/v1/models", {"x-api-key": key}).status_code == 200
    assert secured.admin("POST", "/v1/apikeys/short-lived/revoke").status_code == 200
    refused_at = time.monotonic()
    wait_for(
        lambda: secured.call(secured.b, "GET", "/v1/models", {"x-api-key": key}).status_code == 401,
        timeout=6,  # the notification is immediate; the key cache's lifetime is the bound
        what="the other process to refuse the revoked key",
        interval=0.1,
    )
    assert time.monotonic() - refused_at < 6


def test_the_cli_makes_keys_for_the_same_registry(secured: Secured, tmp_path: Path) -> None:
    url = _database_url(secured)
    made = subprocess.run(
        [*CLI, "apikeys", "create", "--name", "from-cli", "--role", "trainer"],
        env=clean_env({"PYTHONPATH": SOURCE_ROOTS, "SIGMAWATCH_DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = json.loads(made.stdout)["key"]
    SECRETS.append(key)
    answer = secured.call(secured.a, "GET", "/v1/apikeys", {"x-api-key": key})
    assert answer.status_code == 403  # a trainer may not list keys
    listed = secured.admin("GET", "/v1/apikeys").json()["items"]
    [mine] = [k for k in listed if k["name"] == "from-cli"]
    assert mine["created_by"].startswith("cli/")
    assert "key" not in mine
    assert key.startswith(mine["hint"])


def _database_url(secured: Secured) -> str:
    return secured.a.process.env["SIGMAWATCH_DATABASE_URL"]


def test_serving_beyond_loopback_without_authentication_is_refused(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*CLI, "serve", "--host", "0.0.0.0"],  # noqa: S104
        env=clean_env({"PYTHONPATH": SOURCE_ROOTS, "SIGMAWATCH_DATA_DIR": str(tmp_path)}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "SIGMAWATCH_AUTH" in refused.stderr
    assert "SIGMAWATCH_ALLOW_UNAUTHENTICATED" in refused.stderr


def test_no_key_or_secret_reaches_any_log(secured: Secured, artifacts_dir: Path) -> None:
    """Runs last in this module: every log written so far, by every process of the run."""
    logs = [p for p in (artifacts_dir / "logs").rglob("*") if p.is_file()]
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        for secret in SECRETS:
            assert secret not in text, f"{path.name} contains a key or secret"
