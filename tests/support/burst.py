"""Interactions in a burst: many slash commands in flight at once in simcord, and the moment
each was acknowledged. simcord's public `slash` runs one interaction at a time and waits for
the bot to settle, so a burst is built here, the one place that leans on simcord's
internals (the way `simcord.actors._slash` does): a simcord upgrade breaks the tests that
use it, not a benchmark silently."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import discord
import simcord
from simcord import actors as simcord_actors
from simcord import interactions as simcord_interactions
from simcord.enums import AppCommandType, InteractionType


def slash_payload(
    env: simcord.Env,
    guild_id: int,
    channel_id: int,
    member: Any,
    name: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The INTERACTION_CREATE payload of `member.slash(channel, name, **options)`, built but
    not emitted (`emit`). An attachment is stored in simcord's CDN here, before any clock
    starts."""
    root = simcord_actors._resolve_visible_command(
        member, channel_id, name, AppCommandType.CHAT_INPUT
    )
    leaf, nesting = simcord_interactions.walk_to_subcommand(root, [])
    leaf_options, resolved = simcord_interactions.build_options(
        member, name, leaf, options, channel_id=channel_id
    )
    data: dict[str, Any] = {
        "id": root["id"],
        "name": root["name"],
        "type": root.get("type", AppCommandType.CHAT_INPUT),
        "options": simcord_interactions.nest_options(root, nesting, leaf_options),
    }
    if resolved:
        data["resolved"] = resolved
    if root.get("guild_id"):
        data["guild_id"] = root["guild_id"]
    record, payload = simcord_interactions.base_payload(
        env.backend,
        type=InteractionType.APPLICATION_COMMAND,
        channel_id=channel_id,
        guild_id=guild_id,
        user_id=member.id,
        data=data,
    )
    env._notify_dispatch_observers(record)
    return payload


def emit(env: simcord.Env, payload: dict[str, Any]) -> None:
    """Deliver one built interaction: discord.py parses it now, its handler starts next."""
    env.backend.emit("INTERACTION_CREATE", payload)


class AckClock:
    """perf_counter() when each interaction's defer returned, by interaction id: any bot that
    acknowledges with `InteractionResponse.defer` is timed the same way.

    simcord takes the callback in memory: `defer` returns without the handler ever leaving
    the event loop. With `on_the_wire`, the handler then waits one turn of the loop, as a
    real defer (an HTTP request to Discord) waits at least that long for its response."""

    def __init__(self) -> None:
        self.acked: dict[int, float] = {}
        self.on_the_wire = False
        self._waiting: set[int] = set()
        self._all_in = asyncio.Event()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        original = discord.InteractionResponse.defer
        clock = self

        async def defer(response: discord.InteractionResponse, **kwargs: Any) -> Any:
            result = await original(response, **kwargs)
            clock.note(response._parent.id)
            if clock.on_the_wire:
                await asyncio.sleep(0)  # the response's way back
            return result

        discord.InteractionResponse.defer = defer  # type: ignore[assignment,method-assign]
        try:
            yield
        finally:
            discord.InteractionResponse.defer = original  # type: ignore[method-assign]

    def note(self, interaction_id: int) -> None:
        self.acked[interaction_id] = time.perf_counter()
        self._waiting.discard(interaction_id)
        if not self._waiting:
            self._all_in.set()

    def expect(self, ids: list[int]) -> None:
        self._waiting = set(ids) - self.acked.keys()
        self._all_in.clear()
        if not self._waiting:
            self._all_in.set()

    async def all_in(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._all_in.wait(), timeout)
        except TimeoutError:
            return False
        return True
