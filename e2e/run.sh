#!/usr/bin/env bash
# End-to-end scenario on a throwaway kind cluster (what `make e2e` runs):
#
#   1. create a kind cluster (kind is installed with `go install` at the
#      pinned version when the one on PATH is not that version)
#   2. build both images with docker and load them into the cluster
#   3. install the CRDs, apply the dev overlay, create the dev Secrets
#   4. wait for PostgreSQL, the object store, the operator and the API
#   5. upload a demo dataset through the API (kubectl port-forward)
#   6. apply an AnomalyModel that trains from it; wait until it is Ready
#   7. predict through the Service from a client pod in the namespace
#   8. delete the cluster (also on failure, after printing diagnostics)
#
# Needs: docker, kubectl, Go (only when kind must be installed), curl.
# Environment:
#   SIGMAWATCH_E2E_CLUSTER  kind cluster name (default sigmawatch-e2e)
#   SIGMAWATCH_E2E_KEEP=1   keep the cluster afterwards, for debugging
#   SIGMAWATCH_E2E_PORT     local port for the API port-forward (default 18080)
set -euo pipefail

readonly KIND_VERSION=v0.33.0
# The node image kind v0.33.0 was released with (Kubernetes 1.37.0), by digest.
readonly KIND_NODE_IMAGE=kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5
readonly CLUSTER=${SIGMAWATCH_E2E_CLUSTER:-sigmawatch-e2e}
readonly LOCAL_PORT=${SIGMAWATCH_E2E_PORT:-18080}
readonly NAMESPACE=sigmawatch-dev
# Must match the dev overlay's images (manifests/overlays/dev/kustomization.yaml).
readonly TAG=dev
readonly INFERENCE_IMAGE=ghcr.io/sigmawatch/sigmawatch-inference:$TAG
readonly OPERATOR_IMAGE=ghcr.io/sigmawatch/sigmawatch-operator:$TAG
readonly SERIES=e2e_pump_7
readonly MODEL=e2e-pump-7

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
port_forward_pid=""
kind=""

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e: %s\n' "$*" >&2; exit 1; }
k() { kubectl --context "kind-$CLUSTER" --namespace "$NAMESPACE" "$@"; }

diagnostics() {
  log "diagnostics"
  k get all,anomalymodels,jobs,pvc,networkpolicies -o wide || true
  k get events --sort-by=.lastTimestamp | tail -n 60 || true
  k describe pods || true
  for target in deploy/sigmawatch-operator deploy/sigmawatch-inference \
      statefulset/sigmawatch-postgres statefulset/sigmawatch-s3 job/sigmawatch-dev-bucket; do
    echo "--- logs of $target"
    k logs "$target" --all-containers --tail=100 || true
  done
  k get anomalymodel "$MODEL" -o yaml || true
}

cleanup() {
  local status=$?
  if [ -n "$port_forward_pid" ]; then
    kill "$port_forward_pid" 2>/dev/null || true
    wait "$port_forward_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -n "$kind" ]; then
    diagnostics
  fi
  if [ "${SIGMAWATCH_E2E_KEEP:-0}" = 1 ]; then
    log "keeping cluster $CLUSTER (delete with: $kind delete cluster --name $CLUSTER)"
  elif [ -n "$kind" ]; then
    log "deleting cluster $CLUSTER"
    "$kind" delete cluster --name "$CLUSTER" || true
  fi
  rm -rf "$work"
  if [ "$status" -eq 0 ]; then
    log "e2e passed"
  else
    log "e2e FAILED (exit $status)"
  fi
  exit "$status"
}
trap cleanup EXIT

# Polls a command until it succeeds: wait_until SECONDS DESCRIPTION COMMAND...
wait_until() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
    sleep 2
  done
}

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

find_kind() {
  if command -v kind >/dev/null && kind version | grep -q "^kind $KIND_VERSION "; then
    command -v kind
    return
  fi
  local bin=${XDG_CACHE_HOME:-$HOME/.cache}/sigmawatch/e2e/kind-$KIND_VERSION
  if [ ! -x "$bin/kind" ]; then
    command -v go >/dev/null || die "kind $KIND_VERSION is not on PATH and Go is missing to install it"
    log "installing kind $KIND_VERSION with go install"
    GOBIN=$bin go install "sigs.k8s.io/kind@$KIND_VERSION"
  fi
  echo "$bin/kind"
}

# Creates a Secret from stdin-fed files unless it exists: create_secret NAME KEY=FILE...
# Values travel through files, never through kubectl's command line.
create_secret() {
  local name=$1
  shift
  if k get secret "$name" >/dev/null 2>&1; then
    echo "secret $name exists"
    return
  fi
  local args=() pair
  for pair in "$@"; do args+=("--from-file=$pair"); done
  k create secret generic "$name" "${args[@]}"
}

