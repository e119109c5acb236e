"""Recordings read to their last frame with FFmpeg's decoders (PyAV), trimmed and transcoded.

A header can say anything: an MP3's Xing frame count, a FLAC's STREAMINFO, an M4A's
sample table may all promise audio that is not there, or hide an hour behind "14 s". So
the true length, sample rate and channels come from decoding every frame, and a file whose
decoded length does not match what it claims is refused (`Unreadable`, with a sentence a
member can act on). What the music API documents (MP3, WAV) is sent as it is; anything
else (a voice message's Ogg Opus, M4A/AAC, FLAC, a video's sound), and any trimmed part
of a take, is transcoded: WAV when small, else MP3 at a good bitrate that still fits
Discord's smallest upload limit, so the bot can post it and hand its URL to the API.

Plain blocking code for a worker thread (`asyncio.to_thread`): FFmpeg releases the GIL
while it decodes. It is bounded: `DECODE_SECONDS` of wall time, `MAX_DECODED_SECONDS` of
audio, and memory by the output only (the input is in memory already; decoded samples
are streamed, never held). No Discord and no numpy here.
"""

from __future__ import annotations

import array
import io
import logging
import math
import operator
import sys
import time
import wave
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field

import av
import av.error

from bot.audio import probe_duration

log = logging.getLogger(__name__)

__all__ = [
    "DECODE_SECONDS",
    "Decoded",
    "Unreadable",
    "Window",
    "decode",
    "pcm",
    "seconds_text",
]

DECODE_SECONDS = 60.0  # wall time one recording may take to read (2 cores, shared)
MAX_DECODED_SECONDS = 4 * 3600.0  # a small file of a very low bitrate can hold days
LEVEL_RATE = 8000  # loudness is measured on a mono copy at this rate
LEVEL_WINDOW = 0.5  # seconds: the loudest stretch of this length decides "too quiet"
SEND_MAX_BYTES = int(9.5 * 1024 * 1024)  # under Discord's smallest upload limit (10 MiB)
# A part that fits as WAV is sent lossless: no encoder to run (LAME is most of the CPU a
# transcode costs, about 0.6 s a minute), at the price of a bigger upload.
WAV_MAX_BYTES = SEND_MAX_BYTES
MP3_SPEED = "7"  # LAME's -q: 7 costs a fifth less CPU than its default, at the same bitrate
# Containers whose last audio packet ends the file, but for tags: more after it is not theirs.
_TAIL_CHECKED = frozenset({"ogg", "flac", "wav"})
TAIL_SLACK = 64 * 1024  # an Ogg page, trailing tags
MP3_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
# Claimed and decoded lengths may differ by encoder padding and rounding, not by more.
TOLERANCE_SECONDS, TOLERANCE_SHARE = 1.5, 0.1
_SENT_AS_IS = {"mp3": {"mp3", "mp3float"}, "wav": {"pcm_s16le", "pcm_s24le", "pcm_s32le",
                                                   "pcm_u8", "pcm_f32le"}}  # fmt: skip
_NAMES = {  # FFmpeg's demuxer names as a member knows the formats
    "mp3": "MP3", "wav": "WAV", "ogg": "Ogg", "flac": "FLAC", "matroska,webm": "WebM",
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4/M4A", "aiff": "AIFF", "aac": "AAC",
}  # fmt: skip
_CODECS = {"opus": "Opus", "vorbis": "Vorbis", "aac": "AAC", "mp3float": "MP3", "mp3": "MP3",
           "flac": "FLAC", "alac": "ALAC"}  # fmt: skip


class Unreadable(Exception):
    """The file is not audio whose length matches what it claims; str() is the sentence."""


class _Needed(Exception):
    """Encoding was skipped on the header's word, but the part turns out to be needed."""


@dataclass(frozen=True, slots=True)
class Window:
    """The part of a take to use: from `start` seconds, `length` seconds (None: to the end)."""

    start: float = 0.0
    length: float | None = None

    @property
    def whole(self) -> bool:
        return self.start <= 0 and self.length is None


