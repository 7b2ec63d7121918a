"""Plays the scheduler and the kubelet for one fake Node: pods run as local processes.

There is no container runtime here. A pod's first container runs as a local
process (command+args, with its env resolved the way the kubelet resolves it)
and its status is reported as a kubelet reports it, so the real controllers
(Job, ReplicaSet, GC) act on it. Not supported: init and sidecar containers,
volumes, probes (a running container counts as ready), resourceFieldRef env,
pod activeDeadlineSeconds, workingDir (each pod runs in a scratch directory).

This module is the node and its pod watch; `support.kubelet_pod` runs one pod,
`support.kubelet_env` resolves a container's env and command, and
`support.kubelet_api` holds what they share.
"""

from __future__ import annotations

import contextlib
import json
import platform
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from support.kube import Cluster
from support.kubelet_api import POD_IP, ApiError, Json, PodGoneError, check, now
from support.kubelet_pod import PodRun

type EnvHook = Callable[[Json], Mapping[str, str]]

# An idle watch is re-opened (from the last resourceVersion) this often, so stop() is prompt.
WATCH_READ_TIMEOUT = 2.0


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
        # Each container run's wall seconds, process start to exit, by "namespace/pod".
        self.run_seconds: dict[str, list[float]] = {}
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

    def record_run(self, pod: str, seconds: float) -> None:
        with self._lock:
            self.run_seconds.setdefault(pod, []).append(seconds)

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
                pod = check(response).json()
                if pod["metadata"]["uid"] != uid:
                    raise PodGoneError
                mutate(pod.setdefault("status", {}))
                response = self.http.put(f"{path}/status", json=pod)
                if response.status_code == 404:
                    raise PodGoneError
                if response.status_code != 409:
                    check(response)
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
                check(response)
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
            check(response)
        resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        stamp = now()
        conditions = [
            ("Ready", "True", "KubeletReady", "fake kubelet is posting ready status"),
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
        ]
        path = f"/api/v1/nodes/{self.node_name}"
        current = check(self.http.get(path)).json()
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
        check(self.http.put(f"{path}/status", json=current))
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
        pods = check(self.http.get("/api/v1/pods")).json()
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
                check(response)
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
        check(response)
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
