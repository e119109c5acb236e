"""The README's invite asks for exactly the permissions the test Discord gives the bot."""

from __future__ import annotations

from pathlib import Path

import discord

from bot.invite import INVITE_PERMISSIONS, PORTAL_NAMES, invite_url, permission_names

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_invite_is_built_from_the_constant() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert f"`{invite_url()}`" in text
    assert "bot permissions " + ", ".join(permission_names()) + "." in text


def test_every_granted_permission_has_its_portal_name() -> None:
    named = discord.Permissions(**dict.fromkeys(PORTAL_NAMES, True))
    assert named.value == INVITE_PERMISSIONS.value
    assert not INVITE_PERMISSIONS.manage_threads and not INVITE_PERMISSIONS.administrator
