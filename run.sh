#!/usr/bin/env bash
# stridelab's one-command entry point: sets everything up, then runs the main job or the tests.
#
#   bash run.sh train   # setup + train the default quadruped (logs, checkpoints, plots, video in runs/)
#   bash run.sh test    # setup + the test suite (what CI runs)
#
# Setup is idempotent: a virtual environment in .venv/, torch's CPU build (torch==2.13.0, which pip
# takes from this machine's disk; an unpinned torch would pull a multi-GB CUDA build), then
# stridelab and its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${STRIDELAB_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
stamp="$VENV/.stridelab-setup"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing torch (CPU build) and stridelab; this takes a few minutes the first time"
  python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
  python -c "import torch" 2>/dev/null || python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
  python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi
export MUJOCO_GL=${MUJOCO_GL:-egl}
# the reference robots shipped beside the repository (tests skip without them)
if [ -z "${MENAGERIE_ROOT:-}" ] && [ -d ../shared/robots ]; then
  MENAGERIE_ROOT="$(cd ../shared/robots && pwd)"
  export MENAGERIE_ROOT
fi

cmd=${1:-train}
shift || true
case "$cmd" in
  train) exec stridelab train quadruped-flat "$@" ;;
  test)  exec python -m pytest -q "$@" ;;
  *) echo "usage: bash run.sh train|test [extra arguments]" >&2; exit 2 ;;
esac
