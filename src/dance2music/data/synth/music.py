"""Genre-styled music with known beats, rendered with a General MIDI soundfont.

Each of the ten AIST++ genres has a tempo range, drum patterns, a bass figure, a harmony rhythm, chord
progressions, instrument choices and a swing amount. A clip draws its tempo, key, progression, patterns,
instruments, fills, dynamics and arrangement from the genre with its own rng, writes the notes as timed
MIDI events and renders them with tinysoundfont and the TimGM6mb.sf2 soundfont that pretty_midi ships
(real sampled instruments, no system package). The beat grid is exact by construction: beat k of the
song is at ``k * 60 / tempo`` from the song's start, and the clip is a window cut from that song.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...arrays import fit_length
from ...constants import SAMPLE_RATE
from ...errors import ConfigError

# Drum notes of General MIDI.
KICK, SNARE, CLAP, SIDE, CHH, PHH, OHH = 36, 38, 39, 37, 42, 44, 46
CRASH, RIDE, TAMB, COWBELL, SHAKER = 49, 51, 54, 56, 70
TOMS = (50, 48, 47, 45, 43, 41)
# Drum kits of TimGM6mb (bank 128 presets).
KIT_STANDARD, KIT_ROOM, KIT_POWER, KIT_ELECTRONIC, KIT_808, KIT_JAZZ, KIT_BRUSH = 0, 8, 16, 24, 25, 32, 40

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0 = tonic), one chord per bar.
PROG_MINOR = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 0, 3, 4), (0, 5, 3, 4), (0, 3, 0, 4))
PROG_MAJOR = ((0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 0, 4), (3, 4, 2, 5), (0, 3, 4, 3), (5, 3, 0, 4))


@dataclass(frozen=True)
class GenreMusic:
    """The musical style of one genre.

    Drum patterns are 16 steps per bar and map a GM drum note to a string: 'x' accent, 'o' normal,
    '.' ghost, '-' nothing. Bass patterns: 'R' root, '3' third, '5' fifth, '7' seventh, 'O' octave,
    'b' the note below the next root, '-' nothing. Harmony rhythms: 'x' chord hit, '-' nothing,
    '=' hold the chord over the bar (pads).
    """

    tempo: tuple[float, float]
    minor_odds: float
    kits: tuple[int, ...]
    drums: tuple[dict[int, str], ...]
    bass: tuple[str, ...]
    bass_programs: tuple[int, ...]
    harmony: tuple[str, ...]
    harmony_programs: tuple[int, ...]
    lead_programs: tuple[int, ...]
    pad_programs: tuple[int, ...]
    swing: tuple[float, float]  # delay of off-beat sixteenths, as a fraction of a sixteenth
    swing8: bool = False  # swing the eighths instead (jazz)
    sevenths: float = 0.3  # odds of 7th chords
    reverb: float = 0.15


_FOUR = "x---x---x---x---"
STYLES: dict[str, GenreMusic] = {
    "gBR": GenreMusic(
        (90, 126), 0.7, (KIT_STANDARD, KIT_ROOM, KIT_POWER),
        ({KICK: "x-x-------x--x--", SNARE: "----x--.-.--x--.", CHH: "o-o-o-o-o-o-o-o-"},
         {KICK: "x-----x---x-----", SNARE: "----x-.-.-.-x---", CHH: "x-o-x-o-x-o-x-oo", OHH: "------------o---"},
         {KICK: "x--x--x---x--x--", SNARE: "----x-------x-.-", RIDE: "o-o-o-o-o-o-o-o-"}),
        ("R--R--5-R---O-5-", "R-----R-5--O--R-", "R--O--R---5-R-b-"), (33, 34, 36),
        ("--x---x---x--x--", "x-----x-----x---", "=---------------"), (27, 4, 61, 26), (65, 56, 81), (48, 89),
        (0.0, 0.25), sevenths=0.6),
    "gPO": GenreMusic(
        (92, 120), 0.75, (KIT_ELECTRONIC, KIT_808),
        ({KICK: "x-----x-x-------", CLAP: "----x-------x---", CHH: "oooooooooooooooo"},
         {KICK: "x--x--x-x-------", SNARE: "----x-------x---", CHH: "o-oxo-oxo-oxo-ox"},
         {KICK: "x-----x---x-x---", CLAP: "----x-------x---", CHH: "x-o-x-o-x-o-x-o-", COWBELL: "--o---o---o---o-"}),
        ("R-R-O-R-R-5-O-R-", "R--R--R-O--R--5-", "RR--R-O-RR--5-O-"), (38, 39, 87),
        ("x--x--x---x-x---", "--x---x---x---x-", "x-x---x-x---x---"), (62, 90, 80, 81), (80, 81, 87), (89, 50, 95),
        (0.0, 0.12)),
    "gLO": GenreMusic(
        (100, 130), 0.35, (KIT_STANDARD, KIT_ROOM),
        ({KICK: "x--x--x---x-----", SNARE: "----x--.-.--x---", CHH: "x-x-x-x-x-x-x-x-"},
         {KICK: "x-----xx--x-----", SNARE: "----x-------x-.-", CHH: "o-o-o-o-o-o-o-o-", OHH: "------o-------o-"},
         {KICK: "x--x------x--x--", SNARE: "----x--.----x---", CHH: "x-xxx-xxx-xxx-xx", TAMB: "----o-------o---"}),
        ("R--O-5-R--R-7-5-", "R-O-R-5-R-O-7-O-", "R--R-O-5-R-R-O-b"), (36, 37, 33),
        ("--x---x---x---x-", "x--x--x---x--x--", "-x-x-x-x-x-x-x-x"), (27, 61, 4, 28), (61, 56, 65), (61, 48),
        (0.05, 0.2), sevenths=0.7),
    "gMH": GenreMusic(
        (82, 100), 0.8, (KIT_STANDARD, KIT_808, KIT_ROOM),
        ({KICK: "x-------x-x-----", SNARE: "----x-------x---", CHH: "o-o-o-o-o-o-o-o-"},
         {KICK: "x------x-xx-----", SNARE: "----x-------x---", CHH: "o-o-o-o-o-o-o-oo"},
         {KICK: "x--x------x--x--", SNARE: "----x-------x---", CHH: "x-o-x-o-x-o-x-o-", OHH: "--------------o-"}),
        ("R------R-5------", "R-----R---R-5---", "R--R------O--5--"), (33, 38, 32),
        ("x-------x-------", "=---------------", "x---x-----x-----"), (0, 4, 48, 11), (73, 65, 0), (48, 89, 52),
        (0.25, 0.45), sevenths=0.5),
    "gLH": GenreMusic(
        (86, 104), 0.8, (KIT_808, KIT_ELECTRONIC),
        ({KICK: "x--x----x-x-----", CLAP: "----x-------x---", CHH: "oooooooooooooooo"},
         {KICK: "x-----x--x--x---", SNARE: "----x-------x---", CHH: "o-ooo-ooo-ooo-oo"},
         {KICK: "x--x---x--x-----", CLAP: "----x-------x---", CHH: "o-o-o-o-o-o-o-o-", OHH: "------o-------o-"}),
        ("R---R--5R-------", "R--R----R--5--R-", "R-------R-R-5---"), (38, 39, 87),
        ("=---------------", "x-----x-----x---", "x--x--x--x--x---"), (81, 5, 90, 80), (81, 80, 87), (89, 95, 88),
        (0.08, 0.25)),
    "gHO": GenreMusic(
        (118, 130), 0.5, (KIT_ELECTRONIC, KIT_808, KIT_STANDARD),
        ({KICK: _FOUR, CLAP: "----x-------x---", CHH: "oooooooooooooooo", OHH: "--o---o---o---o-"},
         {KICK: _FOUR, SNARE: "----x-------x---", OHH: "--x---x---x---x-", SHAKER: "oooooooooooooooo"},
         {KICK: _FOUR, CLAP: "----x-------x---", CHH: "--o---o---o---o-", TAMB: "o-o-o-o-o-o-o-o-"}),
        ("--R---R---R---R-", "R-RO-R-RO-R-RO-R", "R---R--OR---R-5-"), (38, 39, 33),
        ("--x---x---x---x-", "x--x--x---x--x--", "=---------------"), (0, 17, 4, 89), (81, 80, 90), (89, 50, 95),
        (0.0, 0.12), sevenths=0.5),
    "gWA": GenreMusic(
        (110, 128), 0.4, (KIT_STANDARD, KIT_ROOM, KIT_ELECTRONIC),
        ({KICK: _FOUR, SNARE: "----x-------x---", OHH: "--o---o---o---o-", CHH: "o---o---o---o---"},
         {KICK: _FOUR, CLAP: "----x-------x---", OHH: "--x---x---x---x-", TAMB: "oooooooooooooooo"},
         {KICK: _FOUR, SNARE: "----x-------x---", CHH: "oxoxoxoxoxoxoxox"}),
        ("R-O-R-O-R-O-R-O-", "R-OR-OR-OR-O5-O-", "R-O-5-O-R-O-5-O-"), (33, 34, 38),
        ("=---------------", "--x---x---x---x-", "x-x-x-x-x-x-x-x-"), (48, 49, 61, 28), (56, 73, 65), (48, 49, 89),
        (0.0, 0.1), sevenths=0.4),
    "gKR": GenreMusic(
        (80, 100), 0.9, (KIT_POWER, KIT_ROOM, KIT_808),
        ({KICK: "x--x--x---xx----", SNARE: "----x-------x---", CHH: "o-o-o-o-o-o-o-o-", TOMS[4]: "--------------o-"},
         {KICK: "x-x---x-x-x-----", SNARE: "----x-------x--o", CRASH: "x---------------", RIDE: "o-o-o-o-o-o-o-o-"},
         {KICK: "xx----x-xx------", CLAP: "----x-------x---", CHH: "oooooooooooooooo"}),
        ("R--R--R---R-b---", "R-R---R-R-R-----", "RR--R-----RR-5--"), (39, 38, 30),
        ("x--x--x---x-----", "=---------------", "x-----x-x-------"), (30, 29, 62, 48), (30, 62, 81), (48, 50, 95),
        (0.0, 0.15), sevenths=0.1, reverb=0.25),
    "gJS": GenreMusic(
        (90, 120), 0.55, (KIT_STANDARD, KIT_ELECTRONIC),
        ({KICK: "x-----x---x-x---", CLAP: "----x-------x---", CHH: "o-o-o-o-o-o-o-o-", SHAKER: "-o-o-o-o-o-o-o-o"},
         {KICK: "x---x-x---x-----", SNARE: "----x-------x---", CHH: "oooooooooooooooo"},
         {KICK: "x--x--x---x-----", CLAP: "----x-------x---", CHH: "o-o-o-o-o-o-o-o-", OHH: "--------------o-"}),
        ("R---5--R--3-5---", "R--R--5-R---O---", "R-----R-5-----3-"), (38, 33, 35),
        ("x---x---x---x---", "--x---x---x---x-", "=---------------"), (4, 90, 50, 0), (73, 81, 65), (50, 89, 48),
        (0.05, 0.2), sevenths=0.6),
    "gJB": GenreMusic(
        (80, 110), 0.3, (KIT_JAZZ, KIT_BRUSH, KIT_STANDARD),
        ({KICK: _FOUR, SIDE: "----o-------o---", RIDE: "x---x-o-x---x-o-", PHH: "----o-------o---"},
         {KICK: "x-------x-------", SNARE: "----o-------o---", RIDE: "x---x-o-x---x-o-", PHH: "----o-------o---"},
         {KICK: _FOUR, SNARE: "----.-------.---", RIDE: "x-o-x-o-x-o-x-o-"}),
        ("R---3---5---7---", "R---5---O---5---", "R---3---5---b---"), (32, 33, 35),
        ("x---x---x---x---", "x-----x-----x---", "=---------------"), (0, 11, 48, 4), (73, 65, 56, 40), (48, 49, 89),
        (0.35, 0.6), swing8=True, sevenths=0.85, reverb=0.3),
}  # fmt: skip


@dataclass
class Song:
    """A rendered clip of music and what is known about it.

    audio: float32[N] mono at ``sr``; beats, downbeats: seconds from the clip's start;
    tempo: BPM; key: "C minor" style; instruments: GM program numbers per part.
    """

    audio: np.ndarray
    sr: int
    tempo: float
    beats: np.ndarray
    downbeats: np.ndarray
    key: str
    instruments: dict[str, int]


_NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@functools.lru_cache(maxsize=1)
def soundfont_path() -> Path:
    """The General MIDI soundfont bundled with pretty_midi (TimGM6mb.sf2)."""
    import pretty_midi

    p = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not p.exists():  # pragma: no cover - a broken pretty_midi install
        raise ConfigError(f"pretty_midi's soundfont is missing: {p}")
    return p


@functools.lru_cache(maxsize=2)
def _soundfont_bytes() -> bytes:
    return soundfont_path().read_bytes()


class _Events:
    """Timed MIDI events (song seconds): note on/off per channel."""

    def __init__(self) -> None:
        self.items: list[tuple[float, int, int, int, int]] = []  # (time, order, chan, key, vel); vel 0 = off

    def note(self, t: float, dur: float, chan: int, key: int, vel: float) -> None:
        key = int(key)
        if not 0 <= key <= 127:
            return
        v = int(np.clip(round(vel), 1, 127))
        self.items.append((t, 1, chan, key, v))
        self.items.append((t + max(0.02, dur), 0, chan, key, 0))


def _chord(scale: tuple[int, ...], degree: int, seventh: bool) -> list[int]:
    """Semitones above the tonic of the chord built on ``degree`` (stacked thirds in the scale)."""
    n = 4 if seventh else 3
    notes = []
    for i in range(n):
        d = degree + 2 * i
        notes.append(scale[d % 7] + 12 * (d // 7))
    return notes


@dataclass
class _Plan:
    """What a song draws from its genre before any note is written: tempo, key, progression, patterns, instruments,
    arrangement, and where the clip starts in the song."""

    st: GenreMusic
    tempo: float
    minor: bool
    scale: tuple[int, ...]
    tonic: int
    prog: list[int]
    sevenths: bool
    swing: float
    offset: float  # seconds of the song before the clip
    n_bars: int
    kit: int
    drum_pats: list[dict[int, str]]
    bass_pat: str
    harm_pat: str
    programs: dict[str, int]  # bass, harmony, lead, pad
    use_lead: bool
    use_pad: bool
    intro_bars: int  # bars before the harmony enters
    dyn: float

    @property
    def spb(self) -> float:
        return 60.0 / self.tempo

    @property
    def s16(self) -> float:
        return self.spb / 4

    def step_time(self, bar: int, step: int) -> float:
        """Song seconds of sixteenth ``step`` of ``bar``, swung."""
        t = (bar * 16 + step) * self.s16
        if self.st.swing8:
            if step % 4 == 2:
                t += self.swing * 2 * self.s16 * 0.5
        elif step % 2 == 1:
            t += self.swing * self.s16
        return t


def _draw_plan(st: GenreMusic, seconds: float, rng: np.random.Generator, tempo_scale: float) -> _Plan:
    tempo = float(np.round(rng.uniform(*st.tempo) * tempo_scale, 1))
    spb = 60.0 / tempo
    minor = rng.random() < st.minor_odds
    scale = MINOR if minor else MAJOR
    tonic = int(rng.integers(0, 12))
    prog = list((PROG_MINOR if minor else PROG_MAJOR)[rng.integers(0, 7)])
    sevenths = rng.random() < st.sevenths
    swing = float(rng.uniform(*st.swing))
    # The clip is a window into a longer song: it may start on any beat of a bar, a little after it.
    lead_in_beats = int(rng.integers(0, 4))
    offset = lead_in_beats * spb + float(rng.uniform(0.0, 0.35)) * spb
    n_bars = int(np.ceil((seconds + offset) / (4 * spb))) + 1

    kit = int(rng.choice(st.kits))
    drum_pats = [st.drums[i] for i in rng.permutation(len(st.drums))[:2]]
    bass_pat = st.bass[rng.integers(len(st.bass))]
    harm_pat = st.harmony[rng.integers(len(st.harmony))]
    programs = {
        part: int(rng.choice(choices))
        for part, choices in (("bass", st.bass_programs), ("harmony", st.harmony_programs),
                              ("lead", st.lead_programs), ("pad", st.pad_programs))
    }  # fmt: skip
    use_lead = rng.random() < 0.55
    use_pad = rng.random() < 0.5 or "=" in harm_pat
    intro_bars = int(rng.choice((0, 0, 1, 2)))
    dyn = rng.uniform(0.8, 1.05)
    return _Plan(st, tempo, minor, scale, tonic, prog, sevenths, swing, offset, n_bars, kit, drum_pats, bass_pat,
                 harm_pat, programs, use_lead, use_pad, intro_bars, dyn)  # fmt: skip


def _write_drums(plan: _Plan, ev: _Events, rng: np.random.Generator) -> None:
    """Drums: pattern A, switching to B for some phrases; a fill on the last bar of each 4-bar phrase."""
    vel_of = {"x": 112, "o": 88, ".": 52}
    dyn, step_time = plan.dyn, plan.step_time
    for bar in range(plan.n_bars):
        pat = plan.drum_pats[1] if (bar // 4) % 2 == 1 and rng.random() < 0.7 else plan.drum_pats[0]
        fill = bar % 4 == 3 and rng.random() < 0.75
        fill_from = int(rng.choice((8, 12))) if fill else 16
        for note, s in pat.items():
            for step, c in enumerate(s):
                if c == "-" or (fill and step >= fill_from and note not in (KICK, CHH, RIDE)):
                    continue
                if fill and step >= fill_from and note in (CHH, RIDE) and step % 2:
                    continue
                v = vel_of[c] * dyn * rng.uniform(0.88, 1.08)
                ev.note(step_time(bar, step), 0.1, 9, note, v)
        if fill:
            kind = rng.integers(3)
            for step in range(fill_from, 16):
                if kind == 0:
                    note = TOMS[min(5, (step - fill_from) * 6 // (16 - fill_from))]
                elif kind == 1:
                    note = SNARE
                else:
                    note = SNARE if step % 2 == 0 else TOMS[(step // 2) % 6]
                ev.note(step_time(bar, step), 0.1, 9, note, (70 + 40 * (step - fill_from) / 8) * dyn)
        if bar % 4 == 0 and (bar > 0 or rng.random() < 0.5):
            ev.note(step_time(bar, 0), 1.0, 9, CRASH, 100 * dyn)


def _write_chords(plan: _Plan, ev: _Events, rng: np.random.Generator) -> None:
    """Bass, harmony and pad follow the progression, one chord per bar."""
    scale, prog, bass_pat, harm_pat = plan.scale, plan.prog, plan.bass_pat, plan.harm_pat
    dyn, s16, step_time = plan.dyn, plan.s16, plan.step_time
    bass_base = 36 + plan.tonic if plan.tonic < 7 else 24 + plan.tonic  # E1 .. D#2 region
    harm_base = 60 + plan.tonic if plan.tonic < 5 else 48 + plan.tonic
    for bar in range(plan.n_bars):
        degree = prog[bar % len(prog)]
        next_degree = prog[(bar + 1) % len(prog)]
        chord = _chord(scale, degree, plan.sevenths)
        root = scale[degree]
        tones = {"R": root, "3": chord[1], "5": chord[2], "7": chord[3] if len(chord) > 3 else root + 12,
                 "O": root + 12, "b": scale[next_degree] - 1}  # fmt: skip
        for step, c in enumerate(bass_pat):
            if c == "-":
                continue
            length = 1
            while step + length < 16 and bass_pat[step + length] == "-" and length < 4:
                length += 1
            v = (100 if step % 4 == 0 else 85) * dyn * rng.uniform(0.9, 1.05)
            ev.note(step_time(bar, step), length * s16 * 0.9, 0, bass_base + tones[c], v)
        if bar < plan.intro_bars:
            continue
        voicing = [harm_base + n for n in chord]
        if rng.random() < 0.3:  # an inversion now and then
            voicing = voicing[1:] + [voicing[0] + 12]
        for step, c in enumerate(harm_pat):
            if c == "x":
                dur = s16 * (1.6 if harm_pat[(step + 1) % 16] == "-" else 0.8)
                for n in voicing:
                    ev.note(step_time(bar, step), dur, 1, n, 72 * dyn * rng.uniform(0.9, 1.05))
            elif c == "=":
                for n in voicing:
                    ev.note(step_time(bar, 0), 16 * s16 * 0.98, 1, n, 62 * dyn)
        if plan.use_pad and bar >= plan.intro_bars:
            for n in chord[:3]:
                ev.note(step_time(bar, 0), 16 * s16 * 0.98, 3, harm_base - 12 + n, 50 * dyn)


def _write_lead(plan: _Plan, ev: _Events, rng: np.random.Generator) -> None:
    """A short lead motif on the scale's pentatonic subset, repeated with variation every two bars."""
    penta = [plan.scale[i] for i in ((0, 2, 3, 4, 6) if plan.minor else (0, 1, 2, 4, 5))]
    motif = []
    for step in range(0, 32, 2):
        if rng.random() < 0.45:
            motif.append((step, int(rng.integers(len(penta))), int(rng.integers(0, 2))))
    for bar in range(max(plan.intro_bars, 1), plan.n_bars, 2):
        for step, idx, octv in motif:
            b2, s2 = bar + step // 16, step % 16
            if b2 >= plan.n_bars or rng.random() < 0.12:
                continue
            ev.note(plan.step_time(b2, s2), plan.s16 * 1.8, 2, 72 + plan.tonic % 12 + penta[idx] + 12 * octv - 12,
                    80 * plan.dyn * rng.uniform(0.85, 1.05))  # fmt: skip


