"""The bot class in real discord.py (simcord): command sync on change, the error handler."""

from __future__ import annotations

import logging

import discord
import pytest
from discord import app_commands

from bot.errors import Refusal
from cogs.voice import APOLOGY, View
from tests.harness import Harness, World


def command_syncs(harness: Harness) -> list[str]:
    return [
        r.path
        for r in harness.env.http_requests
        if r.method == "PUT" and r.path.endswith("/commands")
    ]


async def test_commands_sync_only_when_they_change(harness: Harness) -> None:
    assert len(command_syncs(harness)) == 1  # the first start
    await harness.restart()  # same definitions: nothing to sync
    assert len(command_syncs(harness)) == 1
    assert await harness.bot.sync_commands() == []

    @app_commands.command(name="ping")
    async def ping(interaction: discord.Interaction) -> None:
        """Answer."""
        await interaction.response.send_message("pong", ephemeral=True)

    harness.bot.tree.add_command(ping)
    assert await harness.bot.sync_commands() == ["global"]
    assert len(command_syncs(harness)) == 2


async def test_dev_guild_gets_its_own_sync(harness: Harness) -> None:
    harness.bot.settings.dev_guild_id = 4242
    assert await harness.bot.sync_commands() == ["guild 4242"]
    assert await harness.bot.sync_commands() == []
    assert any("/guilds/4242/commands" in path for path in command_syncs(harness))


async def test_expected_and_unexpected_errors(
    harness: Harness, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    @app_commands.command(name="refuse")
    async def refuse(interaction: discord.Interaction) -> None:
        """Refuse."""
        raise Refusal("That is not possible here.")

    @app_commands.command(name="crash")
    async def crash(interaction: discord.Interaction) -> None:
        """Crash."""
        await interaction.response.defer(ephemeral=True)
        raise RuntimeError("boom with test-discord-token")

    harness.bot.tree.add_command(refuse)
    harness.bot.tree.add_command(crash)
    await harness.bot.sync_commands()

    refused = await world.alice.slash(world.channel, "refuse")
    assert refused.ephemeral and refused.response.content == "That is not possible here."

    caplog.set_level(logging.ERROR, logger="cogs.voice")
    crashed = await world.alice.slash(world.channel, "crash")
    assert crashed.ephemeral and crashed.response.content == APOLOGY
    [record] = [r for r in caplog.records if r.name == "cogs.voice"]
    assert f"user {world.alice.id}" in record.getMessage()
    assert (
        f"guild {world.guild.id}" in record.getMessage() and "command crash" in record.getMessage()
    )
    assert "test-discord-token" not in crashed.response.content
    # The crash reached the error handler as an unexpected error (simcord saw it too).
    assert [type(e.original) for e in harness.env.errors] == [Refusal, RuntimeError]


class Buttons(View):
    @discord.ui.button(label="Refuse")
    async def refuse(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        raise Refusal("Not this one.")

    @discord.ui.button(label="Crash", custom_id="crash-button")
    async def crash(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        raise RuntimeError("boom")


async def test_a_views_errors_speak_in_the_same_voice(
    harness: Harness, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Buttons, forms and dynamic items answer errors as commands do (one helper)."""

    @app_commands.command(name="buttons")
    async def buttons(interaction: discord.Interaction) -> None:
        """Buttons."""
        await interaction.response.send_message("Press one", view=Buttons(), ephemeral=True)

    harness.bot.tree.add_command(buttons)
    await harness.bot.sync_commands()
    r = await world.alice.slash(world.channel, "buttons")

    refused = await world.alice.click(r.response, label="Refuse")
    assert refused.ephemeral and refused.response.content == "Not this one."

    caplog.set_level(logging.ERROR, logger="cogs.voice")
    crashed = await world.alice.click(r.response, label="Crash")
    assert crashed.ephemeral and crashed.response.content == APOLOGY
    [record] = [r for r in caplog.records if r.name == "cogs.voice"]
    message = record.getMessage()
    assert f"user {world.alice.id}" in message and f"guild {world.guild.id}" in message
    assert "view Buttons (crash-button)" in message and record.exc_info is not None
    assert [type(getattr(e, "original", e)) for e in harness.env.errors] == [Refusal, RuntimeError]


async def test_task_retention_setting_reaches_the_scheduler(harness: Harness) -> None:
    from bot.store.retention import DAY

    assert harness.bot.lifecycle.scheduler.retention == harness.settings.task_retention_days * DAY
