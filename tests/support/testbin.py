"""Real server binaries built from the Go module proxy (tools/testbin/build.sh)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from support.tiers import require

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tools" / "testbin" / "build.sh"


@functools.cache
def _build(binary_set: str) -> Path | str:
    if shutil.which("go") is None:
        return "Go toolchain not found (needed to build the test servers)"
    result = subprocess.run(
        ["bash", str(BUILD), binary_set], capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        return f"building {binary_set} failed:\n{result.stderr[-3000:]}"
    line = result.stdout.strip().splitlines()[-1]
    return Path(line.split("=", 1)[1])


def binary(binary_set: str, name: str, tier: str) -> Path:
    """Path of a built test binary; skips (or fails in CI) when it cannot be built."""
    built = _build(binary_set)
    require(isinstance(built, Path), tier, str(built))
    assert isinstance(built, Path)
    return built / name
