"""The feature cache: every sequence of a dataset read once (``d2m data prepare``), then cut at will.

```
CACHE/
  cache.json              how it was made: version, dataset kind, source folder, reader options, rates
  manifest.jsonl          one JSON line per finished sequence (see `prepare`)
  arrays/<name>.npz       keypoints [T,17,3] float32, valid [T] bool, root [T,2] float32 (motion at
                          motion_fps), visual [T_v,D] float32 at visual_fps (if any), smpl219 [N,219] (if asked)
  audio/<name>.wav        the music, mono float32 at sr (or audio/<name>.npy)
```
Whole sequences are stored (not fixed segments), so any clip length can be cut at training time.

Resumable: each file is written to a temporary name and renamed into place, and a manifest line is appended
(and flushed to disk) only after both files of its sequence exist. A rerun skips every sequence already in
the manifest; an interrupted sequence is simply done again, and stray temporary files are removed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import GENRES, MOTION_FPS, SAMPLE_RATE, VISUAL_FPS
from ..errors import ConfigError, D2MError, InputError
from ..io.files import atomic_output
from ..types import Motion, Visual
from .clips import Sequence, SequenceSource

CACHE_VERSION = 1
MANIFEST = "manifest.jsonl"
CACHE_INFO = "cache.json"
AUDIO_FORMATS = ("wav", "npy")


@dataclass
class PrepareReport:
    """What `prepare` did: sequences written now, already present, too short, and failed (name, reason)."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    too_short: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds_written: float = 0.0

    def summary(self) -> str:
        parts = [f"{len(self.written)} sequence(s) written ({self.seconds_written / 60:.1f} min)"]
        if self.existing:
            parts.append(f"{len(self.existing)} already cached")
        if self.too_short:
            parts.append(f"{len(self.too_short)} too short")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts) + f" -> {self.out_dir}"


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x


