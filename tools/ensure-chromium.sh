#!/usr/bin/env bash
# Installs Debian's Chromium for the /plot browser test when it is missing.
# Never downloads a browser from anywhere but the distribution's packages.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium from Debian packages for the browser test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium >/dev/null
else
  echo "WARNING: chromium is missing and cannot be installed here; the browser tier will be skipped (fails under CI=true)" >&2
fi
