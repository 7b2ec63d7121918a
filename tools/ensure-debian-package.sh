#!/usr/bin/env bash
# ensure-debian-package.sh COMMAND[|OTHER...] PACKAGE WHAT
# Installs PACKAGE from the distribution's packages unless one of the
# commands exists, e.g. Chromium for the browser test (Google Chrome does
# too). Never downloads anything else.
set -euo pipefail
commands=$1 package=$2 what=$3
IFS='|' read -r -a alternatives <<<"$commands"
for command in "${alternatives[@]}"; do
  if command -v "$command" >/dev/null 2>&1; then exit 0; fi
done
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1 && $sudo true 2>/dev/null; then
  echo "installing $package (Debian package) for $what" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$package" >/dev/null
else
  echo "WARNING: $commands is missing and cannot be installed here; $what will not run (CI=true makes that a failure)" >&2
fi
