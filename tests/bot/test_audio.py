"""Content sniffing, inspection and duration probing."""

from __future__ import annotations

import struct

import pytest

from bot.audio import inspect_audio, probe_duration, sniff_audio
from simulator.media import make_wav

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


# -- inspect_audio: sure it is audio, not just a header -----------------------------------


def mpeg_frames(count: int, header: bytes = b"\xff\xfb\x90\x64", length: int = 417) -> bytes:
    """``count`` frames: MPEG-1 Layer III, 128 kbps, 44.1 kHz is 417 bytes without padding."""
    return (header + b"\x00" * (length - 4)) * count


ID3_TAG = b"ID3\x04\x00\x00\x00\x00\x00\x14" + b"TIT2\x00\x00\x00\x0a\x00\x00\x03take one\x00"


def ebml(element: int, payload: bytes) -> bytes:
    """One EBML element, its size as an 8-byte variable-size integer."""
    tag = element.to_bytes((element.bit_length() + 7) // 8, "big")
    return tag + (0x01 << 56 | len(payload)).to_bytes(8, "big") + payload


def webm(doctype: bytes = b"webm", track_type: int = 2, cluster: bool = True) -> bytes:
    header = ebml(0x1A45DFA3, ebml(0x4286, b"\x01") + ebml(0x4282, doctype))
    scale = ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big"))  # nanoseconds per tick
    info = ebml(0x1549A966, scale + ebml(0x4489, struct.pack(">d", 2500.0)))
    fields = ebml(0xD7, b"\x01") + ebml(0x83, bytes([track_type])) + ebml(0x86, b"A_OPUS")
    body = info + ebml(0x1654AE6B, ebml(0xAE, fields))
    if cluster:
        block = ebml(0xA3, b"\x81\x00\x00\x80" + b"\x01" * 40)
        body += ebml(0x1F43B675, ebml(0xE7, b"\x00") + block)
    # A live recording's segment has an unknown size (all ones), as MediaRecorder writes it.
    return header + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + body


def test_inspect_generated_wav():
    info = inspect_audio(make_wav(2.0))
    assert info is not None and info.kind == "wav"
    assert info.duration == pytest.approx(2.0, abs=0.001)


def test_inspect_wav_counts_only_the_samples_present():
    data = make_wav(2.0)
    assert inspect_audio(data[:44]) is None  # a header promising 2 s, no samples
    half = inspect_audio(data[: len(data) // 2])
    assert half is not None and half.duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("tagged", [True, False], ids=["id3", "bare"])
def test_inspect_real_mp3_frames(tagged: bool):
    data = (ID3_TAG if tagged else b"") + mpeg_frames(40)
    info = inspect_audio(data)
    assert info is not None and info.kind == "mp3"
    assert info.duration == pytest.approx(40 * 1152 / 44100, rel=0.05)


def test_inspect_mpeg2_frames_and_padding():
    # MPEG-2 Layer III, 64 kbps, 22.05 kHz: 72 * 64000 // 22050 = 208 bytes (+1 padded).
    padded = b"\xff\xf3\x82\x64" + b"\x00" * 205
    plain = b"\xff\xf3\x80\x64" + b"\x00" * 204
    assert inspect_audio(padded + plain + padded)
    assert inspect_audio(plain + padded + plain).kind == "mp3"


@pytest.mark.parametrize(
    "data",
    [
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"<!doctype html><p>Sign in</p>" * 100,
        ID3_TAG + mpeg_frames(1),  # one frame: nothing confirms it
        ID3_TAG + mpeg_frames(1) + b"<html>" * 200,
        ID3_TAG + (b"\xff\xfb\x90\x64" + b"\x00" * 300) * 5,  # headers at the wrong distance
        ID3_TAG + mpeg_frames(1) + mpeg_frames(1, b"\xff\xfb\x94\x64", 384),  # 44.1 then 48 kHz
        *(head + b"<html><body>garbage</body></html>" * 30 for head in HEADERS.values()),
        b"",
        b"RIFF",
    ],
    ids=lambda data: repr(data[:12]),
)
def test_inspect_refuses_non_audio(data: bytes):
    assert inspect_audio(data) is None


def test_id3_then_html_still_sniffs_as_mp3_but_is_refused():
    data = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"<html><body>login</body></html>" * 50
    assert sniff_audio(data[:64]) == "mp3"
    assert inspect_audio(data) is None


def test_inspect_minimal_webm():
    data = webm()
    assert sniff_audio(data[:64]) == "webm"
    info = inspect_audio(data)
    assert info is not None and info.kind == "webm"
    assert info.duration == pytest.approx(2.5)
    assert inspect_audio(webm(doctype=b"matroska")) is not None


@pytest.mark.parametrize(
    "data",
    [
        webm(track_type=1),  # video only
        webm(doctype=b"html"),
        webm(cluster=False),  # tracks but no media data
        webm()[:60],  # cut inside the header or tracks
        b"\x1a\x45\xdf\xa3" + b"\xff" * 200,
        HEADERS["webm"],
    ],
    ids=["video-only", "doctype", "no-cluster", "truncated", "garbage", "header-only"],
)
def test_inspect_refuses_webm_without_audio(data: bytes):
    assert inspect_audio(data) is None
