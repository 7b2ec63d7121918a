"""Reading what a documented shell session printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.service import Service


def documents(text: str) -> list[Any]:
    """The JSON documents curl printed back to back (it adds no newlines)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def run_session(script: str, service: Service, cwd: Path, *, timeout: float) -> str:
    """Run a documented shell session against `service`, as a user would; its stdout."""
    script = script.replace("localhost:8000", service.url.removeprefix("http://"))
    script = script.replace("http://127.0.0.1:8000", service.url)
    script = script.replace(".venv/bin/sigmawatch", f"{sys.executable} -m sigmawatch_inference.cli")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": service.process.env["PYTHONPATH"]},
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
