"""Iterating on a take: what the result buttons (`buttons`) do.

The buttons sit on the task's status card: one set per take, next to the summary they act
on (the track posts stay plain audio).

Re-roll, Tweak and Retry start a new task through the intake (quotas, channels, roles and
blocked words apply) with a freshly signed URL of the input recording: the bot's repost of
the input is fetched again, because Discord's attachment URLs expire after about a day.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.app import send_private
from bot.core import validate
from bot.core.intake import Options, Recording
from bot.errors import Refusal
from bot.store import Origin, TaskRow, TaskState
from cogs._ui import clip, plain, shown
from cogs.instrumental.placement import Placement
from cogs.instrumental.render import ORIGIN_WORDS, take_link
from cogs.instrumental.requests import recording_of, usable_channel
from cogs.settings_words import GENDER_WORDS
from cogs.voice import Modal, View

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

CONFIRM_SECONDS = 120.0
INPUT_GONE = (
    "The recording of this take is gone (its message was deleted or is too big to keep), "
    "so I can't make another one from it. Use `/instrumental` with the file."
)
DELETED_THREAD = "🗑️ deleted take"
WEIGHT_ORDER = ("style_weight", "weirdness", "audio_weight")


def options_of(task: TaskRow, **changes: Any) -> Options:
    """The settings a take was made with, as explicit options (server defaults do not
    replace them), with `changes` applied."""
    values: dict[str, Any] = {
        "tags": task.tags,
        "negative_tags": task.negative_tags,
        "title": task.title,
        "style_weight": task.style_weight,
        "weirdness": task.weirdness,
        "audio_weight": task.audio_weight,
        "vocal_gender": task.vocal_gender,
        "model": task.model,
    }
    values.update(changes)
    return Options(**values)


def weights_text(task: TaskRow) -> str:
    return ", ".join("-" if w is None else f"{w:g}" for w in _weights(task))


def _weights(task: TaskRow) -> tuple[float | None, ...]:
    return (task.style_weight, task.weirdness, task.audio_weight)


def parse_weights(text: str) -> dict[str, float | None]:
    """ "0.5, -, 0.8" → style, weirdness, audio (`-` or empty: the music service's default);
    each checked like the slash command's options."""
    parts = [part.strip() for part in text.split(",")] if text.strip() else []
    if len(parts) > len(WEIGHT_ORDER):
        raise Refusal(
            "Weights: write up to three numbers from 0 to 1 separated by commas (style, "
            "weirdness, audio), or - to leave one to the music service."
        )
    values: dict[str, float | None] = dict.fromkeys(WEIGHT_ORDER)
    for name, part in zip(WEIGHT_ORDER, parts, strict=False):
        if part in ("", "-"):
            continue
        values[name] = validate.weight_text(name, part)
    return values


class TweakForm(Modal, title="Tweak this take"):
    tags: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="tags",
        label="Tags",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
    )
    negative_tags: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="negative_tags", label="Negative tags", max_length=1000, required=False
    )
    title_text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="title", label="Title", max_length=100, required=False
    )
    weights: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="weights",
        label="Weights: style, weirdness, audio (0 to 1)",
        placeholder="0.5, -, 0.8   (- leaves one to the music service)",
        max_length=40,
        required=False,
    )

    def __init__(self, takes: Takes, task: TaskRow) -> None:
        super().__init__(timeout=15 * 60)
        self.takes = takes
        self.task = task
        self.tags.default = task.tags
        self.negative_tags.default = task.negative_tags
        self.title_text.default = task.title
        self.weights.default = weights_text(task)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        # The rule may have changed while the form was open.
        await self.takes.may_iterate(interaction, self.task)
        weights = parse_weights(self.weights.value)
        options = options_of(
            self.task,
            tags=self.tags.value or None,
            negative_tags=self.negative_tags.value or None,
            title=self.title_text.value or None,
            **weights,
        )
        await self.takes.again(interaction, self.task, Origin.TWEAK, options)


class ConfirmDelete(View):
    def __init__(self, takes: Takes, task: TaskRow, member_id: int) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self.takes = takes
        self.task = task
        self.member_id = member_id

    @discord.ui.button(label="Delete", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(content="Deleting…", view=None)
        await self.takes.delete(interaction, self.task)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)


