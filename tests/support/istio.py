"""Istio rollouts against a real API server: Istio's CRDs, the manifests' VirtualService,
its weights as the API server has them, and what each track's pods would flush."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import TrackRow
from support.fake_rollouts import latency
from support.kube import Cluster
from support.operator import get_json
from support.upstream import ISTIO_CRDS, module_dir

# PyYAML comes with the kubernetes client but ships no type stubs.
yaml: Any = importlib.import_module("yaml")

ROOT = Path(__file__).resolve().parents[2]
VIRTUAL_SERVICE = "sigmawatch-inference"
FIELD_MANAGER = "sigmawatch-istio-tests"


def install_istio_crds(cluster: Cluster) -> None:
    """Istio's CRDs as its Go module publishes them (the same as the manifests tier)."""
    base = module_dir(ISTIO_CRDS.module, ISTIO_CRDS.version)
    for relative in ISTIO_CRDS.files:
        cluster.kubectl(
            "apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
            "-f", str(base / relative), timeout=180,
        )  # fmt: skip
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/virtualservices.networking.istio.io", timeout=90,
    )  # fmt: skip


def manifest_virtual_service() -> dict[str, Any]:
    """manifests/istio/virtualservice.yaml as the production overlay ships it."""
    found: dict[str, Any] = yaml.safe_load(
        (ROOT / "manifests" / "istio" / "virtualservice.yaml").read_text()
    )
    return found


def route_weights(cluster: Cluster, namespace: str, route: str = "inference") -> dict[str, int]:
    found = get_json(cluster.kubectl, "virtualservice", VIRTUAL_SERVICE, "-n", namespace)
    http = next(r for r in found["spec"]["http"] if r.get("name") == route)
    return {d["destination"]["subset"]: d.get("weight", 0) for d in http["route"]}


def route_holder(cluster: Cluster, namespace: str) -> str | None:
    found = get_json(cluster.kubectl, "virtualservice", VIRTUAL_SERVICE, "-n", namespace)
    value: str | None = (found["metadata"].get("annotations") or {}).get("sigmawatch.dev/rollout")
    return value


def flush_tracks(registry: Registry, n: int = 100, *, errors: int = 0) -> None:
    """What the pods of each track flushed for the second that just ended: the stable
    track healthy, the candidate with `errors` of its `n` requests failed. Ending now,
    the buckets count for the current step only, never for the next one."""
    end = datetime.now(UTC)
    start = end - timedelta(seconds=1)
    registry.record_track_stats(
        [
            TrackRow("stable", start, end, n, 0, latency(2.0, n)),
            TrackRow("candidate", start, end, n, errors, latency(2.0, n)),
        ]
    )


def istio_rollout(name: str, **analysis: Any) -> dict[str, Any]:
    fast = {"intervalSeconds": 1, "minSamples": 50, "minStepSeconds": 0, **analysis}
    return {
        "apiVersion": "sigmawatch.dev/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name},
        "spec": {
            "trafficRouting": "istio",
            "istio": {"virtualService": VIRTUAL_SERVICE, "route": "inference"},
            "strategy": "canary",
            "analysis": fast,
        },
    }


def apply(cluster: Cluster, namespace: str, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))
