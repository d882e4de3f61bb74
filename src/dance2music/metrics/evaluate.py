"""`d2m evaluate`: score folders of generated music against the dance and the reference music.

Each generated folder holds wavs named by clip: ``<seq>_seg<k>.wav`` (segment k of the dataset's clip cutting,
`data.clips.cut_clips` with ``seconds`` and ``hop``) or ``<seq>.wav`` (the whole sequence). Every clip is
scored against its dance (kinematic beats of the motion) and its reference music. The same table holds the
baselines that give the numbers a scale:

- ``ground truth``: the clip's own music;
- ``mismatched``: the music of another sequence of the split at the same times (a random cyclic derangement:
  each piece of music is used once, never with its own dance);
- ``shift null``: the clip's own music rolled by a random offset (25-75 % of the clip): same beat count and
  regularity, alignment destroyed. BeatAlign and beat F1 use the ground-truth beats circularly shifted by the
  same offset, the audio metrics the rolled waveform.

A generated wav is cut or zero-padded to its reference clip's length, so every method is scored on the same
timeline. Columns: beats coverage / hit (official D2M-GAN), the LORIS variant and its F1, BeatAlign in the
Bailando and FACT directions, beat F1 (+-100 ms), tempo error, genre accuracy (classifier, and the paper's
retrieval definition) and FAD on the genre classifier's embedding against the ``bank_split`` music.
Writes ``report.md`` (Markdown table), ``report.json`` (settings, summary, per-clip rows) and plots.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..arrays import fit_length
from ..constants import CLIP_SECONDS, GENRES, SAMPLE_RATE
from ..data.aist import AISTDataset, parse_seq_name
from ..data.cache import _json_safe
from ..data.clips import clip_starts, cut_clip
from ..errors import ConfigError, InputError
from ..features import beats as FB
from ..features.kinematics import SPEED_SMOOTH_S
from ..io.audio import load_audio
from ..io.files import atomic_output
from ..models.genre_cnn import load_genre_model
from ..types import Motion
from . import beats as B
from . import plots
from .fad import fad
from .genre import classify, embed_windows, load_genre_tracks, retrieve_genre

#: Baseline rows, always in the table, in this order before the generated folders.
BASELINES = ("ground truth", "mismatched", "shift null")
#: Tempo counts as right within this relative error (octave errors forgiven).
TEMPO_TOLERANCE = 0.04
_SEG_RE = re.compile(r"^(?P<seq>.+)_seg(?P<k>\d+)$")


# --------------------------------------------------------------------------------------------------------------
# Inputs


def parse_generated(specs: list[str]) -> dict[str, Path]:
    """``["DIR", "NAME=DIR", ...]`` -> {name: folder}; an unnamed folder is named after itself."""
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or "/" in name or Path(spec).exists():
            name, path = "", spec
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise InputError(f"generated folder not found: {folder}")
        name = name.strip() or folder.resolve().name
        if name in BASELINES:
            raise ConfigError(f"generated folder name {name!r} is reserved for a baseline")
        base, i = name, 2
        while name in out:
            name, i = f"{base}_{i}", i + 1
        out[name] = folder
    return out


def list_wavs(folder: Path) -> dict[str, Path]:
    """{clip name: path} of the audio files in a folder (wav, flac, ogg, mp3)."""
    exts = {".wav", ".flac", ".ogg", ".mp3"}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in exts}


def parse_clip_name(name: str, sequences: set[str]) -> tuple[str, int | None] | None:
    """``<seq>_seg<k>`` -> (seq, k); ``<seq>`` -> (seq, None); None when the sequence is not in ``sequences``."""
    m = _SEG_RE.match(name)
    if m and m.group("seq") in sequences:
        return m.group("seq"), int(m.group("k"))
    if name in sequences:
        return name, None
    return None


def _tile_to(audio: np.ndarray, start: int, n: int) -> np.ndarray:
    """``n`` samples of ``audio`` from ``start``, wrapping around when the track is too short."""
    if audio.size == 0:
        return np.zeros(n, np.float32)
    idx = (start + np.arange(n)) % audio.size
    return np.asarray(audio[idx], dtype=np.float32)


def mismatch_partners(sequences: list[str], music_ids: list[str | None], seed: int) -> dict[str, str | None]:
    """Whose music each sequence gets in the mismatched baseline: a random cyclic derangement.

    Sequences are put in a random order and each takes the music of the next one, so every piece of music is
    used exactly once (the mismatched set has the same music as the ground truth, only the pairing with the
    dance is broken: genre accuracy and FAD of the two rows compare like with like). Of 200 random orders the
    one with the fewest partners sharing the music id (AIST++ reuses songs) is kept; such partners, and a
    split of one sequence, get None (no mismatched score for that clip).
    """
    n = len(sequences)
    if n < 2:
        return {s: None for s in sequences}
    rng = np.random.default_rng(seed)
    best, best_bad = None, n + 1
    for _ in range(200):
        order = rng.permutation(n)
        nxt = np.roll(order, -1)
        bad = sum(music_ids[i] is not None and music_ids[i] == music_ids[j] for i, j in zip(order, nxt))
        if bad < best_bad:
            best, best_bad = (order, nxt), bad
        if bad == 0:
            break
    order, nxt = best
    return {
        sequences[i]: None if music_ids[i] is not None and music_ids[i] == music_ids[j] else sequences[j]
        for i, j in zip(order, nxt)
    }


def _clip_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**32)


# --------------------------------------------------------------------------------------------------------------
# References


@dataclass
class ClipReference:
    """Everything the scores of one clip compare against.

    audio: float32[N] reference music at `SAMPLE_RATE`; motion: the clip's `Motion`; start/seconds on the
    sequence's timeline; kin: kinematic beats of the motion; beats: librosa beats of the reference music
    (seconds from the clip start); tempo: reference tempo (label if known, else estimated); label_beats:
    labelled beats in the clip (synthetic set) or None; ref_bins / ref_bins_loris: 1-s onset bins.
    """

    name: str
    seq: str
    start: float
    seconds: float
    genre: int | None
    audio: np.ndarray
    motion: Motion
    kin: FB.KinematicBeats
    beats: np.ndarray
    tempo: float
    label_beats: np.ndarray | None
    ref_bins: np.ndarray
    ref_bins_loris: np.ndarray
    music_id: str | None = None
    shift_s: float = 0.0
    mismatch_seq: str | None = None


def _onset_bins(audio: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    return B.onset_bins(B.detect_onsets(audio, SAMPLE_RATE, params), audio.size, SAMPLE_RATE)


def _build_reference(clip, seq_name: str, start: float, seed: int) -> ClipReference:
    audio = np.asarray(clip.audio, dtype=np.float32)
    label_tempo = clip.meta.get("tempo")
    tempo = float(label_tempo) if label_tempo else B.estimate_tempo(audio)
    lb = clip.meta.get("beats")
    seconds = audio.size / SAMPLE_RATE
    rng = np.random.default_rng(_clip_seed(seed, clip.name))
    return ClipReference(
        name=clip.name,
        seq=seq_name,
        start=start,
        seconds=seconds,
        genre=clip.genre,
        audio=audio,
        motion=clip.motion,
        kin=FB.kinematic_beats(clip.motion),
        beats=FB.music_beats(audio),
        tempo=tempo,
        label_beats=None if lb is None else np.asarray(lb, dtype=np.float64),
        ref_bins=_onset_bins(audio, B.OFFICIAL_ONSET_PARAMS),
        ref_bins_loris=_onset_bins(audio, B.LORIS_ONSET_PARAMS),
        music_id=clip.meta.get("music_id"),
        shift_s=float(rng.uniform(0.25, 0.75) * seconds),
    )


# --------------------------------------------------------------------------------------------------------------
# Scores


@dataclass
class GenreContext:
    """The genre model and the reference bank (embeddings of ``bank_split`` music windows) for one run."""

    model: Any
    name: str
    bank: np.ndarray | None = None
    bank_genres: np.ndarray | None = None


#: Per-clip row keys -> the `B.BeatsScores` / `B.LorisScores` fields they hold (written by `score_audio`, read
#: back by `summarize`), and summary keys -> the `B.BeatsSummary` fields.
_OFFICIAL_KEYS = {"bc": "coverage", "bh": "hit", "bins_ref": "n_ref", "bins_gen": "n_gen", "bins_hit": "n_hit"}
_LORIS_KEYS = {"loris_bc": "coverage", "loris_bh": "hit"}
_SUMMARY_KEYS = {
    "bc": "coverage", "bh": "hit", "bc_undefined": "n_undefined",
    "loris_bc": "loris_coverage", "loris_bh": "loris_hit", "loris_f1": "loris_f1",
}  # fmt: skip


def _fields(obj: Any, keys: Mapping[str, str], *, read: bool = False) -> dict[str, Any]:
    """``{key: obj.field}`` for ``keys`` (key -> field); with ``read``, the other way: ``{field: obj[key]}``."""
    if read:
        return {name: obj[key] for key, name in keys.items()}
    return {key: getattr(obj, name) for key, name in keys.items()}


def score_audio(
    ref: ClipReference,
    audio: np.ndarray,
    genre_ctx: GenreContext | None = None,
    beats_override: np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """All per-clip scores of one candidate music ``audio`` (already fitted to the clip) against ``ref``.

    Returns (row of scores, genre embeddings [W, E] of its windows or None).
    """
    official = B.beats_scores_from_bins(ref.ref_bins, _onset_bins(audio, B.OFFICIAL_ONSET_PARAMS))
    loris = B.loris_scores(B.beats_scores_from_bins(ref.ref_bins_loris, _onset_bins(audio, B.LORIS_ONSET_PARAMS)))
    row: dict[str, Any] = {**_fields(official, _OFFICIAL_KEYS), **_fields(loris, _LORIS_KEYS)}
    mbeats = FB.music_beats(audio) if beats_override is None else beats_override
    al = FB.beat_alignment(ref.kin.times, mbeats)
    row.update(
        **al.report_scores(), beat_matches=al.matches, n_music_beats=al.music_beats, n_motion_beats=al.motion_beats
    )
    tempo = B.estimate_tempo(audio)
    row.update(tempo=tempo, tempo_ref=ref.tempo, tempo_err=B.tempo_error(tempo, ref.tempo))
    emb = None
    if genre_ctx is not None:
        pred = classify(genre_ctx.model, audio, SAMPLE_RATE)
        emb = pred.embeddings
        row["genre_pred"] = GENRES[pred.genre] if pred.genre < len(GENRES) else str(pred.genre)
        if genre_ctx.bank is not None and len(genre_ctx.bank):
            g = retrieve_genre(emb, genre_ctx.bank, genre_ctx.bank_genres)
            row["genre_retrieved"] = GENRES[g] if g < len(GENRES) else str(g)
    return row, emb


def _nanmean(values: list[float]) -> tuple[float, int]:
    """(mean of the finite values, how many were NaN)."""
    a = np.array([v for v in values if v is not None], dtype=np.float64)
    finite = a[np.isfinite(a)]
    return (float(finite.mean()) if finite.size else float("nan")), int(a.size - finite.size)


def summarize(rows: list[dict[str, Any]], embeddings: list[np.ndarray], genre_ctx: GenreContext | None) -> dict:
    """Per-method summary of per-clip rows (means over clips with a defined score; counts of the others)."""
    s: dict[str, Any] = {"clips": len(rows)}
    official = [B.BeatsScores(**_fields(r, _OFFICIAL_KEYS, read=True), n_bins=0) for r in rows]
    loris = [B.LorisScores(**_fields(r, _LORIS_KEYS, read=True)) for r in rows]
    s.update(_fields(B.aggregate_beats_scores(official, loris), _SUMMARY_KEYS))
    for key in ("ba_bailando", "ba_fact", "beat_f1"):
        s[key], s[f"{key}_undefined"] = _nanmean([r[key] for r in rows])
    for key in ("ba_bailando", "beat_f1"):  # standard error of the mean over the clips with a defined score
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        s[f"{key}_sem"] = float(vals.std(ddof=1) / math.sqrt(vals.size)) if vals.size > 1 else float("nan")
    matches = sum(r["beat_matches"] for r in rows)
    total = sum(r["n_music_beats"] + r["n_motion_beats"] for r in rows)
    s["beat_f1_pooled"] = 2.0 * matches / total if total else float("nan")
    errs = np.array([r["tempo_err"] for r in rows], dtype=np.float64)
    errs = errs[np.isfinite(errs)]
    s["tempo_err_median"] = float(np.median(errs)) if errs.size else float("nan")
    s["tempo_acc"] = float((errs <= TEMPO_TOLERANCE).mean()) if errs.size else float("nan")
    if genre_ctx is not None:
        labelled = [r for r in rows if r.get("genre") is not None and "genre_pred" in r]
        s["genre_acc"] = (
            float(np.mean([r["genre_pred"] == r["genre"] for r in labelled])) if labelled else float("nan")
        )
        retrieved = [r for r in labelled if "genre_retrieved" in r]
        s["genre_retrieval_acc"] = (
            float(np.mean([r["genre_retrieved"] == r["genre"] for r in retrieved])) if retrieved else float("nan")
        )
        if genre_ctx.bank is not None and embeddings:
            s["fad"] = fad(np.concatenate(embeddings), genre_ctx.bank)
    return s


# --------------------------------------------------------------------------------------------------------------
# The run


@dataclass
class EvaluationReport:
    """What `evaluate` returns and writes: settings, per-method summary, per-clip rows, dataset checks."""

    methods: list[str]
    summary: dict[str, dict[str, Any]]
    clips: list[dict[str, Any]]
    settings: dict[str, Any]
    checks: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _load_genre_context(genre_model: str | None, data_dir: Path, bank_split: str | None, notes: list[str]):
    if not genre_model:
        return None
    model = load_genre_model(genre_model)  # a named model that cannot be loaded is the user's error
    ctx = GenreContext(model, str(genre_model))
    if bank_split:
        try:
            tracks = load_genre_tracks(data_dir, bank_split)
        except InputError as e:
            notes.append(f"retrieval genre and FAD skipped: no {bank_split} split to use as reference ({e})")
            tracks = []
        if tracks:
            embs, genres = [], []
            for t in tracks:
                e = embed_windows(model, t.audio, t.sr)
                embs.append(e)
                genres += [t.genre] * len(e)
            ctx.bank, ctx.bank_genres = np.concatenate(embs), np.array(genres)
    return ctx


def _clean(x: Any) -> Any:
    """JSON-safe as the cache's manifest (numpy scalars and arrays -> Python), and NaN/inf -> None (JSON has
    neither): the JSON parser turns the NaN/Infinity that `json.dumps` writes into None."""
    return json.loads(json.dumps(_json_safe(x)), parse_constant=lambda _: None)


def evaluate(
    data_dir: str | os.PathLike,
    *,
    generated: Mapping[str, str | os.PathLike] | None = None,
    split: str = "test",
    out_dir: str | os.PathLike | None = None,
    seconds: float = CLIP_SECONDS,
    hop: float | None = None,
    segments: bool = False,
    genre_model: str | None = "genre-cnn",
    bank_split: str | None = "train",
    max_clips: int | None = None,
    max_plots: int | None = None,
    seed: int = 0,
    progress: bool = True,
    force: bool = False,
    threads: int | None = 1,
) -> EvaluationReport:
    """Score generated folders and the baselines on a split of a dataset in the AIST++ layout.

    data_dir: dataset root (AIST++ or the synthetic set). generated: {row name: folder of wavs}; with none,
    only the baselines are scored, on whole sequences (or on ``seconds`` segments with ``segments``).
    seconds, hop: the clip cutting that ``<seq>_seg<k>`` names refer to (`data.clips.cut_clips`).
    genre_model: registered name or weights path of the genre classifier (None: skip genre and FAD); one that
    cannot be loaded raises `ModelError`.
    bank_split: split whose music is the reference for retrieval and FAD (None: skip those).
    max_clips: score at most this many clips (sorted by name). max_plots: per-clip plots to draw (None: all).
    out_dir: where report.md, report.json and plots/ go (None: nothing is written).
    threads: BLAS/OpenMP threads during the run (None: leave as is). The work is many small matrix products
    (mel filterbanks, onset envelopes) for which multi-threaded BLAS is slower: on a shared 2-core machine
    one thread ran them 40x faster than the default.
    """
    with _thread_limit(threads, torch_too=bool(genre_model)):
        return _evaluate(
            data_dir, generated=generated, split=split, out_dir=out_dir, seconds=seconds, hop=hop,
            segments=segments, genre_model=genre_model, bank_split=bank_split, max_clips=max_clips,
            max_plots=max_plots, seed=seed, progress=progress, force=force,
        )  # fmt: skip


@contextlib.contextmanager
def _thread_limit(threads: int | None, torch_too: bool):
    if threads is None:
        yield
        return
    torch = None
    if torch_too:
        import torch
    torch_threads = torch.get_num_threads() if torch else 0
    if torch:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch:
            torch.set_num_threads(torch_threads)


def _report_dir(out_dir: str | os.PathLike | None, force: bool) -> Path | None:
    """The report folder, refused when it is a file or holds a report and ``force`` is not given."""
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise InputError(f"report folder is a file: {out}")
        if (out / "report.md").exists() and not force:
            raise InputError(f"report exists: {out / 'report.md'} (use --force to overwrite)")
    return out


def _generated_files(
    gen_dirs: dict[str, Path], seq_set: set[str], split: str, notes: list[str]
) -> dict[str, dict[str, Path]]:
    """{row name: {clip name: wav}} of each generated folder; files not named after a clip are noted."""
    gen_files: dict[str, dict[str, Path]] = {}
    for name, folder in gen_dirs.items():
        if not folder.is_dir():
            raise InputError(f"generated folder not found: {folder}")
        wavs = list_wavs(folder)
        matched = {c: p for c, p in wavs.items() if parse_clip_name(c, seq_set) is not None}
        if not matched:
            raise InputError(
                f"no wav in {folder} is named after a clip of the {split} split (<seq>_seg<k>.wav or <seq>.wav)"
            )
        if len(matched) < len(wavs):
            notes.append(f"{name}: {len(wavs) - len(matched)} file(s) not named after a {split} clip were ignored")
        gen_files[name] = matched
    return gen_files


@dataclass
class _Run:
    """What one `evaluate` run gathers while it scores clips."""

    ds: AISTDataset
    seq_set: set[str]
    gen_files: dict[str, dict[str, Path]]
    genre_ctx: GenreContext | None
    out: Path | None
    max_plots: int | None
    seconds: float
    seed: int
    rows: dict[str, list[dict[str, Any]]]
    embeddings: dict[str, list[np.ndarray]]
    notes: list[str]
    # per scored clip, (labelled beats, music beats, kinematic beats, dance keyframes) for the tool checks
    beat_sets: list[tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None]] = field(default_factory=list)
    plot_files: list[str] = field(default_factory=list)
    music_cache: dict[str, np.ndarray] = field(default_factory=dict)

    def music_of(self, seq: str) -> np.ndarray:
        p = str(self.ds.music_path(seq))
        if p not in self.music_cache:
            self.music_cache[p] = load_audio(p, SAMPLE_RATE)
        return self.music_cache[p]


def _cut_named_clip(seq, name: str, k: int | None, starts, seconds: float):
    """(clip or None, start in s) of ``name``: the whole sequence (k None, whole frames) or segment k."""
    if k is None:
        length = math.floor(seq.duration * seq.motion.fps + 1e-6) / seq.motion.fps
        clip = cut_clip(seq, 0.0, length, name)
        while clip is None and length > 1.0 / seq.motion.fps:
            length -= 1.0 / seq.motion.fps
            clip = cut_clip(seq, 0.0, length, name)
        return clip, 0.0
    start = starts[k] / seq.motion.fps
    return cut_clip(seq, start, seconds, name), start


def _score_clip(run: _Run, seq, seq_name: str, name: str, starts, partner: str | None) -> None:
    """Score every method on clip ``name`` of ``seq`` (noting a clip that cannot be cut) and draw its plot."""
    _, k = parse_clip_name(name, run.seq_set)
    if k is not None and k >= len(starts):
        run.notes.append(f"{name}: the sequence has only {len(starts)} segment(s) of {run.seconds} s; skipped")
        return
    clip, start = _cut_named_clip(seq, name, k, starts, run.seconds)
    if clip is None or clip.audio is None:
        run.notes.append(f"{name}: the sequence does not cover this clip; skipped")
        return
    ref = _build_reference(clip, seq_name, start, run.seed)
    ref.mismatch_seq = partner
    dance = run.ds.labels(seq_name).get("dance_beats")  # the synthetic dancer's keyframe times
    if dance is not None:
        dance = np.asarray(dance, dtype=np.float64) - start
        dance = dance[(dance >= 0) & (dance < ref.seconds)]
    run.beat_sets.append((ref.label_beats, ref.beats, ref.kin.times, dance))
    n = ref.audio.size
    gt = ref.audio
    candidates: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "ground truth": (gt, ref.beats),
        "shift null": (
            np.roll(gt, int(round(ref.shift_s * SAMPLE_RATE))),
            FB.circular_shift(ref.beats, ref.shift_s, ref.seconds),
        ),
    }
    if partner is not None:
        candidates["mismatched"] = (_tile_to(run.music_of(partner), int(round(start * SAMPLE_RATE)), n), None)
    for gname, files in run.gen_files.items():
        if name in files:
            candidates[gname] = (fit_length(load_audio(files[name], SAMPLE_RATE), n), None)
    for method, (audio, override) in candidates.items():
        row, emb = score_audio(ref, audio, run.genre_ctx, override)
        row = {"clip": name, "method": method, "genre": GENRES[ref.genre] if ref.genre is not None else None, **row}
        run.rows[method].append(row)
        if emb is not None:
            run.embeddings[method].append(emb)
    if run.out is not None and (run.max_plots is None or len(run.plot_files) < run.max_plots):
        run.plot_files.append(_plot_clip(ref, candidates, list(run.gen_files), run.out))


def _evaluate(
    data_dir: str | os.PathLike,
    *,
    generated: Mapping[str, str | os.PathLike] | None,
    split: str,
    out_dir: str | os.PathLike | None,
    seconds: float,
    hop: float | None,
    segments: bool,
    genre_model: str | None,
    bank_split: str | None,
    max_clips: int | None,
    max_plots: int | None,
    seed: int,
    progress: bool,
    force: bool,
) -> EvaluationReport:
    from tqdm.auto import tqdm

    data_dir = Path(data_dir)
    ds = AISTDataset(data_dir, split, visual="none")
    sequences = ds.names()
    if not sequences:
        raise InputError(f"split {split!r} of {data_dir} lists no sequences")
    seq_set = set(sequences)
    out = _report_dir(out_dir, force)
    gen_dirs = {k: Path(v) for k, v in (generated or {}).items()}
    notes: list[str] = []
    gen_files = _generated_files(gen_dirs, seq_set, split, notes)
    if gen_files:
        clip_names = sorted(set().union(*[set(f) for f in gen_files.values()]))
    else:  # baselines only: whole sequences, or a placeholder expanded into segments when the sequence is read
        clip_names = [f"{s}_seg*" if segments else s for s in sequences]

    genre_ctx = _load_genre_context(genre_model, data_dir, bank_split, notes)
    methods = list(BASELINES) + list(gen_files)
    run = _Run(ds, seq_set, gen_files, genre_ctx, out, max_plots, seconds, seed,
               {m: [] for m in methods}, {m: [] for m in methods}, notes)  # fmt: skip
    if out is not None:
        (out / "plots").mkdir(parents=True, exist_ok=True)

    # group clips by sequence so that each sequence (and each partner's music) is read once
    by_seq: dict[str, list[str]] = {}
    for c in clip_names:
        seq = c[: -len("_seg*")] if c.endswith("_seg*") else parse_clip_name(c, seq_set)[0]
        by_seq.setdefault(seq, []).append(c)
    partners = mismatch_partners(sequences, [parse_seq_name(s)[1] for s in sequences], seed)

    n_total = sum(len(v) for v in by_seq.values())
    cap = max_clips if max_clips is not None else math.inf
    bar = tqdm(total=min(n_total, cap), desc="evaluate", unit="clip", disable=not progress)
    for seq_name, names in by_seq.items():
        if max_clips is not None and len(run.beat_sets) >= max_clips:
            break
        seq = ds.load(seq_name)
        starts = clip_starts(seq.duration, seconds, hop)
        if names == [f"{seq_name}_seg*"]:
            names = [f"{seq_name}_seg{k}" for k in range(len(starts))]
            bar.total = min(bar.total + len(names) - 1, cap)
            bar.refresh()
        for name in names:
            if max_clips is not None and len(run.beat_sets) >= max_clips:
                break
            _score_clip(run, seq, seq_name, name, starts, partners.get(seq_name))
            bar.update(1)
    bar.close()
    if not run.beat_sets:
        raise InputError("no clip could be scored (see the notes above)")

    summary = {m: summarize(run.rows[m], run.embeddings[m], genre_ctx) for m in methods if run.rows[m]}
    methods = [m for m in methods if m in summary]
    settings = {
        "data": str(data_dir),
        "split": split,
        "seconds": seconds,
        "hop": hop if hop is not None else seconds,
        "generated": {k: str(v) for k, v in gen_dirs.items()},
        "genre_model": genre_ctx.name if genre_ctx else None,
        "bank_split": bank_split if genre_ctx is not None and genre_ctx.bank is not None else None,
        "bank_windows": int(len(genre_ctx.bank)) if genre_ctx is not None and genre_ctx.bank is not None else 0,
        "seed": seed,
        "beat_align_sigma_s": FB.BEAT_ALIGN_SIGMA_S,
        "beat_f1_tolerance_s": FB.BEAT_F1_TOLERANCE_S,
        "speed_smooth_s": SPEED_SMOOTH_S,
        "official_onset_params": dict(B.OFFICIAL_ONSET_PARAMS),
        "loris_onset_params": dict(B.LORIS_ONSET_PARAMS),
    }
    all_rows = [r for m in methods for r in run.rows[m]]
    report = EvaluationReport(methods, summary, all_rows, settings, _dataset_checks(run.beat_sets), notes)
    if out is not None:
        _write_outputs(report, run.plot_files, out)
    return report


def _dataset_checks(beat_sets: list[tuple]) -> dict[str, Any]:
    """Sanity of the measuring tools on the ground truth, where the dataset labels its beats (synthetic set):
    librosa's beats against the labelled music beats, and the kinematic beats against the labelled music
    beats and against the dancer's labelled keyframes (``dance_beats``: some dances move on half or double
    time). F1 at +-100 ms, pooled over clips.

    beat_sets: per clip (labelled beats or None, librosa beats of the reference music, kinematic beats,
    labelled dance keyframes or None).
    """
    out: dict[str, Any] = {"clips_with_label_beats": sum(b[0] is not None for b in beat_sets)}
    if not out["clips_with_label_beats"]:
        return {}
    for key, ref_i, est_i in (
        ("music_beats_vs_labels_f1", 0, 1),
        ("motion_beats_vs_labels_f1", 0, 2),
        ("motion_beats_vs_dance_labels_f1", 3, 2),
    ):
        m = n = 0
        for b in beat_sets:
            if b[ref_i] is None:
                continue
            f = FB.beat_f1(b[ref_i], b[est_i])
            m += f.matches
            n += f.n_ref + f.n_est
        if n:
            out[key] = 2.0 * m / n
    return out


# --------------------------------------------------------------------------------------------------------------
# Outputs

_COLUMNS = (
    ("clips", "clips", "{:d}"),
    ("bc", "BC", "{:.3f}"),
    ("bh", "BH", "{:.3f}"),
    ("loris_bc", "LORIS BC", "{:.3f}"),
    ("loris_bh", "LORIS BH", "{:.3f}"),
    ("loris_f1", "LORIS F1", "{:.3f}"),
    ("ba_bailando", "BA (Bailando)", "{:.3f}"),
    ("ba_fact", "BA (FACT)", "{:.3f}"),
    ("beat_f1", "beat F1", "{:.3f}"),
    ("tempo_err_median", "tempo err", "{:.3f}"),
    ("tempo_acc", "tempo acc", "{:.3f}"),
    ("genre_acc", "genre acc", "{:.3f}"),
    ("genre_retrieval_acc", "genre acc (retrieval)", "{:.3f}"),
    ("fad", "FAD", "{:.2f}"),
)


def _fmt(v: Any, f: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    try:
        return f.format(v)
    except (ValueError, TypeError):
        return str(v)


def markdown_table(report: EvaluationReport) -> str:
    """The summary as a Markdown table: one row per method, one column per metric present."""
    cols = [c for c in _COLUMNS if any(c[0] in report.summary[m] for m in report.methods)]
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in report.methods:
        s = report.summary[m]
        cells = []
        for key, _, f in cols:
            cell = _fmt(s.get(key), f)
            if key in ("ba_bailando", "beat_f1") and math.isfinite(s.get(f"{key}_sem", float("nan"))):
                cell += f" ± {s[f'{key}_sem']:.3f}"
            cells.append(cell)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(report: EvaluationReport) -> str:
    st = report.settings
    parts = [
        "# Evaluation report",
        "",
        f"Data: `{st['data']}`, split `{st['split']}`. Clips `<seq>_seg<k>` are {st['seconds']} s every "
        f"{st['hop']} s. Genre model: `{st['genre_model']}`; retrieval and FAD reference: the "
        f"`{st['bank_split']}` split ({st['bank_windows']} windows of 2 s).",
        "",
        markdown_table(report),
        "",
        "- BC / BH: beats coverage / beats hit exactly as the official D2M-GAN script (onsets in 1-s bins; BC is "
        "not bounded by 1). LORIS BC / BH / F1: LORIS's variant (hits / generated bins, hits / reference bins).",
        "- BA (Bailando): mean over music beats of exp(-d²/2σ²), d to the nearest kinematic beat, σ = "
        f"{st['beat_align_sigma_s'] * 1000:.0f} ms; BA (FACT): the same averaged over kinematic beats. "
        f"beat F1: one-to-one matching within ±{st['beat_f1_tolerance_s'] * 1000:.0f} ms (± = standard error "
        "over clips).",
        f"- tempo err: median relative error (double/half forgiven); tempo acc: within {TEMPO_TOLERANCE:.0%}.",
        "- genre acc: the classifier's genre of the music = the dance's genre; (retrieval): the genre of the "
        "nearest reference window by embedding (the paper's definition). FAD: Frechet distance on the "
        "classifier's embedding to the reference split (comparable only with the same model).",
        "- Baselines: ground truth (the clip's own music), mismatched (another sequence's music), shift null "
        "(own music rolled by a random 25-75 % of the clip; beats circularly shifted).",
    ]
    undefined = {m: s.get("bc_undefined", 0) for m, s in report.summary.items() if s.get("bc_undefined")}
    if undefined:
        parts.append(f"- Clips whose reference has no onset (BC/BH undefined, left out): {undefined}.")
    und_ba = {m: s["ba_bailando_undefined"] for m, s in report.summary.items() if s.get("ba_bailando_undefined")}
    if und_ba:
        parts.append(f"- Clips with no music beat (BA Bailando undefined, left out): {und_ba}.")
    if report.checks:
        c = report.checks
        parts += [
            "",
            "## Measuring tools on the labelled ground truth",
            "",
            f"On {c['clips_with_label_beats']} clips with labelled beats (F1 at ±100 ms, pooled): librosa beats vs "
            f"labelled music beats {_fmt(c.get('music_beats_vs_labels_f1'), '{:.3f}')}; kinematic beats vs "
            f"labelled music beats {_fmt(c.get('motion_beats_vs_labels_f1'), '{:.3f}')}, vs the dancer's "
            f"labelled keyframes {_fmt(c.get('motion_beats_vs_dance_labels_f1'), '{:.3f}')}.",
        ]
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(parts) + "\n"


def _plot_clip(ref: ClipReference, candidates: dict, generated: list[str], out: Path) -> str:
    """Draw ``plots/<clip>.png``: the reference against the generated music (the mismatched one if none)."""
    shown = {m: candidates[m][0] for m in generated if m in candidates}
    if not shown and "mismatched" in candidates:
        shown = {"mismatched": candidates["mismatched"][0]}
    path = out / "plots" / f"{ref.name}.png"
    plots.plot_clip(ref, shown, path)
    return str(path.relative_to(out))


def _write_outputs(report: EvaluationReport, plot_files: list[str], out: Path) -> None:
    files = list(plot_files)
    path = out / "summary.png"
    plots.plot_summary(report, path)
    files.append(path.name)
    files += ["report.md", "report.json"]
    report.files = files
    with atomic_output(out / "report.json") as tmp:
        payload = {
            "settings": report.settings,
            "methods": report.methods,
            "summary": report.summary,
            "checks": report.checks,
            "notes": report.notes,
            "files": files,
            "clips": report.clips,
        }
        tmp.write_text(json.dumps(_clean(payload), indent=1) + "\n")
    with atomic_output(out / "report.md") as tmp:
        tmp.write_text(markdown_report(report))
