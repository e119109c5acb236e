"""The task lifecycle: record, submit once, follow, deliver, resume. No Discord here.

| module | concern |
|---|---|
| `service` | `Lifecycle`, the public face: request, view, callbacks, resume, stop |
| `scheduler` | the one loop that starts due work in bounded workers |
| `api` | submitting once, recording the answer, interrupted submissions (with the mixins below) |
| `polls`, `callbacks`, `timeouts` | polls and callbacks merged (first to learn wins), time-outs |
| `delivery` | status cards and track posts through the port, exactly once |
| `schedule` | when to poll, how to back off |
| `timings` | when each model's tasks end, learned from what recent polls saw |
| `port` | the delivery port protocol and the `TaskView` it draws |
"""

from bot.core.tasks.api import INTERRUPTED_REASON, UNCONFIRMED_REASON
from bot.core.tasks.port import (
    DeliveryPort,
    Display,
    PermanentDeliveryError,
    PostMark,
    Shown,
    TaskView,
    display_of,
)
from bot.core.tasks.schedule import PollSchedule
from bot.core.tasks.service import Lifecycle

__all__ = [
    "INTERRUPTED_REASON",
    "UNCONFIRMED_REASON",
    "DeliveryPort",
    "Display",
    "Lifecycle",
    "PermanentDeliveryError",
    "PollSchedule",
    "PostMark",
    "Shown",
    "TaskView",
    "display_of",
]
