#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 interpreter, or fails saying what to install.
set -euo pipefail
ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }
candidates=("${PYTHON:-}" python3.13 python3.12 python3)
for root in "${PYENV_ROOT:-$HOME/.pyenv}/versions"/3.1[2-9]*; do
  candidates+=("$root/bin/python3")
done
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  path=$(command -v "$c" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "Sigmawatch needs Python 3.12 or newer; install it or set PYTHON=/path/to/python3.12" >&2
exit 1