@dataclass(frozen=True, slots=True)
class Decoded:
    """What decoding found. `duration` is the whole file's; `used` the window's."""

    container: str  # a member's name for it: "MP3", "Ogg", "MP4/M4A"…
    codec: str  # the audio codec, as FFmpeg names it
    duration: float
    sample_rate: int
    channels: int
    used: float  # seconds inside the window
    loudest: float  # dBFS of the loudest LEVEL_WINDOW inside the window (-inf: silence)
    sent: bytes | None = field(repr=False)  # the window transcoded; None: the file as it is
    sent_kind: str | None  # "mp3" or "wav"
    sent_note: str | None  # what was sent, for the card's Details

    @property
    def described(self) -> str:
        """ "MP3", "Ogg (Opus)", "MP4/M4A (AAC)"…"""
        codec = "WAV" if self.codec.startswith("pcm_") else _CODECS.get(self.codec, self.codec)
        return self.container if self.container == codec else f"{self.container} ({codec})"


def seconds_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.3g} seconds"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d} hours"
    return f"{whole // 60}:{whole % 60:02d} minutes"


def decode(
    data: bytes,
    window: Window = Window(),  # noqa: B008 - frozen
    *,
    max_seconds: float = 480.0,
    deadline: float = DECODE_SECONDS,
) -> Decoded:
    """Decode `data` to its last frame; transcode the window when it cannot go as it is.

    Nothing is encoded past `max_seconds` of window (the caller refuses that anyway).
    Raises `Unreadable` with a member's sentence. Blocking: run it in a thread.
    """
    limit = time.monotonic() + deadline
    try:
        try:
            with av.open(io.BytesIO(data), "r") as container:
                return _Reader(container, window, max_seconds, limit, data).run()
        except _Needed:  # the header's length misled the guess: read it again, encoding
            with av.open(io.BytesIO(data), "r") as container:
                return _Reader(container, window, max_seconds, limit, data, guess=False).run()
    except Unreadable:
        raise
    except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
        log.info("could not decode a recording (%d bytes): %r", len(data), exc)
        raise Unreadable(NOT_AUDIO) from None


NOT_AUDIO = (
    "That file isn't a recording I can read: attach audio (MP3, WAV, OGG, FLAC, M4A…), "
    "a voice message or a video with sound."
)


def pcm(data: bytes, rate: int, max_seconds: float) -> tuple[bytes, int] | None:
    """`data` decoded as interleaved float32 samples (native byte order) at `rate`, cut at
    `max_seconds`, and its channel count (at most 2); None when it holds no audio. For the
    simulator's sandbox engine, which mixes the channels down itself (an average)."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.audio:
                return None
            channels = min(2, container.streams.audio[0].codec_context.channels or 1)
            layout = "mono" if channels == 1 else "stereo"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
            out = bytearray()
            limit = int(max_seconds * rate) * 4 * channels
            # Closed before the container: a demuxing generator left to the garbage
            # collector after its container closed crashes FFmpeg.
            with closing(_frames(container, time.monotonic() + DECODE_SECONDS)) as frames:
                for frame in frames:
                    for each in _resampled(resampler, frame):
                        out += _plane(each, 4)
                    if len(out) >= limit:
                        break
            for each in _resampled(resampler, None):
                out += _plane(each, 4)
            return (bytes(out[:limit]), channels) if out else None
    except (av.error.FFmpegError, ValueError, OSError, EOFError, Unreadable):
        return None


def _frames(
    container: av.container.InputContainer, deadline: float, end: list[int] | None = None
) -> Generator[av.AudioFrame, None, None]:
    """Every decodable frame of the first audio stream; damaged packets are skipped (the
    length check then sees what is missing). `end` keeps where the last packet ended."""
    stream = container.streams.audio[0]
    demuxed = container.demux(stream)
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            return  # what follows is not this stream: the length checks see what is missing
        if end is not None and packet.pos is not None and packet.pos >= 0:
            end[0] = max(end[0], packet.pos + packet.size)
        if time.monotonic() > deadline:
            raise Unreadable(
                "That recording takes too long to read; try a shorter or more common file."
            )
        try:
            frames = stream.decode(packet)
        except av.error.InvalidDataError:
            continue
        yield from frames


def _resampled(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
    if frame is not None:
        frame.pts = None  # positions are counted in samples: timestamps may lie too
    return resampler.resample(frame)


def _plane(frame: av.AudioFrame, width: int) -> bytes:
    """A packed frame's samples (the plane may be padded past them)."""
    return bytes(frame.planes[0])[: frame.samples * width * len(frame.layout.channels)]


