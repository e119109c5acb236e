"""bot/media.py: recordings decoded to their last frame, trimmed and transcoded.

Every file is made by an encoder in the session (tests/support/recordings.py), never
downloaded. What the bot sends is decoded again here, as the music API would read it.
"""

from __future__ import annotations

import array
import math

import pytest

from bot import media
from bot.media import Unreadable, Window, decode, pcm
from simulator.media import make_wav
from tests.support.recordings import Takes


def sent_as(data: bytes) -> media.Decoded:
    """What the API reads from a part the bot sends: a documented format, as it is."""
    decoded = decode(data)
    assert decoded.sent is None, "a documented format is sent as it is"
    assert decoded.container in ("MP3", "WAV")
    return decoded


@pytest.mark.parametrize(
    ("name", "described"),
    [
        ("voice", "Ogg (Opus)"),
        ("m4a", "MP4/M4A (AAC)"),
        ("mp4", "MP4/M4A (AAC)"),
        ("flac", "FLAC"),
        ("webm", "WebM (Opus)"),
    ],
)
def test_undocumented_formats_are_sent_as_wav_of_the_same_length(
    takes: Takes, name: str, described: str
) -> None:
    decoded = decode(getattr(takes, name))
    assert decoded.described == described
    assert decoded.duration == pytest.approx(6.0, abs=0.1)
    assert (decoded.sample_rate, decoded.channels) == (48000, 1)
    assert decoded.sent is not None and decoded.sent_kind == "wav"
    assert decoded.sent_note == "WAV, 16-bit mono, 48 kHz"
    again = sent_as(decoded.sent)
    assert again.container == "WAV"
    assert again.duration == pytest.approx(decoded.duration, abs=0.01)
    assert again.loudest == pytest.approx(decoded.loudest, abs=1.0)


def test_a_longer_take_is_sent_as_mp3(takes: Takes) -> None:
    decoded = decode(takes.long_voice)
    assert decoded.duration == pytest.approx(110.0, abs=0.1)
    assert decoded.sent is not None and decoded.sent_kind == "mp3"
    assert decoded.sent_note == "MP3, 128 kbps mono"
    again = sent_as(decoded.sent)
    assert again.container == "MP3"
    assert again.duration == pytest.approx(110.0, abs=0.1)


def test_mp3_and_wav_go_as_they_are(takes: Takes) -> None:
    for data, container in ((takes.mp3, "MP3"), (make_wav(4.0), "WAV")):
        decoded = decode(data)
        assert (decoded.container, decoded.sent) == (container, None)


def test_a_part_of_an_hour_is_cut_exactly(takes: Takes) -> None:
    whole = decode(takes.hour_mp3)  # honest: no claim to check against but its own frames
    assert whole.duration == pytest.approx(3654.7, abs=1.0) and whole.sent is None
    part = decode(takes.hour_mp3, Window(600.0, 30.0))
    assert part.duration == whole.duration and part.used == 30.0
    assert part.sent is not None
    assert sent_as(part.sent).duration == pytest.approx(30.0, abs=0.01)
    # The end of the take: whatever is left after the start.
    tail = decode(takes.hour_mp3, Window(whole.duration - 10.0))
    assert tail.used == pytest.approx(10.0, abs=0.01)
    assert tail.sent is not None
    assert sent_as(tail.sent).duration == pytest.approx(10.0, abs=0.01)


def test_nothing_is_encoded_past_the_limit(takes: Takes) -> None:
    decoded = decode(takes.hour_mp3, Window(0.0, 3000.0), max_seconds=60.0)
    assert decoded.used == 3000.0 and decoded.sent is None  # the caller refuses it


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("lying_xing", "That file says it is 14.2 seconds long but holds 1:00:55 hours of audio"),
        ("flac_html", "That file looks like FLAC audio but none of it decodes as sound"),
        ("mp3_frames_html", "That file isn't a recording I can read"),
        ("m4a_html", "That file looks like MP4/M4A audio but none of it decodes as sound"),
    ],
)
def test_files_that_lie_are_refused(takes: Takes, name: str, sentence: str) -> None:
    with pytest.raises(Unreadable) as refused:
        decode(getattr(takes, name))
    assert str(refused.value).startswith(sentence)


def test_a_cut_off_file_is_refused(takes: Takes) -> None:
    cut = takes.flac[: len(takes.flac) // 2]
    with pytest.raises(Unreadable, match="says it is 6 seconds long but only 2"):
        decode(cut)
    with pytest.raises(Unreadable, match="KB that aren't sound after"):
        decode(takes.long_voice[: len(takes.long_voice) // 2] + b"<html>" * 20_000)


def test_loudness_is_measured(takes: Takes) -> None:
    assert decode(takes.voice).loudest == pytest.approx(-18.2, abs=1.0)
    assert decode(takes.quiet).loudest < -70
    assert decode(make_wav(4.0, amplitude=0.0)).loudest == -math.inf


def test_reading_is_bounded_in_time(takes: Takes) -> None:
    with pytest.raises(Unreadable, match="takes too long to read"):
        decode(takes.hour_mp3, deadline=0.0)


@pytest.mark.parametrize("data", [b"", b"not audio at all" * 100, make_wav(1.0)[:44]])
def test_not_audio(data: bytes) -> None:
    with pytest.raises(Unreadable):
        decode(data)


def test_pcm_for_the_sandbox(takes: Takes) -> None:
    decoded = pcm(takes.m4a, 22050, max_seconds=2.0)
    assert decoded is not None and decoded[1] == 1
    samples = array.array("f", decoded[0])
    assert len(samples) == 2 * 22050
    assert 0.05 < max(samples) < 0.5
    assert pcm(b"not audio" * 100, 22050, 2.0) is None
