"""The sandbox engine: decoding, tempo and key, the rendered accompaniment, and the
simulator serving it as a task's result tracks."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from bot.audio import probe_duration, sniff_audio
from simulator import Simulator, SimulatorConfig, sandbox
from simulator.__main__ import build_config, parse_args
from simulator.media import make_wav
from tests.support.servers import serve
from tests.support.waiting import wait_until

RATE = sandbox.RATE
API = "/api/v1/generate"
FAST = {"text_delay": 0.1, "first_delay": 0.2, "complete_delay": 0.3, "audio_seconds": 1.0}

# ------------------------------------------------------------------ generated inputs


def clicks(bpm: float, seconds: float, *, offset: float = 0.0, rate: int = RATE) -> np.ndarray:
    """A click track: a 5 ms-decay 1 kHz blip on every beat."""
    out = np.zeros(int(seconds * rate), np.float32)
    t = np.arange(int(0.03 * rate)) / rate
    blip = (0.8 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.005)).astype(np.float32)
    beat = offset
    while (start := round(beat * rate)) < out.size:
        end = min(out.size, start + blip.size)
        out[start:end] += blip[: end - start]
        beat += 60.0 / bpm
    return out


def tones(notes: Sequence[int], seconds: float = 0.4, rate: int = RATE) -> np.ndarray:
    """A melody: each MIDI note a plucked tone with a few harmonics."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / 1.0)
    parts = []
    for note in notes:
        freq = 440.0 * 2 ** ((note - 69) / 12)
        parts.append(sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3)) * envelope)
    return (0.3 * np.concatenate(parts)).astype(np.float32)


def song(bpm: float, seconds: float, rate: int = RATE) -> np.ndarray:
    """A singer over a click: an A minor tune on the beat, clicks under it."""
    beat = 60.0 / bpm
    tune = np.resize(tones([57, 60, 64, 69, 67, 64, 62, 60], beat, rate), int(seconds * rate))
    return (tune + 0.5 * clicks(bpm, seconds, rate=rate)).astype(np.float32)


