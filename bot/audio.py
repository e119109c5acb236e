"""Small, dependency-light audio helpers: sniffing, inspection, duration probing.

Everything here is a pure function with no Discord or network access, so the bot, the
music-API simulator and the tests can all share it. (The test media, ``make_wav`` and
``make_png``, live in :mod:`simulator.media`.)
"""

from __future__ import annotations

import io
import logging
import math
import mmap
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import mutagen
from mutagen import MutagenError
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

log = logging.getLogger(__name__)

Buffer = bytes | mmap.mmap  # audio in memory, or a file mapped

__all__ = ["SNIFF_BYTES", "AudioInfo", "inspect_audio", "probe_duration", "sniff_audio"]

#: How many leading bytes ``sniff_audio`` needs at most.
SNIFF_BYTES = 64

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
    MutagenError, ValueError, IndexError, KeyError, EOFError, OverflowError, TypeError,
    ZeroDivisionError, OSError, struct.error,
)  # fmt: skip
# mutagen is untyped: each parser takes a file object and returns its parsed file.
_PARSERS: dict[str, Callable[[BinaryIO], Any]] = {
    "wav": WAVE,
    "mp3": MP3,
    "flac": FLAC,
    "aiff": AIFF,
    "m4a": MP4,
    "mp4": MP4,
}


def probe_duration(data: bytes) -> float | None:
    """Return the duration of the audio in ``data`` in seconds, or None if unknown.

    Never raises for bad input. The parser is picked by ``sniff_audio`` first, because
    ``mutagen.File`` scores candidates partly by file name and a BytesIO has none.
    """
    info = _stream_info(data, sniff_audio(data[:SNIFF_BYTES]))
    return _positive(getattr(info, "length", None))


def _stream_info(data: Buffer, kind: str | None, source: BinaryIO | None = None) -> object | None:
    """mutagen's stream info for ``data`` (read from ``source`` when given) as ``kind``."""
    if kind is None or kind == "webm":  # mutagen has no Matroska support
        return None
    try:
        parser = _PARSERS.get(kind)
        if source is not None:
            source.seek(0)
        stream = source if source is not None else io.BytesIO(data)
        parsed = parser(stream) if parser else mutagen.File(stream)
    except _PROBE_ERRORS as exc:
        log.debug("could not probe %s audio (%d bytes): %r", kind, len(data), exc)
        return None
    return getattr(parsed, "info", None)


def _positive(value: object) -> float | None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


@dataclass(frozen=True)
class AudioInfo:
    """What ``inspect_audio`` is sure of: the container, and the length when it is known."""

    kind: str
    duration: float | None


def inspect_audio_file(path: Path) -> AudioInfo | None:
    """`inspect_audio` on a file, mapped rather than read: only the pages the checks touch
    (headers, the first frames) are loaded, so a large track is not held in memory."""
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return inspect_audio(data, source=file)
    except (OSError, ValueError) as exc:  # an empty file cannot be mapped
        log.debug("could not inspect %s: %r", path.name, exc)
        return None


def inspect_audio(data: Buffer, *, source: BinaryIO | None = None) -> AudioInfo | None:
    """Return what ``data`` is when it is certainly audio, else None. Never raises.

    Magic bytes alone pass an ``ID3`` header followed by HTML, so this decodes enough to be
    sure: two consecutive MPEG frames for MP3; for WebM/Matroska the DocType, an audio
    track and a cluster; for the rest a mutagen parse with a positive length (for WAV and
    AIFF, of the samples really present). Use it to accept a recording.
    """
    kind = sniff_audio(data[:SNIFF_BYTES])
    if kind is None:
        return None
    try:
        if kind == "mp3":
            if not _has_mpeg_frames(data):
                return None
            length = _positive(getattr(_stream_info(data, kind, source), "length", None))
            return AudioInfo(kind, length)
        if kind == "webm":
            return _inspect_matroska(data)
    except _PROBE_ERRORS as exc:
        log.debug("could not inspect %s audio (%d bytes): %r", kind, len(data), exc)
        return None
    info = _stream_info(data, kind, source)
    duration = _positive(getattr(info, "length", None))
    if duration is not None and kind in _SAMPLE_CHUNKS:
        # The header may promise more samples than the file holds, or hold none at all.
        held = _sample_bytes(data, kind) * 8 / (getattr(info, "bitrate", 0) or math.inf)
        duration = _positive(min(duration, held))
    return AudioInfo(kind, duration) if duration is not None else None


# Where PCM containers keep their samples: byte order, chunk id, bytes before the samples.
_SAMPLE_CHUNKS = {"wav": ("<I", b"data", 0), "aiff": (">I", b"SSND", 8)}


def _sample_bytes(data: Buffer, kind: str) -> int:
    """Bytes of samples actually present in a WAV or AIFF file."""
    order, wanted, skip = _SAMPLE_CHUNKS[kind]
    pos = 12
    while pos + 8 <= len(data):
        size = int(struct.unpack_from(order, data, pos + 4)[0])
        if data[pos : pos + 4] == wanted:
            return max(0, min(size, len(data) - pos - 8) - skip)
        pos += 8 + size + (size & 1)
    return 0


