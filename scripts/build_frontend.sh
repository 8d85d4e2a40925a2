#!/usr/bin/env bash
# Build the production frontend into .web/ without serving it (the image's build
# step). It goes through scripts/reflex_reuse_build.py, which saves the digest of
# what it built from, so `scripts/run.sh` with VOXIE_REUSE_FRONTEND_BUILD=1 serves
# this build instead of building again at every start.
set -euo pipefail
cd "$(dirname "$0")/.."
export REFLEX_USE_NPM=1
.venv/bin/python scripts/reflex_reuse_build.py export --frontend-only --no-zip --env prod
