#!/usr/bin/env bash
# Create/refresh .venv (pip only; torch 2.14.1 + torchvision 0.29.1 as pinned) and install
# scalpvision editable. Idempotent: skips the install when the pins have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version}"'
stamp="$(cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.setup-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "== setting up .venv (first time: a few minutes, ~6.7 GB) =="
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  # --no-compile: modules are byte-compiled when first imported (most of the 6.7 GB never is)
  .venv/bin/python -m pip install -q --no-compile --disable-pip-version-check -r requirements.txt -c constraints.txt \
    2> >(grep -v "^WARNING: Location" >&2)
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e . \
    2> >(grep -v "^WARNING: Location" >&2)
  echo "$stamp" > .venv/.setup-stamp
fi
# Headless Chromium for the web-page test (Debian packages; needs root, else the test is skipped)
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian chromium + chromium-driver for the web-page test =="
  { apt-get install -y -q chromium chromium-driver || { apt-get update -q && apt-get install -y -q chromium chromium-driver; }; } \
    >/dev/null 2>&1 || echo "note: chromium could not be installed; the web-page test will be skipped"
fi
# DVC experiments commit into git: make sure an identity exists (CI runners have none)
if git rev-parse --git-dir >/dev/null 2>&1; then
  git config user.email >/dev/null || git config user.email "scalpvision@localhost"
  git config user.name >/dev/null || git config user.name "ScalpVision"
fi
echo "== .venv ready: $(.venv/bin/python --version), scalpvision $(.venv/bin/python -c 'import scalpvision; print(scalpvision.__version__)') =="
