"""Metrics: how well generated music fits the dance and the reference music.

- `beats`: beats coverage / beats hit exactly as the official D2M-GAN script, the LORIS variant, onsets, tempo.
  (Music and movement beats, BeatAlign and beat F1 are analysis the generator also uses: `features.beats`.)
- `genre`: genre accuracy with the project's genre classifier (`models.genre_cnn`), the paper's retrieval
  definition.
- `fad`: Frechet distance on that classifier's embedding.
- `sound`: noise floor, flatness, onset contrast, harmonic/percussive ratio.
- `evaluate`: `d2m evaluate` -- every metric over a dataset split with baselines, written as a report;
  `evaluate_videos` (your videos), `evaluate_motion` (keypoint panels).

Submodules are imported on demand (torch and matplotlib are heavy); see docs/evaluation.md.
"""
