# syntax=docker/dockerfile:1
# The bot only: the playground (its extra, the simulator) stays out; without DISCORD_TOKEN
# the container refuses with one line. Base images are pinned to an exact release.
# Build stage: dependencies first (cached until pyproject.toml changes), then the source.
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
# Empty packages let pip resolve and install the pinned dependencies before the code exists
# (the main ones only: no extra).
RUN mkdir -p bot cogs && touch bot/__init__.py cogs/__init__.py \
    && /venv/bin/pip install . && /venv/bin/pip uninstall --yes backline
COPY bot ./bot
COPY cogs ./cogs
RUN /venv/bin/pip install --no-deps .

# Run stage: no compilers, no source tree, an unprivileged user.
FROM python:3.11.13-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin backline \
    && mkdir /data && chown backline /data
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/backline.db
USER backline
# From / the default (and any relative) SQLite path data/backline.db is the volume's file,
# even when an env file sets DATABASE_URL empty or relative.
WORKDIR /
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; port = os.environ.get('CALLBACK_PORT', '8080'); sys.exit(u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]
# Python runs as PID 1 here: bot/__main__.py installs its own SIGTERM handler (PID 1 gets no
# default one), so `docker stop` ends in a clean stop. A clean stop waits for a submission
# on the wire up to SUNO_REQUEST_TIMEOUT (30 s) and 5 s more: give it 45 s, not Docker's
# default 10 s, or the SIGKILL cuts the answer off and the charged task fails as
# "interrupted" after the restart: `docker run --stop-timeout 45`, `docker stop -t 45`
# (docker-compose.yml sets stop_grace_period: 45s). A Dockerfile cannot set it itself.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
