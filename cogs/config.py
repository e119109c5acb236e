"""`/config`: moderators choose where the bot works, for whom, how much, with which defaults.

A thin translator onto `GuildSettings`: each subcommand validates through it, answers the
moderator privately with what changed, and writes the change to the log channel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.guilds import (
    CHANNELS_MAX,
    COOLDOWN_MAX,
    DEFAULT_FIELDS,
    LIMIT_FIELDS,
    LIMIT_MAX,
    WORDS_MAX,
    Change,
    GuildConfig,
    word_list,
)
from bot.errors import Refusal
from bot.music.models import TAGS_MAX
from cogs._ui import clip, model_choices, require_moderator
from cogs.settings_words import LABELS, bot_default, change_lines
from cogs.voice import View

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

Weight = app_commands.Range[float, 0.0, 1.0]
Tags = app_commands.Range[str, 1, TAGS_MAX]
Limit = app_commands.Range[int, 0, LIMIT_MAX]
Cooldown = app_commands.Range[int, 0, COOLDOWN_MAX]
Threshold = app_commands.Range[float, 0.0, 10_000_000.0]
Place = discord.TextChannel | discord.ForumChannel | discord.VoiceChannel | discord.Thread
CONFIRM_SECONDS = 60.0
SECTIONS = {
    "Defaults for requests": DEFAULT_FIELDS,
    "Limits": LIMIT_FIELDS,
    "Access": ("channels", "role_id", "jam_role_id"),
    "Results and reports": (
        "delivery",
        "rerolls",
        "log_channel_id",
        "credit_alert",
        "blocked_words",
    ),
}


class DiscordModLog:
    """The core's `ModLogPort`: posts a line in a server's log channel, pinging no one."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot

    async def post(self, guild_id: int, channel_id: int, text: str) -> None:
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"log channel {channel_id} of guild {guild_id} cannot take messages")
        await channel.send(clip(text, 2000), allowed_mentions=discord.AllowedMentions.none())


def setting_lines(config: GuildConfig, names: tuple[str, ...], bot: Backline) -> str:
    rules = bot.intake.rules()
    lines = []
    for name in names:
        label, show = LABELS[name]
        value = getattr(config, name)
        if value is None or value == ():
            lines.append(f"{label}: {bot_default(name, rules)} · *bot default*")
        else:
            lines.append(f"{label}: {clip(show(value), 300)} · **server**")
    return "\n".join(lines)


