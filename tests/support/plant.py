"""What operator scenarios share: CRDs, a registry, training data, a namespace kit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigmawatch.registry.postgres import PostgresRegistry
from support.data import write_series
from support.kube import Cluster
from support.operator import OperatorProcess, get_json

ROOT = Path(__file__).resolve().parents[2]
PEERING = {
    "apiVersion": "kopf.dev/v1",
    "kind": "ClusterKopfPeering",
    "metadata": {"name": "sigmawatch"},
}


def install_crds(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-k", str(ROOT / "crds"))
    for name in ("anomalymodels", "modelrollouts", "clusterkopfpeerings"):
        group = "kopf.dev" if "kopf" in name else "sigmawatch.dev"
        cluster.kubectl(
            "wait", "--for=condition=Established", f"crd/{name}.{group}", "--timeout=30s"
        )
    cluster.kubectl("apply", "-f", "-", input=json.dumps(PEERING))


@dataclass
class Plant:
    """A registry database, artifact folder and training-data folder, shared by
    the operator, its training pods and the test."""

    cluster: Cluster
    database_url: str
    root: Path
    registry: PostgresRegistry

    @property
    def artifacts_url(self) -> str:
        return (self.root / "artifacts").as_uri()

    @property
    def source_uri(self) -> str:
        return (self.root / "train").as_uri() + "/{series_id}.npy"

    def operator_env(self, **extra: str) -> dict[str, str]:
        return {
            **self.cluster.env,
            "SIGMAWATCH_DATABASE_URL": self.database_url,
            "SIGMAWATCH_ARTIFACTS_URL": self.artifacts_url,
            "SIGMAWATCH_DATA_DIR": str(self.root / "operator"),
            "SIGMAWATCH_OPERATOR_RECONCILE_INTERVAL_S": "1",
            "SIGMAWATCH_OPERATOR_PEERING_LIFETIME_S": "10",
            **extra,
        }

    def start_operator(
        self, name: str, log_dir: Path, *, args: Sequence[str] = (), **env: str
    ) -> OperatorProcess:
        return OperatorProcess(name, self.operator_env(**env), log_dir, args).start()

    def write_data(
        self, series_id: str, *, seed: int = 0, constant: bool = False, n: int = 10_000
    ) -> None:
        write_series(self.root / "train" / f"{series_id}.npy", n, seed=seed, constant=constant)

    def prepare_namespace(self, namespace: str) -> None:
        """What an installation provides: Secret, ConfigMap, training ServiceAccount."""
        objects: list[dict[str, Any]] = [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "sigmawatch-training"},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "sigmawatch-database"},
                "stringData": {"url": self.database_url},
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "sigmawatch-config"},
                "data": {
                    "SIGMAWATCH_ARTIFACTS_URL": self.artifacts_url,
                    "SIGMAWATCH_DATA_DIR": str(self.root / "pods"),
                },
            },
        ]
        for obj in objects:
            self.cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))

    def apply(self, namespace: str, obj: dict[str, Any]) -> None:
        self.cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))

    def jobs(self, namespace: str, model: str) -> list[dict[str, Any]]:
        found = get_json(
            self.cluster.kubectl, "jobs", "-n", namespace, "-l", f"sigmawatch.dev/model={model}"
        )
        items: list[dict[str, Any]] = found["items"]
        return items


def model(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sigmawatch.dev/v1alpha1",
        "kind": "AnomalyModel",
        "metadata": {"name": name},
        "spec": spec,
    }