def read_manifest(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Manifest entries in file order, the last line winning for a repeated name.

    A line that does not parse (a run killed while appending it) is dropped; with ``repair`` the file is
    rewritten without it, so that later appends start on a clean line.
    """
    if not path.is_file():
        return []
    entries: dict[str, dict[str, Any]] = {}
    bad = False
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            entries[e["name"]] = e
        except (ValueError, KeyError, TypeError):
            bad = True
    if bad and repair:
        with atomic_output(path) as tmp:
            tmp.write_text("".join(json.dumps(e) + "\n" for e in entries.values()))
    return list(entries.values())


def _clean_partials(out: Path) -> None:
    """Remove temporary files left by a run that was killed (atomic_output names them ``.<stem>.*.part*``)."""
    for sub in ("arrays", "audio", "."):
        d = out / sub
        if d.is_dir():
            for p in d.glob(".*.part*"):
                p.unlink(missing_ok=True)


def _cache_info(source: SequenceSource, audio_format: str) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "kind": source.kind,
        "source": str(getattr(source, "root", "")),
        "options": _json_safe(source.options()),
        "motion_fps": MOTION_FPS,
        "visual_fps": VISUAL_FPS,
        "sr": int(getattr(source, "sr", SAMPLE_RATE)),
        "audio_format": audio_format,
    }


def _write_sequence(seq: Sequence, out: Path, audio_format: str) -> dict[str, Any]:
    """Write one sequence's arrays and audio (each atomically) and return its manifest entry."""
    if seq.audio is None:
        raise InputError(f"{seq.name} has no music")
    arrays_rel = f"arrays/{seq.name}.npz"
    audio_rel = f"audio/{seq.name}.{audio_format}"
    arrays: dict[str, np.ndarray] = {
        "keypoints": seq.motion.keypoints.astype(np.float32),
        "valid": seq.motion.valid.astype(bool),
        "root": seq.motion.root.astype(np.float32),
    }
    if seq.visual is not None:
        arrays["visual"] = seq.visual.features.astype(np.float32)
    smpl = seq.meta.get("smpl219")
    if smpl is not None:
        arrays["smpl219"] = np.asarray(smpl, dtype=np.float32)
    with atomic_output(out / arrays_rel) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    audio = np.asarray(seq.audio, dtype=np.float32)
    with atomic_output(out / audio_rel) as tmp:
        if audio_format == "wav":
            import soundfile as sf

            sf.write(str(tmp), audio, seq.sr, subtype="FLOAT", format="WAV")
        else:
            with open(tmp, "wb") as f:
                np.save(f, audio)
    meta = {k: v for k, v in seq.meta.items() if k not in ("smpl219", "beats", "downbeats", "tempo")}
    entry = {
        "name": seq.name,
        "genre": seq.genre,
        "genre_name": GENRES[seq.genre] if seq.genre is not None else None,
        "split": seq.split,
        "duration": round(float(seq.duration), 6),
        "arrays": arrays_rel,
        "audio": audio_rel,
        "sr": int(seq.sr),
        "motion_fps": seq.motion.fps,
        "motion_frames": seq.motion.num_frames,
        "visual_fps": seq.visual.fps if seq.visual is not None else None,
        "visual_dim": seq.visual.dim if seq.visual is not None else None,
        "visual_kind": seq.visual.kind if seq.visual is not None else None,
        "beats": seq.meta.get("beats"),
        "downbeats": seq.meta.get("downbeats"),
        "tempo": seq.meta.get("tempo"),
        "meta": meta,
    }
    return _json_safe(entry)


def prepare(
    source: SequenceSource,
    out_dir: str | os.PathLike,
    *,
    min_seconds: float = 0.0,
    audio_format: str = "wav",
    force: bool = False,
    progress: bool = True,
    workers: int = 1,
) -> PrepareReport:
    """Read every sequence of ``source`` once and store it in the cache at ``out_dir`` (see the module doc).

    min_seconds: sequences shorter than this are not stored (they cannot give a clip of that length).
    force: start the cache afresh (drop its manifest, rewrite every sequence) instead of resuming.
    workers: processes that load and write sequences in parallel (the manifest is appended by this one).
    A sequence that fails with a `D2MError` (missing file, no person ...) is reported and skipped; a rerun
    tries it again. Raises `ConfigError` when ``out_dir`` holds a cache prepared differently.
    """
    if audio_format not in AUDIO_FORMATS:
        raise ConfigError(f"audio format must be wav or npy, got {audio_format!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"cache path is not a folder: {out}")
    (out / "arrays").mkdir(parents=True, exist_ok=True)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    info = _cache_info(source, audio_format)
    info_path = out / CACHE_INFO
    manifest_path = out / MANIFEST
    if info_path.is_file() and not force:
        old = json.loads(info_path.read_text())
        diff = [k for k in info if k != "source" and old.get(k) != info[k]]
        if diff:
            raise ConfigError(
                f"{out} holds a cache prepared with other settings ({', '.join(diff)}); "
                "use another --out, or --force to start it afresh"
            )
    if force and manifest_path.exists():
        manifest_path.unlink()
    with atomic_output(info_path) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    _clean_partials(out)

    done = {e["name"] for e in read_manifest(manifest_path, repair=True)}
    report = PrepareReport(out)
    todo = []
    for name in source.names():
        (report.existing if name in done else todo).append(name)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"prepare {source.kind}", unit="seq", disable=not progress, file=sys.stderr)
    with open(manifest_path, "a", encoding="utf-8") as manifest:

        def record(name: str, status: str, result: Any) -> None:
            bar.update(1)
            bar.set_postfix_str(name[-40:], refresh=False)
            if status == "short":
                report.too_short.append(name)
            elif status == "failed":
                report.failed.append((name, result))
                bar.write(f"warning: skipped {name}: {result}", file=sys.stderr)
            else:
                # the arrays exist: only now may the manifest say so
                manifest.write(json.dumps(result) + "\n")
                manifest.flush()
                os.fsync(manifest.fileno())
                report.written.append(name)
                report.seconds_written += result["duration"]

        try:
            if workers <= 1:
                for name in todo:
                    record(*_prepare_one(source, name, out, audio_format, min_seconds))
            else:
                with ProcessPoolExecutor(workers) as pool:
                    futures = [pool.submit(_prepare_one, source, n, out, audio_format, min_seconds) for n in todo]
                    try:
                        for fut in as_completed(futures):
                            record(*fut.result())
                    except BaseException:
                        for fut in futures:
                            fut.cancel()
                        raise
        finally:
            bar.close()
    return report


def _prepare_one(
    source: SequenceSource, name: str, out: Path, audio_format: str, min_seconds: float
) -> tuple[str, str, Any]:
    """Load and write one sequence: (name, "ok", manifest entry) / (name, "short", None) / (name, "failed", why).

    Runs in a worker process when `prepare` has several; the files it writes appear atomically.
    """
    try:
        seq = source.load(name)
        if seq.duration < min_seconds:
            return name, "short", None
        return name, "ok", _write_sequence(seq, out, audio_format)
    except D2MError as e:
        return name, "failed", str(e)


class FeatureCache(SequenceSource):
    """Read a prepared cache: its manifest entries, and each entry as a whole `Sequence`.

    split: keep only entries of this split (None: all).
    """

    kind = "cache"

    def __init__(self, cache_dir: str | os.PathLike, split: str | None = None) -> None:
        self.root = Path(cache_dir)
        info_path = self.root / CACHE_INFO
        if not info_path.is_file():
            raise InputError(f"not a feature cache (no {CACHE_INFO}): {self.root}; make one with d2m data prepare")
        self.info = json.loads(info_path.read_text())
        if self.info.get("version") != CACHE_VERSION:
            raise InputError(f"{self.root}: cache version {self.info.get('version')}, expected {CACHE_VERSION}")
        self.sr = int(self.info.get("sr", SAMPLE_RATE))
        entries = read_manifest(self.root / MANIFEST)
        if split is not None:
            entries = [e for e in entries if e.get("split") == split]
        self.split = split
        self.entries = entries
        self._by_name = {e["name"]: e for e in entries}

    def names(self) -> list[str]:
        return [e["name"] for e in self.entries]

    def entry(self, name: str) -> dict[str, Any]:
        if name not in self._by_name:
            raise InputError(f"no sequence {name!r} in the cache {self.root}")
        return self._by_name[name]

    def load_arrays(self, name: str) -> tuple[Motion, Visual | None, np.ndarray | None]:
        """(motion, visual or None, smpl219 or None) of one cached sequence."""
        e = self.entry(name)
        with np.load(self.root / e["arrays"]) as z:
            motion = Motion(z["keypoints"], e["motion_fps"], z["valid"], z["root"])
            visual = None
            if "visual" in z.files:
                visual = Visual(z["visual"], e["visual_fps"], e.get("visual_kind") or "flowgrid")
            smpl = z["smpl219"] if "smpl219" in z.files else None
        return motion, visual, smpl

    def audio_path(self, name: str) -> Path:
        return self.root / self.entry(name)["audio"]

    def read_audio(self, name: str, start: int = 0, frames: int | None = None) -> np.ndarray:
        """float32 samples ``[start, start + frames)`` of a sequence's music (all from ``start`` if None)."""
        p = self.audio_path(name)
        if p.suffix == ".npy":
            a = np.load(p, mmap_mode="r")
            stop = len(a) if frames is None else start + frames
            return np.array(a[start:stop], dtype=np.float32)
        import soundfile as sf

        data, _ = sf.read(str(p), start=start, frames=-1 if frames is None else frames, dtype="float32")
        return data if data.ndim == 1 else data.mean(axis=1)

    def load(self, name: str) -> Sequence:
        e = self.entry(name)
        motion, visual, smpl = self.load_arrays(name)
        meta = dict(e.get("meta") or {})
        for key in ("beats", "downbeats", "tempo"):
            if e.get(key) is not None:
                meta[key] = e[key]
        if smpl is not None:
            meta["smpl219"] = smpl
            meta.setdefault("smpl219_fps", 60.0)
        return Sequence(
            name=name,
            motion=motion,
            audio=self.read_audio(name),
            sr=int(e.get("sr", self.sr)),
            visual=visual,
            genre=e.get("genre"),
            split=e.get("split"),
            meta=meta,
        )

    def __iter__(self) -> Iterator[Sequence]:
        for name in self.names():
            yield self.load(name)

    def total_seconds(self) -> float:
        return float(sum(e["duration"] for e in self.entries))

