#!/usr/bin/env bash
# Set up and run the whole test suite, slow tests included (CI runs exactly this).
# Extra arguments go to pytest, e.g. `-m "not slow"` for the quick ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
python -m pytest "$@"
