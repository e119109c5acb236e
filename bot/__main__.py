"""`python -m bot`: read settings, set up logging, build the services, run the bot."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import aiohttp
import discord

from bot.app import Backline, bot_class, build_music_client
from bot.settings import SettingError, Settings, load_settings
from bot.store import StoreError

log = logging.getLogger("bot")

USER_AGENT = "backline (+https://github.com/backline-bot)"
SECRET_LOGGERS = ("discord.http", "discord.gateway", "discord.webhook", "aiosqlite")


def setup_logging(level: str) -> None:
    # backline never joins voice: the warnings about missing voice libraries are noise.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Loggers that print secrets at DEBUG: interaction tokens (discord.http, discord.gateway),
    # SQL parameters such as the callback secret (aiosqlite). They never go below INFO.
    floor = max(logging.INFO, logging.getLevelNamesMapping()[level])
    for name in SECRET_LOGGERS:
        logging.getLogger(name).setLevel(floor)


async def run(settings: Settings) -> None:
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        bot = bot_class(settings)(
            settings=settings, session=session, music=build_music_client(settings, session)
        )
        stop_on_signals(bot)
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())


def stop_on_signals(bot: Backline) -> None:
    """SIGTERM (docker stop, systemd) and SIGINT (Ctrl-C) close the bot cleanly: no new
    commands, submissions in flight finish, the store closes, exit code 0. A handler of
    our own also makes Python as PID 1 in a container honour SIGTERM."""
    loop = asyncio.get_running_loop()
    closing: set[asyncio.Task[None]] = set()

    def stop(signum: signal.Signals) -> None:
        log.info("%s received: stopping", signum.name)
        task = loop.create_task(bot.close())
        closing.add(task)
        task.add_done_callback(closing.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "--playground",
        action="store_true",
        help="run the real bot in a local web page (an in-memory Discord), no token needed; "
        "also what happens when no DISCORD_TOKEN is configured",
    )
    parser.add_argument("--port", type=int, default=None, help="the playground page's port")
    parser.add_argument(
        "--fresh", action="store_true", help="wipe the playground's database before starting"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.playground:
        return run_playground(args, "started with --playground")
    try:
        settings = load_settings()
    except SettingError as exc:
        if str(exc) == "setting DISCORD_TOKEN is missing" and playground_installed():
            return run_playground(args, "no DISCORD_TOKEN is set")
        # Without the playground (the production image) a missing token is a plain error.
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


def playground_installed() -> bool:
    """Whether the playground and its extra (`pip install -e ".[playground]"`) are here."""
    try:
        import numpy  # noqa: F401
        import simcord  # noqa: F401

        import playground  # noqa: F401
    except ImportError:
        return False
    return True


def run_playground(args: argparse.Namespace, reason: str) -> int:
    """The playground: imported here only, so the bot itself never loads the simulator."""
    if not playground_installed():
        print(
            'backline: the playground is not installed here (pip install -e ".[playground]")',
            file=sys.stderr,
        )
        return 2
    import playground

    setup_logging("WARNING")  # the page is the interface; the one line below says where
    try:
        asyncio.run(playground.run(port=args.port, fresh=args.fresh, reason=reason))
    except KeyboardInterrupt:  # before the playground's own handler was installed
        print("backline playground: stopped", flush=True)
    except SettingError as exc:
        print(f"backline: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
