"""Training of the genre classifier (`models.genre_cnn.GenreCNN`) on labelled music.

- `train_genre_classifier`: random ``window_s`` crops of the training tracks (`metrics.genre.GenreTrack`), the
  model with the best validation window accuracy kept.
- `degrade`: the generic damage applied to training windows with ``augment``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..constants import SAMPLE_RATE
from ..errors import InputError
from ..metrics.genre import GenreTrack
from ..models.genre_cnn import WINDOW_S, GenreCNN, cut_windows, run_windows, to_model_rate


@dataclass
class TrainResult:
    """What `train_genre_classifier` returns: the best model (by validation window accuracy) and its curve."""

    model: GenreCNN
    val_accuracy: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _window_set(tracks: Sequence[GenreTrack], sr: int, window_s: float, min_samples: int):
    xs, ys = [], []
    for t in tracks:
        w = cut_windows(t.audio, sr, window_s, min_samples)
        xs.append(w)
        ys += [t.genre] * len(w)
    return np.concatenate(xs), np.array(ys)


def window_accuracy(model: GenreCNN, windows: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of windows classified as their label."""
    model.eval()
    pred = run_windows(model, windows).logits.argmax(-1).numpy()
    return float((pred == labels).mean()) if len(labels) else float("nan")


def degrade(batch: np.ndarray, sr: int, rng: np.random.Generator, p: float = 0.75) -> np.ndarray:
    """Degrade a batch of windows ``[B, N]`` the way imperfect synthesis does, each window with probability p.

    A classifier trained only on clean renderings keys on details that any generated audio lacks: additive
    white noise at 20 dB SNR halved its accuracy, and a VQ-VAE reconstruction took it to chance. So training
    windows get, independently: a low-pass at 2-10 kHz, a random spectral tilt of +-6 dB per octave around
    1 kHz, a synthetic room reverb (RT60 0.1-0.8 s) and white or pink noise at 0-35 dB SNR. Generic damage,
    not the artefacts of any one model.
    """
    out = batch.astype(np.float32, copy=True)
    n = out.shape[-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    for r in range(len(out)):
        if rng.random() >= p:
            continue
        x = out[r]
        power = float(np.mean(x**2)) + 1e-12
        spec = np.fft.rfft(x)
        gain = np.ones_like(freqs)
        if rng.random() < 0.5:
            gain *= freqs <= rng.uniform(2000.0, 10000.0)
        if rng.random() < 0.5:
            gain *= 10 ** (rng.uniform(-6.0, 6.0) * octaves / 20.0)
        x = np.fft.irfft(spec * gain, n)
        if rng.random() < 0.5:  # room reverb: noise under an exponential decay smears every transient
            rt60 = rng.uniform(0.1, 0.8)
            m = int(rt60 * sr)
            ir = rng.standard_normal(m) * np.exp(-6.9 * np.arange(m) / m)
            ir[0] = np.sqrt(np.sum(ir[1:] ** 2) * 10 ** (rng.uniform(-5.0, 15.0) / 10))  # direct-to-reverb ratio
            x = np.fft.irfft(np.fft.rfft(x, n + m) * np.fft.rfft(ir, n + m), n + m)[:n]
            x *= np.sqrt(power / (np.mean(x**2) + 1e-12))
        if rng.random() < 0.7:
            noise_spec = np.fft.rfft(rng.standard_normal(n))
            if rng.random() < 0.5:  # pink: power falls as 1/f
                noise_spec /= np.sqrt(np.maximum(freqs, 20.0))
            noise = np.fft.irfft(noise_spec, n)
            snr_db = rng.uniform(0.0, 35.0)
            x = x + noise * np.sqrt(power / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
        out[r] = x.astype(np.float32)
    return out


def train_genre_classifier(
    train: Sequence[GenreTrack],
    val: Sequence[GenreTrack] = (),
    *,
    model_kwargs: dict | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    window_s: float = WINDOW_S,
    crops_per_window: float = 1.0,
    augment: bool = False,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> TrainResult:
    """Train a `GenreCNN` on random ``window_s`` crops of the training tracks.

    Each epoch draws ``crops_per_window`` random crops per ``window_s`` of each track's length, with a random
    gain of +-6 dB (loudness must not decide the genre); with ``augment`` also `degrade`. The model with the
    best validation window accuracy is kept (the last one when there is no validation set); with ``augment``
    that accuracy is the mean over the clean validation windows and a degraded copy of them (fixed seed).
    Deterministic for a seed on one thread.
    """
    if not train:
        raise InputError("no training music found")
    kwargs = dict(model_kwargs or {})
    kwargs.setdefault("sr", SAMPLE_RATE)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GenreCNN(**kwargs)
    sr = model.sr
    win = int(round(window_s * sr))
    audios = [to_model_rate(t.audio, t.sr, model) for t in train]
    audios = [a if a.size >= win else np.pad(a, (0, win - a.size)) for a in audios]
    labels = np.array([t.genre for t in train])
    n_crops = [max(1, int(round(crops_per_window * a.size / win))) for a in audios]
    if val:
        val_x, val_y = _window_set(
            [GenreTrack(t.name, to_model_rate(t.audio, t.sr, model), sr, t.genre) for t in val],
            sr, window_s, model.min_samples,
        )  # fmt: skip
        val_noisy = degrade(val_x, sr, np.random.default_rng(seed + 1), p=1.0) if augment else None
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    best_acc, best_state, history = -1.0, None, []
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        items = np.repeat(np.arange(len(audios)), n_crops)
        rng.shuffle(items)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(items), batch_size):
            idx = items[i : i + batch_size]
            batch = np.empty((len(idx), win), np.float32)
            for r, k in enumerate(idx):
                s = rng.integers(0, audios[k].size - win + 1)
                batch[r] = audios[k][s : s + win] * 10 ** (rng.uniform(-6, 6) / 20)
            if augment:
                batch = degrade(batch, sr, rng)
            y = torch.from_numpy(labels[idx])
            out = model(torch.from_numpy(batch))
            loss = nn.functional.cross_entropy(out.logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.logits.argmax(-1) == y).sum())
            total += len(idx)
        sched.step()
        row = {"epoch": epoch + 1, "loss": loss_sum / total, "train_acc": correct / total}
        if val:
            row["val_acc"] = window_accuracy(model, val_x, val_y)
            if val_noisy is not None:
                row["val_acc_clean"] = row["val_acc"]
                row["val_acc_degraded"] = window_accuracy(model, val_noisy, val_y)
                row["val_acc"] = 0.5 * (row["val_acc_clean"] + row["val_acc_degraded"])
        history.append(row)
        score = row.get("val_acc", row["train_acc"]) if val else epoch
        if score >= best_acc:
            best_acc = score
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if log:
            log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    model.load_state_dict(best_state)
    model.eval()
    val_acc = float(best_acc) if val else float("nan")
    return TrainResult(model, val_acc, history, time.time() - t0)


def model_summary(model: GenreCNN) -> dict:
    """Parameter count, for logs and the config's info."""
    return {"parameters": int(sum(p.numel() for p in model.parameters()))}
