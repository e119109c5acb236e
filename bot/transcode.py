"""The part of a recording that is used, streamed as it is decoded: cut to the sample,
measured for loudness, and transcoded (WAV when small, else MP3) for the bot to post.

Helpers of `bot.media`'s reader, fed one decoded frame at a time: no decoded take is ever
held whole, only what is sent. No Discord and no numpy here.
"""

from __future__ import annotations

import array
import io
import math
import operator
import sys
import wave
from collections.abc import Iterator

import av

LEVEL_RATE = 8000  # loudness is measured on a mono copy at this rate
LEVEL_WINDOW = 0.5  # seconds: the loudest stretch of this length decides "too quiet"
SEND_MAX_BYTES = int(9.5 * 1024 * 1024)  # under Discord's smallest upload limit (10 MiB)
# A part that fits as WAV is sent lossless: no encoder to run (LAME is most of the CPU a
# transcode costs, about 0.5 s a minute), at the price of a bigger upload.
WAV_MAX_BYTES = SEND_MAX_BYTES
MP3_SPEED = "7"  # LAME's -q: 7 costs a fifth less CPU than its default, at the same bitrate
MP3_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def resampled(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
    if frame is not None:
        frame.pts = None  # positions are counted in samples: timestamps may lie too
    return resampler.resample(frame)


def plane(frame: av.AudioFrame, width: int) -> bytes:
    """A packed frame's samples (the plane may be padded past them)."""
    return bytes(frame.planes[0])[: frame.samples * width * len(frame.layout.channels)]


class Slicer:
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
        for out in resampled(self.resampler, frame):
            raw = plane(out, self.width)
            count = len(raw) // self.width
            begin, self.position = self.position, self.position + count
            low = max(0, round(self.first - begin))
            high = round(min(count, max(0.0, self.end - begin)))
            if low < high:
                yield raw[low * self.width : high * self.width]


class Level:
    """The loudest LEVEL_WINDOW inside the window, in dBFS, from a mono copy at LEVEL_RATE."""

    def __init__(self, start: float, end: float) -> None:
        self.slicer = Slicer("flt", "mono", LEVEL_RATE, start, end)
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


class Output:
    """The window, transcoded as it is decoded: WAV when small, else MP3."""

    def __init__(
        self, rate: int, channels: int, start: float, end: float, expected: float | None
    ) -> None:
        self.rate, self.channels = rate, channels
        layout = "mono" if channels == 1 else "stereo"
        self.slicer = Slicer("s16", layout, rate, start, end)
        self.frame_bytes = 2 * channels
        pcm_bytes = expected * rate * self.frame_bytes if expected is not None else math.inf
        self.pcm: bytearray | None = bytearray() if pcm_bytes <= WAV_MAX_BYTES else None
        self.buffer = io.BytesIO()
        self.encoder: av.container.OutputContainer | None = None
        self.bitrate = 0
        if self.pcm is None:
            self.bitrate = mp3_bitrate(channels, expected)
            self.encoder = av.open(self.buffer, "w", format="mp3")
            mp3 = self.encoder.add_stream(
                "libmp3lame", rate=rate, layout=layout, options={"compression_level": MP3_SPEED}
            )
            assert isinstance(mp3, av.AudioStream)
            self.mp3 = mp3
            self.mp3.bit_rate = self.bitrate

    @classmethod
    def of(
        cls, rate: int, channels: int, start: float, end: float, expected: float | None
    ) -> Output:
        """For a source of `rate` and `channels`: the nearest MP3 rate at or below it (48 kHz
        at most), mono or stereo; `expected` seconds (None: unknown) choose WAV or MP3."""
        rate = next((r for r in MP3_RATES if r <= min(rate, 48000)), 8000)
        return cls(rate, 1 if channels == 1 else 2, start, end, expected)

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


def mp3_bitrate(channels: int, expected: float | None) -> int:
    """192 kbps stereo (128 mono), lower when that would not fit `SEND_MAX_BYTES`."""
    seconds = expected if expected is not None else 480.0
    choices = (128_000, 96_000, 64_000) if channels == 1 else (192_000, 160_000, 128_000)
    return next((b for b in choices if b * seconds / 8 <= SEND_MAX_BYTES), choices[-1])
