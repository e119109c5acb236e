"""`DiscordJamPort`, the jam core's port (the card, the thread's announcements, vote
messages, results), and the Vote button."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.app import send_private
from bot.core.jams import Standing
from bot.store import JamRow, TaskRow, VoteOutcome
from cogs._ui import clip, shown
from cogs.jam.render import being_made, card_embed, entrant, entries_word, nonce, when
from cogs.voice import Pressed

if TYPE_CHECKING:
    from bot.app import Backline


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

    async def redraw(self, jam: JamRow, entries: int, making: int, winners: list[Standing]) -> None:
        if jam.card_message_id is None:
            return
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
