"""`/jam`: community jam sessions, the Discord side of `bot.core.jams`.

`/jam` is visible to every member (`status`, `leaderboard`); `start` and `end` are checked
by the bot: Manage Server, or the jam host role (`/config jam_role`). Entries are ordinary
requests made in the jam's thread; during the vote each entry has a message with a Vote
button (a dynamic item: it works after a restart).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import send_private
from bot.core.jams import MAX_ENTRIES, MAX_MINUTES, THEME_MAX, Standing
from bot.core.words import refuse_blocked
from bot.errors import Refusal
from bot.store import JamPhase, JamRow, TaskRow, VoteOutcome
from cogs._ui import clip, is_moderator, model_choices, plain, shown
from cogs.reasons import reason
from cogs.voice import Pressed, View

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

Minutes = app_commands.Range[int, 1, MAX_MINUTES]
Theme = app_commands.Range[str, 1, THEME_MAX]
Tags = app_commands.Range[str, 1, 1000]
PHASE_WORDS = {
    JamPhase.SUBMITTING: "🎙️ Submissions open",
    JamPhase.VOTING: "🗳️ Voting",
    JamPhase.ENDED: "🏁 Ended",
}
LEADERBOARD_SIZE = 10


def when(ts: float) -> str:
    """A deadline as members read it: the date and time, and how far away it is."""
    return f"<t:{int(ts)}:f> (<t:{int(ts)}:R>)"


def nonce(kind: str, row_id: int) -> str:
    return f"bj{kind}{row_id}"


def entrant(jam: JamRow, entry: TaskRow) -> str:
    """The entrant's mention, or nothing while an anonymous jam runs."""
    return "" if jam.anonymous and jam.phase != JamPhase.ENDED else f" by <@{entry.user_id}>"


def entries_word(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def being_made(making: int) -> str:
    """Entries made before the close that are not finished: they join the vote later."""
    verb = "joins the vote when it finishes" if making == 1 else "join the vote as they finish"
    return f"{entries_word(making)} still being made {verb}"


def card_embed(
    jam: JamRow, entries: int, winners: list[Standing] | None = None, making: int = 0
) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"🎤 Jam: {plain(jam.theme)}", 256),
        colour=discord.Colour.gold() if jam.phase == JamPhase.ENDED else discord.Colour.purple(),
    )
    style = ", ".join(
        part
        for part in (
            plain(jam.tags) if jam.tags else None,
            f"avoid {plain(jam.negative_tags)}" if jam.negative_tags else None,
            jam.model,
        )
        if part
    )
    until = {JamPhase.SUBMITTING: jam.submit_until, JamPhase.VOTING: jam.vote_until}.get(jam.phase)
    phase = PHASE_WORDS[jam.phase]
    if until is not None:
        phase += f" until {when(until)}"
    if jam.phase == JamPhase.VOTING and making:
        phase += ", and not before the entries being made have joined"
    embed.description = phase
    embed.add_field(name="Style", value=clip(style or "the server's defaults", 1024), inline=False)
    embed.add_field(name="Host", value=f"<@{jam.host_id}>")
    embed.add_field(
        name="Entries", value=f"{entries} (+{making} being made)" if making else str(entries)
    )
    embed.add_field(
        name="Rules",
        value=f"{jam.max_entries} per member"
        + (" · anonymous until the results" if jam.anonymous else ""),
    )
    if winners:
        names = ", ".join(f"<@{w.entry.user_id}> ({shown(w.entry.title, 60)})" for w in winners)
        embed.add_field(
            name="🏆 Winner" + ("s" if len(winners) > 1 else ""),
            value=clip(names, 1024),
            inline=False,
        )
    if jam.thread_id and jam.phase == JamPhase.SUBMITTING:
        embed.add_field(
            name="Enter",
            value=f"`/instrumental` or **Add instrumental** on a message, in <#{jam.thread_id}>.",
            inline=False,
        )
    embed.set_footer(text=f"jam #{jam.id}")
    return embed


