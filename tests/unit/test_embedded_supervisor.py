"""The embedded server's supervisor on shutdown (AV-1).

Stopping it waits for a restart in progress: the wheel's exit handler stops
the server right after, and a restart finishing later would start a server
that nothing stops (a fault test caught one left running).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sigmawatch.registry import embedded
from sigmawatch.registry.embedded import EmbeddedSupervisor


def test_stop_waits_for_a_restart_in_progress(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    restarting, release = threading.Event(), threading.Event()
    calls: list[Path] = []

    def slow_revive(data_dir: Path) -> bool:
        calls.append(data_dir)
        restarting.set()
        release.wait(5)
        return True

    monkeypatch.setattr(embedded, "revive_embedded", slow_revive)
    supervisor = EmbeddedSupervisor(tmp_path, interval_s=0.01).start()
    assert restarting.wait(5), "the supervisor never checked the server"
    stopper = threading.Thread(target=supervisor.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive(), "stop returned while a restart was still running"
    release.set()
    stopper.join(5)
    assert not stopper.is_alive()
    assert supervisor.restarts == 1
    assert len(calls) == 1, "the supervisor went on checking after stop"
