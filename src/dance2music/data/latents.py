"""The GAN stage's training data: clips on the VQ code grid with their music's precomputed VQ-VAE features.

`encode_cache` encodes the music of every sequence of a feature cache once with the frozen VQ-VAE (stored under
``CACHE/latents/<sha12>-hop<hop>/``, `latent_dir`); `LatentClipDataset` cuts aligned clips that start on the
code grid from those files. `GANClipDataset` is the online alternative (music encoded at every step), and
`input_statistics` the per-dimension normalisation of the generator's inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..constants import CLIP_SECONDS
from ..errors import InputError
from ..features.rhythm import MAX_GRID_BPM, PHASE_WINDOW_BEATS, REFERENCE_BPM, estimate_rhythm, for_generator
from ..io.files import atomic_output
from ..types import Motion
from .augment import MotionAugment, degrade_motion
from .cache import FeatureCache
from .dataset import CachedClipDataset, SequenceClips, frames_at, select_entries


def input_statistics(cache: Any, use_visual: bool) -> dict[str, torch.Tensor]:
    """Per-dimension mean and std of the motion (and visual) features over every sequence of ``cache``."""
    m_sum = m_sq = None
    v_sum = v_sq = None
    m_n = v_n = 0
    for name in cache.names():
        motion, visual, _ = cache.load_arrays(name)
        f = motion.features().astype(np.float64)
        m_sum = f.sum(0) if m_sum is None else m_sum + f.sum(0)
        m_sq = (f**2).sum(0) if m_sq is None else m_sq + (f**2).sum(0)
        m_n += len(f)
        if use_visual and visual is not None:
            v = visual.features.astype(np.float64)
            v_sum = v.sum(0) if v_sum is None else v_sum + v.sum(0)
            v_sq = (v**2).sum(0) if v_sq is None else v_sq + (v**2).sum(0)
            v_n += len(v)

    def stats(s: np.ndarray, sq: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        mean = s / n
        std = np.sqrt(np.maximum(sq / n - mean**2, 0.0))
        return torch.from_numpy(mean).float(), torch.from_numpy(std).float()

    out: dict[str, torch.Tensor] = {}
    out["motion_mean"], out["motion_std"] = stats(m_sum, m_sq, m_n)
    if v_n:
        out["visual_mean"], out["visual_std"] = stats(v_sum, v_sq, v_n)
    return out


class GANClipDataset(CachedClipDataset):
    """`CachedClipDataset` items plus ``tempo`` (float32 BPM from the sequence's labels, NaN when unknown)."""

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        if "tempo" not in item:
            tempo = self.entries[self._items[index][0]].get("tempo")
            item["tempo"] = torch.tensor(float("nan") if tempo is None else float(tempo))
        return item


#: Crops drawn at most per item when the grid must keep the music's tempo (`LatentClipDataset`).
GRID_TRIES = 8


def grid_keeps_tempo(rhythm: np.ndarray | None, tempo: float, tolerance: float) -> bool:
    """Whether a crop's rhythm features (``[T_m, RHYTHM_DIM]``, as `LatentClipDataset` gives them) run at its music's
    ``tempo`` (BPM; halved above `MAX_GRID_BPM`, as `for_generator` gives the grid) within ``tolerance``."""
    if rhythm is None or rhythm.shape[0] == 0:
        return True
    expected = tempo / 2 if tempo > MAX_GRID_BPM else tempo
    bpm = REFERENCE_BPM * 2.0 ** float(np.median(rhythm[:, 4]))  # the features' log2(local bpm / 120) column
    return abs(np.log(max(bpm, 1e-6) / expected)) <= np.log1p(tolerance)


def latent_dir(cache_root: Path, vqvae_sha256: str, hop_length: int) -> Path:
    """Where `encode_cache` stores the targets of one VQ-VAE level: ``CACHE/latents/<sha12>-hop<hop>/``."""
    return Path(cache_root) / "latents" / f"{vqvae_sha256[:12]}-hop{hop_length}"


@torch.no_grad()
def encode_cache(cache: FeatureCache, vqvae: nn.Module, level: int, out: Path, *, progress: bool = True) -> int:
    """Encode the music of every sequence of ``cache`` once with the frozen VQ-VAE: ``out/<name>.npy``, float16
    ``[emb_width, ceil(N / hop)]`` (the continuous encoder output). Existing files are kept (resumable; each
    file appears atomically). Returns how many sequences were encoded now.

    Why: encoding the music is a third of a training step on CPU, and it is the same every epoch.
    """
    out.mkdir(parents=True, exist_ok=True)
    todo = [n for n in cache.names() if not (out / f"{n}.npy").is_file()]
    device = next(iter(vqvae.buffers())).device
    for name in tqdm(todo, desc="encode music", unit="seq", disable=not progress or not todo, file=sys.stderr):
        audio = torch.from_numpy(cache.read_audio(name)).to(device)[None, None]
        feats = vqvae.encode_features(audio, level)[0].float().cpu().numpy().astype(np.float16)
        with atomic_output(out / f"{name}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, feats)
    return len(todo)


class LatentClipDataset(SequenceClips):
    """Clips that start on the code grid, with the music's precomputed VQ-VAE features as targets.

    A clip of ``seconds`` starting at code ``c0`` holds ``n = floor(seconds * sr / hop)`` target codes
    (``latents: float32[emb, n]``, cut from the whole-sequence encoding of `encode_cache`), the music
    ``audio: float32[1, n * hop]`` from sample ``c0 * hop``, and ``motion: float32[T_m, 53]`` / ``visual:
    float32[T_v, D]`` from the frame nearest to that instant (so dance and music are aligned to within half a
    frame, 17 ms at 30 fps), plus ``genre`` (-1 unknown) and ``tempo`` (BPM, NaN unknown).

    Items are a pure function of (seed, epoch, index): with ``random_crop`` the start is drawn from
    ``default_rng([seed, epoch, index])`` over the whole sequence; without, clip k of a sequence starts at
    k * seconds. Sequences shorter than ``seconds`` are left out.

    With ``rhythm``, items also hold ``rhythm: float32[T_m, RHYTHM_DIM]``, read by `features.rhythm` from the
    clip's dance plus up to ``context_seconds`` each side (a random amount when cropping at random, so short
    and long views both occur); with ``augment`` that dance (and so the motion input too) is first degraded
    by `data.augment.degrade_motion` (training crops only).
    With ``grid_tempo_tolerance`` > 0 (random crops of sequences with a tempo label only), a crop whose grid is
    off its music's tempo by more than that fraction (the music's tempo halved above `MAX_GRID_BPM`, as the grid
    is) is drawn again, up to `GRID_TRIES` times: the pairs then teach the generator a grid that the music keeps.
    The labels choose which crops train; the grid itself is still read from the dance alone.
    """

    def __init__(
        self,
        cache: FeatureCache,
        latents: Path,
        *,
        hop_length: int,
        seconds: float = CLIP_SECONDS,
        seed: int = 0,
        random_crop: bool = True,
        visual: bool | str = "auto",
        rhythm: bool = False,
        augment: MotionAugment | None = None,
        context_seconds: float = 3.0,
        rhythm_window: float = PHASE_WINDOW_BEATS,
        grid_tempo_tolerance: float = 0.0,
    ) -> None:
        self.rhythm, self.augment, self.context_seconds = bool(rhythm), augment, float(context_seconds)
        self.grid_tempo_tolerance = float(grid_tempo_tolerance)
        self.rhythm_window = float(rhythm_window)
        self.cache, self.latents, self.hop = cache, Path(latents), int(hop_length)
        self.seconds, self.seed, self.random_crop, self.epoch = float(seconds), int(seed), random_crop, 0
        entries, self.use_visual = select_entries(cache, self.seconds, visual)
        self.entries = entries
        self.sr = int(entries[0]["sr"])
        self.motion_fps = float(entries[0]["motion_fps"])
        self.visual_fps = float(entries[0]["visual_fps"]) if self.use_visual else None
        self.visual_dim = int(entries[0]["visual_dim"]) if self.use_visual else 0
        self.num_codes = int(self.seconds * self.sr) // self.hop
        self.audio_samples = self.num_codes * self.hop
        self.motion_frames = int(round(self.seconds * self.motion_fps))
        self.visual_frames = int(round(self.seconds * self.visual_fps)) if self.use_visual else 0
        self._motion, self._visual, self._codes, self._last = [], [], [], []
        self._motions: list[Motion] = []
        self._items: list[tuple[int, int]] = []
        for i, e in enumerate(entries):
            motion, vis, _ = cache.load_arrays(e["name"])
            self._motion.append(motion.features())
            if self.rhythm or self.augment is not None:
                self._motions.append(motion)
            self._visual.append(vis.features if self.use_visual and vis is not None else None)
            path = self.latents / f"{e['name']}.npy"
            if not path.is_file():
                raise InputError(f"no encoded music for {e['name']} in {self.latents}")
            self._codes.append(np.load(path, mmap_mode="r"))
            # The last code start whose clip still has all its music, motion and visual frames.
            last = min(
                (int(round(e["duration"] * self.sr)) - self.audio_samples) // self.hop,
                self._codes[-1].shape[1] - self.num_codes,
                int(((len(self._motion[-1]) - self.motion_frames) / self.motion_fps) * self.sr) // self.hop,
            )
            if self.use_visual:
                v_last = (len(self._visual[-1]) - self.visual_frames) / self.visual_fps
                last = min(last, int(v_last * self.sr) // self.hop)
            last = max(last, 0)
            self._last.append(last)
            step = max(1, int(round(self.seconds * self.sr / self.hop)))
            self._items.extend((i, c) for c in range(0, last + 1, step))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i, c0 = self._items[index]
        e = self.entries[i]
        tempo = e.get("tempo")
        filtered = self.rhythm and self.random_crop and self.grid_tempo_tolerance > 0 and tempo is not None
        for k in range(GRID_TRIES if filtered else 1):
            if self.random_crop:
                key = [self.seed, self.epoch, index] + ([2, k] if k else [])
                c0 = int(np.random.default_rng(key).integers(0, self._last[i] + 1))
            t0 = c0 * self.hop / self.sr
            if self._motions:
                motion, rhythm = self._dance(i, t0, index)
            else:
                motion, rhythm = frames_at(self._motion[i], t0, self.motion_fps, self.motion_frames), None
            if not filtered or grid_keeps_tempo(rhythm, float(tempo), self.grid_tempo_tolerance):
                break
        audio = self._music(e["name"], c0 * self.hop)
        item = {
            "motion": torch.from_numpy(motion),
            "audio": torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None],
            "latents": torch.from_numpy(np.asarray(self._codes[i][:, c0 : c0 + self.num_codes], dtype=np.float32)),
            "genre": torch.tensor(-1 if e.get("genre") is None else int(e["genre"]), dtype=torch.int64),
            "tempo": torch.tensor(float("nan") if tempo is None else float(tempo)),
        }
        if self.use_visual:
            item["visual"] = torch.from_numpy(frames_at(self._visual[i], t0, self.visual_fps, self.visual_frames))
        if rhythm is not None:
            item["rhythm"] = torch.from_numpy(rhythm)
        return item

    def _dance(self, i: int, t0: float, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(motion features ``[T_m, 53]``, rhythm ``[T_m, RHYTHM_DIM]`` or None) of the clip at ``t0`` s."""
        m, n = self._motions[i], self.motion_frames
        f0 = int(round(t0 * self.motion_fps))
        ctx = int(round(self.context_seconds * self.motion_fps))
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        left, right = (int(rng.integers(0, ctx + 1)), int(rng.integers(0, ctx + 1))) if self.random_crop else (ctx, ctx)
        left = min(left, f0)
        lo, hi = f0 - left, min(m.num_frames, f0 + n + right)
        window = Motion(m.keypoints[lo:hi], m.fps, m.valid[lo:hi], m.root[lo:hi])
        if self.augment is not None and self.random_crop:
            window = degrade_motion(window, rng, self.augment)
        motion = frames_at(window.features(), left / self.motion_fps, self.motion_fps, n)
        if not self.rhythm:
            return motion, None
        rhythm = for_generator(estimate_rhythm(window, window_beats=self.rhythm_window))
        return motion, frames_at(rhythm.features(), left / self.motion_fps, self.motion_fps, n)