class ResetView(View):
    """The confirmation for `/config reset`: only the moderator who asked can answer."""

    def __init__(self, cog: Config, moderator_id: int) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self.cog = cog
        self.moderator_id = moderator_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.moderator_id:
            await interaction.response.send_message(
                "Only the moderator who asked can confirm this.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Reset everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()
        assert interaction.guild_id is not None
        change = await self.cog.bot.guild_settings.reset(interaction.guild_id)
        await interaction.response.edit_message(
            content="Done: every setting is back to the bot's default.", view=None
        )
        await self.cog.tell_log(interaction, "reset", change)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was changed.", view=None)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Config(commands.GroupCog, group_name="config"):
    """Server settings for backline (moderators)."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.guild_settings.log_port = DiscordModLog(self.bot)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Server owners can open /config to others in Integrations; the bot still insists.
        require_moderator(interaction, "/config")
        return True

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def guild_id(interaction: discord.Interaction) -> int:
        assert interaction.guild_id is not None  # guild_only
        return interaction.guild_id

    async def saved(self, interaction: discord.Interaction, what: str, change: Change) -> None:
        """Tell the moderator what changed, privately, and the log channel."""
        lines = change_lines(change)
        if not lines:
            await interaction.response.send_message("Nothing changed.", ephemeral=True)
            return
        text = "Saved.\n" + "\n".join(f"• {line}" for line in lines)
        await interaction.response.send_message(clip(text, 2000), ephemeral=True)
        await self.tell_log(interaction, what, change)

    async def tell_log(self, interaction: discord.Interaction, what: str, change: Change) -> None:
        lines = change_lines(change)
        if not lines:
            return
        text = f"🛠️ {interaction.user.mention} used `/config {what}`:\n" + "\n".join(
            f"• {line}" for line in lines
        )
        guild_id = self.guild_id(interaction)
        await self.bot.guild_settings.report(guild_id, text)
        old_log = change.old.log_channel_id
        port = self.bot.guild_settings.log_port
        if old_log is not None and old_log != change.new.log_channel_id and port is not None:
            try:  # the channel that stops being the log hears it too
                await port.post(guild_id, old_log, text)
            except discord.HTTPException as exc:
                log.warning("could not tell the old log channel of guild %d (%s)", guild_id, exc)

    async def change(self, interaction: discord.Interaction, what: str, **values: Any) -> None:
        change = await self.bot.guild_settings.change(self.guild_id(interaction), **values)
        await self.saved(interaction, what, change)

    async def set_or_clear(
        self, interaction: discord.Interaction, what: str, given: dict[str, Any], *, clear: bool
    ) -> None:
        """The options given, or with `clear` every one of them back to the bot's default."""
        values = (
            dict.fromkeys(given) if clear else {k: v for k, v in given.items() if v is not None}
        )
        if not values:
            raise Refusal(f"Give at least one of the {what} to set (or `clear` to use the bot's).")
        await self.change(interaction, what, **values)

    # -- subcommands -------------------------------------------------------------------------

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Every setting of this server and where it comes from."""
        config = await self.bot.guild_settings.get(self.guild_id(interaction))
        embed = discord.Embed(title="backline settings", colour=discord.Colour.blurple())
        for section, names in SECTIONS.items():
            embed.add_field(
                name=section, value=clip(setting_lines(config, names, self.bot), 1024), inline=False
            )
        embed.set_footer(text="Change them with the other /config commands.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="defaults")
    @app_commands.describe(
        tags="Style used when a member gives none",
        negative_tags="What to avoid when a member gives nothing",
        model="Model used when a member picks none",
        style_weight="From 0 to 1",
        weirdness="From 0 to 1",
        audio_weight="From 0 to 1",
        vocal_gender="Voice to favour",
        clear="Return these defaults to the bot's",
    )
    @app_commands.choices(
        vocal_gender=[app_commands.Choice(name=g, value=g) for g in ("male", "female")]
    )
    async def defaults(
        self,
        interaction: discord.Interaction,
        tags: Tags | None = None,
        negative_tags: Tags | None = None,
        model: str | None = None,
        style_weight: Weight | None = None,
        weirdness: Weight | None = None,
        audio_weight: Weight | None = None,
        vocal_gender: str | None = None,
        clear: bool = False,
    ) -> None:
        """What a request uses when the member leaves an option empty."""
        given = {
            "tags": tags,
            "negative_tags": negative_tags,
            "model": model,
            "style_weight": style_weight,
            "weirdness": weirdness,
            "audio_weight": audio_weight,
            "vocal_gender": vocal_gender,
        }
        await self.set_or_clear(interaction, "defaults", given, clear=clear)

    @defaults.autocomplete("model")
    async def _models(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.settings.suno_allowed_models, current)

    @app_commands.command(name="limits")
    @app_commands.describe(
        daily_per_member="Requests a member may send per day (0 = no limit)",
        cooldown_seconds="Seconds between two requests of a member (0 = none)",
        concurrent_per_member="Requests of a member in progress at once (0 = no limit)",
        daily_per_server="Requests this server may send per day (0 = no limit)",
        clear="Return every limit to the bot's default",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        daily_per_member: Limit | None = None,
        cooldown_seconds: Cooldown | None = None,
        concurrent_per_member: Limit | None = None,
        daily_per_server: Limit | None = None,
        clear: bool = False,
    ) -> None:
        """How much members may use the bot (days are UTC)."""
        given = {
            "daily_per_member": daily_per_member,
            "cooldown_seconds": cooldown_seconds,
            "concurrent_per_member": concurrent_per_member,
            "daily_per_server": daily_per_server,
        }
        await self.set_or_clear(interaction, "limits", given, clear=clear)

    @app_commands.command(name="channels")
    @app_commands.describe(
        action="allow: add a channel; remove: take it off; clear: everywhere again",
        channel="The channel (a thread counts as its parent)",
    )
    async def channels(
        self,
        interaction: discord.Interaction,
        action: Literal["allow", "remove", "clear"],
        channel: Place | None = None,
    ) -> None:
        """Where /instrumental works. An empty list means everywhere I can post."""
        if action != "clear" and channel is None:
            raise Refusal(f"Pick the channel to {action}.")

        def edit(config: GuildConfig) -> GuildConfig:
            current = list(config.channels)
            if action == "clear":
                current = []
            elif action == "allow" and channel is not None and channel.id not in current:
                if len(current) >= CHANNELS_MAX:
                    raise Refusal(f"At most {CHANNELS_MAX} channels can be listed.")
                current.append(channel.id)
            elif action == "remove" and channel is not None:
                if channel.id not in current:
                    raise Refusal(f"{channel.mention} is not on the list.")
                current.remove(channel.id)
            return config.model_copy(update={"channels": tuple(current)})

        change = await self.bot.guild_settings.edit(self.guild_id(interaction), edit)
        await self.saved(interaction, "channels", change)

    @app_commands.command(name="role")
    @app_commands.describe(role="The role members need", clear="Everyone may use the bot again")
    async def role(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        clear: bool = False,
    ) -> None:
        """The role a member needs to use the bot (moderators are never locked out)."""
        await self.set_role(interaction, "role", "role_id", role, clear, "let everyone use the bot")

    @app_commands.command(name="jam_role")
    @app_commands.describe(
        role="Members with it may start and end jams", clear="Only Manage Server"
    )
    async def jam_role(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        clear: bool = False,
    ) -> None:
        """The role that may host jams (start and end them), besides moderators."""
        await self.set_role(
            interaction, "jam_role", "jam_role_id", role, clear, "leave jams to moderators"
        )

    async def set_role(
        self,
        interaction: discord.Interaction,
        what: str,
        setting: str,
        role: discord.Role | None,
        clear: bool,
        cleared: str,
    ) -> None:
        if not clear and role is None:
            raise Refusal(f"Pick a role, or `clear` to {cleared}.")
        await self.change(
            interaction, what, **{setting: None if clear or role is None else role.id}
        )

    @app_commands.command(name="delivery")
    @app_commands.describe(mode="thread: a thread per request; in_place: in the channel itself")
    async def delivery(
        self, interaction: discord.Interaction, mode: Literal["thread", "in_place"]
    ) -> None:
        """Where results are posted."""
        await self.change(interaction, "delivery", delivery=None if mode == "thread" else mode)

    @app_commands.command(name="rerolls")
    @app_commands.describe(who="requester: only they re-roll or tweak their take; everyone: anyone")
    async def rerolls(
        self, interaction: discord.Interaction, who: Literal["requester", "everyone"]
    ) -> None:
        """Who may press Re-roll and Tweak on a result."""
        await self.change(interaction, "rerolls", rerolls=None if who == "requester" else who)

    @app_commands.command(name="log_channel")
    @app_commands.describe(channel="Where I report to moderators", clear="Stop reporting")
    async def log_channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        clear: bool = False,
    ) -> None:
        """Where the bot reports what moderators should know."""
        if clear:
            await self.change(interaction, "log_channel", log_channel_id=None)
            return
        if channel is None:
            raise Refusal("Pick a channel, or `clear` to stop reporting.")
        perms = channel.permissions_for(channel.guild.me)
        if not (perms.view_channel and perms.send_messages):
            raise Refusal(f"I can't post in {channel.mention}: give me Send Messages there first.")
        await self.change(interaction, "log_channel", log_channel_id=channel.id)

    @app_commands.command(name="credit_alert")
    @app_commands.describe(threshold="Tell the log channel when the balance falls below (0 = off)")
    async def credit_alert(self, interaction: discord.Interaction, threshold: Threshold) -> None:
        """Below this balance, the log channel is told once (and again after a refill)."""
        guild_id = self.guild_id(interaction)
        change = await self.bot.guild_settings.change(guild_id, credit_alert=threshold)
        await self.bot.store.set_credit_alerted(guild_id, False)  # a new threshold, a new alert
        await self.saved(interaction, "credit_alert", change)
        if change.new.log_channel_id is None and change.new.credit_alert is not None:
            await interaction.followup.send(
                "Set a log channel with `/config log_channel` so the alert has somewhere to go.",
                ephemeral=True,
            )
        await self.bot.credit_watch.balance()  # alerts at once if already below

    @app_commands.command(name="blocked_words")
    @app_commands.describe(
        action="add, remove, or list the blocked words",
        words="Words or phrases, separated by commas",
    )
    async def blocked_words(
        self,
        interaction: discord.Interaction,
        action: Literal["add", "remove", "list"],
        words: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        """Requests whose title or tags contain one of these are refused."""
        guild_id = self.guild_id(interaction)
        if action == "list":
            config = await self.bot.guild_settings.get(guild_id)
            listed = ", ".join(f"`{w}`" for w in config.blocked_words) or "none"
            await interaction.response.send_message(
                clip(f"Blocked words: {listed}", 2000), ephemeral=True
            )
            return
        if not words:
            raise Refusal(f"Give the words to {action}, separated by commas.")
        wanted = word_list(words)

        def edit(config: GuildConfig) -> GuildConfig:
            current = list(config.blocked_words)
            if action == "add":
                current += [w for w in wanted if w not in current]
                if len(current) > WORDS_MAX:
                    raise Refusal(f"At most {WORDS_MAX} blocked words can be listed.")
            else:
                current = [w for w in current if w not in wanted]
            return config.model_copy(update={"blocked_words": tuple(current)})

        change = await self.bot.guild_settings.edit(guild_id, edit)
        await self.saved(interaction, "blocked_words", change)

    @app_commands.command(name="reset")
    async def reset(self, interaction: discord.Interaction) -> None:
        """Every setting back to the bot's defaults (asks first)."""
        await interaction.response.send_message(
            "Reset every backline setting of this server to the bot's defaults?",
            view=ResetView(self, interaction.user.id),
            ephemeral=True,
        )


async def setup(bot: Backline) -> None:
    await bot.add_cog(Config(bot))