class VoteButton(
    Pressed,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"bl:vote:(?P<jam>[0-9]+):(?P<task>[0-9]+)",
):
    def __init__(self, jam_id: int, task_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Vote",
                emoji="🗳️",
                style=discord.ButtonStyle.primary,
                custom_id=f"bl:vote:{jam_id}:{task_id}",
            )
        )
        self.jam_id = jam_id
        self.task_id = task_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        return cls(int(match["jam"]), int(match["task"]))

    async def press(self, interaction: discord.Interaction[Any]) -> None:
        bot: Backline = interaction.client
        outcome, number = await bot.jams.vote(self.jam_id, interaction.user.id, self.task_id)
        text = {
            VoteOutcome.VOTED: f"Your vote is on entry #{number}.",
            VoteOutcome.MOVED: f"Your vote moved to entry #{number}.",
            VoteOutcome.TAKEN_BACK: (
                f"Your vote for entry #{number} is taken back: you have no vote now."
            ),
        }[outcome]
        await send_private(interaction, text + " Counts stay hidden until the results.")


class DiscordJamPort:
    """The core's `JamPort`: the card, the thread's announcements, vote messages, results."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot

    async def _channel(self, channel_id: int) -> Any:
        return self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)

    async def _thread(self, jam: JamRow) -> Any:
        thread = await self._channel(jam.thread_id or jam.channel_id)
        if isinstance(thread, discord.Thread) and thread.archived:
            await thread.edit(archived=False)
        return thread

    async def redraw(self, jam: JamRow, entries: int, making: int) -> None:
        if jam.card_message_id is None:
            return
        winners = None
        if jam.phase == JamPhase.ENDED:
            standings = await self.bot.jams.standings(jam)
            winners = [s for s in standings if s.place == 1 and s.votes > 0]
        channel = await self._channel(jam.channel_id)
        await channel.get_partial_message(jam.card_message_id).edit(
            embed=card_embed(jam, entries, winners, making),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def voting_opened(self, jam: JamRow, entries: list[TaskRow], making: int) -> None:
        thread = await self._thread(jam)
        late = ""
        if making:
            late = (
                f", and {being_made(making)}: the vote stays open until each has had the whole vote"
            )
        await thread.send(
            f"🗳️ Submissions are closed: {entries_word(len(entries))}{late}. Vote for your "
            f"favourite below until {when(jam.vote_until)}. One vote each, not for your own "
            "entry; a second click moves your vote, a click on the same entry takes it back.",
            allowed_mentions=discord.AllowedMentions.none(),
            nonce=nonce("o", jam.id),
        )

    async def vote_button(self, jam: JamRow, entry: TaskRow, number: int, late: bool) -> int:
        thread = await self._thread(jam)
        view = discord.ui.View(timeout=None)
        view.add_item(VoteButton(jam.id, entry.id))
        view.stop()  # dispatched by its template
        link = ""
        if entry.card_message_id is not None:
            link = f" · [listen](https://discord.com/channels/{jam.guild_id}/{entry.channel_id}/{entry.card_message_id})"
        joined = f"\nJust finished, it joins the vote: voting runs until {when(jam.vote_until)}."
        message = await thread.send(
            f"**Entry #{number}**: {shown(entry.title, 100)}{entrant(jam, entry)}{link}"
            + (joined if late else ""),
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
            nonce=nonce("v", entry.id),
        )
        return int(message.id)

    async def results(self, jam: JamRow, standings: list[Standing], left_out: int) -> int | None:
        thread = await self._thread(jam)
        unfinished = ""
        if left_out:
            unfinished = f" ({entries_word(left_out)} still being made left out)"
        if not standings:
            text = f"🏁 The jam “{shown(jam.theme, 100)}” has ended with no entries{unfinished}."
        else:
            numbers = {
                s.entry.id: n for n, s in enumerate(sorted(standings, key=lambda s: s.entry.id), 1)
            }
            lines = [f"🏆 Results of the jam “{shown(jam.theme, 100)}”{unfinished}"]
            for s in standings:
                votes = f"{s.votes} vote{'s' if s.votes != 1 else ''}"
                lines.append(
                    f"{s.place}. Entry #{numbers[s.entry.id]} “{shown(s.entry.title, 80)}” "
                    f"by <@{s.entry.user_id}>: {votes}"
                )
            text = clip("\n".join(lines), 2000)
        message = await thread.send(
            text, allowed_mentions=discord.AllowedMentions.none(), nonce=nonce("r", jam.id)
        )
        return int(message.id)


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
        self.bot.jams.port = DiscordJamPort(self.bot)
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


async def setup(bot: Backline) -> None:
    await bot.add_cog(Jam(bot))
