#!/usr/bin/env bash
# ensure-debian-package.sh COMMAND PACKAGE WHAT
# Installs PACKAGE from the distribution's packages when COMMAND is missing,
# e.g. Chromium for the browser test. Never downloads anything else.
set -euo pipefail
command=$1 package=$2 what=$3
if command -v "$command" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing $package (Debian package) for $what" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "$package" >/dev/null
else
  echo "WARNING: $command is missing and cannot be installed here; $what will not run (CI=true makes that a failure)" >&2
fi
