"""Prometheus metrics, served by `bot.web` at `/metrics`.

Module-level collectors are the prometheus client's idiom; they hold counts, not services.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_CALLS = Counter(
    "backline_api_calls_total",
    "Music API calls by endpoint and business code (or error kind).",
    ["endpoint", "code"],
)
RATE_LIMIT_WAITS = Counter(
    "backline_rate_limiter_waits_total", "Calls that had to wait for the shared rate limiter."
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "backline_rate_limiter_wait_seconds_total", "Time spent waiting for the shared rate limiter."
)
CALLBACKS = Counter("backline_callbacks_total", "Callbacks received, by outcome.", ["outcome"])
TASKS = Gauge("backline_tasks", "Tasks by state.", ["state"])
TASKS_PURGED = Counter(
    "backline_tasks_purged_total", "Finished tasks deleted once past TASK_RETENTION_DAYS."
)
DELIVERY_LATENCY = Histogram(
    "backline_completion_to_delivery_seconds",
    "Time from the API reporting a track ready to its delivery in Discord.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
