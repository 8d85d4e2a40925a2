#!/usr/bin/env bash
# Migrate, start the voice worker when LiveKit is configured, serve the app.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-3000}"
PY=.venv/bin/python

$PY -m voxie_app.manage migrate
$PY -m voxie_app.manage secret-key  # data/secret.key unless VOXIE_SECRET_KEY is set
$PY -m voxie_app.manage rollups || true  # analytics days summarised now, not on first view

worker_pid=""
# VOXIE_WORKER=off: the worker runs elsewhere (its own container or unit: README "Deploy").
if [ "${VOXIE_WORKER:-auto}" = off ]; then
  echo "voice worker: not started here (VOXIE_WORKER=off)"
elif reason="$($PY -m voxie_app.manage worker-status)"; then
  $PY -m voice_worker start &
  worker_pid=$!
  echo "voice worker: started (pid $worker_pid)"
else
  echo "voice worker: not started: $reason"
fi
trap '[ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null || true' EXIT

export REFLEX_USE_NPM=1
reflex=(.venv/bin/reflex)
# Tests only (tests/apprunner.py): reuse the last production frontend build when
# what it was built from is unchanged (scripts/reflex_reuse_build.py).
if [ "${VOXIE_REUSE_FRONTEND_BUILD:-}" = 1 ]; then
  reflex=("$PY" scripts/reflex_reuse_build.py)
fi
"${reflex[@]}" run --env prod --single-port --frontend-port "$PORT"
