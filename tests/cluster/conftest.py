"""A real control plane (etcd, kube-apiserver, kube-controller-manager) and a fake kubelet.

Skips loudly (fails under CI=true) when the servers cannot be built.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigmawatch.registry.postgres import PostgresRegistry
from support import postgres
from support.kube import Cluster, start_cluster, wait_for_object
from support.kubelet import FakeKubelet
from support.plant import Plant, install_crds
from support.service import SOURCE_ROOTS


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"), artifacts_dir / "logs")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kubelet(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[FakeKubelet]:
    """Runs every pod's first container here; `sigmawatch` is this checkout's CLI."""
    kubelet = FakeKubelet(
        cluster,
        tmp_path_factory.mktemp("pods"),
        artifacts_dir / "logs",
        command_map={"sigmawatch": [sys.executable, "-m", "sigmawatch_inference.cli"]},
        extra_env={"PYTHONPATH": SOURCE_ROOTS},
    ).start()
    try:
        yield kubelet
    finally:
        kubelet.stop()
    assert not kubelet.errors, f"fake kubelet errors: {kubelet.errors}\n{kubelet.log_tail()}"


@pytest.fixture
def pod_env(kubelet: FakeKubelet) -> Iterator[dict[str, str]]:
    """Env added to every container started during the test (fill it before creating pods)."""
    env: dict[str, str] = {}
    with kubelet.env_overrides(env):
        yield env


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (with its default ServiceAccount), deleted after the test."""
    prefix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    with cluster.http() as http:
        response = http.post(
            "/api/v1/namespaces", json={"metadata": {"generateName": f"{prefix}-"}}
        )
        response.raise_for_status()
        name: str = response.json()["metadata"]["name"]
    # ServiceAccount admission is on, so pods wait for this like in a real cluster.
    wait_for_object(
        cluster,
        f"/api/v1/namespaces/{name}/serviceaccounts/default",
        lambda _: True,
        timeout=30,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    with cluster.http() as http:
        http.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="module")
def plant(
    cluster: Cluster, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Plant]:
    """CRDs installed, a registry database, and folders for artifacts and training data."""
    install_crds(cluster)
    url = postgres.create_database(pg_admin_url)
    registry = PostgresRegistry(url, max_size=4)
    registry.open()
    registry.migrate()
    try:
        yield Plant(cluster, url, tmp_path_factory.mktemp("plant"), registry)
    finally:
        registry.close()
        postgres.drop_database(pg_admin_url, url)


@pytest.fixture
def models_namespace(plant: Plant, namespace: str, kubelet: FakeKubelet) -> str:
    """A namespace set up as an installation would: Secret, ConfigMap, training ServiceAccount."""
    plant.prepare_namespace(namespace)
    return namespace
