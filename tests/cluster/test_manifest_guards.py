"""The request guards and mTLS as the rendered manifests set them (SEC-1, SEC-5).

test_manifests.py has the API server dry-run every overlay and component;
these check what the objects say: the Host allow-list names every way a
request reaches the pods, and production's mesh is strict mutual TLS and
still scraped by Prometheus.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from sigmawatch_inference.guards import HostAllowList
from support.kube import Cluster

yaml: Any = importlib.import_module("yaml")

type Obj = dict[str, Any]

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
OVERLAYS = {"dev": "sigmawatch-dev", "staging": "sigmawatch-staging"}
OVERLAYS["production"] = "sigmawatch-production"


@pytest.fixture(scope="module")
def overlays(cluster: Cluster) -> dict[str, list[Obj]]:
    rendered = {}
    for name in OVERLAYS:
        result = cluster.kubectl("kustomize", str(MANIFESTS / "overlays" / name))
        rendered[name] = [o for o in yaml.safe_load_all(result.stdout) if o]
    return rendered


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def addressed_as(objects: list[Obj], namespace: str) -> set[str]:
    """Every Host a request to the inference pods can carry in this overlay."""
    service = "sigmawatch-inference"
    names = {"localhost", "127.0.0.1", service, f"{service}.{namespace}"}
    names |= {f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"}
    for ingress in of_kind(objects, "Ingress"):
        names |= {rule["host"] for rule in ingress["spec"]["rules"]}
        vhost = ingress["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/upstream-vhost")
        names |= {vhost} if vhost else set()
    for gateway in of_kind(objects, "Gateway"):
        names |= {host for server in gateway["spec"]["servers"] for host in server["hosts"]}
    for route in of_kind(objects, "VirtualService"):
        names |= set(route["spec"]["hosts"])
    return names


def test_every_overlay_allows_the_names_it_is_reached_by_and_no_others(
    overlays: dict[str, list[Obj]],
) -> None:
    """SEC-1: a missing name would refuse real traffic; a wildcard would re-open rebinding."""
    for name, objects in overlays.items():
        setting = one(objects, "ConfigMap", "sigmawatch-config")["data"]["SIGMAWATCH_ALLOWED_HOSTS"]
        hosts = HostAllowList(setting)
        assert not hosts.any, name
        assert not hosts.suffixes, name
        for host in addressed_as(objects, OVERLAYS[name]):
            assert hosts.allows(f"{host}:80".encode()), f"{name}: {host}"
        assert not hosts.allows(b"rebound.attacker.example"), name


def test_production_speaks_only_mutual_tls_and_is_still_scraped(
    overlays: dict[str, list[Obj]],
) -> None:
    """SEC-5: STRICT mTLS in the mesh; Prometheus moves to the sidecar agent's port 15020."""
    production = overlays["production"]
    (policy,) = of_kind(production, "PeerAuthentication")
    assert policy["metadata"]["name"] == "default"  # the whole namespace
    assert "selector" not in policy["spec"]
    assert policy["spec"]["mtls"] == {"mode": "STRICT"}
    for other in ("dev", "staging"):  # no mesh, nothing to require
        assert not of_kind(overlays[other], "PeerAuthentication")
    for deployment in ("sigmawatch-inference", "sigmawatch-inference-candidate"):
        annotations = one(production, "Deployment", deployment)["spec"]["template"]["metadata"][
            "annotations"
        ]
        assert annotations["prometheus.io/port"] == "8000", deployment
        assert annotations["prometheus.io/path"] == "/metrics", deployment
    (endpoint,) = one(production, "ServiceMonitor", "sigmawatch-inference")["spec"]["endpoints"]
    assert endpoint["path"] == "/stats/prometheus"
    (relabel,) = endpoint["relabelings"]
    assert relabel["targetLabel"] == "__address__"
    assert relabel["replacement"].endswith(":15020")
    reaches = [
        rule
        for policy in of_kind(production, "NetworkPolicy")
        if policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        == "sigmawatch-inference"
        for rule in policy["spec"].get("ingress", [])
        if {"protocol": "TCP", "port": 15020} in rule["ports"]
    ]
    assert reaches, "nothing lets Prometheus reach 15020"
    # Without Istio, Prometheus keeps scraping the app itself.
    (plain,) = (
        one(overlays["staging"], "ServiceMonitor", "sigmawatch-inference")["spec"]["endpoints"]
        if of_kind(overlays["staging"], "ServiceMonitor")
        else [{"path": "/metrics"}]
    )
    assert plain["path"] == "/metrics"
