"""Settings per app, checked together at start-up with messages naming the variable."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigmawatch.datasets import write_training_file
from sigmawatch.settings import ConfigError, StorageSettings, TrainingSettings, load_settings
from sigmawatch.training_job import Exit
from sigmawatch_inference import cli
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_operator.config import OperatorConfig
from support.data import series_data


@pytest.mark.parametrize(
    ("env", "cls", "message"),
    [
        (
            {"SIGMAWATCH_MIN_TRAINING_POINTS": "20000", "SIGMAWATCH_MAX_TRAINING_POINTS": "10000"},
            TrainingSettings,
            "SIGMAWATCH_MIN_TRAINING_POINTS (20000) must be at most "
            "SIGMAWATCH_MAX_TRAINING_POINTS (10000)",
        ),
        (
            {"SIGMAWATCH_DB_POOL_MIN": "9", "SIGMAWATCH_DB_POOL_MAX": "4"},
            StorageSettings,
            "SIGMAWATCH_DB_POOL_MIN (9) must be at most SIGMAWATCH_DB_POOL_MAX (4)",
        ),
        (
            {"SIGMAWATCH_VALUE_MIN": "5", "SIGMAWATCH_VALUE_MAX": "5"},
            ServiceSettings,
            "SIGMAWATCH_VALUE_MIN (5) must be below SIGMAWATCH_VALUE_MAX (5)",
        ),
        ({"SIGMAWATCH_DB_POOL_MAX": "many"}, ServiceSettings, "SIGMAWATCH_DB_POOL_MAX: "),
        (
            {"SIGMAWATCH_TLS_CERT_FILE": "/etc/tls/tls.crt"},
            ServiceSettings,
            "set both SIGMAWATCH_TLS_CERT_FILE and SIGMAWATCH_TLS_KEY_FILE, or neither",
        ),
        (
            {"SIGMAWATCH_OPERATOR_METRICS_PORT": "-1"},
            OperatorConfig,
            "SIGMAWATCH_OPERATOR_METRICS_PORT: ",
        ),
    ],
)
def test_settings_that_cannot_work_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], cls: type, message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(cls)
    assert message in str(caught.value)


def test_each_app_has_only_its_own_settings() -> None:
    storage = set(StorageSettings.model_fields)
    assert storage < set(TrainingSettings.model_fields) < set(ServiceSettings.model_fields)
    assert "cache_max_entries" not in TrainingSettings.model_fields
    assert "min_training_points" not in StorageSettings.model_fields


def test_the_cli_refuses_a_bad_configuration_before_doing_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGMAWATCH_DB_POOL_MIN", "9")
    monkeypatch.setenv("SIGMAWATCH_DB_POOL_MAX", "2")
    assert cli.main(["serve", "--port", "0"]) == Exit.INVALID
    assert "SIGMAWATCH_DB_POOL_MIN (9)" in capsys.readouterr().err


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


def test_bad_input_and_an_outage_exit_differently(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    closed_port: int,
) -> None:
    """2: fix the input, retrying changes nothing. 4: retry later (a Job retries the pod)."""
    monkeypatch.setenv("SIGMAWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIGMAWATCH_DATABASE_URL", f"postgresql://x@127.0.0.1:{closed_port}/x")
    missing = ["train", "--series", "s", "--file", str(tmp_path / "none.csv")]
    assert cli.main(missing) == Exit.INVALID
    assert '"INVALID_REQUEST"' in capsys.readouterr().err
    data = tmp_path / "data.npy"
    write_training_file(data, *series_data(10_000))
    assert cli.main(["train", "--series", "s", "--file", str(data)]) == Exit.UNAVAILABLE
    envelope = capsys.readouterr().err.splitlines()[-1]
    assert '"STORAGE_UNAVAILABLE"' in envelope
    assert str(closed_port) not in envelope  # where the database lives stays in the log