class Takes:
    """What the result buttons do; `bot.starter` does the rest of a new request."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        self.placement = Placement(bot)

    async def run(self, interaction: discord.Interaction[Any], action: str, task_id: int) -> None:
        task = await self.bot.store.get_task(task_id)
        if task is None or task.removed_at is not None:
            await send_private(interaction, "This take no longer exists.")
            return
        handler = {
            "reroll": self.reroll,
            "retry": self.retry,
            "tweak": self.tweak,
            "details": self.details,
            "delete": self.ask_delete,
        }[action]
        await handler(interaction, task)  # what it raises is answered by the button

    async def may_iterate(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        if interaction.user.id == task.user_id:
            return
        config = await self.bot.guild_settings.get(interaction.guild_id)
        if config.rerolls != "everyone":
            raise Refusal("Only the member who asked for this take can make another from it.")

    async def reroll(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        await self.may_iterate(interaction, task)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.again(interaction, task, Origin.REROLL, options_of(task))

    async def retry(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        if task.state != TaskState.FAILED or not task.can_retry:
            raise Refusal("This request cannot be retried.")
        await self.may_iterate(interaction, task)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.again(interaction, task, Origin.RETRY, options_of(task))

    async def tweak(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        await self.may_iterate(interaction, task)
        await interaction.response.send_modal(TweakForm(self, task))

    async def again(
        self, interaction: discord.Interaction[Any], task: TaskRow, origin: Origin, options: Options
    ) -> None:
        """A new take of `task` through the intake, next to it (in its thread if it has one)."""
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        if task.card_message_id is None:
            raise Refusal("This take's card is not posted yet; try again in a moment.")
        place = await self.placement.place_of(task)
        recording = await self.fresh_recording(task, place.target)
        channel = usable_channel(interaction, place.target)
        await self.bot.starter.start(
            interaction, channel, recording, options, origin=origin, parent_task_id=task.id
        )

    async def fresh_recording(self, task: TaskRow, where: discord.abc.Messageable) -> Recording:
        """The input recording with a freshly signed URL: its message fetched again."""
        if task.input_message_id is None:
            raise Refusal(INPUT_GONE)
        try:
            message = await where.fetch_message(task.input_message_id)
        except discord.NotFound:
            raise Refusal(INPUT_GONE) from None
        if not message.attachments:
            raise Refusal(INPUT_GONE)
        return recording_of(message.attachments[0], owner_id=task.user_id)

    async def details(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        embed = discord.Embed(title=shown(task.title, 256), colour=discord.Colour.blurple())
        sent = [
            ("Tags", plain(task.tags)),
            ("Negative tags", plain(task.negative_tags)),
            ("Model", task.model),
            ("Style weight", _or_default(task.style_weight)),
            ("Weirdness", _or_default(task.weirdness)),
            ("Audio weight", _or_default(task.audio_weight)),
            (
                "Vocal gender",
                GENDER_WORDS[task.vocal_gender] if task.vocal_gender else "any",
            ),
        ]
        for name, value in sent:
            embed.add_field(
                name=name, value=clip(value, 1024), inline=name not in ("Tags", "Negative tags")
            )
        embed.add_field(
            name="Recording sent",
            value=shown(task.input_sent, 1024) if task.input_sent else "your file, as it is",
            inline=False,
        )
        embed.add_field(name="Started by", value=ORIGIN_WORDS.get(task.origin, task.origin))
        embed.add_field(name="API task id", value=f"`{task.api_task_id or 'not accepted'}`")
        times = [f"asked <t:{int(task.created_at)}:f>"]
        if task.submitted_at is not None:
            times.append(f"accepted <t:{int(task.submitted_at)}:T>")
        if task.completed_at is not None:
            times.append(f"finished <t:{int(task.completed_at)}:T>")
        embed.add_field(name="Timings", value=" · ".join(times), inline=False)
        if task.api_task_id is not None and task.cost:
            embed.add_field(name="Credits", value=f"about {task.cost:g} (the service's price)")
        if task.parent_id is not None and (parent := await self.bot.store.get_task(task.parent_id)):
            embed.add_field(name="From", value=take_link(parent), inline=False)
        children = await self.bot.store.children(task.id)
        if children:
            embed.add_field(
                name="Next takes", value=clip(" · ".join(take_link(c) for c in children), 1024)
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def ask_delete(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        may = interaction.user.id == task.user_id or interaction.permissions.manage_messages
        if not may:
            raise Refusal("Only the member who asked for this take or a moderator can delete it.")
        if task.state not in (TaskState.DONE, TaskState.FAILED):
            raise Refusal("This request is still running; delete it once it has finished.")
        await interaction.response.send_message(
            "Delete this take's posts (the card, the recording and the tracks)?",
            view=ConfirmDelete(self, task, interaction.user.id),
            ephemeral=True,
        )

    async def delete(self, interaction: discord.Interaction[Any], task: TaskRow) -> None:
        if not await self.bot.lifecycle.remove(task.id):
            await interaction.edit_original_response(content="This take was already deleted.")
            return
        place = await self.placement.place_of(task)
        posts = [t.message_id for t in await self.bot.store.tracks_for_task(task.id)]
        posts += [task.input_message_id, task.notice_message_id, task.vote_message_id]
        thread = place.target if isinstance(place.target, discord.Thread) else None
        whole_thread = thread is not None and thread.id == task.card_message_id
        if whole_thread and thread is not None:
            ours = {m for m in posts if m is not None}
            async for message in thread.history(limit=100):
                if (
                    message.id not in ours
                    and message.type != discord.MessageType.thread_starter_message
                ):
                    whole_thread = False
                    break
        gone = False
        if whole_thread and thread is not None and _may_manage(thread):
            with contextlib.suppress(discord.Forbidden):
                await _quietly(thread.delete())
                gone = True
        if not gone:
            # The bot's own posts need no permission to delete; the thread itself needs
            # Manage Threads, which the invite does not ask for: an emptied thread of the
            # bot's own is renamed and archived instead (its creator may).
            for message_id in posts:
                if message_id is not None:
                    await _quietly(place.target.get_partial_message(message_id).delete())
            if whole_thread and thread is not None:
                with contextlib.suppress(discord.Forbidden):
                    await _quietly(thread.edit(name=DELETED_THREAD, archived=True))
        await _quietly(place.card_channel.get_partial_message(place.card_message_id).delete())
        await interaction.edit_original_response(content="Deleted.")
        if interaction.user.id != task.user_id and task.guild_id is not None:
            await self.bot.guild_settings.report(
                task.guild_id,
                f"🗑️ {interaction.user.mention} deleted <@{task.user_id}>'s take "
                f"“{shown(task.title, 100)}” (task #{task.id}).",
            )


def _or_default(weight: float | None) -> str:
    return "the service's default" if weight is None else f"{weight:g}"


def _may_manage(thread: discord.Thread) -> bool:
    me = thread.guild.me
    try:
        return me is not None and thread.permissions_for(me).manage_threads
    except discord.ClientException:  # parent channel not cached
        return False


async def _quietly(deletion: Any) -> None:
    """A post someone already deleted is fine."""
    with contextlib.suppress(discord.NotFound):
        await deletion
