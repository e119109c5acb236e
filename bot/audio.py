"""Small, dependency-light audio helpers: container sniffing, duration probing, test media.

Everything here is a pure function with no Discord or network access, so the bot, the
music-API simulator and the tests can all share it. ``make_wav`` for large sizes is a
few milliseconds of memory copying, but callers on the event loop that generate big
files (tens of MiB) should still go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import array
import functools
import io
import logging
import math
import struct
import sys
import zlib

import mutagen
from mutagen import MutagenError
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

log = logging.getLogger(__name__)

__all__ = [
    "SNIFF_BYTES",
    "make_png",
    "make_wav",
    "probe_duration",
    "sniff_audio",
    "wav_duration",
]

#: How many leading bytes ``sniff_audio`` needs at most.
SNIFF_BYTES = 64

_WAV_HEADER_BYTES = 44
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# ISO-BMFF major brands that carry audio (plain MP4 video files with an audio track
# included, since the provider accepts "common formats"). M4A-family brands map to m4a.
_M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
_MP4_BRANDS = frozenset(
    {b"mp41", b"mp42", b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"dash", b"avc1", b"3gp4",
     b"3gp5", b"3g2a", b"MSNV", b"qt  "}
)  # fmt: skip


def sniff_audio(head: bytes) -> str | None:
    """Return the audio container named by the magic bytes in ``head``, or None.

    Only the content is looked at, never a filename: Discord attachment names are
    user-controlled. ``head`` needs at most the first ``SNIFF_BYTES`` bytes.
    """
    if len(head) < 4:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _M4A_BRANDS:
            return "m4a"
        if brand in _MP4_BRANDS:
            return "mp4"
        return None
    if _is_id3(head) or _is_mpeg_frame(head):
        return "mp3"
    return None


def _is_id3(head: bytes) -> bool:
    # "ID3" + major version (2..4) + revision; version bytes are never 0xFF.
    return len(head) >= 10 and head[:3] == b"ID3" and 2 <= head[3] <= 4 and head[4] != 0xFF


def _is_mpeg_frame(head: bytes) -> bool:
    """Check for an MPEG audio frame header (11 sync bits plus sane field values)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11  # 0b01 is reserved
    layer = (head[1] >> 1) & 0b11  # 0b00 is reserved (and used by AAC ADTS)
    bitrate = head[2] >> 4  # 0b1111 is invalid
    rate = (head[2] >> 2) & 0b11  # 0b11 is reserved
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and rate != 0b11


# Errors mutagen (and the struct/zlib code under it) raise on truncated or hostile input.
_PROBE_ERRORS = (
    MutagenError,
    ValueError,
    IndexError,
    KeyError,
    EOFError,
    OverflowError,
    TypeError,
    ZeroDivisionError,
    OSError,
    struct.error,
)
_PARSERS = {"wav": WAVE, "mp3": MP3, "flac": FLAC, "aiff": AIFF, "m4a": MP4, "mp4": MP4}


def probe_duration(data: bytes) -> float | None:
    """Return the duration of the audio in ``data`` in seconds, or None if unknown.

    Never raises for bad input. The parser is picked by ``sniff_audio`` first, because
    ``mutagen.File`` scores candidates partly by file name and a BytesIO has none.
    """
    kind = sniff_audio(data[:SNIFF_BYTES])
    if kind is None or kind == "webm":  # mutagen has no Matroska support
        return None
    try:
        parser = _PARSERS.get(kind)
        info = parser(io.BytesIO(data)) if parser else mutagen.File(io.BytesIO(data))
        length = getattr(getattr(info, "info", None), "length", None)
    except _PROBE_ERRORS as exc:
        log.debug("could not probe %s audio (%d bytes): %r", kind, len(data), exc)
        return None
    if not isinstance(length, int | float) or not math.isfinite(length) or length <= 0:
        return None
    return float(length)


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
