#!/usr/bin/env bash
# Create .venv (if missing) and install sublstm with its extras into it. Idempotent.
# torch is installed first and pinned so that pip never picks a multi-GB CUDA build on a
# CPU machine; set SUBLSTM_TORCH (e.g. "torch==2.5.1" or "skip") to choose another one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
TORCH_SPEC=${SUBLSTM_TORCH:-torch==2.13.0}
if [ "$TORCH_SPEC" != skip ] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  $PIP install -q "$TORCH_SPEC"
fi
$PIP install -q -e ".[dev,baselines,plot,ray]"