# MPEG audio bitrates (kbit/s) by (MPEG-1?, layer), index 1..14; index 0 (free) is refused.
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_BITRATES[(False, 3)] = _BITRATES[(False, 2)]
_SAMPLE_RATES = {  # by version bits: MPEG-1, MPEG-2, MPEG-2.5
    0b11: (44100, 48000, 32000), 0b10: (22050, 24000, 16000), 0b00: (11025, 12000, 8000)
}  # fmt: skip
_MP3_SYNC_WINDOW = 64 * 1024  # junk allowed between the ID3 tag and the first frame


def _mpeg_frame(data: Buffer, pos: int) -> tuple[int, bytes] | None:
    """(frame length, stream signature) of a valid MPEG audio frame header at ``pos``."""
    head = data[pos : pos + 4]
    if not _is_mpeg_frame(head) or head[2] >> 4 == 0:
        return None
    version, layer = (head[1] >> 3) & 0b11, 4 - ((head[1] >> 1) & 0b11)
    bitrate = _BITRATES[(version == 0b11, layer)][(head[2] >> 4) - 1] * 1000
    rate = _SAMPLE_RATES[version][(head[2] >> 2) & 0b11]
    padding = (head[2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    else:
        length = (72 if layer == 3 and version != 0b11 else 144) * bitrate // rate + padding
    return length, bytes((head[1] & 0xFE, head[2] & 0x0C))  # version, layer, sample rate


def _has_mpeg_frames(data: Buffer) -> bool:
    """A valid frame header followed, at its computed length, by another of the same stream."""
    start = 0
    while _is_id3(data[start : start + 10]):
        size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[start + 6 : start + 10]))
        start += 10 + size + (10 if data[start + 5] & 0x10 else 0)
    pos = data.find(b"\xff", start, start + _MP3_SYNC_WINDOW)
    while pos != -1:
        first = _mpeg_frame(data, pos)
        if first is not None:
            second = _mpeg_frame(data, pos + first[0])
            if second is not None and second[1] == first[1]:
                return True
        pos = data.find(b"\xff", pos + 1, start + _MP3_SYNC_WINDOW)
    return False


# Matroska element ids (with their length marker bits, as written in files).
_EBML, _DOCTYPE, _SEGMENT, _INFO, _TIMESCALE, _DURATION = (
    0x1A45DFA3, 0x4282, 0x18538067, 0x1549A966, 0x2AD7B1, 0x4489,
)  # fmt: skip
_TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _CLUSTER, _AUDIO_TRACK = 0x1654AE6B, 0xAE, 0x83, 0x1F43B675, 2


def _vint(data: Buffer, pos: int, *, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, next position, all value bits set) of an EBML variable-size integer."""
    first = data[pos]
    width = 9 - first.bit_length() if first else 9
    if width > 8 or pos + width > len(data):
        raise ValueError("bad EBML integer")
    value = first if keep_marker else first & (0xFF >> width)
    for byte in data[pos + 1 : pos + width]:
        value = (value << 8) | byte
    return value, pos + width, value == (1 << (7 * width)) - 1


def _ebml_children(data: Buffer, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, payload start, payload end) of each element in ``data[start:end]``."""
    pos, end = start, min(end, len(data))
    while pos < end:
        element, pos, _ = _vint(data, pos, keep_marker=True)
        size, pos, unknown = _vint(data, pos, keep_marker=False)
        stop = end if unknown else pos + size
        if stop > end and not unknown:
            if element not in (_SEGMENT, _CLUSTER):
                raise ValueError("EBML element overruns its parent")
            stop = end  # a truncated download: the segment or cluster continues past here
        yield element, pos, stop
        pos = stop


def _inspect_matroska(data: Buffer) -> AudioInfo | None:
    children = _ebml_children(data, 0, len(data))
    element, start, end = next(children, (None, 0, 0))
    if element != _EBML:
        return None
    header = _ebml_children(data, start, end)
    doctype = next((data[s:e] for i, s, e in header if i == _DOCTYPE), b"")
    if doctype.rstrip(b"\x00") not in (b"webm", b"matroska"):
        return None
    segment = next(((s, e) for i, s, e in children if i == _SEGMENT), None)
    if segment is None:
        return None
    scale, duration, audio = 1_000_000, None, False
    for element, start, end in _ebml_children(data, *segment):
        if element == _INFO:
            for child, s, e in _ebml_children(data, start, end):
                if child == _TIMESCALE:
                    scale = int.from_bytes(data[s:e], "big")
                elif child == _DURATION and e - s in (4, 8):
                    duration = struct.unpack(">f" if e - s == 4 else ">d", data[s:e])[0]
        elif element == _TRACKS:
            audio = any(
                child == _TRACK_TYPE and int.from_bytes(data[s:e], "big") == _AUDIO_TRACK
                for entry, es, ee in _ebml_children(data, start, end)
                if entry == _TRACK_ENTRY
                for child, s, e in _ebml_children(data, es, ee)
            )
        elif element == _CLUSTER:
            if not audio or end <= start:
                return None
            seconds = duration * scale / 1e9 if duration else None
            ok = seconds is not None and math.isfinite(seconds) and seconds > 0
            return AudioInfo("webm", seconds if ok else None)
    return None
