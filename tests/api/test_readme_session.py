"""The README's curl session runs as written against a real service."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.service import ServiceFactory
from support.shell import documents

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
    script = script.replace("localhost:8000", service.url.removeprefix("http://"))
    script = script.replace("http://127.0.0.1:8000", service.url)
    script = script.replace(".venv/bin/sigmawatch", f"{sys.executable} -m sigmawatch_inference.cli")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": service.process.env["PYTHONPATH"]},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answers = documents(result.stdout)
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
    assert result.stdout.strip().endswith("200")  # the plot page