def to_wav(samples: np.ndarray, *, rate: int = RATE, channels: int = 1, width: int = 2) -> bytes:
    """``samples`` (mono, [-1, 1]) as a WAV of the given layout."""
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if width == 1:
        raw = np.clip(frames * 127 + 128, 0, 255).astype(np.uint8).tobytes()
    elif width == 4:
        raw = np.clip(frames * (2**31 - 1), -(2**31), 2**31 - 1).astype("<i4").tobytes()
    elif width == 3:
        ints = np.clip(frames * (2**23 - 1), -(2**23), 2**23 - 1).astype("<i4")
        raw = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = np.clip(frames * 32767, -32768, 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(raw)
    return buffer.getvalue()


def wav_seconds(data: bytes) -> tuple[float, int]:
    """(duration, sample rate) read back with the stdlib: proof it is a real WAV."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        assert reader.getsampwidth() == 2 and reader.getnchannels() in (1, 2)
        return reader.getnframes() / reader.getframerate(), reader.getframerate()


def bar_seconds(bpm: float) -> float:
    return 4 * 60.0 / bpm


# ------------------------------------------------------------------ (a) valid audio, length


@pytest.mark.parametrize("tags", ["pop, upbeat", "lofi", "electronic", "piano ballad", "jazz"])
def test_track_is_wav_as_long_as_the_input(tags):
    source = song(96, 9.3, rate=44100)
    data = to_wav(source, rate=44100, channels=2)
    tracks = sandbox.accompany(data, tags, [1, 2])
    assert tracks is not None and len(tracks) == 2
    for track in tracks:
        assert sniff_audio(track[:64]) == "wav"
        seconds, rate = wav_seconds(track)
        assert rate == RATE
        assert abs(seconds - 9.3) <= bar_seconds(96)  # the contract: within one bar ...
        assert seconds == pytest.approx(9.3, abs=0.001)  # ... and in fact the same length
        assert probe_duration(track) == pytest.approx(seconds, abs=0.01)
    assert tracks[0] != tracks[1]  # two takes: another progression and groove


@pytest.mark.parametrize(
    ("rate", "channels", "width"), [(16000, 1, 1), (48000, 2, 3), (8000, 1, 4)]
)
def test_decodes_pcm_layouts(rate, channels, width):
    source = song(110, 3.0, rate=rate)
    samples = sandbox.decode(to_wav(source, rate=rate, channels=channels, width=width))
    assert samples is not None
    assert samples.size / RATE == pytest.approx(3.0, abs=0.001)
    rms = float(np.sqrt(np.mean(np.square(samples))))
    assert rms == pytest.approx(float(np.sqrt(np.mean(np.square(source)))), rel=0.1)


def test_undecodable_inputs_give_none():
    wav = to_wav(song(100, 1.0))
    assert sandbox.decode(b"OggS" + bytes(200)) is None  # audio, but not a WAV
    assert sandbox.decode(b"not audio at all") is None
    assert sandbox.decode(wav[:40]) is None  # header cut before the samples
    assert sandbox.accompany(b"ID3\x03\x00" + bytes(100), "pop", [1]) is None


def test_length_is_capped(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 2.0)
    tracks = sandbox.accompany(to_wav(song(100, 5.0)), "pop", [0])
    assert tracks is not None
    assert wav_seconds(tracks[0])[0] == pytest.approx(2.0, abs=0.001)


def test_silence_still_renders_a_backing():
    tracks = sandbox.accompany(to_wav(np.zeros(3 * RATE, np.float32)), "rock", [0])
    assert tracks is not None
    with wave.open(io.BytesIO(tracks[0]), "rb") as reader:
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    assert np.abs(pcm).max() > 3000  # the band plays at its default tempo and key


# ------------------------------------------------------------------ (b) tempo


@pytest.mark.parametrize(("bpm", "seconds", "offset"), [(100, 12, 0.0), (128, 20, 0.31)])
def test_tempo_of_a_click_track(bpm, seconds, offset):
    detected, beat = sandbox.detect_tempo(clicks(bpm, seconds, offset=offset))
    assert detected == pytest.approx(bpm, rel=0.05)
    period = 60.0 / bpm
    miss = (beat - offset) % period
    assert min(miss, period - miss) < 0.03  # the beat lands on the clicks


@pytest.mark.parametrize("bpm", [100, 128])
def test_rendered_output_keeps_the_tempo(bpm):
    data = to_wav(clicks(bpm, 12))
    heard, _ = sandbox.detect_tempo(sandbox.decode(data))
    for tags in ("pop", "piano"):
        tracks = sandbox.accompany(data, tags, [0, 1])
        assert tracks is not None
        for track in tracks:
            again, _ = sandbox.detect_tempo(sandbox.decode(track))
            assert again == pytest.approx(heard, rel=0.05)


def test_tempo_without_a_pulse_is_the_default():
    t = np.arange(6 * RATE) / RATE
    drone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert sandbox.detect_tempo(drone) == (sandbox.DEFAULT_BPM, 0.0)
    assert sandbox.detect_tempo(np.zeros(RATE, np.float32)) == (sandbox.DEFAULT_BPM, 0.0)


# ------------------------------------------------------------------ (c) key

D_MAJOR = [62, 66, 69, 74, 69, 66, 62, 64, 66, 67, 69, 71, 73, 74, 62, 69, 62]
A_MINOR = [57, 60, 64, 69, 64, 60, 57, 59, 60, 62, 64, 65, 67, 69, 57, 64, 57]


@pytest.mark.parametrize(
    ("notes", "tonic", "minor", "name"),
    [
        (D_MAJOR, 2, False, "D major"),
        (A_MINOR, 9, True, "A minor"),
        ([n - 3 for n in A_MINOR], 6, True, "F# minor"),
        ([n - 4 for n in D_MAJOR], 10, False, "Bb major"),
    ],
)
def test_key_of_a_tone_sequence(notes, tonic, minor, name):
    assert sandbox.detect_key(tones(notes)) == (tonic, minor)
    analysis = sandbox.analyse(tones(notes))
    assert analysis.key == name


def test_key_of_nothing_is_c_major():
    assert sandbox.detect_key(np.zeros(RATE, np.float32)) == (0, False)


# ------------------------------------------------------------------ styles


@pytest.mark.parametrize(
    ("tags", "family", "groove"),
    [
        ("", "band", "backbeat"),
        ("pop, bright", "band", "backbeat"),
        ("lofi, piano", "band", "boombap"),  # the style named first wins
        ("piano, lofi", "keys", "boombap"),
        ("Hip Hop", "band", "boombap"),
        ("deep house", "band", "four"),
        ("acoustic ballad", "keys", "backbeat"),
        ("popcorn", "band", "backbeat"),  # whole words only: not "pop"
    ],
)
def test_style_from_tags(tags, family, groove):
    style = sandbox.style_for(tags)
    assert (style.family, style.groove) == (family, groove)
    assert sandbox.style_for("smoky jazz").sevenths


# ------------------------------------------------------------------ (d) the simulator


def submission(upload_url: str, tags: str = "lofi, chill") -> dict[str, Any]:
    return {
        "uploadUrl": upload_url,
        "title": "Sandbox take",
        "tags": tags,
        "negativeTags": "metal",
        "callBackUrl": "https://callbacks.invalid/cb",
        "model": "V4_5PLUS",
    }


async def finished_task(
    http: aiohttp.ClientSession, sim: Simulator, body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    async with http.post(f"{sim.base_url}{API}/add-instrumental", json=body) as response:
        task_id = (await response.json())["data"]["taskId"]

    async def done() -> dict[str, Any] | None:
        params = {"taskId": task_id}
        async with http.get(f"{sim.base_url}{API}/record-info", params=params) as response:
            data = (await response.json())["data"]
        return data if data["status"] == "SUCCESS" else None

    return task_id, await wait_until(done)


async def download(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url) as response:
        assert response.status == 200
        return await response.read()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_simulator_serves_the_accompaniment(http):
    """A 12 s WAV comes back as two 12 s accompaniments, not the 1 s tone."""
    voice = to_wav(song(96, 12.0, rate=44100), rate=44100)
    callbacks: list[dict[str, Any]] = []

    async def upload(_: web.Request) -> web.Response:
        return web.Response(body=voice, content_type="audio/wav")

    async def callback(request: web.Request) -> web.Response:
        callbacks.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/voice.wav", upload)
    app.router.add_post("/cb", callback)
    config = SimulatorConfig(sandbox=True, **FAST)
    async with serve(app) as base, Simulator(config) as sim:
        body = {**submission(f"{base}/voice.wav"), "callBackUrl": f"{base}/cb"}
        task_id, data = await finished_task(http, sim, body)
        tracks = data["response"]["sunoData"]
        bodies = []
        for track in tracks:
            assert track["duration"] == pytest.approx(12.0, abs=0.01)
            audio = await download(http, track["audioUrl"])
            assert sniff_audio(audio[:64]) == "wav"
            seconds, _ = wav_seconds(audio)
            assert seconds == pytest.approx(track["duration"], abs=0.01)
            assert await download(http, track["streamAudioUrl"]) == audio
            bodies.append(audio)
        assert bodies[0] != bodies[1]
        heard = sandbox.analyse(sandbox.decode(voice))
        for audio in bodies:  # the input with a backing on its beat, in its key
            again = sandbox.analyse(sandbox.decode(audio))
            assert again.bpm == pytest.approx(heard.bpm, rel=0.05)
            assert again.key == heard.key == "A minor"
        assert sim.tasks[task_id].result_seconds == pytest.approx(12.0, abs=0.001)
        # The callbacks reported the rendering's length from the first stage on.
        await wait_until(lambda: len(callbacks) == 3)
        first, complete = (payload["data"]["data"] for payload in callbacks[1:])
        for track in (first[0], *complete):
            assert track["duration"] == pytest.approx(12.0, abs=0.01)


async def test_undecodable_upload_falls_back_to_the_tone(http):
    fake_ogg = b"OggS" + bytes(4000)  # sniffed as audio; the sandbox reads only WAV

    async def voice(_: web.Request) -> web.Response:
        return web.Response(body=fake_ogg, content_type="audio/ogg")

    app = web.Application()
    app.router.add_get("/voice.ogg", voice)
    async with serve(app) as base, Simulator(SimulatorConfig(sandbox=True, **FAST)) as sim:
        _, data = await finished_task(http, sim, submission(f"{base}/voice.ogg"))
        track = data["response"]["sunoData"][0]
        assert track["duration"] == pytest.approx(1.0, abs=0.01)
        audio = await download(http, track["audioUrl"])
        assert audio == make_wav(1.0)


async def test_sandbox_is_off_by_default(uploads, http):
    async with Simulator(SimulatorConfig(**FAST)) as sim:
        _, data = await finished_task(http, sim, submission(f"{uploads}/voice.wav"))
        track = data["response"]["sunoData"][0]
        assert track["duration"] == pytest.approx(1.0, abs=0.01)
        assert await download(http, track["audioUrl"]) == make_wav(1.0)


def test_command_line_turns_the_sandbox_on():
    assert SimulatorConfig().sandbox is False
    assert build_config(parse_args([])).sandbox is True
    assert build_config(parse_args(["--no-sandbox"])).sandbox is False


@pytest.mark.parametrize("name", ["voice", "m4a", "mp4", "flac", "webm", "mp3"])
def test_every_recording_the_bot_accepts_is_accompanied(takes, name):
    """A playground visitor's own voice message or phone take gets a real backing."""
    samples = sandbox.decode(getattr(takes, name))
    assert samples is not None
    assert samples.size / RATE == pytest.approx(6.0, abs=0.1)
    tracks = sandbox.accompany(getattr(takes, name), "lo-fi", [1])
    assert tracks is not None
    assert wav_seconds(tracks[0])[0] == pytest.approx(samples.size / RATE, abs=0.001)
