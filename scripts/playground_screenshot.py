"""The README's screenshot of the playground (not run by CI), taken by the browser test's
own tour (`playground/tour.py`): headless Chromium from Debian's `chromium` package plays a
demo recording, sends `/instrumental` with it through the page, opens the thread and waits
for the tracks; the page is saved as it is then.

    apt-get install chromium fonts-noto-color-emoji   # the emoji font: 🎵 instead of boxes
    .venv/bin/pip install -e ".[test,playground]"
    .venv/bin/python scripts/playground_screenshot.py [docs/playground.png]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playground import Playground
from playground.demos import demo_recordings
from playground.tour import CHROMIUM, browser, request_and_listen


async def main(out: Path) -> None:
    if not CHROMIUM.exists():
        sys.exit(f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium")
    with tempfile.TemporaryDirectory() as data:
        playground = Playground(data_dir=Path(data), fresh=True)
        url = await playground.start()
        try:
            name, wav = demo_recordings()[0]
            async with browser(url, width=1280, height=1000) as visit:
                await request_and_listen(visit, name, wav)
                await visit.page.wait_for_timeout(1500)  # the last poll and the covers
                out.parent.mkdir(parents=True, exist_ok=True)
                await visit.page.screenshot(path=str(out))
                if visit.console_errors:
                    sys.exit(f"the page logged errors: {visit.console_errors}")
            track, given = visit.track_seconds, visit.input_seconds
            print(f"saved {out}: a track of {track:.2f} s for {given:.2f} s of input")
        finally:
            await playground.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/playground.png").resolve()))
