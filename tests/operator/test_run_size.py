"""A training run's width and deadline follow the fleet's size (issue 10, item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.run_size import size_run
from support.fake_jobs import Harness


def spec(**job: Any) -> Any:
    return parse_spec(
        {"series": {"selector": {"prefix": "p"}}, "source": {"dataset": {}}, "job": job}
    )


def test_an_unset_parallelism_and_deadline_grow_with_the_fleet() -> None:
    small = size_run(spec(), 2_000, seconds_per_series=0.1)
    assert (small.shards, small.parallelism, small.deadline_s) == (4, 4, 3600)
    # 230,000 series: a fixed 4 pods and an hour failed with DeadlineExceeded.
    fleet = size_run(spec(), 230_000, seconds_per_series=0.1)
    assert fleet.shards == 460
    assert fleet.parallelism == 11  # ⌈460 × 80 s / 3600 s⌉
    assert fleet.estimate_s == 42 * 80  # ⌈460 / 11⌉ waves of a 50 s pod + 30 s start
    assert fleet.fits
    assert fleet.deadline_s == 3600 * 2 - 480  # twice the estimate, above the hour
    huge = size_run(spec(), 10_000_000, seconds_per_series=0.1)
    assert huge.parallelism == 100  # the CRD's bound
    assert huge.deadline_s >= huge.estimate_s


def test_the_spec_values_are_kept_and_a_run_that_cannot_fit_says_so(tmp_path: Path) -> None:
    pinned = size_run(spec(parallelism=4, activeDeadlineSeconds=3600), 230_000, 0.1)
    assert (pinned.parallelism, pinned.deadline_s, pinned.fits) == (4, 3600, False)
    plant = Harness(tmp_path)
    for i in range(30):
        plant.write_data(f"wide_{i:02d}", seed=i)
    plant.apply(
        "wide",
        {
            "series": {"selector": {"prefix": "wide_"}},
            "source": {"uri": plant.source_uri},
            "job": {"seriesPerPod": 10, "parallelism": 1, "activeDeadlineSeconds": 60},
        },
    )
    outcome = plant.reconcile("wide")
    (warning,) = [e for e in outcome.events if e.reason == "DeadlineTooShort"]
    assert warning.type == "Warning"
    assert "past its deadline of 60 s" in warning.message
    (job,) = plant.jobs.running()
    body = plant.jobs.jobs[job]["spec"]
    assert (body["parallelism"], body["activeDeadlineSeconds"]) == (1, 60)
