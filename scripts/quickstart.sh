#!/usr/bin/env bash
# The README's first command: set up, then run the whole pipeline on the embedded digits data.
set -euo pipefail
cd "$(dirname "$0")/.."
export DVC_NO_ANALYTICS=1
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate   # dvc.yaml's `python stages/...` commands must find this environment
dvc repro "$@"
dvc metrics show
echo "The report: data/report/report.html · experiments: dvc exp show --only-changed · runs: mlflow ui"
