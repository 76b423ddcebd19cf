# Sourced by the scripts: offline, quiet, and the venv first on PATH (dvc.yaml calls `python`).
export PATH="$PWD/.venv/bin:$PATH"
export HF_HUB_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true BENTOML_DO_NOT_TRACK=true
export DVC_NO_ANALYTICS=1 GX_ANALYTICS_ENABLED=false PYTHONUNBUFFERED=1
# Cache byte-code (the venv is installed --no-compile): with PYTHONDONTWRITEBYTECODE set, as on
# some runners, every process - each dvc stage, server and worker - would recompile torch,
# mlflow and the rest from source, ~8 s each. .dvcignore keeps __pycache__ out of stage hashes.
unset PYTHONDONTWRITEBYTECODE
