#!/usr/bin/env python
"""Check a synthetic dataset's labels against what the music and the motion really do.

Usage: python scripts/check_synth.py DIR [--pose N] [--limit N]

Prints:
1. tempo: librosa's beat tracker on each clip's music vs the labelled tempo (within 4%, or its double/half);
2. kinematic beats (local minima of joint speed, `dance2music.features.beats`) vs the labelled music
   beats: beat F1 at +-100 ms pooled over the set, from the 3D keypoints (front projection) and from the
   detector-like 2D keypoints, with the circular-shift null for scale;
3. genre: logistic regression on log-mel statistics, trained on the train split's music, scored on the
   test split (chance = 0.1);
4. with --pose N: MediaPipe pose (the project's pose pipeline) on N rendered videos: detection rate and
   median distance (pixels) between its keypoints and the labelled 2D keypoints.
Exit status 1 when a threshold of the issue is missed (tempo >= 90%, F1 >= 0.8, genre >= 0.3).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _tempo_ok(est: float, ref: float, tol: float = 0.04) -> bool:
    return any(abs(est / (ref * m) - 1.0) <= tol for m in (0.5, 1.0, 2.0))


def _mel_stats(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=64, hop_length=512) + 1e-10)
    onset = librosa.onset.onset_strength(S=mel, sr=sr)
    return np.concatenate([mel.mean(1), mel.std(1), [onset.mean(), onset.std()]])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", help="dataset folder written by `d2m data synth`")
    ap.add_argument("--pose", type=int, default=0, help="run MediaPipe on this many videos (default 0)")
    ap.add_argument("--limit", type=int, default=0, help="check only the first N sequences (default all)")
    args = ap.parse_args(argv)

    import librosa

    from dance2music.features import motion_formats as mf
    from dance2music.features.beats import circular_shift, kinematic_beats, match_beats
    from dance2music.io.audio import load_audio

    root = Path(args.root)
    names = sorted(p.stem for p in (root / "labels").glob("*.json"))
    if args.limit:
        names = names[: args.limit]
    if not names:
        print(f"error: no labels in {root / 'labels'}", file=sys.stderr)
        return 2
    splits = {}
    for s in ("train", "val", "test"):
        f = root / "splits" / f"crossmodal_{s}.txt"
        for n in f.read_text().split() if f.is_file() else []:
            splits[n] = s

    t0 = time.time()
    tempo_hits, feats, genres, split_of = [], [], [], []
    counts = {k: [0, 0, 0] for k in ("3d", "2d", "null")}  # matches, n_music, n_motion
    per_timing: dict[str, list[int]] = {}
    rng = np.random.default_rng(0)
    for name in names:
        lab = json.loads((root / "labels" / f"{name}.json").read_text())
        y = load_audio(root / "music" / f"{lab['music_id']}.wav", sr=22050)
        tempo, _ = librosa.beat.beat_track(y=y, sr=22050)
        tempo_hits.append(_tempo_ok(float(np.atleast_1d(tempo)[0]), float(lab["tempo"])))
        feats.append(_mel_stats(y, 22050))
        genres.append(lab["genre"])
        split_of.append(splits.get(name, "train"))

        beats = np.asarray(lab["beats"])
        dur = len(y) / 22050
        m3 = mf.read_aist_keypoints3d(root / "keypoints3d" / f"{name}.pkl")
        m2 = mf.read_aist_keypoints2d(root / "keypoints2d" / f"{name}.pkl")
        for key, motion in (("3d", m3), ("2d", m2)):
            kb = kinematic_beats(motion).times
            c = counts[key]
            c[0] += match_beats(beats, kb)
            c[1] += beats.size
            c[2] += kb.size
            if key == "3d":
                t = per_timing.setdefault(lab["timing"], [0, 0, 0])
                t[0] += match_beats(beats, kb)
                t[1] += beats.size
                t[2] += kb.size
                null = circular_shift(beats, float(rng.uniform(0.15, dur - 0.15)), dur)
                counts["null"][0] += match_beats(null, kb)
                counts["null"][1] += null.size
                counts["null"][2] += kb.size

    def f1(c: list[int]) -> float:
        return 2.0 * c[0] / max(1, c[1] + c[2])

    n = len(names)
    tempo_frac = float(np.mean(tempo_hits))
    print(f"clips: {n} ({time.time() - t0:.0f} s to analyse)")
    print(f"tempo: librosa beat tracker within 4% of the label (or x2, x0.5) on {tempo_frac:.1%} of clips")
    print(f"kinematic beats vs labelled beats, F1 at +-100 ms over the set: {f1(counts['3d']):.3f} (3D keypoints), "
          f"{f1(counts['2d']):.3f} (detector-like 2D keypoints); shift null {f1(counts['null']):.3f}")  # fmt: skip
    for timing, c in sorted(per_timing.items()):
        print(f"  timing {timing:6s}: F1 {f1(c):.3f} (precision {c[0] / max(1, c[2]):.2f}, "
              f"recall {c[0] / max(1, c[1]):.2f}, {c[1]} music beats)")  # fmt: skip

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, g, sp = np.stack(feats), np.array(genres), np.array(split_of)
    tr, te = sp == "train", sp == "test"
    genre_acc = float("nan")
    if tr.sum() >= 2 and te.sum() >= 1 and len(set(g[tr])) > 1:
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=0.5))
        clf.fit(x[tr], g[tr])
        genre_acc = float(np.mean(clf.predict(x[te]) == g[te]))
        print(f"genre: logistic regression on log-mel statistics, train {int(tr.sum())} clips -> test "
              f"{int(te.sum())} clips: accuracy {genre_acc:.2f} (chance 0.10)")  # fmt: skip
    else:
        print("genre: not enough clips in the train and test splits to score")

    if args.pose > 0:
        _check_pose(root, names[: args.pose])

    ok = tempo_frac >= 0.9 and f1(counts["3d"]) >= 0.8 and (np.isnan(genre_acc) or genre_acc >= 0.3)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _check_pose(root: Path, names: list[str]) -> None:
    """MediaPipe on the rendered videos vs the labelled 2D keypoints (every 3rd frame)."""
    from dance2music.features import motion_formats as mf
    from dance2music.features.pose import PoseEstimator
    from dance2music.io.video import iter_frames

    found, total, errs = 0, 0, []
    for name in names:
        video = root / "videos" / f"{name.replace('cAll', 'c01')}.mp4"
        kp = mf.load_pickle(root / "keypoints2d" / f"{name}.pkl")["keypoints2d"][0]
        with PoseEstimator() as est:
            for i, (t, rgb) in enumerate(iter_frames(video)):
                if i % 3:
                    continue
                total += 1
                det = est(rgb)
                j = min(len(kp) - 1, int(round(t * 60)))
                ref = kp[j]
                if det is None:
                    continue
                found += 1
                good = ref[:, 2] > 0.5
                if good.any():
                    errs.append(float(np.median(np.linalg.norm(det[good, :2] - ref[good, :2], axis=1))))
    med = float(np.median(errs)) if errs else float("nan")
    print(f"pose: MediaPipe found the dancer on {found}/{total} frames ({found / max(1, total):.1%}) of "
          f"{len(names)} videos; median keypoint distance to the labels {med:.1f} px")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
