"""docs/rollouts.md's session runs as written against a real service: a canary promoted."""

from __future__ import annotations

from pathlib import Path

from support.service import ServiceFactory
from support.shell import documents, run_session

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rollouts.md"


def session_script() -> str:
    block = DOC.read_text().split("## Try it", 1)[1]
    return block.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_rollouts_session(make_service: ServiceFactory, tmp_path: Path) -> None:
    service = make_service("rollouts-doc")
    script = session_script().replace("/tmp/press_v1.json", str(tmp_path / "press_v1.json"))
    stdout = run_session(script, service, tmp_path, timeout=240)
    train_v1, train_v2, started, rollout, feedback, stats = documents(stdout)
    assert (train_v1["version"], train_v2["version"], train_v2["production"]) == ("v1", "v2", False)
    assert (started["phase"], started["weight"], started["candidate"]) == ("Progressing", 10, "v2")
    assert rollout["phase"] == "Promoted", rollout["reason"]
    assert [t["weight"] for t in rollout["transitions"]] == [10, 50, 100, 100]
    assert {c["name"] for c in rollout["last_analysis"]["checks"]} >= {"errorRate", "anomalyRate"}
    assert (feedback["accepted"], feedback["replaced"]) == (2, 0)
    assert stats["version"] == "v2"
    assert stats["predictions"] > 0
    assert stats["labels"]["labels"] == 2
