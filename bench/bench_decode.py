"""Issue 24: what reading a recording to its last frame costs before anything is paid for.

    python -m bench.bench_decode [--lengths 60 480] [--repeat 3] [--mbit 50]

Each take is made by an encoder (FFmpeg through PyAV, as the tests make theirs): a soft chord,
mono, in every format a member sends: MP3 (sent as it is), WAV (as it is), a voice message's
Ogg Opus, a phone's M4A/AAC, FLAC, a phone video (MP4, AAC sound, a small picture track) and
WebM Opus; all but MP3 and WAV are transcoded on the way (WAV when small, else MP3). For a
1-minute and an 8-minute take, the figures are what the intake runs, `bot.media.decode` in a
worker thread: CPU seconds (the whole process, median of --repeat), peak resident memory
above the level before (the kernel's high-water mark, reset before each run), the event
loop's lag meanwhile (a 10-ms probe), and beside them the download the bot makes anyway (the
file's size at --mbit Mbit/s). Baselines measured in the same run: the header check the
intake used before (`bot.audio.inspect_audio`, a few frames), and, for the loop, the same
decodes in a child process (the machine's CPU shared, not the interpreter's lock).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LagProbe, Report, percentile, proc_status_mb
from bot import media
from bot.audio import inspect_audio
from tests.support.recordings import encode

# name: (container, codec, rate, bit rate, picture codec)
FORMATS: dict[str, tuple[str, str, int, int | None, str | None]] = {
    "MP3 192 kbps 44.1 kHz": ("mp3", "libmp3lame", 44100, 192_000, None),
    "WAV 16-bit 22.05 kHz": ("wav", "pcm_s16le", 22050, None, None),
    "voice message (Ogg Opus 32 kbps)": ("ogg", "libopus", 48000, 32_000, None),
    "M4A AAC 128 kbps": ("ipod", "aac", 48000, 128_000, None),
    "FLAC 48 kHz": ("flac", "flac", 48000, None, None),
    "MP4 video, AAC 128 kbps": ("mp4", "aac", 48000, 128_000, "mpeg4"),
    "WebM Opus 96 kbps": ("webm", "libopus", 48000, 96_000, None),
}
CLEAR_REFS = Path("/proc/self/clear_refs")
CPU_PER_MINUTE = 1.0  # seconds of CPU per minute of take, transcoding included
PEAK_MB = 40
LAG_RATIO = 1.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_decode")
    add = parser.add_argument
    add("--lengths", type=float, nargs="+", default=[60.0, 480.0], help="take lengths (s)")
    add("--repeat", type=int, default=3, help="runs per figure, median taken (default 3)")
    add("--mbit", type=float, default=50.0, help="download speed assumed (default 50 Mbit/s)")
    return parser.parse_args()


def reset_peak() -> None:
    """The kernel's peak RSS (VmHWM) starts again from the current RSS."""
    CLEAR_REFS.write_text("5")


@dataclass
class Cost:
    cpu: float  # median CPU seconds
    peak: float  # median MB above the RSS before
    lags: list[float]  # every probe wake-up's lateness meanwhile (s)


async def measure(work: Callable[[], Any], repeat: int, probe: LagProbe) -> Cost:
    """`work` run in a worker thread, as the intake runs it."""
    cpu, peak, lags = [], [], []
    for _ in range(repeat):
        await asyncio.sleep(0.05)
        reset_peak()
        before = proc_status_mb("VmRSS")
        mark = probe.mark()
        started = time.process_time()
        await asyncio.to_thread(work)
        cpu.append(time.process_time() - started)
        await asyncio.sleep(0.02)  # the probe's last wake-up
        peak.append(proc_status_mb("VmHWM") - before)
        lags += probe.since(mark)
    return Cost(statistics.median(cpu), statistics.median(peak), lags)


def decode_only(data: bytes) -> None:
    media.decode(data)


def take(spec: tuple[str, str, int, int | None, str | None], seconds: float) -> bytes:
    container, codec, rate, bit_rate, picture = spec
    return encode(container, codec, seconds, rate=rate, bit_rate=bit_rate, video=picture)


async def run(args: argparse.Namespace, report: Report) -> None:
    repeat = max(1, args.repeat)
    report.param("takes", "a soft chord, mono, made by FFmpeg's encoders (tests/support)")
    report.param("measured", "bot.media.decode in a worker thread (what the intake runs)")
    report.param("download", f"the file's size at {args.mbit:g} Mbit/s")
    report.param("repeat", f"{repeat} (median)")
    probe = LagProbe()
    probe.start()
    mark = probe.mark()
    await asyncio.sleep(3.0)
    idle = probe.since(mark)  # the same probe with nothing to do
    busy: list[float] = []
    # The baseline for the loop: the same decode in a child process, so only the machine's
    # CPU is shared, not the interpreter. A thread that held the GIL would lag more.
    apart: list[float] = []
    pool = ProcessPoolExecutor(1)
    loop = asyncio.get_running_loop()
    try:
        for seconds in args.lengths:
            minutes = f"{int(seconds // 60)}:{int(seconds % 60):02d}"
            report.section(f"a {minutes} take: CPU · peak memory · download · x header check")
            goal = CPU_PER_MINUTE * seconds / 60
            for name, spec in FORMATS.items():
                data = await asyncio.to_thread(take, spec, seconds)
                sent = (await asyncio.to_thread(media.decode, data)).sent_note or "as it is"
                base = await measure(lambda data=data: inspect_audio(data), repeat, probe)
                got = await measure(lambda data=data: media.decode(data), repeat, probe)
                busy += got.lags
                for _ in range(repeat):
                    mark = probe.mark()
                    await loop.run_in_executor(pool, decode_only, data)
                    apart += probe.since(mark)
                download = len(data) * 8 / (args.mbit * 1e6)
                report.figure(
                    f"{name}, {len(data) / 2**20:.1f} MB → {sent}",
                    f"{got.cpu:.2f} s · +{got.peak:.0f} MB · {download:.2f} s · "
                    f"x{got.cpu / max(base.cpu, 1e-4):.0f}",
                    f"<= {goal:.1f} s, <= {PEAK_MB} MB",
                    got.cpu <= goal and got.peak <= PEAK_MB,
                )
    finally:
        await probe.stop()
        pool.shutdown()
    lag_idle, lag_apart = percentile(idle, 99) * 1000, percentile(apart, 99) * 1000
    lag_busy = percentile(busy, 99) * 1000
    report.section("the event loop meanwhile (a 10-ms probe), p99 / max")
    report.figure("idle", f"{lag_idle:.1f} / {max(idle) * 1000:.1f} ms")
    report.figure(
        "baseline: the same decodes in a child process",
        f"{lag_apart:.1f} / {max(apart, default=0.0) * 1000:.1f} ms",
    )
    report.figure(
        "decoding in a worker thread (the bot)",
        f"{lag_busy:.1f} / {max(busy, default=0.0) * 1000:.1f} ms",
        f"p99 <= baseline x {LAG_RATIO:g} + 5 ms",
        lag_busy <= lag_apart * LAG_RATIO + 5,
    )
    report.note(
        "CPU counts the whole process: FFmpeg's decoder, the level check on an 8 kHz copy "
        "and, for every format but MP3 and WAV, the transcoder (LAME is most of it). "
        "x: decode CPU over the old header check's, which read a few frames and believed "
        "the rest."
    )


def main() -> None:
    args = parse_args()
    report = Report("Reading a recording to its last frame (issue 24)")
    asyncio.run(run(args, report))
    report.print()


if __name__ == "__main__":
    main()
