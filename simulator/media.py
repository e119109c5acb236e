"""Test media the simulator serves and the tests and benchmarks upload: real, decodable
WAV audio and PNG cover art, generated in memory.

``make_wav`` for large sizes is a few milliseconds of memory copying, but callers on the
event loop that generate big files (tens of MiB) should still go through
``asyncio.to_thread``.
"""

from __future__ import annotations

import array
import functools
import math
import struct
import sys
import zlib

__all__ = ["make_png", "make_wav", "wav_duration"]

_WAV_HEADER_BYTES = 44
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _wav_frames(seconds: float, sample_rate: int, pad_to_bytes: int | None) -> int:
    frames = max(0, round(seconds * sample_rate))
    if pad_to_bytes is not None:
        frames = max(frames, math.ceil(max(0, pad_to_bytes - _WAV_HEADER_BYTES) / 2))
    return frames


def wav_duration(
    seconds: float, *, sample_rate: int = 22050, pad_to_bytes: int | None = None
) -> float:
    """Duration of what ``make_wav`` produces for these arguments, without generating it."""
    return _wav_frames(seconds, sample_rate, pad_to_bytes) / sample_rate


@functools.lru_cache(maxsize=16)
def _tone_loop(sample_rate: int, freqs: tuple[float, ...], amplitude: float) -> bytes:
    """One second of the chord as 16-bit little-endian PCM.

    Frequencies are rounded to whole hertz and the pulse runs at 2 Hz, so one second is
    exactly periodic and longer beds are built by repeating these bytes: about 20k sin()
    calls per distinct bed instead of millions.
    """
    whole = [float(round(f)) for f in freqs] or [220.0]
    peak = 32767 * max(0.0, min(1.0, amplitude)) / len(whole)
    step = [2 * math.pi * f / sample_rate for f in whole]
    pulse = 2 * math.pi * 2.0 / sample_rate  # gentle 120 bpm swell
    sin = math.sin
    samples = array.array(
        "h",
        (
            int(peak * (0.75 + 0.25 * sin(pulse * n)) * sum(sin(s * n) for s in step))
            for n in range(sample_rate)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def forget_tones() -> None:
    """Drop the cached beds, so the next `make_wav` builds its own from scratch (a
    benchmark times a task of a new length that way)."""
    _tone_loop.cache_clear()


def make_wav(
    seconds: float,
    *,
    sample_rate: int = 22050,
    freqs: tuple[float, ...] = (220.0, 277.18, 329.63),
    amplitude: float = 0.3,
    pad_to_bytes: int | None = None,
) -> bytes:
    """Build a real, decodable mono 16-bit PCM WAV: a softly pulsing chord.

    ``pad_to_bytes`` makes the audio longer (more samples, not junk bytes) until the file
    is at least that big, for upload-limit tests.
    """
    frames = _wav_frames(seconds, sample_rate, pad_to_bytes)
    loop = _tone_loop(sample_rate, tuple(freqs), amplitude)
    size = frames * 2
    reps, rest = divmod(size, len(loop))
    pcm = bytearray(loop * reps + loop[:rest])
    _fade_edges(pcm, min(frames // 2, sample_rate // 100))  # avoid clicks at the ends
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + size,
        b"WAVE",
        b"fmt ",
        16,  # fmt chunk size
        1,  # PCM
        1,  # mono
        sample_rate,
        sample_rate * 2,  # byte rate
        2,  # block align
        16,  # bits per sample
        b"data",
        size,
    )
    return header + bytes(pcm)


def _fade_edges(pcm: bytearray, frames: int) -> None:
    """Linear fade-in/out over ``frames`` samples at each end, in place."""
    if frames <= 0:
        return
    total = len(pcm) // 2
    for i in range(frames):
        gain = i / frames
        for idx in (i, total - 1 - i):
            (value,) = struct.unpack_from("<h", pcm, idx * 2)
            struct.pack_into("<h", pcm, idx * 2, int(value * gain))


def make_png(width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (48, 96, 160)) -> bytes:
    """Build a valid truecolour PNG: a vertical gradient starting at ``rgb`` (cover art)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    rows = bytearray()
    for y in range(height):
        shade = y * 64 // max(1, height - 1)
        pixel = bytes(min(255, c + shade) for c in rgb)
        rows += b"\x00" + pixel * width  # filter type 0 (None) per scanline
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )
