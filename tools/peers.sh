#!/usr/bin/env bash
# peers.sh: the virtual environments of the peers bench_peers.py runs beside
# Sigmawatch (MLServer, KServe's model server), one each, from PyPI at the
# versions pinned in bench/peers/requirements-*.txt. Cached under
# ~/.cache/sigmawatch/peers and rebuilt only when a requirements file changes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${SIGMAWATCH_PEERS_DIR:-$HOME/.cache/sigmawatch/peers}
python=$("$here/tools/find-python.sh")
for peer in mlserver kserve; do
  requirements="$here/bench/peers/requirements-$peer.txt"
  venv="$root/$peer"
  stamp="$venv/.requirements-$(sha256sum "$requirements" | cut -c1-16)"
  if [ -e "$stamp" ]; then continue; fi
  echo "installing $peer into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r "$requirements"
  touch "$stamp"
done
echo "$root"