def make_song(
    genre: str, seconds: float, rng: np.random.Generator, *, sr: int = SAMPLE_RATE, tempo_scale: float = 1.0
) -> Song:
    """Compose and render ``seconds`` of music in the style of ``genre`` (an AIST++ genre code).

    tempo_scale: multiplies the tempo drawn from the genre's range (the same song, slower or faster).
    """
    st = STYLES[genre]
    plan = _draw_plan(st, seconds, rng, tempo_scale)
    ev = _Events()
    _write_drums(plan, ev, rng)
    _write_chords(plan, ev, rng)
    if plan.use_lead:
        _write_lead(plan, ev, rng)

    spb, offset, pr = plan.spb, plan.offset, plan.programs
    channels = {0: pr["bass"], 1: pr["harmony"], 2: pr["lead"], 3: pr["pad"]}
    audio = _render(ev, plan.n_bars * 16 * plan.s16 + 1.0, sr, plan.kit, channels)
    audio = _reverb(audio, sr, st.reverb * rng.uniform(0.6, 1.4), rng)
    i0 = int(round(offset * sr))
    audio = normalize_loudness(fit_length(audio[i0:], int(round(seconds * sr))))

    k = np.arange(int(np.ceil((seconds + offset) / spb)) + 1)
    bt = k * spb - offset
    keep = (bt >= -1e-9) & (bt < seconds)
    beats, downbeats = bt[keep], bt[keep & (k % 4 == 0)]
    key = f"{_NOTE_NAMES[plan.tonic]} {'minor' if plan.minor else 'major'}"
    instruments = {"drums_kit": plan.kit, "bass": pr["bass"], "harmony": pr["harmony"]}
    if plan.use_lead:
        instruments["lead"] = pr["lead"]
    if plan.use_pad:
        instruments["pad"] = pr["pad"]
    return Song(audio.astype(np.float32), sr, plan.tempo, beats, downbeats, key, instruments)


