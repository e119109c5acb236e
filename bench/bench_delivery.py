"""Issue 15 (2): memory of track downloads — the old way (the whole body in memory, then a
`discord.File` over a BytesIO) against today's (streamed into a temporary file, checked
through a memory map, uploaded from the file), in the same run.

Each variant runs in a child process of its own (peak RSS only grows), downloading from a
local HTTP server in this process: 2 tracks of 9 MB, then 4 of 45 MB at once (a boosted
server's limit). The figure is the child's peak resident memory (sampled every 2 ms) over its
resident memory just before the downloads, including the `discord.File` the upload reads.

    .venv/bin/python -m bench.bench_delivery
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
from pathlib import Path

import aiohttp
import discord

from bench.common import Report
from bot.fetch import fetch_capped, fetch_to_file
from simulator.media import make_wav
from tests.support.servers import serve_files

MB = 1024 * 1024
CASES = ((2, 9), (4, 45))  # (tracks at once, MB each)
GOALS = {(2, 9): 12, (4, 45): 60}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def child(variant: str, url: str, count: int) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url.replace("/track", "/ping")) as warm:  # pool warmed up
            await warm.read()
        before = rss_mb()
        with tempfile.TemporaryDirectory() as folder:

            async def one(number: int) -> None:
                if variant == "in memory":
                    data = await fetch_capped(
                        session, url, max_bytes=50 * MB, timeout=120, expect_audio=True
                    )
                    file = discord.File(io.BytesIO(data), filename="t.wav")
                else:
                    path = Path(folder) / f"t{number}"
                    await fetch_to_file(
                        session, url, path, max_bytes=50 * MB, timeout=120, expect_audio=True
                    )
                    file = discord.File(path, filename="t.wav")
                await asyncio.sleep(0.2)  # held while "uploading"
                file.close()

            peak = before

            async def sample() -> None:  # ru_maxrss would include start-up (imports)
                nonlocal peak
                while True:
                    peak = max(peak, rss_mb())
                    await asyncio.sleep(0.002)

            sampler = asyncio.create_task(sample())
            await asyncio.gather(*(one(n) for n in range(count)))
            sampler.cancel()
            peak = max(peak, rss_mb())
    print(json.dumps({"over": peak - before}))


async def main() -> None:
    rows = []
    for count, size in CASES:
        body = make_wav(1.0, sample_rate=44100, pad_to_bytes=size * MB)
        files = {"/track": (body, "audio/wav"), "/ping": (b"ok", "text/plain")}
        figures = {}
        async with serve_files(files) as base_url:
            for variant in ("in memory", "streamed"):
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.bench_delivery", "--child", variant,
                    f"{base_url}/track", str(count), stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
                out, _ = await process.communicate()
                figures[variant] = json.loads(out.decode().strip().splitlines()[-1])["over"]
        rows.append((count, size, figures))
    report = Report("backline delivery memory benchmark (issue 15, 2)")
    report.param("tracks", "WAV bodies served over HTTP on 127.0.0.1, downloaded at once")
    report.param("figure", "peak VmRSS during the downloads over the moment before")
    report.param("each variant", "in a child process of its own; the old way first")
    for count, size, figures in rows:
        old, new = figures["in memory"], figures["streamed"]
        goal = GOALS[(count, size)]
        report.figure(
            f"{count} x {size} MB at once: streamed against in memory",
            f"+{new:.0f} MB against +{old:.0f} MB (ratio {new / old:.2f})",
            f"<= {goal} MB",
            new <= goal,
        )
    report.print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "URL", "COUNT"))
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child[0], args.child[1], int(args.child[2])))
    else:
        asyncio.run(main())
