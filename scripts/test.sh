#!/usr/bin/env bash
# Set up and run the whole test suite, slow tests included (CI runs exactly this), on
# SCALPVISION_TEST_WORKERS pytest-xdist workers (default 2), one test module per worker at a time.
# Extra arguments go to pytest, e.g. `-m "not slow"` for the quick ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
python -m pytest -n "${SCALPVISION_TEST_WORKERS:-2}" --dist loadfile "$@"
