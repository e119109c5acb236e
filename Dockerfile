# syntax=docker/dockerfile:1
# Build stage: dependencies first (cached until pyproject.toml changes), then the source.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
# Empty packages let pip resolve and install the pinned dependencies before the code exists.
RUN mkdir -p bot cogs simulator playground \
    && touch bot/__init__.py cogs/__init__.py simulator/__init__.py playground/__init__.py \
    && /venv/bin/pip install . && /venv/bin/pip uninstall --yes backline
COPY bot ./bot
COPY cogs ./cogs
# The playground (no DISCORD_TOKEN) runs the bot against the built-in simulator.
COPY simulator ./simulator
COPY playground ./playground
RUN /venv/bin/pip install --no-deps .

# Run stage: no compilers, no source tree, an unprivileged user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin backline \
    && mkdir /data && chown backline /data
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/backline.db
USER backline
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; port = os.environ.get('CALLBACK_PORT', '8080'); sys.exit(u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]
# Python runs as PID 1 here: bot/__main__.py installs its own SIGTERM handler (PID 1 gets no
# default one), so `docker stop` ends in a clean stop, not a SIGKILL after 10 s.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
