"""`python -m bot`: read settings, set up logging, build the services, run the bot."""

from __future__ import annotations

import asyncio
import logging
import sys

import aiohttp
import discord

from bot.app import Backline
from bot.music import MusicClient, RateLimiter
from bot.settings import SettingError, Settings, load_settings
from bot.store import StoreError

log = logging.getLogger("bot")

USER_AGENT = "backline (+https://github.com/backline-bot)"


def setup_logging(level: str) -> None:
    # backline never joins voice: the warnings about missing voice libraries are noise.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("discord.http").setLevel(max(logging.INFO, logging.getLevelName(level)))


def build_music_client(settings: Settings, session: aiohttp.ClientSession) -> MusicClient:
    return MusicClient(
        session,
        base_url=settings.api_base_url,
        api_key=settings.suno_api_key,
        limiter=RateLimiter(settings.suno_rate_limit_requests, settings.suno_rate_limit_period),
        timeout=settings.suno_request_timeout,
        max_retries=settings.suno_max_retries,
        allowed_models=settings.suno_allowed_models,
    )


async def run(settings: Settings) -> None:
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        bot = Backline(
            settings=settings, session=session, music=build_music_client(settings, session)
        )
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())


def main() -> int:
    try:
        settings = load_settings()
    except SettingError as exc:
        print(f"backline: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        log.info("stopped")
    except discord.LoginFailure:
        print("backline: DISCORD_TOKEN was refused by Discord", file=sys.stderr)
        return 2
    except aiohttp.ClientConnectionError as exc:
        print(
            f"backline: cannot reach Discord ({type(exc).__name__}); check the network",
            file=sys.stderr,
        )
        return 1
    except StoreError as exc:
        print(f"backline: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
