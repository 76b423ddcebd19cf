#!/usr/bin/env bash
# The main job: set up, run the whole DVC pipeline on the built-in data, push the data to the
# local DVC remote, and print a summary of the metrics and where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
source scripts/env.sh
dvc repro
dvc push -q || echo "warning: dvc push to the local remote failed (see .dvc/config)" >&2
scalpvision compare --last 5 --out reports/compare > /dev/null
scalpvision summary
echo
echo "demo finished in $(( $(date +%s) - start )) s"