create_dev_secrets() {
  # DEV ONLY credentials, random per cluster. Production Secrets are created
  # the same way from real values (docs/deploy.md).
  local pg_password url
  umask 077
  if ! k get secret sigmawatch-dev-postgres >/dev/null 2>&1; then
    random_secret >"$work/pg-password"
    create_secret sigmawatch-dev-postgres "password=$work/pg-password"
  fi
  pg_password=$(k get secret sigmawatch-dev-postgres -o jsonpath='{.data.password}' | base64 -d)
  url="postgresql://sigmawatch:${pg_password}@sigmawatch-postgres:5432/sigmawatch"
  printf '%s' "$url" >"$work/database-url"
  create_secret sigmawatch-database "url=$work/database-url"
  printf 'sigmawatch-dev' >"$work/s3-access-key"
  random_secret >"$work/s3-secret-key"
  create_secret sigmawatch-s3 "access-key-id=$work/s3-access-key" "secret-access-key=$work/s3-secret-key"
  # The first admin API key (SEC-3): the inference pods register it at start-up.
  random_secret >"$work/admin-api-key"
  create_secret sigmawatch-auth "admin-api-key=$work/admin-api-key"
}

main() {
  command -v docker >/dev/null || die "docker is required"
  command -v kubectl >/dev/null || die "kubectl is required"
  command -v curl >/dev/null || die "curl is required"
  cd "$root"

  kind=$(find_kind)

  log "building images"
  docker build -f Dockerfile.inference -t "$INFERENCE_IMAGE" .
  docker build -f Dockerfile.operator -t "$OPERATOR_IMAGE" .

  log "creating kind cluster $CLUSTER"
  if "$kind" get clusters | grep -qx "$CLUSTER"; then
    echo "reusing existing cluster $CLUSTER"
  else
    "$kind" create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --wait 180s
  fi
  "$kind" load docker-image --name "$CLUSTER" "$INFERENCE_IMAGE" "$OPERATOR_IMAGE"

  log "installing the CRDs and the dev overlay"
  # CRDs first: the overlay contains a KopfPeering, which the API server
  # only accepts once its CRD is established.
  kubectl --context "kind-$CLUSTER" apply --server-side -k crds
  kubectl --context "kind-$CLUSTER" wait --for=condition=Established --timeout=60s \
    crd/anomalymodels.sigmawatch.dev crd/modelrollouts.sigmawatch.dev crd/kopfpeerings.kopf.dev
  kubectl --context "kind-$CLUSTER" apply --server-side -k manifests/overlays/dev

  log "creating the dev Secrets"
  create_dev_secrets

  log "waiting for the database, the object store, the operator and the API"
  k rollout status statefulset/sigmawatch-postgres --timeout=300s
  k rollout status statefulset/sigmawatch-s3 --timeout=300s
  k wait --for=condition=Complete job/sigmawatch-dev-bucket --timeout=300s
  k rollout status deployment/sigmawatch-operator --timeout=300s
  k rollout status deployment/sigmawatch-inference --timeout=300s

  log "uploading a demo dataset for $SERIES"
  k port-forward service/sigmawatch-inference "$LOCAL_PORT:80" >"$work/port-forward.log" 2>&1 &
  port_forward_pid=$!
  local api=http://127.0.0.1:$LOCAL_PORT
  local admin_key
  admin_key=$(k get secret sigmawatch-auth -o jsonpath='{.data.admin-api-key}' | base64 -d)
  wait_until 60 "the API through port-forward" curl -fsS "$api/readiness"
  # The demo series comes from the image just built: no local Python needed.
  docker run --rm "$INFERENCE_IMAGE" demo >"$work/demo.json"
  curl -fsS -X PUT -H 'content-type: application/json' -H "X-API-Key: $admin_key" \
    --data-binary "@$work/demo.json" "$api/v1/series/$SERIES/dataset"
  echo

  log "training through an AnomalyModel"
  k apply -f - <<EOF
apiVersion: sigmawatch.dev/v1alpha1
kind: AnomalyModel
metadata:
  name: $MODEL
spec:
  series:
    id: $SERIES
  source:
    dataset: {}
EOF
  k wait --for=condition=Ready "anomalymodel/$MODEL" --timeout=600s
  k get anomalymodel "$MODEL" -o wide

  log "predicting through the Service"
  # A client pod inside the namespace: it goes through the Service's
  # address and the NetworkPolicies, as an in-cluster caller would.
  k apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: e2e-client
  labels:
    sigmawatch.dev/client: "true"
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: client
      image: $INFERENCE_IMAGE
      imagePullPolicy: IfNotPresent
      command: [python, -c]
      args:
        - |
          import json, os, urllib.request
          request = urllib.request.Request(
              "http://sigmawatch-inference/v1/series/$SERIES/predict",
              data=json.dumps({"timestamp": 1767225900, "value": 500.0}).encode(),
              headers={
                  "content-type": "application/json",
                  "x-api-key": os.environ["SIGMAWATCH_API_KEY"],
              },
          )
          answer = json.load(urllib.request.urlopen(request, timeout=30))
          print(json.dumps(answer))
          assert answer["version"] == "v1", answer
          assert answer["anomaly"] is True, answer
      env:
        - name: SIGMAWATCH_API_KEY
          valueFrom:
            secretKeyRef: {name: sigmawatch-auth, key: admin-api-key}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: [ALL]
EOF
  local phase="" deadline=$((SECONDS + 180))
  while [ "$SECONDS" -lt "$deadline" ]; do
    phase=$(k get pod e2e-client -o jsonpath='{.status.phase}')
    case $phase in Succeeded | Failed) break ;; esac
    sleep 2
  done
  k logs pod/e2e-client || true
  [ "$phase" = Succeeded ] || die "the prediction through the Service failed (client pod: ${phase:-no phase})"
}

main "$@"
