#!/usr/bin/env bash
# Builds the real servers and tools the test suite runs against from the Go
# module proxy, at the versions pinned by the wrapper modules beside this
# script: the S3-compatible server, etcd, kube-apiserver,
# kube-controller-manager and kubectl, the fault-injecting TCP proxy
# (toxiproxy), the OTLP trace receiver (Jaeger, in-memory) and actionlint.
#
# Binaries land in a cache directory keyed by a hash of the wrapper module,
# so a repeat run (or a fresh clone on the same machine) builds nothing; the
# Go module and build caches make a changed pin cheap too.
#
# Usage: build.sh [s3|etcd|kube|faults|traces|actionlint]...   (default: all). Prints NAME=DIR lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SIGMAWATCH_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sigmawatch/testbin}
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

kube_version() { awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/kube/go.mod"; }

build() {
  local name=$1 key out
  key=$(cat "$here/$name/go.mod" "$here/$name/go.sum" "$0" | sha256sum | cut -c1-16)
  out="$cache/$name-$key"
  # One build of a set at a time: two test tiers (or two checkouts) asking for the
  # same set at once would each clear the other's half-built folder.
  mkdir -p "$cache"
  exec {lock}>"$cache/.$name.lock"
  flock "$lock"
  if [ ! -f "$out/.complete" ]; then
    echo "building $name test binaries into $out (first run takes a while)" >&2
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    (
      cd "$here/$name"
      case $name in
        s3)
          go build -trimpath -ldflags "-s -w" -o "$out.tmp/versitygw" github.com/versity/versitygw/cmd/versitygw ;;
        etcd)
          go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3 ;;
        kube)
          local v minor
          v=$(kube_version); minor=${v#v1.}; minor=${minor%%.*}
          local pkg=k8s.io/component-base/version
          local ld="-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
          for cmd in kube-apiserver kube-controller-manager kubectl; do
            go build -trimpath -tags selinux,notest -ldflags "$ld" -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd"
          done ;;
        faults)
          go build -trimpath -ldflags "-s -w" -o "$out.tmp/toxiproxy-server" github.com/Shopify/toxiproxy/v2/cmd/server
          go build -trimpath -ldflags "-s -w" -o "$out.tmp/toxiproxy-cli" github.com/Shopify/toxiproxy/v2/cmd/cli ;;
        traces)
          go build -trimpath -ldflags "-s -w" -o "$out.tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger ;;
        actionlint)
          go build -trimpath -ldflags "-s -w" -o "$out.tmp/actionlint" github.com/rhysd/actionlint/cmd/actionlint ;;
        *) echo "unknown test binary set: $name" >&2; exit 2 ;;
      esac
    )
    touch "$out.tmp/.complete"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  exec {lock}>&-
  echo "$name=$out"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(s3 etcd kube faults traces actionlint)
for t in "${targets[@]}"; do build "$t"; done
