"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

No kubelet and no scheduler run: `support.kubelet.FakeKubelet` binds pods and
runs their containers as local processes.
"""

from __future__ import annotations

import json
import secrets
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import kubernetes

from support.procs import ManagedProcess, clean_env, free_port, wait_for
from support.testbin import binary
from support.tiers import require

TIER = "cluster"
START_TIMEOUT = 60.0

# The controllers the operator relies on (Jobs, GC through owner references,
# namespace cleanup, Deployments), plus what makes namespaces usable for pods
# as in a real cluster: a default ServiceAccount and the kube-root-ca.crt map.
CONTROLLERS = (
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
    "replicaset-controller",
    "endpointslice-controller",
    "pod-garbage-collector-controller",
    "serviceaccount-controller",
    "root-ca-certificate-publisher-controller",
)


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"{super().__str__()}\n{self.stderr}"


@dataclass
class Cluster:
    server: str
    token: str
    kubeconfig: Path
    ca_file: Path
    kubectl_path: Path
    cache_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    # More log tails for timeout messages (the fake kubelet adds its own).
    diagnostics: list[Callable[[], str]] = field(default_factory=list)
    startup_seconds: float = 0.0

    @property
    def env(self) -> dict[str, str]:
        """What a child process (kubectl, a kopf operator) needs to reach the cluster."""
        return {"KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir)}

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl (as admin unless another `kubeconfig` is given)."""
        config = kubeconfig or self.kubeconfig
        argv = [str(self.kubectl_path), "--kubeconfig", str(config), *args]
        result = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(self.env),
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def api_client(self) -> kubernetes.client.ApiClient:
        client: kubernetes.client.ApiClient = kubernetes.config.new_client_from_config(
            config_file=str(self.kubeconfig)
        )
        return client

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig authenticating as a ServiceAccount (TokenRequest API), so RBAC applies.

        Run an operator with it to test its Role/ClusterRole for real; the admin
        kubeconfig is in system:masters, which RBAC never restricts.
        """
        request: dict[str, Any] = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 24 * 3600},
        }
        with self.http() as http:
            response = http.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", json=request
            )
        if not response.is_success:
            raise RuntimeError(f"TokenRequest for {namespace}/{name} failed: {response.text}")
        path = self.kubeconfig.with_name(f"sa-{namespace}-{name}.kubeconfig")
        user = f"system:serviceaccount:{namespace}:{name}"
        _write_kubeconfig(path, self.server, self.ca_file, user, response.json()["status"]["token"])
        return path

    def http(self, timeout: float = 30.0) -> httpx.Client:
        """A raw REST client (admin token, CA-verified) for plain JSON access."""
        return httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=timeout,
            trust_env=False,
        )

    def log_tails(self, lines: int = 30) -> str:
        tails = [f"--- {p.name} log ---\n{p.log_tail(lines)}" for p in self.processes]
        return "\n".join([*tails, *(describe() for describe in self.diagnostics)])

    def stop(self) -> None:
        # Controllers first, etcd last: an apiserver that loses etcd hangs on shutdown.
        for process in reversed(self.processes):
            process.stop()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def _make_pki(pki: Path) -> None:
    """A CA and an apiserver serving cert, so every client verifies TLS; an SA signing key."""
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650"]
    _openssl(
        "req", "-x509", *ec, "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
        "-subj", "/CN=sigmawatch-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl(
        "req", "-x509", *ec, "-keyout", str(pki / "apiserver.key"),
        "-out", str(pki / "apiserver.crt"), "-subj", "/CN=kube-apiserver",
        "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", str(pki / "sa.key"),
    )  # fmt: skip
    _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def _write_kubeconfig(path: Path, server: str, ca_file: Path, user: str, token: str) -> None:
    # kubeconfig is YAML, and JSON is YAML.
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sigmawatch-test",
                "cluster": {"server": server, "certificate-authority": str(ca_file)},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "sigmawatch-test", "context": {"cluster": "sigmawatch-test", "user": user}}
        ],
        "current-context": "sigmawatch-test",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


def start_cluster(workdir: Path, log_dir: Path, *, timeout: float = START_TIMEOUT) -> Cluster:
    """Start etcd, kube-apiserver and kube-controller-manager; ready for pods on return."""
    kube_dir = binary("kube", "kube-apiserver", TIER).parent
    etcd_exe = binary("etcd", "etcd", TIER)
    require(shutil.which("openssl") is not None, TIER, "openssl (for the test PKI) not found")
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    pki = workdir / "pki"
    _make_pki(pki)
    ca_file = pki / "ca.crt"

    admin_token, kcm_token = secrets.token_hex(16), secrets.token_hex(16)
    tokens = workdir / "tokens.csv"
    # The admin is in system:masters; the controller manager authenticates as
    # itself and (--use-service-account-credentials) runs each controller as
    # its own ServiceAccount under the bootstrap RBAC roles, as kubeadm does.
    tokens.write_text(
        f'{admin_token},admin,admin,"system:masters"\n'
        f"{kcm_token},system:kube-controller-manager,system:kube-controller-manager\n"
    )
    tokens.chmod(0o600)

    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
    server = f"https://127.0.0.1:{api_port}"
    cluster = Cluster(
        server=server,
        token=admin_token,
        kubeconfig=workdir / "admin.kubeconfig",
        ca_file=ca_file,
        kubectl_path=kube_dir / "kubectl",
        cache_dir=workdir / "kubectl-cache",
    )
    _write_kubeconfig(cluster.kubeconfig, server, ca_file, "admin", admin_token)
    kcm_kubeconfig = workdir / "kcm.kubeconfig"
    _write_kubeconfig(kcm_kubeconfig, server, ca_file, "kube-controller-manager", kcm_token)

    env = clean_env()
    etcd = ManagedProcess(
        "etcd",
        [
            str(etcd_exe),
            "--name=default",
            f"--data-dir={workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync",  # test data: durability is irrelevant, speed is not
            "--log-level=warn",
        ],
        env,
        log_dir,
    )
    apiserver = ManagedProcess(
        "kube-apiserver",
        [
            str(kube_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            f"--secure-port={api_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The endpoint reconciler refuses a loopback advertise address.
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--authorization-mode=RBAC",
            f"--token-auth-file={tokens}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
        ],
        env,
        log_dir,
    )
    kcm = ManagedProcess(
        "kube-controller-manager",
        [
            str(kube_dir / "kube-controller-manager"),
            f"--kubeconfig={kcm_kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",  # no health endpoint needed; avoids a port clash
            "--use-service-account-credentials",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--root-ca-file={ca_file}",
        ],
        env,
        log_dir,
    )
    try:
        cluster.processes.append(etcd.start())
        etcd.wait_until(
            lambda: (
                httpx.get(f"{etcd_url}/health", timeout=2, trust_env=False).json()["health"]
                == "true"
            ),
            timeout=timeout,
            what="etcd health",
        )
        cluster.processes.append(apiserver.start())
        with cluster.http(timeout=5) as http:
            apiserver.wait_until(
                lambda: http.get("/readyz").status_code == 200,
                timeout=max(1.0, timeout - (time.monotonic() - started)),
                what="kube-apiserver /readyz",
            )
            # The controller manager gives up if the apiserver is not healthy
            # within 10 s, so it starts only now.
            cluster.processes.append(kcm.start())
            kcm.wait_until(
                lambda: http.get("/api/v1/namespaces/default/serviceaccounts/default").is_success,
                timeout=max(1.0, timeout - (time.monotonic() - started)),
                what="the default ServiceAccount (kube-controller-manager)",
            )
    except BaseException as exc:
        tails = cluster.log_tails()
        cluster.stop()
        if isinstance(exc, Exception):
            raise RuntimeError(f"cluster start failed: {exc}\n{tails}") from exc
        raise
    cluster.startup_seconds = time.monotonic() - started
    return cluster


def wait_for_object(
    cluster: Cluster,
    path: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    timeout: float,
    what: str,
) -> dict[str, Any]:
    """Poll a REST path until `check(obj)` holds; returns the object."""
    seen: dict[str, Any] = {}
    with cluster.http() as http:

        def ready() -> bool:
            response = http.get(path)
            if response.status_code == 404:
                return False
            response.raise_for_status()
            seen.clear()
            seen.update(response.json())
            return check(seen)

        try:
            wait_for(ready, timeout=timeout, what=what, interval=0.1)
        except TimeoutError as exc:
            last = json.dumps(seen)[:3000]
            raise TimeoutError(f"{exc}\nlast seen: {last}\n{cluster.log_tails(15)}") from None
    return seen
