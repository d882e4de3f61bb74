"""Metrics: how well generated music fits the dance and the reference music.

- `beats`: beats coverage / beats hit exactly as the official D2M-GAN script, the LORIS variant, music beats,
  onsets and tempo.
- `motion_beats`: kinematic beats of a `types.Motion`, BeatAlign (Bailando and FACT directions), beat F1.
- `genre`: the project's genre classifier (log-mel CNN), its embedding, the paper's retrieval definition.
- `fad`: Frechet distance on that embedding.
- `evaluate`: `d2m evaluate` -- every metric over a dataset split with baselines, written as a report.

Submodules are imported on demand (torch and matplotlib are heavy); see docs/evaluation.md.
"""
