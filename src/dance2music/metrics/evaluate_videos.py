"""``d2m evaluate --videos DIR``: music generated for your own dance videos, scored against the dancer's beats.

The dataset form of `d2m evaluate` (`metrics.evaluate`) needs each dance's own music in the AIST++ layout. A
folder of real videos usually has no such pairing (phone videos carry room sound or nothing), so this form
takes the reference from the video alone: the dancer's kinematic beats, from pose on every frame
(`features.extract`, `features.beats`). Each candidate is scored with `features.beats.beat_alignment`
(Bailando's BeatAlign, FACT's, and the beat F1 at +-100 ms), the measures of the dataset form:

- each ``--generated`` folder: ``<video stem>.wav`` for each video (what ``d2m generate VIDEO --wav`` writes);
- each ``--model``: music made here from the video's features with seeds 0..``seeds``-1 (the video's score is
  the mean over the seeds; the model is passed in as a callable, this layer does not load models);
- the video's own soundtrack, when it has one, and that soundtrack rolled by half its length (shift null);
- mismatched real music: the other videos' soundtracks, or, when no other video has one, every track of the
  MIT-licensed ``immich-memories-music`` package, each cut to the video's length at ``offsets`` places (the
  video's score is the mean over the cuts).

Means are over videos, with the standard error over videos (over cuts when there is one video).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import fit_length
from ..constants import SAMPLE_RATE
from ..data import music as music_data
from ..errors import InputError, NoPersonError
from ..features import extract
from ..features.beats import beat_alignment, kinematic_beats, music_beats
from ..io.audio import load_audio
from ..io.files import atomic_output
from ..io.video import probe, read_audio

#: Files taken as videos in the folder.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
#: The report's alignment columns (`features.beats.BeatAlignment.report_scores`).
SCORES = ("ba_bailando", "ba_fact", "beat_f1")
#: Makes music for a video: (its `features.extract.VideoFeatures`, seed) -> float32[N] at `SAMPLE_RATE`.
MusicMaker = Callable[[Any, int], np.ndarray]

_OWN, _SHIFT, _MISMATCHED = "own soundtrack", "own soundtrack, shifted", "mismatched real music"


@dataclass
class VideoReport:
    """rows: method -> per-video scores; summary: method -> means; notes: what was skipped and why."""

    rows: dict[str, list[dict[str, Any]]]
    summary: dict[str, dict[str, Any]]
    videos: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def score_music(kin: np.ndarray, audio: np.ndarray) -> dict[str, float]:
    """The report's columns for ``audio`` (at `SAMPLE_RATE`) against kinematic beat times ``kin`` (s)."""
    return beat_alignment(kin, music_beats(audio, sr=SAMPLE_RATE)).report_scores()


def mismatch_cuts(track: np.ndarray, n: int, offsets: int) -> list[np.ndarray]:
    """``offsets`` windows of ``n`` samples spread over ``track`` (the track padded when shorter): how a piece of
    real music that does not belong to a dance is cut to the dance's length."""
    if track.size <= n:
        return [fit_length(np.asarray(track, np.float32).ravel(), n)]
    return [track[int((track.size - n) * (k + 0.5) / offsets) :][:n] for k in range(offsets)]


def mean_se(values: list[float]) -> tuple[float, float]:
    """(mean, standard error) of the finite values; NaN for none, and a NaN error for one."""
    a = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan


def _mean_scores(per: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([s[k] for s in per])) for k in per[0]}


def _videos(video_dir: str | os.PathLike) -> list[Path]:
    folder = Path(video_dir)
    if not folder.is_dir():
        raise InputError(f"video folder not found: {folder}")
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise InputError(f"no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in {folder}")
    return videos


def _check_generated(gen: dict[str, Path], videos: list[Path], folder: Path) -> None:
    for d in gen.values():
        if not d.is_dir():
            raise InputError(f"generated folder not found: {d}")
        if not any((d / f"{v.stem}.wav").is_file() for v in videos):
            raise InputError(f"no wav in {d} is named after a video of {folder} (<video stem>.wav)")


def _references(videos: list[Path], notes: list[str], extract_kw: dict[str, Any]) -> list[tuple]:
    """Per video with a person: (path, features, kinematic beat times, samples, own soundtrack or None)."""
    refs = []
    for v in videos:
        info = probe(v)
        try:
            feats = extract.extract_features(v, visual=False, **extract_kw)
        except NoPersonError:
            notes.append(f"{v.name}: no person found, not scored")
            continue
        n = int(round(feats.duration * SAMPLE_RATE))
        own = fit_length(read_audio(v, SAMPLE_RATE), n) if info.has_audio else None
        refs.append((v, feats, kinematic_beats(feats.motion).times, n, own))
    return refs