class _Reader:
    def __init__(
        self,
        container: av.container.InputContainer,
        window: Window,
        max_seconds: float,
        deadline: float,
        data: bytes,
        *,
        guess: bool = True,
    ) -> None:
        if not container.streams.audio:
            raise Unreadable(NOT_AUDIO)
        self.container = container
        self.stream = stream = container.streams.audio[0]
        self.window = window
        self.max_seconds = max_seconds
        self.deadline = deadline
        self.format = container.format.name
        self.codec = stream.codec_context.name
        self.claimed = _claimed(container, stream)
        if self.format == "mp3":
            # FFmpeg sets aside a Xing/Info frame count that disagrees with the file's size
            # (and estimates from the bitrate): the header's own claim is the one to check.
            self.claimed = probe_duration(data) or self.claimed
        self.rate = stream.codec_context.sample_rate or 0
        self.channels = stream.codec_context.channels or 0
        self.as_is = self.codec in _SENT_AS_IS.get(self.format, ()) and window.whole
        self.level = _Level(window, max_seconds)
        self.out: _Output | None = None
        # A part the header says is far over the limit is refused anyway: not encoded.
        self.skip = guess and self.expected() > max_seconds * 1.2
        self.samples = 0  # decoded, at the source rate
        self.size = len(data)
        self.end = [0]  # where the last audio packet ended in the file

    def read(self, frames: Iterator[av.AudioFrame]) -> None:
        for frame in frames:
            if not self.rate:
                self.rate, self.channels = frame.sample_rate, len(frame.layout.channels)
            if frame.sample_rate != self.rate:
                continue  # a change of rate mid-stream: not a recording we trust
            if self.out is None and not self.as_is and not self.skip:
                self.out = _Output.start(self)
            self.samples += frame.samples
            self.level.add(frame)
            if self.out is not None:
                self.out.add(frame)
            if self.samples > MAX_DECODED_SECONDS * self.rate:
                raise Unreadable(
                    f"That recording is longer than {seconds_text(MAX_DECODED_SECONDS)}."
                )

    def run(self) -> Decoded:
        try:
            with closing(_frames(self.container, self.deadline, self.end)) as frames:
                self.read(frames)
            return self.result()
        finally:
            if self.out is not None:
                self.out.close()  # an output left to the garbage collector crashes FFmpeg

    def result(self) -> Decoded:
        duration = self.samples / self.rate if self.rate else 0.0
        name = _NAMES.get(self.format, self.format.upper())
        if duration <= 0:
            raise Unreadable(
                f"That file looks like {name} audio but none of it decodes as sound: it may "
                "be damaged, or not really a recording."
            )
        tail = self.size - self.end[0]
        if self.format in _TAIL_CHECKED and tail > TAIL_SLACK + self.size // 20:
            # A file cut off and followed by something else (an error page, say) can claim
            # exactly the audio it still holds: what follows the last packet gives it away.
            raise Unreadable(
                f"That {name} file has {tail // 1024} KB that aren't sound after its "
                f"{seconds_text(duration)} of audio: it was probably cut off. Upload it again."
            )
        self.check_claim(duration)
        used = max(0.0, min(duration, self.window.start + (self.window.length or math.inf))
                   - self.window.start)  # fmt: skip
        sent, kind, note = (None, None, None)
        if used > 0 and used <= self.max_seconds + TOLERANCE_SECONDS and not self.as_is:
            if self.out is None:
                raise _Needed
            sent, kind, note = self.out.finish()
        return Decoded(
            container=name,
            codec=self.codec,
            duration=duration,
            sample_rate=self.rate,
            channels=self.channels,
            used=used,
            loudest=self.level.finish(),
            sent=sent,
            sent_kind=kind,
            sent_note=note,
        )

    def expected(self) -> float:
        """The window's length by the header's claim (unknown: 0, nothing is skipped)."""
        if self.claimed is None:
            return 0.0
        return min(max(0.0, self.claimed - self.window.start), self.window.length or math.inf)

    def check_claim(self, duration: float) -> None:
        claimed = self.claimed
        if claimed is None or abs(duration - claimed) <= max(
            TOLERANCE_SECONDS, TOLERANCE_SHARE * claimed
        ):
            return
        if duration < claimed:
            raise Unreadable(
                f"That file says it is {seconds_text(claimed)} long but only "
                f"{seconds_text(duration)} of it is audio (the rest is damaged or not sound): "
                "export or upload it again."
            )
        raise Unreadable(
            f"That file says it is {seconds_text(claimed)} long but holds "
            f"{seconds_text(duration)} of audio: its header is wrong, so I won't send it. "
            "Export it again."
        )


