"""The deployment manifests against a real API server (OPS-1, OPS-2, SEC-5, SCALE-1, AV-3).

Every overlay, every component and the Argo CD objects are rendered with the
project's own kubectl (kustomize built in) and must pass
`kubectl apply --dry-run=server`: the API server validates every field,
including the third-party kinds, whose CRDs are installed from the YAML their
projects publish in their Go modules (fetched through the Go module proxy at
the versions pinned in `UPSTREAM_CRDS`, Istio's in `support.upstream`; the Go
module cache keeps them). Then the properties a user relies on are checked on
the rendered objects.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_operator.config import OperatorConfig
from support.kube import Cluster
from support.upstream import ISTIO_CRDS, UpstreamCrds, module_dir

# PyYAML comes with the kubernetes client but ships no type stubs.
yaml: Any = importlib.import_module("yaml")

type Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
OVERLAYS = {
    "dev": "sigmawatch-dev",
    "staging": "sigmawatch-staging",
    "production": "sigmawatch-production",
}
COMPONENTS = ("monitoring", "istio", "ingress", "backup")
# Components are rendered over base in a namespace of their own.
COMPONENT_NAMESPACE = "sigmawatch-components"
ARGOCD_NAMESPACE = "argocd"
FIELD_MANAGER = "sigmawatch-manifest-tests"
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


UPSTREAM_CRDS = (
    ISTIO_CRDS,
    UpstreamCrds(
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        (
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
        ),
    ),
    UpstreamCrds(
        "github.com/argoproj/argo-cd/v3",
        "v3.5.7",
        ("manifests/crds/application-crd.yaml", "manifests/crds/appproject-crd.yaml"),
    ),
)


# -- helpers ----------------------------------------------------------------------------


def load_all(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def pod_templates(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    for obj in objects:
        if obj["kind"] in POD_OWNERS:
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            job = obj["spec"]["jobTemplate"]["spec"]
            yield f"CronJob/{obj['metadata']['name']}", job["template"]["spec"]


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def container(template: Obj, name: str) -> Obj:
    containers: list[Obj] = template["spec"]["template"]["spec"]["containers"]
    matches = [c for c in containers if c["name"] == name]
    assert len(matches) == 1, f"no container {name}"
    return matches[0]


def env_of(c: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in c.get("env", [])}


# -- the API server, with every CRD the manifests use -------------------------------------


@pytest.fixture(scope="module")
def kube(cluster: Cluster) -> Iterator[Cluster]:
    """The test cluster with the project's and the upstream CRDs and the target namespaces."""
    crd_names: list[str] = []
    cluster.kubectl("apply", "-k", str(ROOT / "crds"))
    crd_names += [o["metadata"]["name"] for o in render(cluster, ROOT / "crds")]
    for upstream in UPSTREAM_CRDS:
        base = module_dir(upstream.module, upstream.version)
        for relative in upstream.files:
            path = base / relative
            # Server-side: several of these CRDs are too large for the
            # last-applied annotation of a client-side apply.
            cluster.kubectl(
                "apply", "--server-side", "--force-conflicts",
                f"--field-manager={FIELD_MANAGER}", "-f", str(path), timeout=180,
            )  # fmt: skip
            crd_names += [
                o["metadata"]["name"]
                for o in load_all(path.read_text())
                if o.get("kind") == "CustomResourceDefinition"
            ]
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=120s",
        *(f"crd/{name}" for name in crd_names), timeout=150,
    )  # fmt: skip
    # Namespaced objects can only be dry-run into a namespace that exists.
    namespaces = [*OVERLAYS.values(), COMPONENT_NAMESPACE, ARGOCD_NAMESPACE]
    created = [ns for ns in namespaces if not _exists(cluster, "namespace", ns)]
    for ns in created:
        cluster.kubectl("create", "namespace", ns, "--save-config")
    yield cluster
    if created:
        cluster.kubectl("delete", "namespace", "--wait=false", *created, check=False)


def _exists(cluster: Cluster, kind: str, name: str) -> bool:
    return cluster.kubectl("get", kind, name, check=False).returncode == 0


def render_text(cluster: Cluster, path: Path) -> str:
    """kustomize, as built into the project's kubectl."""
    result = cluster.kubectl("kustomize", str(path), check=False)
    assert result.returncode == 0, f"kustomize {path} failed:\n{result.stderr}"
    return result.stdout


