"""The generated test media: real, decodable WAV audio and PNG cover art."""

from __future__ import annotations

import struct
import time
import zlib

import pytest

from bot.audio import probe_duration
from simulator.media import forget_tones, make_png, make_wav, wav_duration


def test_make_wav_structure():
    data = make_wav(0.5, sample_rate=16000)
    riff, size, wave, fmt, _, pcm, channels, rate, _, align, bits = struct.unpack_from(
        "<4sI4s4sIHHIIHH", data
    )
    assert (riff, wave, fmt) == (b"RIFF", b"WAVE", b"fmt ")
    assert size == len(data) - 8
    assert (pcm, channels, rate, align, bits) == (1, 1, 16000, 2, 16)
    assert data[36:40] == b"data"
    assert struct.unpack_from("<I", data, 40)[0] == 8000 * 2


def test_make_wav_is_not_silent():
    samples = struct.unpack_from("<1000h", make_wav(1.0), 44 + 2000 * 2)
    assert max(samples) > 3000 and min(samples) < -3000


def test_a_wav_built_from_scratch_is_the_cached_one():
    cached = make_wav(1.5)
    forget_tones()
    assert make_wav(1.5) == cached


def test_make_wav_pad_to_bytes():
    pad = 12 * 1024 * 1024
    data = make_wav(1.0, pad_to_bytes=pad)
    assert len(data) >= pad
    assert len(data) - pad < 4  # lengthened by samples, not overshooting
    assert probe_duration(data) == pytest.approx(wav_duration(1.0, pad_to_bytes=pad), abs=0.001)


def test_pad_smaller_than_audio_changes_nothing():
    assert make_wav(1.0, pad_to_bytes=100) == make_wav(1.0)


def test_make_wav_is_fast():
    timings = []
    for root in (196.0, 207.65, 233.08):  # a new chord each time: no cached tone table
        started = time.perf_counter()
        make_wav(10.0, freqs=(root, root * 1.26, root * 1.5))
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.1  # best of three, so a busy machine does not flake


def test_make_png_is_valid():
    data = make_png(8, 4, (10, 20, 30))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[b"IHDR"]) == (8, 4, 8, 2, 0, 0, 0)
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == 4 * (1 + 8 * 3)
    assert rows[1:4] == bytes((10, 20, 30))
