#!/usr/bin/env bash
# Set up and run the test suite (everything but the tests marked slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
python -m pytest -m "not slow" "$@"
