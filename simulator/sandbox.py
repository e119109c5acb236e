"""The sandbox engine: an accompaniment of the input recording, in place of a test tone.

``accompany(data, tags, seeds)`` decodes the upload, reads its tempo and key, renders a
simple backing in a style family picked from the tags, mixes it under the input and
returns one WAV per seed (mono 16-bit PCM at :data:`RATE`, exactly as long as the input,
cut at :data:`MAX_SECONDS`). It is what ``python -m simulator`` serves as a task's result
tracks, so a developer hears their own take come back with drums, bass and pads, or with
piano chords.

How it listens (numbers at 11 025 Hz, the input's first :data:`ANALYSIS_SECONDS`):

* tempo: an onset envelope (spectral flux of 24 log-spaced bands, 46 ms frames every
  11.6 ms), its autocorrelation over the lags of 60-180 BPM weighted towards 120 BPM (a slower
  multiple of the beat correlates as well as the beat itself), then the beat phase that
  lines up with the most onset strength;
* key: a chroma vector (FFT power from 55 Hz to 2 kHz folded into pitch classes),
  correlated with the Krumhansl-Kessler major and minor profiles in all 24 keys.

Pure NumPy and the standard library: no model weights, no I/O, no event loop. It is CPU
work (well under a second for a minute of input): callers on an event loop run it in a
worker thread. Every format the bot accepts is decoded (:mod:`bot.media`, FFmpeg); for
what holds no audio ``decode`` answers None and the caller falls back to its tone.
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.media import pcm

__all__ = [
    "ANALYSIS_SECONDS",
    "MAX_SECONDS",
    "RATE",
    "Analysis",
    "Style",
    "accompany",
    "accompany_samples",
    "analyse",
    "decode",
    "detect_key",
    "detect_tempo",
    "mix",
    "render_backing",
    "style_for",
    "to_wav",
]

Signal = npt.NDArray[np.float32]  # mono samples in [-1, 1]
Wave = npt.NDArray[np.float64]  # a synthesised sound, short

#: Sample rate of the decoded input and of the rendering (mono, 16-bit PCM out).
RATE = 22050
#: Inputs are cut here: the rendering (and its memory) is bounded whatever is uploaded.
MAX_SECONDS = 480.0
#: Tempo and key are read from this much of the start of the input.
ANALYSIS_SECONDS = 120.0
MIN_BPM, MAX_BPM, DEFAULT_BPM = 60.0, 180.0, 100.0

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# ---------------------------------------------------------------------------- decoding


def decode(data: bytes) -> Signal | None:
    """The recording as mono float samples at :data:`RATE`, cut at :data:`MAX_SECONDS`.

    Whatever the bot accepts decodes here (FFmpeg's decoders, through
    :func:`bot.media.pcm`): a voice message's Opus, a phone's AAC, a video's sound,
    FLAC, MP3, WAV. None when it holds no audio. Never raises for bad input.
    """
    decoded = pcm(data, RATE, MAX_SECONDS)
    if decoded is None:
        return None
    raw, channels = decoded
    frames = np.frombuffer(raw, dtype=np.float32).reshape(-1, channels)
    samples: Signal = frames.mean(axis=1, dtype=np.float32)
    return samples if samples.size else None


# ---------------------------------------------------------------------------- analysis

_AN_RATE = RATE // 2  # analysis runs on every other sample pair, averaged
_ONSET_FRAME, _ONSET_HOP = 512, 128
_FPS = _AN_RATE / _ONSET_HOP  # onset envelope frames per second (86.1)
# The envelope of a steady tone (window ripple) stays under 0.3; a soft swell reaches 2,
# a click hundreds (the input is peak-normalised first).
_MIN_ONSET = 1.0
_CHROMA_FRAME = 4096  # 0.37 s: 2.7 Hz bins, under a semitone from 55 Hz up
_KEY_LOW, _KEY_HIGH = 55.0, 2000.0

# Krumhansl-Kessler key profiles, tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Analysis:
    """What the engine heard: tempo, where a beat falls, and the key."""

    bpm: float
    beat: float  # seconds from the start to the first beat (< one beat)
    tonic: int  # pitch class, 0 = C
    minor: bool

    @property
    def key(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {'minor' if self.minor else 'major'}"


def analyse(samples: Signal) -> Analysis:
    """Tempo, beat phase and key of mono samples at :data:`RATE` (their first
    :data:`ANALYSIS_SECONDS`)."""
    head = samples[: int(ANALYSIS_SECONDS * RATE)]
    bpm, beat = detect_tempo(head)
    tonic, minor = detect_key(head)
    return Analysis(bpm, beat, tonic, minor)


def _analysis_signal(samples: Signal) -> Signal:
    """Mono samples at :data:`RATE` -> at half that rate, peak-normalised."""
    pairs = samples[: samples.size // 2 * 2].reshape(-1, 2).mean(axis=1, dtype=np.float32)
    peak = float(np.max(np.abs(pairs))) if pairs.size else 0.0
    return pairs / peak if peak > 1e-6 else np.zeros(0, np.float32)


def _frames(x: Signal, size: int, hop: int) -> Signal:
    if x.size < size:
        x = np.concatenate([x, np.zeros(size - x.size, np.float32)])
    view = np.lib.stride_tricks.sliding_window_view(x, size)[::hop]
    return view * np.hanning(size).astype(np.float32)


def onset_envelope(samples: Signal) -> npt.NDArray[np.float64]:
    """Spectral flux of log band energies, less its local mean: one value per 11.6 ms."""
    x = _analysis_signal(samples)
    if x.size < _ONSET_FRAME * 2:
        return np.zeros(0)
    power = np.abs(np.fft.rfft(_frames(x, _ONSET_FRAME, _ONSET_HOP), axis=1)) ** 2
    # Bands, not bins: a steady partial's energy wobbles between neighbouring bins from
    # frame to frame, which bin-wise flux would hear as a pulse.
    bands = power.astype(np.float64) @ _onset_bands()
    compressed = np.log1p(10.0 * np.sqrt(bands))
    flux = np.maximum(np.diff(compressed, axis=0), 0.0).sum(axis=1)
    width = int(_FPS * 0.4) | 1  # ~0.4 s of local mean
    local = np.convolve(flux, np.full(width, 1.0 / width), mode="same")
    envelope: npt.NDArray[np.float64] = np.maximum(flux - local, 0.0)
    return envelope


def _onset_bands(count: int = 24) -> npt.NDArray[np.float64]:
    """(bins x bands) 0/1 matrix: rfft bins of an onset frame summed into ``count``
    log-spaced bands from 60 Hz to the top (the lowest bins joined in the first)."""
    freqs = np.fft.rfftfreq(_ONSET_FRAME, 1.0 / _AN_RATE)
    edges = np.geomspace(60.0, _AN_RATE / 2, count)
    index = np.searchsorted(edges, freqs)
    matrix = np.zeros((freqs.size, count + 1))
    matrix[np.arange(freqs.size), index] = 1.0
    used: npt.NDArray[np.float64] = matrix[:, matrix.sum(axis=0) > 0]
    return used


def detect_tempo(samples: Signal) -> tuple[float, float]:
    """(BPM in 60-180, seconds to the first beat) of mono samples at :data:`RATE`.

    Without a clear pulse (silence, a steady drone, under ~3 s) the answer is
    :data:`DEFAULT_BPM` with the beat at 0.
    """
    env = onset_envelope(samples)
    lag_low, lag_high = 60.0 * _FPS / MAX_BPM, 60.0 * _FPS / MIN_BPM
    if env.size < 2 * lag_high or env.max() < _MIN_ONSET:
        return DEFAULT_BPM, 0.0
    centred = env - env.mean()
    spectrum = np.fft.rfft(centred, 2 * env.size)
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[: env.size]
    if ac[0] <= 0:
        return DEFAULT_BPM, 0.0
    lags = np.arange(math.ceil(lag_low), math.floor(lag_high) + 1)
    bpms = 60.0 * _FPS / lags
    # A log-normal preference around 120 BPM: a multiple of the period correlates about
    # as well as the period itself, and the faster reading is the musical one.
    prior = np.exp(-0.5 * np.log2(bpms / 120.0) ** 2)
    scores = ac[lags] * prior
    best = int(lags[int(np.argmax(scores))])
    if ac[best] <= 0.1 * ac[0]:  # nothing repeats: noise, speech without a beat
        return DEFAULT_BPM, 0.0
    period = best + _parabolic(ac, best)
    # Refine with the peaks at twice and three times the period, where they fit.
    estimates = [period]
    for multiple in (2, 3, 4):
        near = round(period * multiple)
        if near + 1 < ac.size and ac[near] > 0:
            peak = near + int(np.argmax(ac[near - 1 : near + 2])) - 1
            if 0 < peak < ac.size - 1:
                estimates.append((peak + _parabolic(ac, peak)) / multiple)
    period = float(np.median(estimates))
    return 60.0 * _FPS / period, _beat_phase(env, period)


def _parabolic(values: npt.NDArray[np.float64], index: int) -> float:
    """Sub-sample offset of the peak at ``index`` from a parabola through its neighbours."""
    left, mid, right = values[index - 1], values[index], values[index + 1]
    curve = left - 2 * mid + right
    return float(0.5 * (left - right) / curve) if curve < 0 else 0.0


def _beat_phase(env: npt.NDArray[np.float64], period: float) -> float:
    """Seconds to the first beat: the phase whose beats sum the most onset strength."""
    phases = np.arange(0.0, period, 0.5)
    beats = np.arange(int((env.size - period) // period) + 1)
    index = np.rint(phases[:, None] + period * beats[None, :]).astype(np.int64)
    strength = np.where(index < env.size, env[np.minimum(index, env.size - 1)], 0.0)
    phase = float(phases[int(np.argmax(strength.sum(axis=1)))])
    # Flux index i compares frames i and i + 1, so it belongs to frame i + 1; a sharp
    # onset peaks there when it sits a little past the frame's middle (9 ms: measured
    # on click tracks).
    seconds = ((phase + 1) * _ONSET_HOP + _ONSET_FRAME / 2) / _AN_RATE + 0.009
    beat = period / _FPS
    return seconds % beat


def detect_key(samples: Signal) -> tuple[int, bool]:
    """(tonic pitch class with 0 = C, minor?) of mono samples at :data:`RATE`.

    C major when there is nothing pitched to hear.
    """
    x = _analysis_signal(samples)
    if x.size == 0:
        return 0, False
    frames = _frames(x, _CHROMA_FRAME, _CHROMA_FRAME // 2)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(_CHROMA_FRAME, 1.0 / _AN_RATE)
    band = (freqs >= _KEY_LOW) & (freqs <= _KEY_HIGH)
    classes = (np.rint(12 * np.log2(freqs[band] / 440.0)).astype(np.int64) + 69) % 12
    fold = np.zeros((classes.size, 12))
    fold[np.arange(classes.size), classes] = 1.0
    chroma = power[:, band].astype(np.float64) @ fold  # frames x 12
    # Each frame votes with its own shape, so a few loud frames do not decide alone.
    energy = chroma.sum(axis=1)
    loud = energy > 0.01 * energy.max() if energy.size else energy.astype(bool)
    if not np.any(loud):
        return 0, False
    profile = (chroma[loud] / energy[loud, None]).sum(axis=0)
    if np.ptp(profile) <= 0:
        return 0, False
    best = (-2.0, 0, False)
    for tonic in range(12):
        for minor, template in ((False, _MAJOR_PROFILE), (True, _MINOR_PROFILE)):
            score = float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
            if score > best[0]:
                best = (score, tonic, minor)
    return best[1], best[2]


# ---------------------------------------------------------------------------- styles

_KEYS_WORDS = ("ballad", "piano", "acoustic", "jazz")
_FOUR_WORDS = ("electronic", "edm", "house", "techno", "dance", "disco", "synthwave")
_BOOMBAP_WORDS = ("lofi", "lo-fi", "lo fi", "hip hop", "hip-hop", "hiphop", "rap", "trap")
_BACKBEAT_WORDS = ("pop", "rock", "funk", "indie", "punk")


@dataclass(frozen=True)
class Style:
    """The family (``band``: drums, bass and pads; ``keys``: piano chords) and its feel."""

    family: str = "band"
    groove: str = "backbeat"  # band: backbeat, four (on the floor) or boombap (swung)
    sevenths: bool = False  # keys: seventh chords (jazz)


def style_for(tags: str) -> Style:
    """The style the tags ask for; the style word named first wins ("lofi, piano" is a
    band with a boom-bap groove, "piano, lofi" is piano chords). Default: a pop band."""
    text = tags.lower()
    found: list[tuple[int, str]] = []
    for name, words in (
        ("keys", _KEYS_WORDS),
        ("four", _FOUR_WORDS),
        ("boombap", _BOOMBAP_WORDS),
        ("backbeat", _BACKBEAT_WORDS),
    ):
        found += [(at, name) for at in (_word_at(text, w) for w in words) if at is not None]
    found.sort()
    first = found[0][1] if found else "backbeat"
    grooves = [name for _, name in found if name != "keys"]
    if first == "keys":
        return Style("keys", grooves[0] if grooves else "backbeat", sevenths="jazz" in text)
    return Style("band", first)


def _word_at(text: str, word: str) -> int | None:
    """Where ``word`` starts as a whole word in ``text``, or None."""
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        if (start == 0 or not text[start - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            return start
        start = text.find(word, start + 1)
    return None


# ---------------------------------------------------------------------------- synthesis

_MAJ, _MIN = (0, 4, 7), (0, 3, 7)
# One chord per bar: (root above the tonic, triad). The seed's parity picks one of two.
_MAJOR_PROGRESSIONS = (
    ((0, _MAJ), (7, _MAJ), (9, _MIN), (5, _MAJ)),  # I-V-vi-IV
    ((0, _MAJ), (9, _MIN), (5, _MAJ), (7, _MAJ)),  # I-vi-IV-V
)
_MINOR_PROGRESSIONS = (
    ((0, _MIN), (8, _MAJ), (3, _MAJ), (10, _MAJ)),  # i-VI-III-VII
    ((0, _MIN), (5, _MIN), (10, _MAJ), (3, _MAJ)),  # i-iv-VII-III
)


@dataclass(frozen=True)
class _Groove:
    kick: tuple[int, ...]  # sixteenth steps of the bar
    kick_alt: tuple[int, ...]
    snare: tuple[int, ...]
    hats: tuple[int, ...]
    bass: tuple[tuple[int, int, int], ...]  # (step, length in steps, interval above root)
    swing: float  # delay of the off-beat eighths, in sixteenths


_GROOVES = {
    "backbeat": _Groove(
        (0, 8), (0, 6, 8), (4, 12), tuple(range(0, 16, 2)),
        ((0, 6, 0), (6, 2, 0), (8, 6, 0), (14, 2, 7)), 0.0,
    ),
    "four": _Groove(
        (0, 4, 8, 12), (0, 4, 8, 12, 15), (4, 12), (2, 6, 10, 14),
        ((2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)), 0.0,
    ),
    "boombap": _Groove(
        (0, 7, 10), (0, 3, 10), (4, 12), tuple(range(0, 16, 2)),
        ((0, 6, 0), (7, 3, 0), (10, 6, 0)), 0.33,
    ),
}  # fmt: skip
_FILL = (13, 14, 15)  # extra snares closing every eighth bar


def _hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69) / 12))


def _time(seconds: float) -> Wave:
    return np.arange(max(1, round(seconds * RATE))) / RATE


def _kick() -> Wave:
    t = _time(0.35)
    freq = 48.0 + 90.0 * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / RATE) * np.exp(-t / 0.13)
    out: Wave = body * np.minimum(1.0, t / 0.002)
    return out


def _snare(rng: np.random.Generator) -> Wave:
    t = _time(0.25)
    noise = np.diff(rng.standard_normal(t.size + 1)) * 0.35 * np.exp(-t / 0.07)
    tone = np.sin(2 * np.pi * 190.0 * t) * 0.6 * np.exp(-t / 0.045)
    out: Wave = noise + tone
    return out


def _hat(rng: np.random.Generator) -> Wave:
    t = _time(0.06)
    noise = np.diff(rng.standard_normal(t.size + 2), n=2) * 0.12
    out: Wave = noise * np.exp(-t / 0.014)
    return out


def _tone(freq: float, length: int, harmonics: Sequence[float], decay: float) -> Wave:
    """``length`` samples of a note: the given harmonic amplitudes, exponential decay,
    a 3 ms attack and a 30 ms release so it neither clicks in nor out."""
    t = np.arange(length) / RATE
    wave_ = np.zeros(length)
    for number, amplitude in enumerate(harmonics, start=1):
        if freq * number < RATE / 2:
            wave_ += amplitude * np.sin(2 * np.pi * freq * number * t)
    ends = np.minimum(np.minimum(1.0, t / 0.003), np.minimum(1.0, (t[-1] - t) / 0.03 + 1e-9))
    out: Wave = wave_ * np.exp(-t / decay) * ends
    return out


def _piano(freq: float, length: int) -> Wave:
    """A struck string: bright at first, the upper partials dying sooner."""
    t = np.arange(length) / RATE
    wave_ = np.zeros(length)
    for number in range(1, 7):
        if freq * number < RATE / 2:
            fade = np.exp(-t * (0.6 + 0.9 * number))
            wave_ += number**-1.3 * np.sin(2 * np.pi * freq * number * t) * fade
    ends = np.minimum(np.minimum(1.0, t / 0.002), np.minimum(1.0, (t[-1] - t) / 0.06 + 1e-9))
    out: Wave = wave_ * ends
    return out


def _pad(freqs: Sequence[float], length: int, hold: int) -> Wave:
    """A soft, slightly detuned chord: swells in, holds ``hold`` samples, fades."""
    t = np.arange(length) / RATE
    wave_ = np.zeros(length)
    for freq in freqs:
        for detune in (0.998, 1.002):
            for number, amplitude in ((1, 1.0), (2, 0.35), (3, 0.18), (4, 0.08)):
                wave_ += amplitude * np.sin(2 * np.pi * freq * detune * number * t)
    attack = np.minimum(1.0, t / 0.12)
    release = np.clip(1.0 - (np.arange(length) - hold) / max(1, length - hold), 0.0, 1.0)
    out: Wave = wave_ * attack * release / (2 * len(freqs))
    return out


def _add(out: npt.NDArray[np.floating], sound: Wave, start: int) -> None:
    """Mix ``sound`` into ``out`` at ``start`` (either may overhang the other)."""
    low, high = max(0, start), min(out.size, start + sound.size)
    if high > low:
        out[low:high] += sound[low - start : high - start]


def _voicing(tonic: int, root: int, triad: Sequence[int], low: int) -> list[int]:
    """MIDI notes of a chord, each folded into the octave from ``low``."""
    return [low + (tonic + root + interval - low) % 12 for interval in triad]


class _Bars:
    """One bar of each (chord, fill) rendered once; the track repeats them on the grid."""

    def __init__(self, analysis: Analysis, style: Style, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.style = style
        self.tonic = analysis.tonic
        self.bar = 4 * 60.0 / analysis.bpm * RATE  # samples, fractional
        self.step = self.bar / 16
        progressions = _MINOR_PROGRESSIONS if analysis.minor else _MAJOR_PROGRESSIONS
        self.progression = progressions[seed % 2]
        self.groove = _GROOVES.get(style.groove, _GROOVES["backbeat"])
        self.kick_steps = self.groove.kick_alt if self.rng.random() < 0.5 else self.groove.kick
        self.pad_low = 55 if self.rng.random() < 0.5 else 57  # voicing: from G3 or A3
        self.broken = bool(self.rng.random() < 0.5)  # keys: broken chords, not blocks
        self.kick, self.snare, self.hat = _kick(), _snare(self.rng), _hat(self.rng)
        self.tail = round(0.4 * RATE)
        self._cache: dict[tuple[int, bool], Wave] = {}

    def get(self, index: int) -> Wave:
        chord = index % len(self.progression)
        fill = self.style.family == "band" and index % 8 == 7
        key = (chord, fill)
        if key not in self._cache:
            self._cache[key] = self._render(*self.progression[chord], fill=fill)
        return self._cache[key]

    def _at(self, step: float) -> int:
        return round(step * self.step)

    def _render(self, root: int, triad: tuple[int, ...], *, fill: bool) -> Wave:
        length = round(self.bar) + self.tail
        out = np.zeros(length)
        if self.style.family == "keys":
            self._keys(out, root, triad)
        else:
            self._band(out, root, triad, fill=fill)
        return out

    def _band(self, out: Wave, root: int, triad: tuple[int, ...], *, fill: bool) -> None:
        groove = self.groove
        for step in self.kick_steps:
            _add(out, 0.9 * self.kick, self._at(step))
        for step in groove.snare + (_FILL if fill else ()):
            _add(out, (0.55 if step in _FILL else 0.7) * self.snare, self._at(step))
        for step in groove.hats:
            swing = groove.swing if step % 4 == 2 else 0.0
            _add(out, (0.5 if step % 4 else 0.7) * self.hat, self._at(step + swing))
        bass_midi = 36 + (self.tonic + root) % 12
        for step, steps, interval in groove.bass:
            note = _tone(_hz(bass_midi + interval), self._at(steps), (1.0, 0.3, 0.12), 0.6)
            _add(out, 0.55 * note, self._at(step))
        notes = _voicing(self.tonic, root, triad, self.pad_low)
        pad = _pad([_hz(n) for n in notes], out.size, round(self.bar))
        out += 0.45 * pad

    def _keys(self, out: Wave, root: int, triad: tuple[int, ...]) -> None:
        chord = list(triad)
        if self.style.sevenths:
            chord.append(10 if triad == _MIN or root in (7, 10) else 11)
        notes = _voicing(self.tonic, root, chord, self.pad_low + 3)
        bass = 43 + (self.tonic + root - 43) % 12  # G2..F#3
        _add(out, 0.5 * _piano(_hz(bass), out.size), 0)
        if self.broken:  # eighths up and down the chord
            order = [*range(len(notes)), *range(len(notes) - 2, 0, -1)]
            for eighth in range(8):
                note = notes[order[eighth % len(order)]]
                _add(out, 0.35 * _piano(_hz(note), self._at(6)), self._at(2 * eighth))
            return
        for step, hold in ((0, 8), (8, 6), (14, 2)):  # beats 1 and 3, a push before 1
            length = self._at(hold) + (self.tail if step + hold == 16 else 0)
            for note in notes:
                _add(out, 0.28 * _piano(_hz(note), length), self._at(step))


def render_backing(length: int, analysis: Analysis, style: Style, seed: int) -> Signal:
    """``length`` samples at :data:`RATE` of the backing alone, on the analysed beat.

    ``seed`` picks the variations: its parity one of two chord progressions, the rest
    (kick pattern, voicing, broken or block chords, drum noise) a generator seeded by it.
    """
    bars = _Bars(analysis, style, seed)
    out = np.zeros(length, np.float32)
    # Bars are counted from a downbeat on the first heard beat, back to before the start.
    first = analysis.beat * RATE
    first -= math.ceil(first / bars.bar) * bars.bar
    count = math.ceil((length - first) / bars.bar)
    for index in range(count):
        _add(out, bars.get(index), round(first + index * bars.bar))
    fade = min(length, RATE // 2)  # the backing ends rather than stops
    if fade:
        out[length - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def mix(voice: Signal, backing: Signal) -> Signal:
    """The backing under the voice (its RMS at 0.7 of the voice's), peak at -1 dBFS."""
    voice_rms = float(np.sqrt(np.mean(np.square(voice, dtype=np.float64))))
    backing_rms = float(np.sqrt(np.mean(np.square(backing, dtype=np.float64))))
    target = 0.7 * voice_rms if voice_rms > 1e-3 else 0.1
    gain = target / backing_rms if backing_rms > 0 else 0.0
    out = voice + backing * np.float32(gain)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= np.float32(0.89 / peak)
    edge = min(out.size // 2, RATE // 100)  # 10 ms: no click in or out
    if edge:
        ramp = np.linspace(0.0, 1.0, edge, dtype=np.float32)
        out[:edge] *= ramp
        out[-edge:] *= ramp[::-1]
    return out


def to_wav(samples: Signal) -> bytes:
    """Mono 16-bit PCM WAV at :data:`RATE`."""
    pcm = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


def accompany_samples(samples: Signal, tags: str, seeds: Sequence[int]) -> list[bytes]:
    """One accompanied WAV per seed of decoded input (see :func:`decode`): analysed once."""
    analysis = analyse(samples)
    style = style_for(tags)
    return [
        to_wav(mix(samples, render_backing(samples.size, analysis, style, seed))) for seed in seeds
    ]


def accompany(data: bytes, tags: str, seeds: Sequence[int]) -> list[bytes] | None:
    """The input recording ``data`` with a backing in the tags' style, one WAV per seed,
    each as long as the input (cut at :data:`MAX_SECONDS`); None if it cannot be decoded."""
    samples = decode(data)
    return None if samples is None else accompany_samples(samples, tags, seeds)
