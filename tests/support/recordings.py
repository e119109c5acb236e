"""Real recordings made by an encoder (FFmpeg through PyAV), never downloaded: what members
really attach (voice messages, phone takes, videos) and files that lie about themselves.

The sound is a soft chord from FFmpeg's `aevalsrc` source, so every file is loud enough to
pass the bot's silence check unless a test asks for a quiet one.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av

CHORD = "sin(2*PI*220*t)+sin(2*PI*277.18*t)+sin(2*PI*329.63*t)"
HTML = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    + b"<p>Checking your browser before accessing the site.</p>" * 400
    + b"</body></html>"
)


def sound(seconds: float, rate: int, *, amplitude: float = 0.1) -> Iterator[av.AudioFrame]:
    """`seconds` of the chord, mono, as FFmpeg's own source makes it."""
    source = f"aevalsrc={amplitude}*({CHORD}):d={seconds}:s={rate}"
    with av.open(source, format="lavfi") as container:
        for frame in container.decode(audio=0):
            frame.pts = None
            yield frame


def encode(
    fmt: str,
    codec: str,
    seconds: float,
    *,
    rate: int = 48000,
    bit_rate: int | None = None,
    amplitude: float = 0.1,
    video: str | None = None,
    options: dict[str, str] | None = None,
) -> bytes:
    """A file in container `fmt` with one `codec` audio track (and a tiny `video` track)."""
    with tempfile.TemporaryDirectory() as folder:  # MP4's faststart rewrites its file
        path = Path(folder) / "take"
        _encode(path, fmt, codec, seconds, rate, bit_rate, amplitude, video, options)
        return path.read_bytes()


def _encode(
    path: Path,
    fmt: str,
    codec: str,
    seconds: float,
    rate: int,
    bit_rate: int | None,
    amplitude: float,
    video: str | None,
    options: dict[str, str] | None,
) -> None:
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        picture = None
        if video is not None:
            picture = container.add_stream(video, rate=10)
            assert isinstance(picture, av.VideoStream)
            picture.width, picture.height, picture.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(audio, av.AudioStream)
        if bit_rate is not None:
            audio.bit_rate = bit_rate
        for frame in sound(seconds, rate, amplitude=amplitude):
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
        if picture is not None:
            for index in range(round(seconds * 10)):
                image = av.VideoFrame(64, 64, "yuv420p")
                image.pts = index
                for packet in picture.encode(image):
                    container.mux(packet)
            for packet in picture.encode(None):
                container.mux(packet)


def audio_start(data: bytes) -> int:
    """Where the first audio packet starts: everything before it is header."""
    with av.open(io.BytesIO(data)) as container:
        for packet in container.demux(audio=0):
            if packet.size and packet.pos is not None:
                return int(packet.pos)
    raise AssertionError("no audio packet")


def mp3_frames(data: bytes) -> list[bytes]:
    """The MPEG audio frames of an MP3 file (no ID3 tag, no Xing frame)."""
    with av.open(io.BytesIO(data)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


@dataclass(frozen=True)
class Takes:
    """The session's recordings, made once (see the `takes` fixture)."""

    voice: bytes  # Ogg Opus, as Discord records voice messages
    long_voice: bytes  # 110 s of it: too big for WAV under Discord's upload limit: MP3
    m4a: bytes  # a phone's voice memo: AAC in M4A
    mp4: bytes  # a phone video: a picture track and AAC sound
    flac: bytes
    webm: bytes  # Opus in WebM, as browsers record
    mp3: bytes
    quiet: bytes  # a whisper far below any voice (-70 dBFS)
    lying_xing: bytes  # a Xing header claiming 14 s over an hour of frames
    flac_html: bytes  # a FLAC header, then an HTML page
    mp3_frames_html: bytes  # two MP3 frames, then an HTML page
    m4a_html: bytes  # an M4A header (its sample table too), then an HTML page
    hour_mp3: bytes  # an honest hour of MP3 (8 kHz, 8 kbps)


def make_takes() -> Takes:
    low = {"rate": 8000, "bit_rate": 8000}
    ten = encode("mp3", "libmp3lame", 10, **low)  # type: ignore[arg-type]
    frames = mp3_frames(ten)  # the first frame never borrows: repeating them is valid MP3
    hour = b"".join(frames) * 360
    claims_14 = encode("mp3", "libmp3lame", 14, **low)  # type: ignore[arg-type]
    flac = encode("flac", "flac", 6)
    m4a = encode("ipod", "aac", 6, options={"movflags": "+faststart"})
    return Takes(
        voice=encode("ogg", "libopus", 6, bit_rate=32000),
        long_voice=encode("ogg", "libopus", 110, bit_rate=32000),
        m4a=m4a,
        mp4=encode("mp4", "aac", 6, video="mpeg4"),
        flac=flac,
        webm=encode("webm", "libopus", 6),
        mp3=encode("mp3", "libmp3lame", 6, bit_rate=128000),
        quiet=encode("ogg", "libopus", 6, amplitude=0.0001),
        lying_xing=claims_14[: audio_start(claims_14)] + hour,
        flac_html=flac[: audio_start(flac)] + HTML,
        mp3_frames_html=b"".join(frames[:2]) + HTML,
        m4a_html=m4a[: audio_start(m4a)] + HTML,
        hour_mp3=hour,
    )
