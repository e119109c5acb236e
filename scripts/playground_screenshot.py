"""A screenshot of the playground after a finished request (for the README; not run by CI).

Starts the playground with a fresh database of its own, sends one `/instrumental` with a
demo recording as the visitor, waits until the tracks are posted, then has headless
Chromium (Debian's `chromium` package) render the page to a PNG.

    .venv/bin/python scripts/playground_screenshot.py [docs/playground.png]
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playground import Playground
from playground.demos import demo_recordings

WINDOW = "1280,1100"


async def main(out: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("needs Debian's chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as data:
        playground = Playground(data_dir=Path(data), fresh=True)
        url = await playground.start()
        try:
            name, demo = demo_recordings()[0]
            await playground.you.slash(
                playground.channel, "instrumental", audio=(name, demo), tags="lo-fi, warm keys"
            )
            bot = playground.bot
            assert bot is not None
            for _ in range(240):  # the simulator finishes in about 25 s
                tasks = await bot.store.recent_tasks(playground.you.id, 1)
                if tasks and tasks[0].state == "done" and not tasks[0].card_dirty:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            out.parent.mkdir(parents=True, exist_ok=True)
            command = [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={WINDOW}", "--virtual-time-budget=8000",
                f"--screenshot={out}", url,
            ]  # fmt: skip
            result = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=120, check=False
            )
            if result.returncode != 0:
                sys.exit(f"chromium failed: {result.stderr[-500:]}")
            print(f"saved {out}")
        finally:
            await playground.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/playground.png").resolve()))