def _claimed(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The length the file announces (its header, or FFmpeg's estimate from it)."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


class _Slicer:
    """Resamples the frames inside [start, end) seconds and hands on exactly those samples
    (packed bytes); frames well before the window are only counted, those after it skipped."""

    def __init__(self, fmt: str, layout: str, rate: int, start: float, end: float) -> None:
        self.resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        self.rate = rate
        self.width = (4 if fmt == "flt" else 2) * (1 if layout == "mono" else 2)
        self.first = start * rate
        self.end = end * rate
        self.position = 0.0  # samples at `rate` so far

    def cut(self, frame: av.AudioFrame | None) -> Iterator[bytes]:
        if frame is not None:
            if self.position >= self.end:
                return
            span = frame.samples * self.rate / frame.sample_rate
            if self.position + span < self.first - self.rate:  # a second ahead: not needed
                self.position += span
                return
        for out in _resampled(self.resampler, frame):
            raw = _plane(out, self.width)
            count = len(raw) // self.width
            begin, self.position = self.position, self.position + count
            low = max(0, round(self.first - begin))
            high = round(min(count, max(0.0, self.end - begin)))
            if low < high:
                yield raw[low * self.width : high * self.width]


class _Level:
    """The loudest LEVEL_WINDOW inside the window, in dBFS, from a mono copy at LEVEL_RATE."""

    def __init__(self, window: Window, max_seconds: float) -> None:
        end = window.start + min(window.length or math.inf, max_seconds + TOLERANCE_SECONDS)
        self.slicer = _Slicer("flt", "mono", LEVEL_RATE, window.start, end)
        self.size = round(LEVEL_WINDOW * LEVEL_RATE)
        self.pending = array.array("f")
        self.loudest = 0.0  # mean square

    def add(self, frame: av.AudioFrame | None) -> None:
        for part in self.slicer.cut(frame):
            self.pending.frombytes(part)
            while len(self.pending) >= self.size:
                self._measure(self.pending[: self.size])
                del self.pending[: self.size]

    def _measure(self, block: array.array[float]) -> None:
        if block:
            self.loudest = max(self.loudest, sum(map(operator.mul, block, block)) / len(block))

    def finish(self) -> float:
        self.add(None)
        self._measure(self.pending)
        return 10 * math.log10(self.loudest) if self.loudest > 0 else -math.inf


class _Output:
    """The window, transcoded as it is decoded: WAV when small, else MP3."""

    def __init__(self, reader: _Reader, rate: int, channels: int, expected: float | None) -> None:
        self.rate, self.channels = rate, channels
        layout = "mono" if channels == 1 else "stereo"
        window = reader.window
        length = min(window.length or math.inf, reader.max_seconds + TOLERANCE_SECONDS)
        self.slicer = _Slicer("s16", layout, rate, window.start, window.start + length)
        self.frame_bytes = 2 * channels
        pcm_bytes = expected * rate * self.frame_bytes if expected is not None else math.inf
        self.pcm: bytearray | None = bytearray() if pcm_bytes <= WAV_MAX_BYTES else None
        self.buffer = io.BytesIO()
        self.encoder: av.container.OutputContainer | None = None
        self.bitrate = 0
        if self.pcm is None:
            self.bitrate = _mp3_bitrate(channels, expected)
            self.encoder = av.open(self.buffer, "w", format="mp3")
            mp3 = self.encoder.add_stream(
                "libmp3lame", rate=rate, layout=layout, options={"compression_level": MP3_SPEED}
            )
            assert isinstance(mp3, av.AudioStream)
            self.mp3 = mp3
            self.mp3.bit_rate = self.bitrate

    @classmethod
    def start(cls, reader: _Reader) -> _Output:
        rate = min(reader.rate, 48000)
        rate = next((r for r in MP3_RATES if r <= rate), 8000)
        channels = 1 if reader.channels == 1 else 2
        expected = reader.expected() if reader.claimed is not None else None
        return cls(reader, rate, channels, expected)

    def add(self, frame: av.AudioFrame | None) -> None:
        for part in self.slicer.cut(frame):
            if self.pcm is not None:
                self.pcm += part
                if len(self.pcm) > WAV_MAX_BYTES * 2:  # the claim was wrong: refused later
                    self.pcm = bytearray()
            elif self.encoder is not None:
                self._encode(part, len(part) // self.frame_bytes)

    def _encode(self, part: bytes, count: int) -> None:
        assert self.encoder is not None
        frame = av.AudioFrame(
            format="s16", layout="mono" if self.channels == 1 else "stereo", samples=count
        )
        frame.planes[0].update(part)
        frame.sample_rate = self.rate
        for packet in self.mp3.encode(frame):
            self.encoder.mux(packet)

    def close(self) -> None:
        if self.encoder is not None:
            self.encoder.close()
            self.encoder = None

    def finish(self) -> tuple[bytes, str, str]:
        self.add(None)
        if self.pcm is not None:
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as writer:
                writer.setnchannels(self.channels)
                writer.setsampwidth(2)
                writer.setframerate(self.rate)
                pcm = self.pcm
                if sys.byteorder == "big":
                    swapped = array.array("h", pcm)
                    swapped.byteswap()
                    pcm = bytearray(swapped.tobytes())
                writer.writeframes(pcm)
            shape = "mono" if self.channels == 1 else "stereo"
            return buffer.getvalue(), "wav", f"WAV, 16-bit {shape}, {self.rate / 1000:g} kHz"
        assert self.encoder is not None
        for packet in self.mp3.encode(None):
            self.encoder.mux(packet)
        self.close()
        shape = "mono" if self.channels == 1 else "stereo"
        return self.buffer.getvalue(), "mp3", f"MP3, {self.bitrate // 1000} kbps {shape}"


def _mp3_bitrate(channels: int, expected: float | None) -> int:
    """192 kbps stereo (128 mono), lower when that would not fit `SEND_MAX_BYTES`."""
    seconds = expected if expected is not None else 480.0
    choices = (128_000, 96_000, 64_000) if channels == 1 else (192_000, 160_000, 128_000)
    return next((b for b in choices if b * seconds / 8 <= SEND_MAX_BYTES), choices[-1])
