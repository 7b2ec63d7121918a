"""Plays the scheduler and the kubelet for one fake Node: pods run as local processes.

There is no container runtime here. A pod's first container runs as a local
process (command+args, with its env resolved the way the kubelet resolves it)
and its status is reported as a kubelet reports it, so the real controllers
(Job, ReplicaSet, GC) act on it. Not supported: init and sidecar containers,
volumes, probes (a running container counts as ready), resourceFieldRef env,
pod activeDeadlineSeconds, workingDir (each pod runs in a scratch directory).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx

from support.kube import Cluster
from support.procs import clean_env

type Json = dict[str, Any]
type EnvHook = Callable[[Json], Mapping[str, str]]

POD_IP = "127.0.0.1"
# An idle watch is re-opened (from the last resourceVersion) this often, so stop() is prompt.
WATCH_READ_TIMEOUT = 2.0
MAX_GRACE_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 10.0
CONFIG_RETRY_SECONDS = 1.0
TERMINATION_MESSAGE_BYTES = 2048


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConfigError(Exception):
    """The container cannot be configured yet (missing Secret or key): the kubelet retries."""


class PodGoneError(Exception):
    """The pod was deleted (or replaced by another with the same name)."""


class ApiError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(
            f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:2000]}"
        )
        self.status = response.status_code

    @property
    def transient(self) -> bool:
        """Overload or a restarting server: retry; anything else is a bug worth reporting."""
        return self.status == 429 or self.status >= 500


def _check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        response.read()
        raise ApiError(response)
    return response


# --- the container's environment and command, as the kubelet builds them -------------

_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: `$$` escapes, unknown references stay as they are."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


def field_value(pod: Json, path: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    keyed = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": POD_IP,
        "status.hostIPs": POD_IP,
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
    }
    if path not in simple:
        raise ConfigError(f"fieldRef {path!r} is not supported by the fake kubelet")
    return str(simple[path] or "")


class RefReader:
    """Reads the Secrets and ConfigMaps a container's env refers to (each once)."""

    KINDS: ClassVar[dict[str, str]] = {"secrets": "Secret", "configmaps": "ConfigMap"}

    def __init__(self, http: httpx.Client, namespace: str) -> None:
        self.http = http
        self.namespace = namespace
        self.cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def data(self, plural: str, name: str, *, optional: bool) -> dict[str, str] | None:
        key = (plural, name)
        if key not in self.cache:
            response = self.http.get(f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
            if response.status_code == 404:
                self.cache[key] = None
            else:
                raw = _check(response).json().get("data") or {}
                if plural == "secrets":
                    raw = {k: base64.b64decode(v).decode(errors="replace") for k, v in raw.items()}
                self.cache[key] = {str(k): str(v) for k, v in raw.items()}
        found = self.cache[key]
        if found is None and not optional:
            raise ConfigError(f'{self.KINDS[plural].lower()} "{name}" not found')
        return found

    def value(self, plural: str, ref: Json) -> str | None:
        optional = bool(ref.get("optional", False))
        data = self.data(plural, ref["name"], optional=optional)
        if data is None:
            return None
        if ref["key"] not in data:
            if optional:
                return None
            kind = self.KINDS[plural]
            raise ConfigError(
                f"couldn't find key {ref['key']} in {kind} {self.namespace}/{ref['name']}"
            )
        return data[ref["key"]]


def resolve_env(pod: Json, container: Json, refs: RefReader) -> dict[str, str]:
    """envFrom first, then env in order; `$(VAR)` in values sees the entries before it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for plural, field in (("secrets", "secretRef"), ("configmaps", "configMapRef")):
            ref = source.get(field)
            if ref:
                data = refs.data(plural, ref["name"], optional=bool(ref.get("optional", False)))
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for var in container.get("env") or []:
        name = var["name"]
        source = var.get("valueFrom")
        value: str | None
        if source is None:
            value = expand(var.get("value", ""), env)
        elif "secretKeyRef" in source:
            value = refs.value("secrets", source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            value = refs.value("configmaps", source["configMapKeyRef"])
        elif "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"])
        else:
            raise ConfigError(f"env {name}: valueFrom {sorted(source)} is not supported")
        if value is not None:
            env[name] = value
    return env


def image_repository(image: str) -> str:
    """`reg:5000/a/b:tag@sha256:...` -> `reg:5000/a/b`."""
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def container_argv(
    container: Json,
    env: Mapping[str, str],
    command_map: Mapping[str, Sequence[str]],
    image_entrypoints: Mapping[str, Sequence[str]],
) -> list[str]:
    command = [expand(part, env) for part in container.get("command") or []]
    args = [expand(part, env) for part in container.get("args") or []]
    if not command:
        image = container.get("image", "")
        repository = image_repository(image)
        entry = image_entrypoints.get(repository) or image_entrypoints.get(
            repository.rsplit("/", 1)[-1]
        )
        if entry is None:
            raise ConfigError(f"no command, and the entrypoint of image {image!r} is unknown")
        command = list(entry)
    head = command_map.get(command[0]) or command_map.get(os.path.basename(command[0]))
    return [*head, *command[1:], *args] if head is not None else [*command, *args]


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
        started = now()
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


# --- the node ------------------------------------------------------------------------


class FakeKubelet:
    """Binds every unscheduled pod to one Node and runs it; see the module docstring."""

    def __init__(
        self,
        cluster: Cluster,
        workdir: Path,
        log_dir: Path,
        *,
        node_name: str = "sigmawatch-node",
        command_map: Mapping[str, Sequence[str]] | None = None,
        image_entrypoints: Mapping[str, Sequence[str]] | None = None,
        extra_env: Mapping[str, str] | None = None,
        env_hook: EnvHook | None = None,
    ) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.log_dir = log_dir
        self.node_name = node_name
        self.command_map = dict(command_map or {})
        self.image_entrypoints = dict(image_entrypoints or {})
        self.extra_env = dict(extra_env or {})
        self.env_hook = env_hook
        self.http = cluster.http()
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._runs: dict[str, PodRun] = {}
        self._force_deleted: set[str] = set()
        self._overrides: list[Mapping[str, str]] = []
        self._resource_version: str | None = None
        self._relist_needed = True
        self._trace_path = log_dir / "fake-kubelet.log"
        self._thread = threading.Thread(target=self._watch_loop, name="fake-kubelet", daemon=True)

    # Public API ------------------------------------------------------------------

    def start(self) -> FakeKubelet:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._register_node()
        self._thread.start()
        self.cluster.diagnostics.append(self._diagnostics)
        return self

    def stop(self) -> None:
        """Kill every container process and end the watch thread."""
        self.stopping.set()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.terminate(1.0, deleting=False)
        for run in runs:
            run.thread.join(10)
        self._thread.join(WATCH_READ_TIMEOUT + 10)
        self.http.close()
        with contextlib.suppress(ValueError):
            self.cluster.diagnostics.remove(self._diagnostics)

    def log_path(self, namespace: str, pod: str) -> Path:
        return self.log_dir / "pods" / f"{namespace}_{pod}.log"

    def logs(self, namespace: str, pod: str) -> str:
        path = self.log_path(namespace, pod)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        if not self._trace_path.exists():
            return ""
        return "\n".join(self._trace_path.read_text(errors="replace").splitlines()[-lines:])

    def _diagnostics(self) -> str:
        return f"--- fake kubelet log ---\n{self.log_tail(20)}"

    @contextlib.contextmanager
    def env_overrides(self, values: Mapping[str, str]) -> Iterator[None]:
        """Extra env for containers started inside the block (e.g. a test's database URL).

        `values` is read when each container starts, so it may be filled later.
        """
        with self._lock:
            self._overrides.append(values)
        try:
            yield
        finally:
            with self._lock:
                self._overrides = [v for v in self._overrides if v is not values]

    def extra_env_for(self, pod: Json) -> dict[str, str]:
        """`extra_env`, then active overrides, then `env_hook(pod)`: last one wins."""
        with self._lock:
            env = dict(self.extra_env)
            for values in self._overrides:
                env.update(values)
        if self.env_hook is not None:
            env.update(self.env_hook(pod))
        return env

    # Used by the pod threads -------------------------------------------------------

    def trace(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        with self._lock, self._trace_path.open("a") as out:
            out.write(f"{stamp} {message}\n")

    def record_error(self, message: str) -> None:
        if self.stopping.is_set():
            return  # the cluster may already be going away
        self.trace(f"ERROR {message}")
        with self._lock:
            self.errors.append(message)

    def update_pod_status(
        self, namespace: str, name: str, uid: str, mutate: Callable[[Json], None]
    ) -> None:
        """Read-modify-write of the status subresource, retried on conflicts."""
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        for _ in range(30):
            try:
                response = self.http.get(path)
                if response.status_code == 404:
                    raise PodGoneError
                pod = _check(response).json()
                if pod["metadata"]["uid"] != uid:
                    raise PodGoneError
                mutate(pod.setdefault("status", {}))
                response = self.http.put(f"{path}/status", json=pod)
                if response.status_code == 404:
                    raise PodGoneError
                if response.status_code != 409:
                    _check(response)
                    return
            except httpx.TransportError:
                time.sleep(0.2)
            except ApiError as exc:
                if not exc.transient:
                    raise
                time.sleep(0.2)
        raise RuntimeError(f"status update of {namespace}/{name} kept failing")

    def delete_now(self, namespace: str, name: str, uid: str) -> None:
        """What the kubelet does once a deleted pod's containers are gone."""
        with self._lock:
            if uid in self._force_deleted:
                return
            self._force_deleted.add(uid)
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            response = self.http.request(
                "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", json=body
            )
            if response.status_code not in (404, 409):
                _check(response)
        except Exception:
            with self._lock:
                self._force_deleted.discard(uid)  # let a later event or relist retry
            raise
        self.trace(f"{namespace}/{name}: deleted")

    # The node and the watch ---------------------------------------------------------

    def _register_node(self) -> None:
        labels = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": _go_arch(),
        }
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node_name, "labels": labels},
        }
        response = self.http.post("/api/v1/nodes", json=node)
        if response.status_code != 409:
            _check(response)
        resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        stamp = now()
        conditions = [
            ("Ready", "True", "KubeletReady", "fake kubelet is posting ready status"),
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
        ]
        path = f"/api/v1/nodes/{self.node_name}"
        current = _check(self.http.get(path)).json()
        current["status"] = {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
                for kind, status, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": POD_IP},
                {"type": "Hostname", "address": self.node_name},
            ],
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": platform.release(),
                "osImage": "sigmawatch fake kubelet",
                "containerRuntimeVersion": "fake://0",
                "kubeletVersion": "v1.37.2",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": _go_arch(),
            },
        }
        _check(self.http.put(f"{path}/status", json=current))
        self.trace(f"registered node {self.node_name}")

    def _watch_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if self._relist_needed:
                    self._relist()
                self._watch()
            except httpx.TransportError:
                pass  # idle read timeout or a dropped connection: resume from the last version
            except ApiError as exc:
                if not exc.transient and exc.status != 410:  # 410: too old, list again
                    self.record_error(f"watch: {exc!r}")
                self.trace(f"watch: {exc}")
                self._relist_needed = True
                self.stopping.wait(0.5)
            except Exception as exc:
                self.record_error(f"watch: {exc!r}")
                self._relist_needed = True
                self.stopping.wait(0.5)

    def _relist(self) -> None:
        self._relist_needed = False
        pods = _check(self.http.get("/api/v1/pods")).json()
        present = set()
        for pod in pods.get("items") or []:
            present.add((pod.get("metadata") or {}).get("uid"))
            self._safe_handle("ADDED", pod)
        with self._lock:
            vanished = [uid for uid in self._runs if uid not in present]
        for uid in vanished:
            self._forget(uid)
        self._resource_version = pods["metadata"]["resourceVersion"]

    def _watch(self) -> None:
        params = {
            "watch": "true",
            "resourceVersion": self._resource_version or "",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "300",
        }
        timeout = httpx.Timeout(10.0, read=WATCH_READ_TIMEOUT)
        with self.http.stream("GET", "/api/v1/pods", params=params, timeout=timeout) as response:
            if response.is_error:
                response.read()
                _check(response)
            for line in response.iter_lines():
                if self.stopping.is_set():
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, pod = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if pod.get("code") == 410:  # too old: list again
                        self._relist_needed = True
                        return
                    raise RuntimeError(f"watch error: {pod}")
                version = (pod.get("metadata") or {}).get("resourceVersion")
                if kind != "BOOKMARK":
                    self._safe_handle(kind, pod)
                if version:
                    self._resource_version = version
                if self._relist_needed:
                    return

    def _safe_handle(self, kind: str, pod: Json) -> None:
        try:
            self._handle(kind, pod)
        except ApiError as exc:
            if not exc.transient:
                self.record_error(f"handling {kind} {_key(pod)}: {exc}")
            self.trace(f"handling {kind} {_key(pod)}: {exc}")
            self._relist_needed = True  # the relist handles this pod again
        except Exception as exc:  # one odd object must not stop the node
            self.record_error(f"handling {kind} {_key(pod)}: {exc!r}")

    def _handle(self, kind: str, pod: Json) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        uid = meta.get("uid")
        if not uid or self.stopping.is_set():
            return
        if kind == "DELETED":
            self._forget(uid)
            return
        deleting = meta.get("deletionTimestamp") is not None
        node = spec.get("nodeName")
        if not node:
            if not deleting and not spec.get("schedulingGates"):
                self._bind(meta)
            return
        if node != self.node_name:
            return
        with self._lock:
            run = self._runs.get(uid)
        if deleting:
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            if run is None or not run.terminate(grace, deleting=True):
                self.delete_now(meta["namespace"], meta["name"], uid)
            return
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if run is None and phase == "Pending" and spec.get("containers"):
            with self._lock:
                if uid in self._runs:
                    return
                run = self._runs[uid] = PodRun(self, pod)
            self.trace(f"{_key(pod)}: starting")
            run.thread.start()

    def _bind(self, meta: Json) -> None:
        namespace, name = meta["namespace"], meta["name"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
        }
        response = self.http.post(
            f"/api/v1/namespaces/{namespace}/pods/{name}/binding", json=binding
        )
        if response.status_code in (404, 409):
            return  # gone, or already bound
        _check(response)
        self.trace(f"{namespace}/{name}: bound to {self.node_name}")

    def _forget(self, uid: str) -> None:
        with self._lock:
            run = self._runs.pop(uid, None)
            self._force_deleted.discard(uid)
        if run is not None:
            run.terminate(0.0, deleting=False)


def _key(pod: Json) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
