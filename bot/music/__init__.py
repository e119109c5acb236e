"""The music API client: models, errors with member-readable reasons, the shared rate limiter."""

from bot.music.client import MusicClient
from bot.music.errors import MusicAPIError, MusicConnectionError, MusicError
from bot.music.models import AddInstrumentalRequest, CallbackEvent, TaskInfo, TaskStatus, Track
from bot.music.ratelimit import RateLimiter

__all__ = [
    "AddInstrumentalRequest",
    "CallbackEvent",
    "MusicAPIError",
    "MusicClient",
    "MusicConnectionError",
    "MusicError",
    "RateLimiter",
    "TaskInfo",
    "TaskStatus",
    "Track",
]
