"""The README's curl session runs as written against a real service."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from support.service import ServiceFactory
from support.shell import documents, run_session

ROOT = Path(__file__).resolve().parents[2]


def session_script() -> str:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Try it", 1)[1]
    return re.search(r"```sh\n(.*?)```", block, flags=re.DOTALL).group(1)  # type: ignore[union-attr]


def test_readme_session(make_service: ServiceFactory, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is needed to run the README session")
    service = make_service("readme")
    script = session_script()
    assert "xdg-open" in script  # the last step opens a browser: replaced by a fetch here
    script = script.replace("xdg-open", "curl -s -o /dev/null -w '%{http_code}\\n'")
    stdout = run_session(script, service, tmp_path, timeout=180)
    answers = documents(stdout)
    train_v1, predict, batch, train_v2, versions, rollback, pinned, started, rollout = answers[:9]
    catalogue = answers[-1]
    assert (train_v1["version"], train_v1["created"]) == ("v1", True)
    assert predict["anomaly"] is True
    assert predict["version"] == "v1"
    assert batch["results"][1]["error"]["code"] == "MODEL_NOT_FOUND"
    assert train_v2["detector"]["kind"] == "mad"
    assert [v["version"] for v in versions["versions"]] == ["v1", "v2"]
    assert rollback["production_version"] == "v1"
    assert pinned["version"] == "v2"
    assert (started["phase"], started["stable"], started["candidate"]) == ("Shadowing", "v1", "v2")
    assert rollout["phase"] == "Promoted", rollout["reason"]
    assert len(catalogue["items"]) == 2
    assert stdout.strip().endswith("200")  # the plot page
