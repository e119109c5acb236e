"""Demo recordings for the playground, made by code (nothing is downloaded): short sung-like
melodies, so a visitor without a recording of their own can try the bot at once."""

from __future__ import annotations

import io
import math
import wave
from array import array

RATE = 22050

# (name, tempo in BPM, notes as (MIDI pitch or None for a rest, beats))
DEMOS: tuple[tuple[str, float, tuple[tuple[int | None, float], ...]], ...] = (
    (
        "hummed-melody-c-major-96bpm.wav",
        96.0,
        (
            (60, 1),
            (62, 1),
            (64, 2),
            (67, 1),
            (65, 1),
            (64, 2),
            (62, 1),
            (60, 1),
            (62, 2),
            (64, 1),
            (62, 1),
            (60, 2),
            (None, 1),
            (67, 1),
            (69, 1),
            (67, 1),
        ),
    ),
    (
        "whistled-riff-a-minor-120bpm.wav",
        120.0,
        (
            (69, 0.5),
            (72, 0.5),
            (76, 1),
            (74, 0.5),
            (72, 0.5),
            (71, 1),
            (69, 1),
            (None, 1),
            (69, 0.5),
            (72, 0.5),
            (76, 1),
            (79, 1),
            (76, 1),
            (74, 1),
            (72, 2),
            (71, 1),
            (69, 2),
        ),
    ),
)


def voice(pitch: int, seconds: float, *, rate: int = RATE) -> array[int]:
    """One sung note: a fundamental with a few harmonics, vibrato and a soft envelope."""
    freq = 440.0 * 2 ** ((pitch - 69) / 12)
    frames = int(seconds * rate)
    out = array("h")
    attack, release = int(0.04 * rate), int(0.08 * rate)
    phase = 0.0
    for n in range(frames):
        t = n / rate
        vibrato = 1 + 0.006 * math.sin(2 * math.pi * 5.5 * t)
        phase += 2 * math.pi * freq * vibrato / rate
        sample = math.sin(phase) + 0.35 * math.sin(2 * phase) + 0.15 * math.sin(3 * phase)
        envelope = min(
            1.0, n / attack if attack else 1.0, (frames - n) / release if release else 1.0
        )
        out.append(int(9000 * envelope * sample))
    return out


def render(tempo: float, notes: tuple[tuple[int | None, float], ...], *, rate: int = RATE) -> bytes:
    beat = 60.0 / tempo
    pcm = array("h")
    for pitch, beats in notes:
        if pitch is None:
            pcm.extend(array("h", bytes(2 * int(beats * beat * rate))))
        else:
            pcm.extend(voice(pitch, beats * beat, rate=rate))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def demo_recordings() -> list[tuple[str, bytes]]:
    """(file name, WAV bytes) for each demo."""
    return [(name, render(tempo, notes)) for name, tempo, notes in DEMOS]
