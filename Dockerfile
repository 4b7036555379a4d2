# syntax=docker/dockerfile:1
# The PAIS base image: Python 3.11 and a virtualenv with pais-server (redis and mcp extras) and
# pais-cli. Its default command, `python -m pais_server`, serves the agent described by the
# environment (DESIGN.md section 2) on 0.0.0.0:$AGENT_PORT; `pais run server.py` serves a user's
# Pydantic AI agent instead. Images built by `pais build` start FROM this one.
#
#   docker build --tag pais-server:0.1.0 --tag pais-server:dev .
#
# Tags: pais-server:<PAIS version> is what `pais build` extends by default (the version the
# project pins); pais-server:dev is the local development build that the kind scripts use.
#
# Conventions for images that extend it: the application virtualenv is /opt/pais ($VIRTUAL_ENV,
# on PATH, owned by root, read-only for the runtime user), the working directory is /app, the
# runtime user is uid/gid 10001, and the server listens on $AGENT_PORT (default 8000).
# /opt/pais/constraints.txt pins every distribution of that virtualenv (`name==version`, the PAIS
# packages included): an image that adds packages installs them with
# `uv pip install --constraints /opt/pais/constraints.txt ...`, so nothing of the base changes version
# (the Dockerfile `pais init` generates does).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/pais
WORKDIR /src
# Third-party dependencies first: this layer depends only on the lock file (`--frozen` needs no
# member pyproject.toml), so it stays cached while the workspace code changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-editable --no-install-workspace \
        --package pais-server --package pais-cli --extra redis --extra mcp
# Then the workspace packages, installed as regular (non-editable) wheels, and the constraints
# file that pins exactly what the virtualenv now holds.
COPY pyproject.toml uv.lock ./
COPY packages/ packages/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable \
        --package pais-server --package pais-cli --extra redis --extra mcp \
    && uv pip list --python "$UV_PROJECT_ENVIRONMENT" --format=freeze >"$UV_PROJECT_ENVIRONMENT/constraints.txt"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 pais \
    && useradd --system --uid 10001 --gid pais --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin pais
COPY --from=build /opt/pais /opt/pais
ENV PATH=/opt/pais/bin:$PATH \
    VIRTUAL_ENV=/opt/pais \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AGENT_PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('AGENT_PORT', '8000'), timeout=2)"]
# uvicorn drains in-flight requests on SIGTERM (SHUTDOWN_GRACE_SECONDS); keep the pod's
# terminationGracePeriodSeconds above that.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "pais_server"]
