#!/usr/bin/env bash
# Build the production frontend into .web/ (the image's build step), so that
# `scripts/run.sh` with VOXIE_REUSE_FRONTEND_BUILD=1 serves it instead of building
# again at every start. The build is made the way run.sh makes it, by starting the
# app once through scripts/reflex_reuse_build.py (which saves the digest of what it
# built from: `reflex export` compiles in another context, so its build would not
# match) on a throwaway SQLite database, then stopping it once it answers.
set -euo pipefail
cd "$(dirname "$0")/.."
export REFLEX_USE_NPM=1
export PATH="$PWD/.venv/bin:$PATH"  # node >= 22 from the venv (scripts/node_shims.sh)
PY=.venv/bin/python
db="$(mktemp -d)/build.db"
export DATABASE_URL="sqlite:///$db"
export VOXIE_WORKER=off
# The port the app will serve on: the allowed origins compiled into the build name it.
port="${PORT:-3000}"
export PORT="$port"
$PY -m voxie_app.manage migrate
VOXIE_REUSE_FRONTEND_BUILD=1 $PY scripts/reflex_reuse_build.py run --env prod \
  --single-port --frontend-port "$port" &
app=$!
trap 'kill "$app" 2>/dev/null || true; rm -rf "$(dirname "$db")"' EXIT
$PY - "$port" <<'PYEOF'
import sys, time, urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/api/health"
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2)
        sys.exit(0)
    except OSError:
        time.sleep(1)
sys.exit("the app did not answer in 15 minutes")
PYEOF
echo "frontend built: $(ls .web/build)"
