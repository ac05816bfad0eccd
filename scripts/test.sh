#!/usr/bin/env bash
# The README's test command: set up (with test tools), then run pytest. Extra arguments go to
# pytest, e.g. `bash scripts/test.sh -m slow` for the slow end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export DVC_NO_ANALYTICS=1
bash scripts/setup.sh dev
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pytest "$@"
