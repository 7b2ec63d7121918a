"""The handlers' adapter after an operator restart (issue 10, item 5)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kopf
import pytest

from sigmawatch.settings import StorageSettings
from sigmawatch_operator import app as app_module
from sigmawatch_operator.app import OperatorApp
from sigmawatch_operator.config import OperatorConfig
from support.fake_jobs import Harness
from support.serving import run_async


def test_resume_and_timer_on_one_stale_copy_report_a_finished_job_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant = Harness(tmp_path)
    plant.write_data("restarted")
    plant.apply("m", plant.single("restarted"))
    plant.reconcile("m")  # the Job starts
    plant.run_jobs()  # ... and finishes while the operator is down
    posted: list[str] = []
    monkeypatch.setattr(kopf, "event", lambda body, *, type, reason, message: posted.append(reason))
    operator = OperatorApp(StorageSettings(data_dir=tmp_path), OperatorConfig())
    operator.reconciler = plant.reconciler
    operator.metrics = plant.metrics
    # The copy both handlers get when the operator starts again.
    body: dict[str, Any] = copy.deepcopy(plant.models["m"])
    body["metadata"]["resourceVersion"] = "41"
    for _ in range(2):  # the resume handler, then the timer, before the patch lands
        run_async(operator.reconcile_model(copy.deepcopy(body), kopf.Patch()))  # type: ignore[arg-type]
    assert posted.count("TrainingSucceeded") == 1
    finished = plant.metrics.collectors.get_sample_value(
        "sigmawatch_operator_training_jobs_finished_total", {"outcome": "succeeded"}
    )
    assert finished == 1
    # Should the status patch never land, the same copy is reconciled again once the
    # window has passed: a skipped reconcile is never a lost one.
    monkeypatch.setattr(app_module, "DUPLICATE_WINDOW_S", 0.0)
    run_async(operator.reconcile_model(copy.deepcopy(body), kopf.Patch()))  # type: ignore[arg-type]
    assert posted.count("TrainingSucceeded") == 2
