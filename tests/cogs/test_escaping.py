"""Member text lands in the bot's own posts escaped for the exact place it lands (issue 23,
finding 4): a title cannot plant a masked link where the bot wraps it in one, a file name
cannot leave its backticks. The places are checked through simcord from the members' side,
and the helper for each place directly."""

from __future__ import annotations

import re

import discord
import pytest

from bot.core.intake import title_from_filename
from cogs._ui import shown
from cogs.instrumental.render import input_note
from tests.cogs.test_takes import card, finished, newest
from tests.harness import Harness, World
from tests.support.waiting import wait_until

EVIL = "Verify here](https://evil.example/login) x"
TARGET = re.compile(r"\]\(([^)\s]*)\)")  # where a masked link's label ends and its URL starts


def targets(markdown: str) -> list[str]:
    """The URLs a reader can click through masked links in `markdown`."""
    return TARGET.findall(markdown)


def only_our_links(markdown: str, count: int) -> None:
    found = targets(markdown)
    assert len(found) == count, markdown
    assert all(url.startswith("https://discord.com/channels/") for url in found), markdown
    assert markdown.count("[") == markdown.count("]") == count, markdown  # no bracket of theirs


@pytest.fixture(autouse=True)
def no_cooldown(harness: Harness) -> None:
    harness.settings.default_cooldown_seconds = 0


async def test_a_title_plants_no_link_in_take_details_or_tasks(
    harness: Harness, world: World
) -> None:
    harness.start_lifecycle()
    take = await finished(harness, world.alice, world.channel, title=EVIL)
    r = await world.alice.click(card(world.channel, take.id), label="Re-roll")
    assert r.response.content.startswith("Got it!")
    child = await newest(harness, world.alice)
    [thread] = world.channel.threads

    # The public card of the new take: "Take: re-roll of [title](card)".
    child_card = await wait_until(lambda: card(thread, child.id))
    fields = {f.name: f.value or "" for f in child_card.embeds[0].fields}
    only_our_links(fields["Take"], 1)

    # Another member's Details of the first take: "Next takes".
    r = await world.bob.click(card(world.channel, take.id), label="Details")
    fields = {f.name: f.value or "" for f in r.response.embeds[0].fields}
    only_our_links(fields["Next takes"], 1)

    # A moderator's /tasks scope:server.
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    r = await mod.slash(world.channel, "tasks", scope="server")
    description = r.response.embeds[0].description or ""
    assert "Verify here" in description
    assert "evil.example" not in " ".join(targets(description))
    r = await world.alice.slash(world.channel, "tasks")
    only_our_links(r.response.embeds[0].description or "", 2)


def test_each_place_has_its_escaping() -> None:
    label = shown(EVIL, 60, "label")
    only_our_links(f"[{label}](https://discord.com/channels/1/2/3)", 1)
    assert shown("**loud** @everyone", 100) == "\\*\\*loud\\*\\* @\u200beveryone"
    name = "x`](https://evil.example)`\n.wav"
    note = input_note(name)
    assert note.count("`") == 2 and "\n" not in note
    code = note.split("`")[1]  # everything of theirs stays inside the one code span
    assert "evil.example" in code
    for where in ("plain", "label", "code"):
        text = shown("*" * 300, 100, where)  # type: ignore[arg-type]
        assert len(text) <= 100


def test_a_slash_in_a_file_name_is_text() -> None:
    assert title_from_filename("Verify/here.wav") == "Verify/here"
    assert title_from_filename("my_take.final.mp3") == "my take.final"
    assert title_from_filename(".wav") == ".wav"
