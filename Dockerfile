# syntax=docker/dockerfile:1
# One image for all the services and the web front end; each container picks its service by
# entry point:
#   python -m careflow.<identity|triage|queue|chat|journal|notify|web>
# and the migration Jobs run: python /app/deploy/tools/migrate.py <service>.
# Configuration is by environment variables only (kit/src/careflow/kit/settings.py).

# The base: the official Python image. Where no registry can be reached, `make image` builds an
# equivalent from Debian's packages (deploy/images/build.sh) and passes it here.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: resolve the locked dependencies into a virtual environment -------------------
FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    UV_NATIVE_TLS=1
# Downloads trust the system's CA bundle (the build may mount the host's over it, for a
# TLS-inspecting proxy); only this stage downloads.
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
# Dependencies first (only the lock and the manifests), so a code change reuses this layer.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY kit/pyproject.toml kit/
COPY cli/pyproject.toml cli/
COPY services/identity/pyproject.toml services/identity/
COPY services/triage/pyproject.toml services/triage/
COPY services/queue/pyproject.toml services/queue/
COPY services/chat/pyproject.toml services/chat/
COPY services/journal/pyproject.toml services/journal/
COPY services/notify/pyproject.toml services/notify/
COPY services/web/pyproject.toml services/web/
# The services and what they import; not the CLI (it bundles a PostgreSQL server for dev).
ARG PACKAGES="--package careflow-identity --package careflow-triage --package careflow-queue \
 --package careflow-chat --package careflow-journal --package careflow-notify --package careflow-web"
RUN uv sync --frozen --no-dev --no-install-workspace ${PACKAGES}
COPY contracts contracts
COPY kit kit
COPY services services
RUN uv sync --frozen --no-dev --no-editable ${PACKAGES}

# ---- runtime: the virtual environment and nothing else, as an unprivileged user ---------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CAREFLOW_HTTP_HOST=0.0.0.0 \
    CAREFLOW_HTTP_PORT=8000 \
    CAREFLOW_LOG_JSON=true
RUN groupadd --system --gid 10001 careflow \
 && useradd --system --uid 10001 --gid careflow --no-create-home --shell /usr/sbin/nologin careflow
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY deploy/tools/migrate.py /app/deploy/tools/migrate.py
USER 10001:10001
EXPOSE 8000
# SIGTERM reaches Python directly (exec form, PID 1): the kit drains and stops gracefully.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "careflow.identity"]
