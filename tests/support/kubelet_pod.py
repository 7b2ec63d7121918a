"""One pod on the fake node: its container runs as a local process, in its own thread.

`PodRun` starts the container (again, per the restartPolicy, with back-off),
stops it on deletion (SIGTERM, then SIGKILL after the grace period) and
reports the pod's status as a kubelet reports it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from support.kubelet_api import POD_IP, ApiError, Json, PodGoneError, now
from support.kubelet_env import ConfigError, RefReader, container_argv, resolve_env
from support.procs import clean_env

if TYPE_CHECKING:
    from support.kubelet import FakeKubelet

MAX_GRACE_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 10.0
CONFIG_RETRY_SECONDS = 1.0
TERMINATION_MESSAGE_BYTES = 2048


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode  # killed by signal N: 128+N


# --- one pod ------------------------------------------------------------------------


class PodRun:
    """The lifecycle of one pod on the node, in its own thread."""

    def __init__(self, kubelet: FakeKubelet, pod: Json) -> None:
        meta = pod["metadata"]
        self.kubelet = kubelet
        self.pod = pod
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.container: Json = pod["spec"]["containers"][0]
        self.start_time = now()
        self.log_path = kubelet.log_path(self.namespace, self.name)
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._grace = MAX_GRACE_SECONDS
        self._deleting = False
        self.done = False
        self.thread = threading.Thread(
            target=self._main, name=f"pod {self.namespace}/{self.name}", daemon=True
        )

    def terminate(self, grace: float, *, deleting: bool) -> bool:
        """Stop the container within `grace` seconds; False when the run has already ended."""
        with self._lock:
            if self.done:
                return False
            self._grace = min(self._grace, max(0.0, grace))
            self._deleting = self._deleting or deleting
            self._stop.set()
            return True

    # The thread ------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._lifecycle()
        except PodGoneError:
            self.kubelet.trace(f"{self.namespace}/{self.name}: pod is gone")
        except Exception as exc:
            self.kubelet.record_error(f"pod {self.namespace}/{self.name}: {exc!r}")
        finally:
            self._kill_now()
            with self._lock:
                self.done = True
                deleting = self._deleting
        if deleting and not self.kubelet.stopping.is_set():
            try:
                self.kubelet.delete_now(self.namespace, self.name, self.uid)
            except Exception as exc:  # the next event or relist retries it
                self.kubelet.trace(f"{self.namespace}/{self.name}: delete failed: {exc!r}")

    def _lifecycle(self) -> None:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        history: list[Json] = []  # one terminated state per run of the container
        backoff = 1.0
        while True:
            last = history[-1] if history else None
            # Like the kubelet, resolve the env again for every start.
            prepared = self._prepare(len(history), last)
            if prepared is None:
                break
            history.append(self._run_once(*prepared, restarts=len(history), last=last))
            code = history[-1]["exitCode"]
            if self._stop.is_set() or policy == "Never" or (policy == "OnFailure" and code == 0):
                break
            message = f"back-off {backoff:.0f}s restarting failed container"
            self._report_waiting("CrashLoopBackOff", message, len(history) - 1, last=history[-1])
            if self._stop.wait(backoff):
                break
            backoff = min(2 * backoff, MAX_BACKOFF_SECONDS)
        if history:
            previous = history[-2] if len(history) > 1 else None
            self._report_terminated(history[-1], len(history) - 1, previous)

    def _prepare(
        self, restarts: int, last: Json | None
    ) -> tuple[list[str], dict[str, str], Path] | None:
        """The argv, env and working directory; retried while a Secret or key is missing."""
        reported = ""
        while not self._stop.is_set():
            try:
                refs = RefReader(self.kubelet.http, self.namespace)
                pod_env = resolve_env(self.pod, self.container, refs)
                argv = container_argv(
                    self.container,
                    pod_env,
                    self.kubelet.command_map,
                    self.kubelet.image_entrypoints,
                )
            except ConfigError as exc:
                if str(exc) != reported:
                    reported = str(exc)
                    self.kubelet.trace(f"{self.namespace}/{self.name}: {exc}")
                    phase = "Running" if restarts else "Pending"
                    self._report_waiting(
                        "CreateContainerConfigError", reported, restarts, last=last, phase=phase
                    )
                self._stop.wait(CONFIG_RETRY_SECONDS)
                continue
            except (httpx.TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and not exc.transient:
                    raise
                self._stop.wait(CONFIG_RETRY_SECONDS)
                continue
            env = clean_env({"HOSTNAME": self.name, **pod_env})
            env.update(self.kubelet.extra_env_for(self.pod))
            cwd = self.kubelet.workdir / f"{self.namespace}_{self.name}"
            cwd.mkdir(parents=True, exist_ok=True)
            return argv, env, cwd
        return None

    def _run_once(
        self, argv: list[str], env: dict[str, str], cwd: Path, *, restarts: int, last: Json | None
    ) -> Json:
        started, clock = now(), time.monotonic()
        container_id = f"fake://{self.uid}/{restarts}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            with self.log_path.open("ab") as log:
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # killed as a process group
                )
        except OSError as exc:
            self.kubelet.trace(f"{self.namespace}/{self.name}: cannot start {argv}: {exc}")
            return {
                "exitCode": 128,
                "reason": "StartError",
                "message": str(exc),
                "startedAt": started,
                "finishedAt": now(),
                "containerID": container_id,
            }
        with self._lock:
            self.proc = proc
        self.kubelet.trace(f"{self.namespace}/{self.name}: started pid {proc.pid}: {argv}")
        self._report_running(started, container_id, restarts, last)
        code = _exit_code(self._wait(proc))
        self.kubelet.record_run(f"{self.namespace}/{self.name}", time.monotonic() - clock)
        self.kubelet.trace(f"{self.namespace}/{self.name}: pid {proc.pid} exited {code}")
        terminated: Json = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started,
            "finishedAt": now(),
            "containerID": container_id,
        }
        policy = self.container.get("terminationMessagePolicy")
        if code != 0 and policy == "FallbackToLogsOnError":
            with self.log_path.open("rb") as log:
                log.seek(offset)
                tail = log.read()[-TERMINATION_MESSAGE_BYTES:]
            terminated["message"] = tail.decode(errors="replace")
        return terminated

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        """The exit status; on a stop request SIGTERM, then SIGKILL after the grace period."""
        while not self._stop.wait(0.05):
            if proc.poll() is not None:
                return proc.returncode
        term_sent = time.monotonic()
        self._signal(proc, signal.SIGTERM)
        while proc.poll() is None:
            with self._lock:
                grace = self._grace
            if time.monotonic() - term_sent >= grace:
                self._signal(proc, signal.SIGKILL)
                return proc.wait()
            time.sleep(0.05)
        return proc.returncode

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def _kill_now(self) -> None:
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGKILL)
            proc.wait(10)

    # Status reports --------------------------------------------------------------

    def _container_status(
        self,
        state: Json,
        restarts: int,
        *,
        ready: bool,
        last: Json | None,
        container_id: str | None = None,
    ) -> Json:
        status: Json = {
            "name": self.container["name"],
            "image": self.container.get("image", ""),
            "imageID": "",
            "ready": ready,
            "started": "running" in state,
            "restartCount": restarts,
            "state": state,
            "lastState": {"terminated": last} if last else {},
        }
        container_id = container_id or state.get("terminated", {}).get("containerID")
        if container_id:
            status["containerID"] = container_id
        return status

    def _update(
        self, phase: str, container_status: Json, *, ready: bool, reason: str | None
    ) -> None:
        sandbox = phase in ("Pending", "Running")

        def mutate(status: Json) -> None:
            if status.get("phase") in ("Succeeded", "Failed"):
                return  # terminal phases are final
            status.update(
                phase=phase,
                hostIP=POD_IP,
                hostIPs=[{"ip": POD_IP}],
                podIP=POD_IP,
                podIPs=[{"ip": POD_IP}],
                startTime=status.get("startTime") or self.start_time,
                containerStatuses=[container_status],
            )
            set_conditions(
                status,
                {
                    "PodReadyToStartContainers": sandbox,
                    "Initialized": True,
                    "ContainersReady": ready,
                    "Ready": ready,
                },
                reason,
            )

        if not self.kubelet.stopping.is_set():
            self.kubelet.update_pod_status(self.namespace, self.name, self.uid, mutate)

    def _report_running(
        self, started: str, container_id: str, restarts: int, last: Json | None
    ) -> None:
        state = {"running": {"startedAt": started}}
        status = self._container_status(
            state, restarts, ready=True, last=last, container_id=container_id
        )
        self._update("Running", status, ready=True, reason=None)

    def _report_waiting(
        self,
        reason: str,
        message: str,
        restarts: int,
        *,
        last: Json | None = None,
        phase: str = "Running",
    ) -> None:
        state = {"waiting": {"reason": reason, "message": message}}
        status = self._container_status(state, restarts, ready=False, last=last)
        self._update(phase, status, ready=False, reason="ContainersNotReady")

    def _report_terminated(self, terminated: Json, restarts: int, last: Json | None) -> None:
        phase = "Succeeded" if terminated["exitCode"] == 0 else "Failed"
        status = self._container_status(
            {"terminated": terminated}, restarts, ready=False, last=last
        )
        self._update(phase, status, ready=False, reason="PodCompleted")
        self.kubelet.trace(f"{self.namespace}/{self.name}: {phase}")


def set_conditions(status: Json, values: Mapping[str, bool], reason: str | None) -> None:
    """Upsert pod conditions by type; lastTransitionTime changes only with the status."""
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    stamp = now()
    for kind, value in values.items():
        text = "True" if value else "False"
        old = conditions.get(kind) or {}
        condition: Json = {
            "type": kind,
            "status": text,
            "lastProbeTime": None,
            "lastTransitionTime": old.get("lastTransitionTime")
            if old.get("status") == text
            else stamp,
        }
        if not value and reason and kind in ("Ready", "ContainersReady"):
            condition["reason"] = reason
        conditions[kind] = condition
    status["conditions"] = list(conditions.values())
