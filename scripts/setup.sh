#!/usr/bin/env bash
# Create .venv (if missing) and install classlens with the locked versions in constraints.txt.
#   bash scripts/setup.sh          # runtime only
#   bash scripts/setup.sh dev      # plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "dev" ] && extras="[dev]"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"
