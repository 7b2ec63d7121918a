"""The fuzz tier: schemathesis over the service's own OpenAPI document (SEC-1).

A real `sigmawatch serve` process with authentication on is called by
`st run` as admin, with every check (server errors, status codes, content
types, headers, response schemas, valid data accepted, invalid data
rejected, unsupported methods, ignored authentication ...), a bounded
number of examples per operation and a fixed seed. The few rules JSON Schema
cannot state are listed in schemathesis.toml with the status they answer.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx

from support.procs import clean_env
from support.service import ServiceFactory

HERE = Path(__file__).parent
ADMIN_KEY = "swk_fuzz_" + secrets.token_urlsafe(24)
EXAMPLES = 30  # per operation and phase: about a minute in all
ENV = {
    "SIGMAWATCH_AUTH": "api_key",
    "SIGMAWATCH_ADMIN_API_KEY": ADMIN_KEY,
    # The fuzzer sends thousands of requests from one client; the limits
    # themselves are tested in tests/api/test_ratelimits.py.
    "SIGMAWATCH_RATE_LIMITS": "off",
    # Small enough that generated training sets reach the training code.
    "SIGMAWATCH_MIN_TRAINING_POINTS": "10",
    "SIGMAWATCH_MAX_TRAINING_POINTS": "200",
}


def test_every_operation_keeps_the_contract_it_publishes(
    make_service: ServiceFactory, artifacts_dir: Path
) -> None:
    service = make_service("fuzz", env=ENV)
    admin = {"x-api-key": ADMIN_KEY, "content-type": "application/json"}
    published = httpx.get(f"{service.url}/openapi.json", headers=admin).json()
    operations = sum(len(methods) for methods in published["paths"].values())
    victim = {"name": "fuzz-victim", "role": "viewer"}  # the one key the fuzzer may revoke
    assert httpx.post(f"{service.url}/v1/apikeys", json=victim, headers=admin).status_code == 201
    report = artifacts_dir / "fuzz"
    report.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{service.url}/openapi.json",
            "--header",
            f"X-API-Key: {ADMIN_KEY}",
            "--header",
            "Content-Type: application/json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "20261202",
            "--request-timeout",
            "30",
            "--report",
            "junit",
            "--report-dir",
            str(report),
        ],
        env=clean_env(),
        cwd=report,  # where st keeps its own state
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    (report / "st-run.txt").write_text(run.stdout + run.stderr)
    tail = "\n".join((run.stdout + run.stderr).splitlines()[-120:])
    assert run.returncode == 0, f"schemathesis found failures (report in {report}):\n{tail}"
    tested = re.search(r"Tested:\s+(\d+)", run.stdout)
    assert tested is not None, tail
    assert int(tested[1]) == operations, tail  # none left out
    # The admin key still works: the run was authenticated to its end.
    assert httpx.get(f"{service.url}/v1/apikeys", headers=admin).status_code == 200
