"""A visitor's first minutes in the playground, in a real browser: Debian's `chromium`
driven by Playwright (never a downloaded browser). The browser test and the README's
screenshot (`scripts/playground_screenshot.py`) both take this tour.

Needs the `test` extra (Playwright) and `apt-get install chromium`.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root (CI too), where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
TRACKS_TIMEOUT_MS = 120_000  # the sandbox engine's stages come after 5, 15 and 25 s


@dataclass
class Visit:
    """What the tour saw."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    played_seconds: float = 0.0  # how far the demo played
    input_seconds: float = 0.0
    track_seconds: float = 0.0  # the duration an <audio> element of the thread reported
    thread_tracks: int = 0
    rerolled: bool = False
    menu_form: str = ""  # the title of the form "Add instrumental" opened


@asynccontextmanager
async def browser(url: str, *, width: int = 1280, height: int = 900) -> AsyncIterator[Visit]:
    """The page open in headless Chromium; console errors and uncaught exceptions are
    collected in `Visit.console_errors`."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await chromium.new_page(viewport={"width": width, "height": height})
            visit = Visit(page)
            page.on(
                "console",
                lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: visit.console_errors.append(f"uncaught: {e}"))
            await page.goto(url)
            yield visit
        finally:
            await chromium.close()


async def request_and_listen(visit: Visit, demo: str, demo_wav: bytes) -> None:
    """Play a demo, send `/instrumental` with it, open the thread, wait for both tracks,
    and read how long a track's player says it lasts."""
    page = visit.page
    with wave.open(io.BytesIO(demo_wav)) as audio:
        visit.input_seconds = audio.getnframes() / audio.getframerate()
    # Play the demo recording posted in the channel.
    player = page.locator(f"figure.audio:has(a:text-is('{demo}')) audio").first
    await player.evaluate("a => a.play()")
    await page.wait_for_function("a => a.currentTime > 0.3", arg=await player.element_handle())
    visit.played_seconds = await player.evaluate("a => { a.pause(); return a.currentTime; }")
    # /instrumental through the composer, with the demo attached.
    await page.fill("#text", "/instr")
    await page.click("#palette button.command[data-command='instrumental']")
    await page.select_option("#command select[name='audio']", f"demo:{demo}")
    await page.fill("#command input[name='tags']", "lo-fi, warm keys")
    await page.click("#send")
    # The card links its thread: open it and wait for the tracks.
    await page.click("article.msg.bot .thread-chip", timeout=30_000)
    ready = page.locator("article.msg.bot:has-text('track 2 of 2 is ready') audio")
    await ready.wait_for(timeout=TRACKS_TIMEOUT_MS)
    visit.thread_tracks = await page.locator("article.msg.bot:has-text('is ready') audio").count()
    handle = await ready.element_handle()
    await page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=handle)
    visit.track_seconds = await ready.evaluate("a => a.duration")


async def reroll_and_menu(visit: Visit) -> None:
    """Back in the channel: Re-roll on the card, then "Add instrumental" from a message's
    menu (the form it opens is closed again)."""
    page = visit.page
    await page.click("#channels a.channel:not(.thread)")
    acknowledged = page.locator("article.msg.ephemeral")
    before = await acknowledged.count()
    await page.click("article.msg.bot button.button:has-text('Re-roll')")
    await page.wait_for_function(
        "n => document.querySelectorAll('article.msg.ephemeral').length > n", arg=before
    )
    visit.rerolled = True
    demo = page.locator("article.msg:has(figure.audio)").first
    await demo.hover()
    await demo.locator("button.more").click()
    await page.click("#menu button:text-is('Add instrumental')")
    await page.wait_for_selector("dialog#modal[open]")
    visit.menu_form = await page.inner_text("dialog#modal h2")
    await page.click("dialog#modal button:text-is('Cancel')")
