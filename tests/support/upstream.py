"""Third-party CRDs from the YAML their projects publish in their Go modules, fetched
through the Go module proxy at pinned versions (the Go module cache keeps them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support.tiers import require


@dataclass(frozen=True)
class UpstreamCrds:
    module: str
    version: str
    files: tuple[str, ...]


ISTIO_CRDS = UpstreamCrds(
    "istio.io/api", "v1.31.4", ("kubernetes/customresourcedefinitions.gen.yaml",)
)


def module_dir(module: str, version: str) -> Path:
    """The extracted module from the Go module proxy (`go mod download` caches it)."""
    go = shutil.which("go")
    require(go is not None, "cluster", "Go toolchain not found (fetches the upstream CRDs)")
    assert go is not None
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            [go, "mod", "download", "-json", f"{module}@{version}"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=outside_any_module,
        )
    info: dict[str, str] = json.loads(result.stdout or "{}")
    failure = f"go mod download {module}@{version}: {info.get('Error')} {result.stderr}"
    assert result.returncode == 0, failure
    assert "Dir" in info, failure
    return Path(info["Dir"])
