"""Every error code reaches the client as {"error": {code, message, details}} (USE-4).

`CASES` drives one request per code; `test_every_code_is_covered` keeps the
table in step with `ErrorCode`, so a new code cannot ship untested.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from sigmawatch.errors import ErrorCode
from sigmawatch.registry import Writer
from sigmawatch.registry.postgres import PostgresRegistry
from support import postgres
from support.data import series_data, train_body
from support.service import Service, ServiceFactory

TS = int(series_data()[0][-1])

type Call = Callable[[httpx.Client], httpx.Response]


def post(path: str, body: Any) -> Call:
    return lambda c: c.post(path, json=body)


def twice(call: Call) -> Call:
    """The second of two identical calls."""
    return lambda c: (call(c), call(c))[1]


def corrupt_training(kind: str) -> dict[str, Any]:
    timestamps, values = series_data(12_000)
    ts, vs = timestamps.tolist(), values.tolist()
    if kind == "duplicate":
        ts[500] = ts[499]
    elif kind == "nan":
        return {"timestamps": ts, "values": [*vs[:100], "NaN", *vs[101:]]}
    elif kind == "implausible":
        vs[7] = 1e300
    elif kind == "constant":
        vs = [5.0] * len(vs)
    return {"timestamps": ts, "values": vs}


def oversized(c: httpx.Client) -> httpx.Response:
    return c.post("/v1/series/x/train", content=b"[" + b"1," * 5_300_000 + b"1]")


def oversized_chunked(c: httpx.Client) -> httpx.Response:
    def chunks() -> Any:
        for _ in range(12):
            yield b" " * (1024 * 1024)

    return c.post("/v1/series/x/train", content=chunks())


# code → (request, HTTP status, detail that must be present)
CASES: dict[ErrorCode, tuple[Call, int, str | None]] = {
    ErrorCode.INSUFFICIENT_DATA: (
        post("/v1/series/e1/train", train_body(9_999)),
        422,
        "min_points",
    ),
    ErrorCode.TOO_MUCH_DATA: (post("/v1/series/e1/train", train_body(100_001)), 422, "max_points"),
    ErrorCode.CONSTANT_SERIES: (
        post("/v1/series/e1/train", corrupt_training("constant")),
        422,
        "std",
    ),
    ErrorCode.INVALID_TIMESTAMP: (
        post("/v1/series/e1/train", corrupt_training("duplicate")),
        422,
        "index",
    ),
    ErrorCode.INVALID_VALUE: (
        post("/v1/series/e1/train", corrupt_training("implausible")),
        422,
        "index",
    ),
    ErrorCode.INVALID_SERIES_ID: (
        post("/v1/series/no-dash/predict", {"timestamp": TS, "value": 1}),
        400,
        "series_id",
    ),
    ErrorCode.INVALID_DETECTOR: (
        post("/v1/series/e1/train", train_body(detector={"kind": "lstm"})),
        422,
        "allowed",
    ),
    ErrorCode.INVALID_REQUEST: (post("/v1/series/e1/train", {"values": [1, 2]}), 422, "fields"),
    ErrorCode.INVALID_JSON: (
        lambda c: c.post("/v1/series/e1/train", content=b"{not json"),
        400,
        "position",
    ),
    ErrorCode.INVALID_CURSOR: (
        lambda c: c.get("/v1/models", params={"cursor": "garbage"}),
        400,
        "cursor",
    ),
    ErrorCode.MODEL_NOT_FOUND: (
        post("/v1/series/never_trained/predict", {"timestamp": TS, "value": 1}),
        404,
        "hint",
    ),
    ErrorCode.INVALID_VERSION: (
        post("/v1/series/err_base/predict?version=v99", {"timestamp": TS, "value": 1}),
        404,
        "version",
    ),
    ErrorCode.VERSION_ARCHIVED: (
        post("/v1/series/err_arch/rollback", {"version": "v1"}),
        409,
        "hint",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: (oversized, 413, "max_bytes"),
    ErrorCode.INVALID_ROLLOUT: (
        post("/v1/series/err_base/rollouts", {"candidate": "v1", "strategy": "blue-green"}),
        422,
        "field",
    ),
    ErrorCode.ROLLOUT_NOT_FOUND: (lambda c: c.get("/v1/series/err_base/rollout"), 404, "hint"),
    ErrorCode.ROLLOUT_NOT_ACTIVE: (post("/v1/series/err_base/rollout/pause", {}), 409, "series_id"),
    ErrorCode.API_KEY_NOT_FOUND: (post("/v1/apikeys/nobody/revoke", {}), 404, "name"),
    ErrorCode.API_KEY_EXISTS: (
        twice(post("/v1/apikeys", {"name": "twin", "role": "viewer"})),
        409,
        "name",
    ),
    ErrorCode.NOT_FOUND: (lambda c: c.get("/v2/nothing"), 404, "path"),
    ErrorCode.METHOD_NOT_ALLOWED: (lambda c: c.delete("/v1/predict"), 405, "path"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (
        lambda c: c.post(
            "/v1/series/e1/train", content=b"{}", headers={"content-type": "text/plain"}
        ),
        415,
        "accepted",
    ),
    ErrorCode.HOST_NOT_ALLOWED: (
        lambda c: c.get("/v1/models", headers={"host": "rebound.example"}),
        400,
        "host",
    ),
    ErrorCode.TOO_MANY_ITEMS: (
        post("/v1/predict", {"items": [{"series_id": "e1", "timestamps": [TS]}] * 10_001}),
        413,
        "max_items",
    ),
}
# Produced by their own tests below or in other modules, named here so the
# coverage check knows where they are.
ELSEWHERE = {
    ErrorCode.STORAGE_UNAVAILABLE: "test_storage.py",
    ErrorCode.ARTIFACT_CORRUPT: "test_corrupt_artifact_on_plot (this module)",
    ErrorCode.ARTIFACT_MISSING: "test_missing_artifact_on_plot (this module)",
    ErrorCode.POINTER_HELD: "test_a_pinned_series_refuses_rollbacks_and_promotions (this module)",
    ErrorCode.ROLLOUT_IN_PROGRESS: "tests/api/test_rollouts.py: a rollback during a rollout",
    ErrorCode.ROLLOUT_DRIVER_MISMATCH: "tests/api/test_rollouts.py: the API and a ModelRollout",
    ErrorCode.DATA_NOT_FOUND: "tests/cluster: a training Job whose series has no data",
    ErrorCode.INTERNAL_ERROR: "not producible on purpose: any unexpected exception",
    ErrorCode.REQUEST_TIMEOUT: "tests/api/test_abuse_timeouts.py: half-sent requests",
    ErrorCode.MALFORMED_REQUEST: "tests/api/test_abuse_timeouts.py: bytes that are not HTTP",
    ErrorCode.UNAUTHENTICATED: "tests/api/test_auth.py: every route as nobody",
    ErrorCode.INVALID_CREDENTIALS: "tests/api/test_auth.py: expired, revoked keys, bad tokens",
    ErrorCode.FORBIDDEN: "tests/api/test_auth.py: every route as each role",
    ErrorCode.RATE_LIMITED: "tests/api/test_ratelimits.py: per series and per client, shared",
    ErrorCode.BACKUP_NOT_FOUND: "CLI only: tests/integration/test_backup.py (an unknown id)",
    ErrorCode.BACKUP_CORRUPT: "CLI only: tests/integration/test_backup.py (a damaged part)",
    ErrorCode.BACKUP_INCOMPATIBLE: "CLI only: tests/integration/test_backup.py (newer schema)",
    ErrorCode.RESTORE_TARGET_NOT_EMPTY: "CLI only: tests/integration/test_backup.py (twice)",
}


@pytest.fixture(scope="module")
def trained(client: httpx.Client) -> httpx.Client:
    assert client.post("/v1/series/err_base/train", json=train_body()).status_code == 201
    for seed in range(11):
        client.post("/v1/series/err_arch/train", json=train_body(seed=seed))
    return client


def test_every_code_is_covered() -> None:
    assert set(CASES) | set(ELSEWHERE) == set(ErrorCode)


@pytest.mark.parametrize("code", list(CASES), ids=[c.value for c in CASES])
def test_error_code_over_http(trained: httpx.Client, code: ErrorCode) -> None:
    call, status, detail = CASES[code]
    response = call(trained)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(response.json()) == {"error"}
    assert error["code"] == code.value
    assert isinstance(error["message"], str)
    assert error["message"]
    if detail:
        assert detail in error["details"], error


def test_chunked_oversized_bodies_are_cut_off(trained: httpx.Client) -> None:
    response = oversized_chunked(trained)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_nan_literal_is_invalid_json_and_infinite_numbers_invalid_value(
    trained: httpx.Client,
) -> None:
    raw = trained.post("/v1/series/e2/train", content=b'{"timestamps": [1], "values": [NaN]}')
    assert raw.json()["error"]["code"] == "INVALID_JSON"
    as_string = trained.post("/v1/series/e2/train", json=corrupt_training("nan"))
    assert as_string.json()["error"]["code"] == "INVALID_VALUE"
    assert as_string.json()["error"]["details"]["index"] == 100
    predicted = trained.post(
        "/v1/series/err_base/predict", content=b'{"timestamp": 5, "value": 1e999}'
    )
    # JSON numbers that overflow a double are refused by the parser.
    assert predicted.json()["error"]["code"] == "INVALID_JSON"


def test_bad_prediction_inputs(trained: httpx.Client) -> None:
    cases: dict[str, list[Any]] = {
        "INVALID_TIMESTAMP": [
            {"timestamp": -5, "value": 1},
            {"timestamp": 1.5, "value": 1},
            {"timestamp": "now", "value": 1},
        ],
        "INVALID_VALUE": [
            {"timestamp": TS, "value": "high"},
            {"timestamp": TS, "value": 1e13},
            {"timestamp": TS, "value": None},
        ],
        "INVALID_REQUEST": [{"timestamp": TS}, [1, 2]],
    }
    for code, bodies in cases.items():
        for body in bodies:
            response = trained.post("/v1/series/err_base/predict", json=body)
            assert response.json()["error"]["code"] == code, (body, response.text)
    bad_query = trained.post(
        "/v1/series/err_base/predict?version=latest", json={"timestamp": TS, "value": 1}
    )
    assert bad_query.json()["error"]["code"] == "INVALID_VERSION"


def test_query_parameter_problems_use_the_same_envelope(trained: httpx.Client) -> None:
    response = trained.get("/v1/models", params={"limit": 0})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert response.json()["error"]["details"]["problems"][0]["location"] == ["query", "limit"]


def test_corrupt_artifact_on_plot(
    make_service: ServiceFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("corrupt")
    service: Service = make_service("corrupt", env={"SIGMAWATCH_DATA_DIR": str(data_dir)})
    with service.client() as client:
        client.post("/v1/series/bent/train", json=train_body())
        manifest = next((data_dir / "artifacts" / "models" / "bent").rglob("manifest.json"))
        manifest.write_bytes(manifest.read_bytes().replace(b'"zscore"', b'"zscorf"'))
        response = client.get("/plot", params={"series_id": "bent"})
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "ARTIFACT_CORRUPT"
        # Predictions still answer, from the stored μ and σ (PRED-6).
        answer = client.post(
            "/v1/series/bent/predict", json={"timestamp": TS, "value": 10.0}
        ).json()
        assert answer["fallback"] is True
        assert answer["anomaly"] is False
        assert np.isclose(
            answer["score"],
            abs(10.0 - client.get("/v1/series/bent/versions/v1").json()["stats"]["mean"])
            / client.get("/v1/series/bent/versions/v1").json()["stats"]["std"],
        )


def test_missing_artifact_on_plot(
    make_service: ServiceFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("missing")
    service: Service = make_service("missing", env={"SIGMAWATCH_DATA_DIR": str(data_dir)})
    with service.client() as client:
        client.post("/v1/series/gone/train", json=train_body())
        for array in (data_dir / "artifacts" / "models" / "gone").rglob("*.npy"):
            array.unlink()
        response = client.get("/plot", params={"series_id": "gone"})
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "ARTIFACT_MISSING"


def test_a_pinned_series_refuses_rollbacks_and_promotions(
    make_service: ServiceFactory, pg_admin_url: str
) -> None:
    """docs/decisions/0010 over HTTP: a pin (an AnomalyModel's) holds production."""
    url = postgres.create_database(pg_admin_url)
    service: Service = make_service("pinned", env={"SIGMAWATCH_DATABASE_URL": url})
    registry = PostgresRegistry(url)
    registry.open()
    try:
        with service.client() as client:
            for seed in range(2):
                client.post("/v1/series/held/train", json=train_body(seed=seed))
            registry.set_production("held", 1, by=Writer.pin("plant", "held-model"))
            refused = client.post("/v1/series/held/rollback", json={"version": "v2"})
            assert refused.status_code == 409
            error = refused.json()["error"]
            assert error["code"] == "POINTER_HELD"
            assert error["details"]["holder"] == "pin:plant/held-model"
            trained = client.post("/v1/series/held/train", json=train_body(seed=9))
            assert trained.status_code == 201
            answer = trained.json()
            assert (answer["version"], answer["production"]) == ("v3", False)
            assert [w["code"] for w in answer["warnings"]] == ["POINTER_HELD"]
            listing = client.get("/v1/series/held/versions").json()
            assert listing["production_version"] == "v1"
            assert listing["production_holder"] == "pin:plant/held-model"
    finally:
        registry.close()
        postgres.drop_database(pg_admin_url, url)


def test_catalogue_inputs_the_database_cannot_take_are_client_errors(trained: httpx.Client) -> None:
    for params in ({"series_prefix": "a\x00b"}, {"series_prefix": "x%"}):
        response = trained.get("/v1/models", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "INVALID_REQUEST"
    bad_cursor = base64.urlsafe_b64encode(b'["a\\u0000", 1]').decode()
    response = trained.get("/v1/models", params={"cursor": bad_cursor})
    assert response.json()["error"]["code"] == "INVALID_CURSOR"


def test_a_batch_item_whose_detector_row_is_unusual_fails_alone(trained: httpx.Client) -> None:
    # Large-but-valid parameters round-trip through the registry as floats.
    big = trained.post(
        "/v1/series/err_big/train", json=train_body(detector={"params": {"threshold": 1e6}})
    )
    assert big.status_code == 201, big.text
    assert big.json()["detector"]["params"]["threshold"] == 1e6
    results = trained.post(
        "/v1/predict",
        json={
            "items": [
                {"series_id": "err_big", "timestamps": [TS], "values": [1.0]},
                {"series_id": "err_base", "timestamps": [TS], "values": [1.0]},
            ]
        },
    ).json()["results"]
    assert [r.get("error") for r in results] == [None, None]
    assert trained.get("/v1/models", params={"series_prefix": "err_big"}).status_code == 200
    too_big = trained.post(
        "/v1/series/err_big/train", json=train_body(detector={"params": {"threshold": 1e30}})
    )
    assert too_big.json()["error"]["code"] == "INVALID_DETECTOR"