def render(cluster: Cluster, path: Path) -> list[Obj]:
    return load_all(render_text(cluster, path))


@pytest.fixture(scope="module")
def component_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each component on its own, over base, as an overlay would include it."""
    roots = {}
    for name in COMPONENTS:
        root = tmp_path_factory.mktemp(f"component-{name}")
        (root / "kustomization.yaml").write_text(
            json.dumps(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "namespace": COMPONENT_NAMESPACE,
                    # kustomize takes relative paths only.
                    "resources": [os.path.relpath(MANIFESTS / "base", root)],
                    "components": [os.path.relpath(MANIFESTS / name, root)],
                }
            )
        )
        roots[name] = root
    return roots


def dry_run(cluster: Cluster, text: str) -> None:
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=text, check=False, timeout=120
    )
    assert result.returncode == 0, f"server dry run refused:\n{result.stderr}"


# -- every rendering is accepted by the API server ---------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_a_server_side_dry_run(kube: Cluster, overlay: str) -> None:
    dry_run(kube, render_text(kube, MANIFESTS / "overlays" / overlay))


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_passes_a_server_side_dry_run(
    kube: Cluster, component_roots: dict[str, Path], component: str
) -> None:
    dry_run(kube, render_text(kube, component_roots[component]))


def test_argocd_objects_pass_a_server_side_dry_run(kube: Cluster) -> None:
    dry_run(kube, render_text(kube, MANIFESTS / "argocd"))


# -- what users rely on --------------------------------------------------------------------


@pytest.fixture(scope="module")
def overlays(cluster: Cluster) -> dict[str, list[Obj]]:
    return {name: render(cluster, MANIFESTS / "overlays" / name) for name in OVERLAYS}


def test_no_overlay_contains_a_secret(overlays: dict[str, list[Obj]]) -> None:
    # Credentials come from Secrets created outside Git (docs/deploy.md);
    # even dev gets random ones from e2e/run.sh.
    for name, objects in overlays.items():
        assert not [o for o in objects if o["kind"] == "Secret"], name


def test_everything_lands_in_the_overlay_namespace(overlays: dict[str, list[Obj]]) -> None:
    for name, objects in overlays.items():
        namespaces = {o["metadata"].get("namespace") for o in objects} - {None}
        assert namespaces == {OVERLAYS[name]}, name
        labels = find(objects, "Namespace", OVERLAYS[name])["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", name
        binding = find(objects, "RoleBinding", "sigmawatch-operator")
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "sigmawatch-operator", "namespace": OVERLAYS[name]}
        ]


def test_inference_autoscales_3_to_50_on_cpu_70_and_memory_85(
    overlays: dict[str, list[Obj]],
) -> None:
    for name in ("staging", "production"):
        hpa = find(overlays[name], "HorizontalPodAutoscaler", "sigmawatch-inference")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "sigmawatch-inference",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 50)
        assert hpa["spec"]["metrics"] == [  # SCALE-1: CPU and memory
            {
                "type": "Resource",
                "resource": {
                    "name": resource,
                    "target": {"type": "Utilization", "averageUtilization": utilization},
                },
            }
            for resource, utilization in (("cpu", 70), ("memory", 85))
        ]
    for name, objects in overlays.items():
        # The HPA owns the replica count; a fixed one would fight it on every sync.
        assert "replicas" not in find(objects, "Deployment", "sigmawatch-inference")["spec"], name


def test_inference_pods_probes_resources_and_spread(overlays: dict[str, list[Obj]]) -> None:
    for name, objects in overlays.items():
        deployment = find(objects, "Deployment", "sigmawatch-inference")
        inference = container(deployment, "inference")
        ports = {p["name"]: p["containerPort"] for p in inference["ports"]}
        assert ports == {"http": 8000}
        assert inference["livenessProbe"]["httpGet"] == {"path": "/liveness", "port": "http"}
        assert inference["readinessProbe"]["httpGet"] == {"path": "/readiness", "port": "http"}
        assert env_of(inference)["SIGMAWATCH_HOST"]["value"] == "0.0.0.0"  # noqa: S104
        assert env_of(inference)["SIGMAWATCH_PORT"]["value"] == "8000"
        spec = deployment["spec"]["template"]["spec"]
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, name
        assert {v["name"]: v for v in spec["volumes"]}["tmp"]["emptyDir"] is not None
        assert {m["mountPath"] for m in inference["volumeMounts"]} == {"/tmp"}
        service = find(objects, "Service", "sigmawatch-inference")
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http", "appProtocol": "http"}
        ]
        assert find(objects, "PodDisruptionBudget", "sigmawatch-inference")
    for name in ("staging", "production"):
        inference = container(
            find(overlays[name], "Deployment", "sigmawatch-inference"), "inference"
        )
        assert inference["resources"] == {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "4Gi"},
        }
        spread = find(overlays[name], "Deployment", "sigmawatch-inference")["spec"]["template"]
        zone = [
            c
            for c in spread["spec"]["topologySpreadConstraints"]
            if c["topologyKey"] == "topology.kubernetes.io/zone"
        ]
        assert zone[0]["whenUnsatisfiable"] == "DoNotSchedule"  # AV-3: zones are not optional


def test_operator_runs_two_peered_replicas_with_its_settings(
    overlays: dict[str, list[Obj]],
) -> None:
    for name, objects in overlays.items():
        deployment = find(objects, "Deployment", "sigmawatch-operator")
        assert deployment["spec"]["replicas"] == 2
        operator = container(deployment, "operator")
        assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
        assert {p["name"]: p["containerPort"] for p in operator["ports"]} == {
            "healthz": 8080,
            "metrics": 9090,
        }
        env = env_of(operator)
        inference_image = container(
            find(objects, "Deployment", "sigmawatch-inference"), "inference"
        )["image"]
        # Training Jobs run the inference image, whatever tag the overlay sets.
        assert env["SIGMAWATCH_OPERATOR_TRAINING_IMAGE"]["value"] == inference_image, name
        assert env["SIGMAWATCH_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "sigmawatch-database",
            "key": "url",
        }
        assert find(objects, "KopfPeering", "sigmawatch")
        assert find(objects, "ServiceAccount", "sigmawatch-training")


def test_settings_in_manifests_are_real_settings(overlays: dict[str, list[Obj]]) -> None:
    """A misspelt SIGMAWATCH_* variable would be ignored silently by pydantic-settings."""
    known = {f"SIGMAWATCH_{field.upper()}" for field in ServiceSettings.model_fields}
    known |= {f"SIGMAWATCH_OPERATOR_{field.upper()}" for field in OperatorConfig.model_fields}
    for name, objects in overlays.items():
        used = set(find(objects, "ConfigMap", "sigmawatch-config")["data"])
        for _, spec in pod_templates(objects):
            for c in spec["containers"]:
                used |= set(env_of(c))
        settings = {v for v in used if v.startswith("SIGMAWATCH_")}
        assert settings <= known, f"{name}: unknown settings {sorted(settings - known)}"


def test_operator_rbac_is_least_privilege(overlays: dict[str, list[Obj]]) -> None:
    role = find(overlays["production"], "Role", "sigmawatch-operator")
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
        assert "secrets" not in rule["resources"], "the operator must not read Secrets"
        assert not {"pods", "pods/exec"} & set(rule["resources"]), rule
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted[("batch", "jobs")] == {"create", "list", "watch", "get", "delete"}
    assert granted[("sigmawatch.dev", "anomalymodels/status")] == {"get", "patch"}
    assert granted[("kopf.dev", "kopfpeerings")] == {"get", "list", "watch", "patch"}
    # Istio rollouts read the one VirtualService they name and JSON-patch its weights.
    assert granted[("networking.istio.io", "virtualservices")] == {"get", "patch"}
    # Nothing cluster-wide: an environment sees only its own namespace.
    for name, objects in overlays.items():
        assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")], name


def test_every_container_runs_as_non_root_on_a_read_only_root(
    cluster: Cluster, overlays: dict[str, list[Obj]], component_roots: dict[str, Path]
) -> None:
    renders = dict(overlays) | {c: render(cluster, root) for c, root in component_roots.items()}
    checked = 0
    for name, objects in renders.items():
        for owner, spec in pod_templates(objects):
            pod = spec.get("securityContext", {})
            assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}, (name, owner)
            for c in spec["containers"]:
                ctx = {**pod, **c.get("securityContext", {})}
                where = (name, owner, c["name"])
                assert ctx.get("runAsNonRoot") is True, where
                assert ctx.get("runAsUser", 0) != 0, where
                assert ctx.get("readOnlyRootFilesystem") is True, where
                assert ctx.get("allowPrivilegeEscalation") is False, where
                assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where
                assert "limits" in c.get("resources", {}), where
                checked += 1
    assert checked >= 3 * 2 + 3  # operator + inference everywhere, dev's extras


def test_images_are_pinned(overlays: dict[str, list[Obj]]) -> None:
    for name, objects in overlays.items():
        for owner, spec in pod_templates(objects):
            for c in spec["containers"]:
                image = c["image"]
                reference = image.split("@")[0]
                tag = reference.rsplit(":", 1)[1] if ":" in reference.split("/")[-1] else None
                assert tag is not None, (name, owner, image)
                assert tag != "latest", (name, owner, image)
    # The dev overlay's tag is what e2e/run.sh builds and loads into kind.
    e2e = (ROOT / "e2e" / "run.sh").read_text()
    match = re.search(r"^readonly TAG=(\S+)$", e2e, flags=re.MULTILINE)
    assert match
    dev_image = container(find(overlays["dev"], "Deployment", "sigmawatch-inference"), "inference")
    assert dev_image["image"] == f"ghcr.io/sigmawatch/sigmawatch-inference:{match[1]}"


def test_network_policies_deny_by_default(overlays: dict[str, list[Obj]]) -> None:
    for name, objects in overlays.items():
        deny = find(objects, "NetworkPolicy", "sigmawatch-default-deny")
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, name
        inference = find(objects, "NetworkPolicy", "sigmawatch-inference")
        ports = [p for rule in inference["spec"]["ingress"] for p in rule["ports"]]
        assert ports == [{"protocol": "TCP", "port": 8000}], name


def test_production_adds_monitoring_istio_and_ingress(overlays: dict[str, list[Obj]]) -> None:
    production = overlays["production"]
    kinds = {o["kind"] for o in production}
    assert {"ServiceMonitor", "PrometheusRule", "Gateway", "VirtualService"} <= kinds
    assert {"DestinationRule", "Ingress"} <= kinds
    for other in ("dev", "staging"):
        assert not {"ServiceMonitor", "VirtualService", "Ingress"} & {
            o["kind"] for o in overlays[other]
        }

    service = find(production, "VirtualService", "sigmawatch-inference")
    route = next(r for r in service["spec"]["http"] if r.get("name") == "inference")
    weights = {d["destination"]["subset"]: d["weight"] for d in route["route"]}
    assert weights == {"stable": 100, "candidate": 0}
    rule = find(production, "DestinationRule", "sigmawatch-inference")
    subsets = {s["name"]: s["labels"] for s in rule["spec"]["subsets"]}
    assert subsets == {"stable": {"version": "stable"}, "candidate": {"version": "candidate"}}
    assert "outlierDetection" in rule["spec"]["trafficPolicy"]
    assert "connectionPool" in rule["spec"]["trafficPolicy"]
    pods = find(production, "Deployment", "sigmawatch-inference")["spec"]["template"]
    assert pods["metadata"]["labels"]["version"] == "stable"

    ingress = find(production, "Ingress", "sigmawatch-inference")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "10m"  # SEC-1
    assert "nginx.ingress.kubernetes.io/limit-rps" in annotations
    assert ingress["spec"]["tls"][0]["secretName"]
    paths = {p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert "/v1" in paths
    assert not {"/metrics", "/liveness", "/readiness", "/"} & paths


def test_the_candidate_track_is_the_stable_one_but_for_its_track(
    overlays: dict[str, list[Obj]],
) -> None:
    production = overlays["production"]
    stable = find(production, "Deployment", "sigmawatch-inference")
    candidate = find(production, "Deployment", "sigmawatch-inference-candidate")
    assert candidate["spec"]["replicas"] == 0  # no pods at rest
    for deployment, track in ((stable, "stable"), (candidate, "candidate")):
        pods = deployment["spec"]["template"]
        assert pods["metadata"]["labels"]["version"] == track
        assert deployment["spec"]["selector"]["matchLabels"]["version"] == track
        assert pods["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
        assert env_of(container(deployment, "inference"))["SIGMAWATCH_TRACK"]["value"] == track

    def without_track(deployment: Obj) -> Obj:
        spec: Obj = json.loads(json.dumps(deployment["spec"]["template"]["spec"]))
        for c in spec["containers"]:
            c["env"] = [e for e in c["env"] if e["name"] != "SIGMAWATCH_TRACK"]
        for spread in spec["topologySpreadConstraints"]:
            spread["labelSelector"]["matchLabels"].pop("version")
        return spec

    assert without_track(candidate) == without_track(stable)  # the image too, at rest
    assert container(candidate, "inference")["image"].startswith("ghcr.io/sigmawatch/")
    # The autoscaler and the disruption budget are the stable track's.
    targets = {
        o["spec"]["scaleTargetRef"]["name"]
        for o in production
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    assert targets == {"sigmawatch-inference"}
    budget = find(production, "PodDisruptionBudget", "sigmawatch-inference")
    assert budget["spec"]["selector"]["matchLabels"]["version"] == "stable"
    # Without Istio the Service would send to every pod: no candidate track there.
    for other in ("dev", "staging"):
        assert not [
            o for o in overlays[other] if o["metadata"]["name"] == "sigmawatch-inference-candidate"
        ]
        pods = find(overlays[other], "Deployment", "sigmawatch-inference")
        assert env_of(container(pods, "inference"))["SIGMAWATCH_TRACK"]["value"] == "stable"


def test_argocd_applications(cluster: Cluster) -> None:
    objects = render(cluster, MANIFESTS / "argocd")
    project = find(objects, "AppProject", "sigmawatch")
    apps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Application"}
    assert set(apps) == {"sigmawatch-staging", "sigmawatch-production"}
    for env, app in (
        ("staging", apps["sigmawatch-staging"]),
        ("production", apps["sigmawatch-production"]),
    ):
        source = app["spec"]["source"]
        assert source["repoURL"] in project["spec"]["sourceRepos"]
        assert "example" in source["repoURL"]  # an obvious placeholder
        assert source["path"] == f"manifests/overlays/{env}"
        assert (ROOT / source["path"] / "kustomization.yaml").exists()
        assert app["spec"]["destination"]["namespace"] == OVERLAYS[env]
        assert app["spec"]["project"] == "sigmawatch"
    staging = apps["sigmawatch-staging"]["spec"]["syncPolicy"]
    assert staging["automated"] == {"prune": True, "selfHeal": True}
    assert "automated" not in apps["sigmawatch-production"]["spec"]["syncPolicy"]
    # A sync neither reports nor undoes the weights an Istio rollout set.
    production = apps["sigmawatch-production"]["spec"]
    assert production["ignoreDifferences"] == [
        {
            "group": "networking.istio.io",
            "kind": "VirtualService",
            "name": "sigmawatch-inference",
            "jqPathExpressions": ['.spec.http[] | select(.name == "inference") | .route[].weight'],
        }
    ]
    assert "RespectIgnoreDifferences=true" in production["syncPolicy"]["syncOptions"]


def test_backup_cronjob_runs_daily_with_the_inference_settings(
    cluster: Cluster, component_roots: dict[str, Path]
) -> None:
    """DUR-3: the scheduled backup reaches the registry and bucket the service uses."""
    objects = render(cluster, component_roots["backup"])
    cron = find(objects, "CronJob", "sigmawatch-backup")
    fields = cron["spec"]["schedule"].split()
    assert fields[2:] == ["*", "*", "*"]  # once a day, at a fixed minute and hour
    assert fields[0].isdigit()
    assert fields[1].isdigit()
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    [backup] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    inference = container(find(objects, "Deployment", "sigmawatch-inference"), "inference")
    assert backup["image"] == inference["image"]
    assert backup["args"] == ["backup", "--prune-older-than", "30d"]
    assert backup["envFrom"] == inference["envFrom"]
    shared = ("SIGMAWATCH_DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    for name in shared:
        assert env_of(backup)[name] == env_of(inference)[name], name
    policy = find(objects, "NetworkPolicy", "sigmawatch-backup")
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "sigmawatch-backup"
    }