def _summarize(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    summary = {}
    for method, rs in rows.items():
        if not rs:
            continue
        # the spread: over videos, or over the mismatched cuts of a single video
        spread = rs[0]["_per_cut"] if len(rs) == 1 and "_per_cut" in rs[0] else rs
        summary[method] = {"videos": len(rs)}
        for k in SCORES:
            summary[method][k] = mean_se([r[k] for r in rs])[0]
            summary[method][f"{k}_se"] = mean_se([r[k] for r in spread])[1]
    return summary


def evaluate_videos(
    video_dir: str | os.PathLike,
    generated: Mapping[str, str | os.PathLike],
    *,
    models: Mapping[str, MusicMaker] | None = None,
    seeds: int = 1,
    out_dir: str | os.PathLike | None = None,
    analysis_fps: float | None = None,
    pose_lanes: int | None = None,
    offsets: int = 3,
    force: bool = False,
    progress: bool = False,
) -> VideoReport:
    """Score each ``generated`` folder's ``<stem>.wav``, and the music each of ``models`` makes with seeds
    0..``seeds``-1, against the videos of ``video_dir`` (see the module).

    analysis_fps: pose frames per second for the reference beats (None: every frame); pose_lanes: pose trackers
    (None: `features.extract`'s default). Writes ``report.md`` and ``report.json`` into ``out_dir`` when given
    (refusing to overwrite without ``force``).
    """
    folder = Path(video_dir)
    videos = _videos(folder)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and (out / "report.md").exists() and not force:
        raise InputError(f"report exists: {out / 'report.md'} (use --force to overwrite)")
    gen = {name: Path(d) for name, d in generated.items()}
    _check_generated(gen, videos, folder)
    makers = dict(models or {})

    notes: list[str] = []
    extract_kw: dict[str, Any] = {"analysis_fps": analysis_fps, "progress": progress}
    if pose_lanes is not None:
        extract_kw["pose_lanes"] = pose_lanes
    refs = _references(videos, notes, extract_kw)
    if not refs:
        raise NoPersonError(f"no person found in any video of {folder}")
    with_sound = [r for r in refs if r[4] is not None]
    pools: set[str] = set()
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in [*gen, *makers]}
    rows.update({_OWN: [], _SHIFT: [], _MISMATCHED: []})
    immich = None
    for v, feats, kin, n, own in refs:
        base = {"video": v.name, "movement_beats": int(kin.size), "seconds": round(n / SAMPLE_RATE, 2)}
        for name, d in gen.items():
            wav = d / f"{v.stem}.wav"
            if not wav.is_file():
                notes.append(f"{name}: no {wav.name}, {v.name} not scored")
                continue
            rows[name].append({**base, **score_music(kin, fit_length(load_audio(wav, SAMPLE_RATE), n))})
        for name, make in makers.items():
            per_seed = [score_music(kin, fit_length(make(feats, s), n)) for s in range(seeds)]
            rows[name].append({**base, **_mean_scores(per_seed), "seeds": seeds})
        if own is not None:
            rows[_OWN].append({**base, **score_music(kin, own)})
            rows[_SHIFT].append({**base, **score_music(kin, np.roll(own, n // 2))})
        others = [r[4] for r in with_sound if r[0] != v]
        if others:
            cuts = [fit_length(o, n) for o in others]
            pools.add("the other videos' soundtracks")
        else:
            if immich is None:
                immich = [load_audio(p, sr=SAMPLE_RATE) for p in music_data.immich_tracks("all")]
            cuts = [c for track in immich for c in mismatch_cuts(track, n, offsets)]
            pools.add(f"the immich-memories-music tracks at {offsets} offsets each")
        per_cut = [score_music(kin, c) for c in cuts]
        rows[_MISMATCHED].append({**base, **_mean_scores(per_cut), "cuts": len(cuts), "_per_cut": per_cut})
    notes.append("mismatched music: " + " and ".join(sorted(pools)))
    summary = _summarize(rows)
    for r in rows[_MISMATCHED]:
        r.pop("_per_cut", None)
    meta = [
        {"video": v.name, "seconds": round(n / SAMPLE_RATE, 2), "movement_beats": int(kin.size),
         "soundtrack": own is not None, "people": feats.meta.get("people"),
         "detection_rate": round(float(feats.meta["detection_rate"]), 3)}
        for v, feats, kin, n, own in refs
    ]  # fmt: skip
    report = VideoReport(rows, summary, meta, notes)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_output(out / "report.json") as tmp:
            tmp.write_text(json.dumps({"summary": summary, "rows": rows, "videos": meta, "notes": notes}, indent=2))
        with atomic_output(out / "report.md") as tmp:
            tmp.write_text(markdown_report(report))
    return report


def markdown_table(report: VideoReport) -> str:
    """The summary as a markdown table (one row per music)."""
    lines = [
        "| music | videos | BA (Bailando) | BA (FACT) | beat F1 |",
        "| --- | --- | --- | --- | --- |",
    ]

    def cell(s: dict[str, Any], k: str) -> str:
        m, se = s[k], s[f"{k}_se"]
        if not np.isfinite(m):
            return "n/a"
        return f"{m:.3f}" + (f" ± {se:.3f}" if np.isfinite(se) else "")

    for method, s in report.summary.items():
        lines.append(
            f"| {method} | {s['videos']} | {cell(s, 'ba_bailando')} | {cell(s, 'ba_fact')} | {cell(s, 'beat_f1')} |"
        )
    return "\n".join(lines)


def markdown_report(report: VideoReport) -> str:
    vids = ", ".join(f"{v['video']} ({v['seconds']} s, {v['movement_beats']} movement beats)" for v in report.videos)
    return (
        "# d2m evaluate --videos\n\n"
        f"Videos: {vids}.\n\n"
        + markdown_table(report)
        + "\n\n- Reference: the dancer's kinematic beats (pose); BA (Bailando): mean over music beats of "
        "exp(-d²/2σ²), σ = 50 ms; BA (FACT): averaged over kinematic beats; beat F1 at ±100 ms.\n"
        "- ±: standard error over videos (over the mismatched cuts when there is one video).\n"
        + "".join(f"- {n}\n" for n in report.notes)
    )
