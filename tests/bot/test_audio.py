"""Content sniffing, duration probing and the generated test media."""

from __future__ import annotations

import struct
import time
import zlib

import pytest

from bot.audio import make_png, make_wav, probe_duration, sniff_audio, wav_duration

# Minimal but realistic headers for the containers we do not generate ourselves.
HEADERS = {
    "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x21TIT2" + b"\x00" * 50,
    "ogg": b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 30,
    "flac": b"fLaC\x00\x00\x00\x22" + b"\x00" * 56,
    "m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A isommp42" + b"\x00" * 36,
    "mp4": b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41" + b"\x00" * 36,
    "webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm" + b"\x00" * 40,
    "aiff": b"FORM\x00\x01\x00\x00AIFFCOMM\x00\x00\x00\x12" + b"\x00" * 40,
}
# MPEG-1 Layer III, 128 kbps, 44.1 kHz frame headers (with and without CRC).
MPEG_FRAMES = [b"\xff\xfb\x90\x64", b"\xff\xfa\x90\x64", b"\xff\xf3\x90\x64"]


@pytest.mark.parametrize(("kind", "head"), sorted(HEADERS.items()))
def test_sniff_known_headers(kind, head):
    assert sniff_audio(head) == kind


def test_sniff_generated_wav():
    assert sniff_audio(make_wav(0.1)[:64]) == "wav"


def test_sniff_aifc():
    assert sniff_audio(b"FORM\x00\x00\x10\x00AIFCFVER" + b"\x00" * 20) == "aiff"


@pytest.mark.parametrize("head", MPEG_FRAMES)
def test_sniff_bare_mpeg_frames(head):
    assert sniff_audio(head + b"\x00" * 60) == "mp3"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00" * 64,
        b"hello, this is plain text and not audio at all " * 2,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 56,
        b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 50,  # JPEG
        b"%PDF-1.7\n" + b"\x00" * 55,
        b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 48,  # RIFF but not WAVE
        b"\xff\xf1\x50\x80" + b"\x00" * 60,  # AAC ADTS: layer bits 00
        b"\xff\xfb\xf0\x64" + b"\x00" * 60,  # bad bitrate index
        b"\xff\xfb\x9c\x64" + b"\x00" * 60,  # reserved sample rate
        b"\xff\xeb\x90\x64" + b"\x00" * 60,  # reserved MPEG version
        b"\x00\x00\x00\x20ftypheic" + b"\x00" * 52,  # HEIF image
        b"PK\x03\x04" + b"\x00" * 60,  # zip
    ],
)
def test_sniff_rejects_non_audio(head):
    assert sniff_audio(head) is None


def test_probe_duration_of_generated_wav():
    assert probe_duration(make_wav(3.0)) == pytest.approx(3.0, abs=0.001)


def test_probe_duration_other_sample_rate():
    assert probe_duration(make_wav(1.5, sample_rate=8000)) == pytest.approx(1.5, abs=0.001)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage" * 100,
        make_wav(1.0)[:30],  # truncated header
        b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\xff" * 40,
        *HEADERS.values(),  # headers alone carry no decodable stream
        MPEG_FRAMES[0],
    ],
)
def test_probe_duration_bad_input_is_none(data):
    assert probe_duration(data) is None


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