def _render(ev: _Events, seconds: float, sr: int, kit: int, programs: dict[int, int]) -> np.ndarray:
    """Render the events with tinysoundfont: float32[N] mono."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sr, gain=-3.0)
    sfid = synth.sfload(_soundfont_bytes())
    for chan, prog in programs.items():
        synth.program_select(chan, sfid, 0, prog)
    synth.program_select(9, sfid, 128, kit, is_drums=True)
    for chan, vol in ((0, 105), (1, 80), (2, 82), (3, 60), (9, 120)):
        synth.control_change(chan, 7, vol)
    items = sorted(ev.items)
    total = int(seconds * sr)
    out = np.zeros(total * 2, np.float32)
    pos = 0
    for t, _, chan, key, vel in items:
        at = min(total, int(t * sr))
        if at > pos:
            buf = synth.generate(at - pos)
            out[2 * pos : 2 * at] = np.frombuffer(buf, dtype=np.float32)
            pos = at
        if vel > 0:
            synth.noteon(chan, key, vel)
        else:
            synth.noteoff(chan, key)
    if total > pos:
        out[2 * pos :] = np.frombuffer(synth.generate(total - pos), dtype=np.float32)
    return out.reshape(-1, 2).mean(axis=1)


def _reverb(x: np.ndarray, sr: int, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A small room: convolution with exponentially decaying noise, mixed in at ``amount``."""
    from scipy.signal import fftconvolve

    if amount <= 0:
        return x
    rt = rng.uniform(0.25, 0.7)
    n = int(rt * sr)
    ir = rng.standard_normal(n).astype(np.float32) * np.exp(-6.9 * np.arange(n) / n).astype(np.float32)
    ir[: int(0.01 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir**2))
    wet = fftconvolve(x, ir)[: len(x)]
    return (x + amount * wet).astype(np.float32)


def normalize_loudness(x: np.ndarray, target_dbfs: float = -18.0, peak: float = 0.97) -> np.ndarray:
    """Scale to ``target_dbfs`` RMS, then soft-limit so no sample exceeds ``peak``."""
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    if rms < 1e-8:
        return x
    y = x * (10 ** (target_dbfs / 20) / rms)
    over = np.abs(y) > 0.8 * peak
    if np.any(over):  # tanh knee above 80% of the peak keeps the transients without clipping
        knee = 0.8 * peak
        room = peak - knee
        y = np.where(over, np.sign(y) * (knee + room * np.tanh((np.abs(y) - knee) / room)), y)
    return y.astype(np.float32)
