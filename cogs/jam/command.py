"""`/jam` (start, status, end, leaderboard) and the end confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.jams import MAX_ENTRIES, MAX_MINUTES, THEME_MAX
from bot.core.words import refuse_blocked
from bot.errors import Refusal
from bot.store import JamPhase, JamRow
from cogs._ui import clip, is_moderator, model_choices, shown
from cogs.jam.port import VoteButton
from cogs.jam.render import card_embed
from cogs.reasons import reason
from cogs.voice import View

if TYPE_CHECKING:
    from bot.app import Backline

Minutes = app_commands.Range[int, 1, MAX_MINUTES]
Theme = app_commands.Range[str, 1, THEME_MAX]
Tags = app_commands.Range[str, 1, 1000]
LEADERBOARD_SIZE = 10


class ConfirmEnd(View):
    def __init__(self, cog: Jam, jam: JamRow, host_id: int) -> None:
        super().__init__(timeout=60)
        self.cog = cog
        self.jam = jam
        self.host_id = host_id

    @discord.ui.button(label="End now", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        try:
            phase = await self.cog.bot.jams.end_phase(self.jam)
        except Refusal as refusal:  # not an error here: the answer that replaces the prompt
            await interaction.response.edit_message(content=reason(refusal), view=None)
            return
        done = (
            "Voting is open."
            if phase == JamPhase.VOTING
            else "The jam has ended: results are posted."
        )
        await interaction.response.edit_message(content=done, view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing changed.", view=None)


@app_commands.guild_only()
class Jam(commands.GroupCog, group_name="jam"):
    """Jam sessions: a theme, a window, entries, votes, results."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(VoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VoteButton)

    async def require_host(self, interaction: discord.Interaction) -> None:
        if is_moderator(interaction):
            return
        config = await self.bot.guild_settings.get(interaction.guild_id)
        roles = {r.id for r in getattr(interaction.user, "roles", ())}
        if config.jam_role_id is None or config.jam_role_id not in roles:
            raise Refusal(
                "Starting and ending jams is for hosts (Manage Server or the jam host role)."
            )

    async def running(self, interaction: discord.Interaction) -> JamRow:
        assert interaction.channel_id is not None
        jam = await self.bot.store.running_jam(interaction.channel_id)
        if jam is None:
            raise Refusal("No jam is running in this channel.")
        return jam

    @app_commands.command(name="start")
    @app_commands.describe(
        theme="What the jam is about",
        duration="Minutes to submit entries (default 60, up to 7 days)",
        voting="Minutes of voting after that (default 30)",
        tags="The jam's style, used when an entry gives none",
        negative_tags="What entries avoid, when they give nothing",
        model="The jam's model, when an entry picks none",
        anonymous="Hide entrants' names until the results",
        max_entries_per_member=f"Entries each member may submit (1 to {MAX_ENTRIES})",
    )
    async def start(
        self,
        interaction: discord.Interaction,
        theme: Theme,
        duration: Minutes = 60,
        voting: Minutes = 30,
        tags: Tags | None = None,
        negative_tags: Tags | None = None,
        model: str | None = None,
        anonymous: bool = False,
        max_entries_per_member: app_commands.Range[int, 1, MAX_ENTRIES] = 1,
    ) -> None:
        """Start a jam in this channel (hosts)."""
        await self.require_host(interaction)
        config = await self.bot.guild_settings.get(interaction.guild_id)
        refuse_blocked(
            config.blocked_words,
            (
                ("theme contains", theme),
                ("tags contain", tags),
                ("negative tags contain", negative_tags),
            ),
            "No jam was started.",
        )
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            raise Refusal("Jams run in text channels (they open a thread there).")
        perms = interaction.app_permissions
        if not (
            perms.create_public_threads and perms.send_messages_in_threads and perms.embed_links
        ):
            raise Refusal(
                "I need to create threads, post in them and embed links here to run a jam."
            )
        assert interaction.guild_id is not None
        jam = await self.bot.jams.open(
            guild_id=interaction.guild_id,
            channel_id=channel.id,
            host_id=interaction.user.id,
            theme=theme,
            duration=duration,
            voting=voting,
            tags=tags,
            negative_tags=negative_tags,
            model=model,
            anonymous=anonymous,
            max_entries=max_entries_per_member,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            card = await channel.send(
                embed=card_embed(jam, 0), allowed_mentions=discord.AllowedMentions.none()
            )
            thread = await card.create_thread(
                name=clip(f"🎤 {theme}", 100), auto_archive_duration=10080
            )
        except discord.HTTPException:
            await self.bot.store.drop_jam(jam.id)
            raise
        await self.bot.store.set_jam_place(jam.id, card_message_id=card.id, thread_id=thread.id)
        jam = await self.bot.store.get_jam(jam.id) or jam
        await card.edit(embed=card_embed(jam, 0), allowed_mentions=discord.AllowedMentions.none())
        self.bot.jams.wake()
        await interaction.followup.send(
            f"The jam is on: entries go in {thread.mention} until <t:{int(jam.submit_until)}:R>.",
            ephemeral=True,
        )

    @start.autocomplete("model")
    async def _models(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.settings.suno_allowed_models, current)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """The jam running in this channel: theme, phase, entries, time left, your entry."""
        jam = await self.running(interaction)
        entries = await self.bot.store.jam_entries(jam.id)
        making = await self.bot.store.jam_entries_being_made(jam.id)
        embed = card_embed(jam, len(entries), making=making if jam.phase == JamPhase.VOTING else 0)
        mine = [e for e in entries if e.user_id == interaction.user.id]
        tasks = await self.bot.store.recent_tasks(interaction.user.id, 50)
        running = [t for t in tasks if t.jam_id == jam.id and t.active]
        yours = ", ".join(shown(e.title, 60) for e in mine) or "none yet"
        if running:
            yours += f" ({len(running)} still being made)"
        embed.add_field(name="Your entries", value=clip(yours, 1024), inline=False)
        vote = await self.bot.store.vote_of(jam.id, interaction.user.id)
        if jam.phase == JamPhase.VOTING:
            numbers = {e.id: n for n, e in enumerate(entries, 1)}
            embed.add_field(
                name="Your vote", value=f"entry #{numbers[vote]}" if vote in numbers else "none yet"
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="end")
    async def end(self, interaction: discord.Interaction) -> None:
        """End the current phase now: submissions → voting, voting → results (hosts)."""
        await self.require_host(interaction)
        jam = await self.running(interaction)
        what = (
            "close submissions and open the vote"
            if jam.phase == JamPhase.SUBMITTING
            else "close the vote and post the results"
        )
        await interaction.response.send_message(
            f"End this phase of “{shown(jam.theme, 100)}” now: {what}?",
            view=ConfirmEnd(self, jam, interaction.user.id),
            ephemeral=True,
        )

    @app_commands.command(name="leaderboard")
    async def leaderboard(self, interaction: discord.Interaction) -> None:
        """Wins, entries and votes across this server's finished jams."""
        assert interaction.guild_id is not None
        boards = await self.bot.jams.leaderboard(interaction.guild_id)
        if not boards:
            await interaction.response.send_message("No jam has finished here yet.", ephemeral=True)
            return
        lines = [
            f"{n}. <@{b.user_id}>: {b.wins} win{'s' if b.wins != 1 else ''} · {b.entries} "
            f"entr{'ies' if b.entries != 1 else 'y'} · {b.votes} vote{'s' if b.votes != 1 else ''}"
            for n, b in enumerate(boards[:LEADERBOARD_SIZE], 1)
        ]
        embed = discord.Embed(
            title="Jam leaderboard", description="\n".join(lines), colour=discord.Colour.gold()
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)
