"""Issue 13: the simulator's sandbox engine: CPU to accompany a 1-minute recording.

    python -m bench.bench_sandbox [--seconds 60] [--repeat 3] [--skip-long]

The input is made by code: a 44.1 kHz stereo 16-bit WAV of an A minor tune on a 96 BPM
click (what a member might hum over a metronome). It goes through what the simulator runs
in its worker thread for one task: decode, analyse once, render and mix two tracks, write
the WAVs (``sandbox.accompany``), for each style family. The baseline, measured in the
same run, is what the simulator served before: the test tone of the same length
(``media.make_wav`` with its cache cleared). CPU is ``time.process_time`` (every thread
of the process); each figure is the median of --repeat runs.

A second run feeds a 10-minute input, which the engine cuts at 8 minutes: the bound on
what one upload can cost.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import wave
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import Report, proc_status_mb
from simulator import media, sandbox

TRUE_BPM = 96.0
TUNE = (57, 60, 64, 69, 67, 64, 62, 60)  # A minor
TWO_TRACKS = (11, 12)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sandbox")
    add = parser.add_argument
    add("--seconds", type=float, default=60.0, help="input length (default 60)")
    add("--repeat", type=int, default=3, help="runs per figure, median taken (default 3)")
    add("--skip-long", action="store_true", help="skip the 10-minute (capped) input")
    return parser.parse_args()


def recording(seconds: float, rate: int = 44100) -> bytes:
    """The input: a plucked tune on the beat over a click, stereo 16-bit WAV."""
    beat = 60.0 / TRUE_BPM
    t = np.arange(int(beat * rate)) / rate
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / 0.4)
    notes = [
        sum(np.sin(2 * np.pi * 440 * 2 ** ((n - 69) / 12) * h * t) / h for h in (1, 2, 3))
        * envelope
        for n in TUNE
    ]
    total = int(seconds * rate)
    tune = np.resize(np.concatenate(notes), total) * 0.3
    click = np.sin(2 * np.pi * 1000 * t[: int(0.03 * rate)]) * np.exp(
        -t[: int(0.03 * rate)] / 0.005
    )
    clicks = np.zeros(total)
    for start in range(0, total, round(beat * rate)):
        end = min(total, start + click.size)
        clicks[start:end] += 0.4 * click[: end - start]
    mono = np.clip((tune + clicks) * 32767, -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.repeat(mono, 2).tobytes())
    return buffer.getvalue()


def measure(work: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median CPU seconds, median wall seconds, last result) of ``work``."""
    cpu: list[float] = []
    wall: list[float] = []
    result = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        result = work()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), result


def tone(seconds: float) -> bytes:
    media.forget_tones()  # as for a task of a new length
    return media.make_wav(seconds)


def run(args: argparse.Namespace, report: Report) -> None:
    seconds, repeat = args.seconds, max(1, args.repeat)
    data = recording(seconds)
    report.param(
        "input", f"{seconds:g} s, 44.1 kHz stereo 16-bit WAV ({len(data) / 2**20:.1f} MiB)"
    )
    report.param("content", f"A minor tune on a {TRUE_BPM:g} BPM click")
    report.param("per task", f"decode, analyse once, render + mix + write {len(TWO_TRACKS)} tracks")
    report.param("output", f"mono 16-bit {sandbox.RATE} Hz WAV, as long as the input")
    report.param("repeat", f"{repeat} (median)")

    base_cpu, base_wall, _ = measure(lambda: tone(seconds), repeat)
    decode_cpu, _, samples = measure(lambda: sandbox.decode(data), repeat)
    analyse_cpu, _, analysis = measure(lambda: sandbox.analyse(samples), repeat)

    report.section(f"accompany a {seconds:g} s input (one task, {len(TWO_TRACKS)} tracks)")
    report.figure(
        "baseline: the test tone, one track (CPU / wall)", f"{base_cpu:.3f} s / {base_wall:.3f} s"
    )
    report.figure("decode (CPU)", f"{decode_cpu:.3f} s")
    report.figure("analyse: tempo + key (CPU)", f"{analyse_cpu:.3f} s")
    bpm_ok = abs(analysis.bpm - TRUE_BPM) <= 0.05 * TRUE_BPM
    report.figure("  tempo heard", f"{analysis.bpm:.2f} BPM", f"{TRUE_BPM:g} +/- 5 %", bpm_ok)
    report.figure("  key heard", analysis.key, "A minor", analysis.key == "A minor")
    worst = 0.0
    for tags in ("pop", "lofi, hip hop", "electronic", "piano ballad"):
        cpu, wall, tracks = measure(
            lambda tags=tags: sandbox.accompany(data, tags, TWO_TRACKS), repeat
        )
        worst = max(worst, cpu)
        family = sandbox.style_for(tags)
        length = len(tracks[0]) - 44
        report.figure(
            f"task, tags {tags!r} ({family.family}/{family.groove}) CPU / wall",
            f"{cpu:.3f} s / {wall:.3f} s",
            "<= 3 s CPU",
            cpu <= 3.0,
        )
        report.figure(
            "  per track: CPU / input duration",
            f"{cpu / len(TWO_TRACKS) / seconds:.4f}",
            "<= 0.025",
            cpu / len(TWO_TRACKS) / seconds <= 0.025,
        )
        report.figure("  output length", f"{length / 2 / sandbox.RATE:.3f} s", f"{seconds:g} s")
    report.figure(
        "slowest style / baseline tone",
        f"x{worst / len(TWO_TRACKS) / max(base_cpu, 1e-9):.1f} a track "
        f"({worst / len(TWO_TRACKS):.3f} s vs {base_cpu:.3f} s)",
    )

    if args.skip_long:
        return
    long = recording(600.0)
    rss_before = proc_status_mb("VmHWM")
    cpu, wall, tracks = measure(lambda: sandbox.accompany(long, "pop", TWO_TRACKS), 1)
    peak = proc_status_mb("VmHWM") - rss_before
    out_seconds = (len(tracks[0]) - 44) / 2 / sandbox.RATE
    report.section("a 10-minute input (cut at 8 minutes)")
    report.figure("task CPU / wall", f"{cpu:.2f} s / {wall:.2f} s", "<= 20 s CPU", cpu <= 20.0)
    report.figure(
        "output length",
        f"{out_seconds:.1f} s",
        f"{sandbox.MAX_SECONDS:g} s",
        out_seconds == sandbox.MAX_SECONDS,
    )
    report.figure("peak RSS growth while rendering", f"{peak:.0f} MiB")
    report.note(
        "CPU counts every thread (numpy's matrix products may use several, so CPU can exceed "
        "wall); the simulator runs a whole task in one worker thread off the event loop. The "
        "long run's memory is mostly the 100 MiB input; the simulator refuses uploads over "
        "max_upload_bytes (50 MiB) anyway."
    )


def main() -> None:
    args = parse_args()
    report = Report("backline sandbox engine benchmark (issue 13)")
    run(args, report)
    report.print()


if __name__ == "__main__":
    main()
