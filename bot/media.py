"""Recordings read to their last frame with FFmpeg's decoders (PyAV), trimmed and transcoded.

A header can say anything: an MP3's Xing frame count, a FLAC's STREAMINFO, an M4A's
sample table may all promise audio that is not there, or hide an hour behind "14 s". So
the true length, sample rate and channels come from decoding every frame, and a file whose
decoded length does not match what it claims is refused (`Unreadable`, with a sentence a
member can act on). What the music API documents (MP3, WAV) is sent as it is; anything
else (a voice message's Ogg Opus, M4A/AAC, FLAC, a video's sound), and any trimmed part
of a take, is transcoded: WAV when small, else MP3 at a good bitrate that still fits
Discord's smallest upload limit, so the bot can post it and hand its URL to the API.

Plain blocking code for a worker thread (`asyncio.to_thread`): the event loop lags no more
than with the same decode in another process (`bench/bench_decode.py`). It is bounded:
`DECODE_SECONDS` of wall time, `MAX_DECODED_SECONDS` of audio, and memory by the output
only (the input is in memory already; decoded samples are streamed through
`bot.transcode`, never held). No Discord and no numpy here.
"""

from __future__ import annotations

import io
import logging
import math
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field

import av
import av.error

from bot.audio import probe_duration
from bot.transcode import Level, Output, plane, resampled

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
# Containers whose last audio packet ends the file, but for tags: more after it is not theirs.
_TAIL_CHECKED = frozenset({"ogg", "flac", "wav"})
TAIL_SLACK = 64 * 1024  # an Ogg page, trailing tags
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
    loudest: float  # dBFS of the loudest half second inside the window (-inf: silence)
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
                    for each in resampled(resampler, frame):
                        out += plane(each, 4)
                    if len(out) >= limit:
                        break
            for each in resampled(resampler, None):
                out += plane(each, 4)
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
        # The part used: the window, never more than the limit (beyond it, it is refused).
        self.start = window.start
        self.end = window.start + min(window.length or math.inf, max_seconds + TOLERANCE_SECONDS)
        self.level = Level(self.start, self.end)
        self.out: Output | None = None
        # A part the header says is far over the limit is refused anyway: not encoded.
        self.skip = guess and self.expected() > max_seconds * 1.2
        self.samples = 0  # decoded, at the source rate
        self.size = len(data)
        self.last_byte = [0]  # where the last audio packet ended in the file

    def read(self, frames: Iterator[av.AudioFrame]) -> None:
        for frame in frames:
            if not self.rate:
                self.rate, self.channels = frame.sample_rate, len(frame.layout.channels)
            if frame.sample_rate != self.rate:
                continue  # a change of rate mid-stream: not a recording we trust
            if self.out is None and not self.as_is and not self.skip:
                expected = self.expected() if self.claimed is not None else None
                self.out = Output.of(self.rate, self.channels, self.start, self.end, expected)
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
            with closing(_frames(self.container, self.deadline, self.last_byte)) as frames:
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
        tail = self.size - self.last_byte[0]
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
