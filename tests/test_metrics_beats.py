"""Music-side metrics: official beats coverage/hit, the LORIS variant, beats and tempo (golden by construction)."""

import math

import numpy as np
import pytest

from dance2music.features import beats as FB
from dance2music.metrics import beats as B

SR = 22050


def click_track(times, seconds, sr=SR, tone=0.0):
    """Identical short 1.8 kHz clicks at ``times`` (seconds); an optional quiet steady tone underneath."""
    n = int(round(seconds * sr))
    y = np.zeros(n, np.float32)
    t = np.arange(int(0.03 * sr)) / sr
    click = (np.sin(2 * np.pi * 1800 * t) * np.exp(-t / 0.004)).astype(np.float32)
    for s in times:
        i = int(round(s * sr))
        seg = y[i : i + click.size]
        seg += click[: seg.size]
    if tone:
        y += tone * np.sin(2 * np.pi * 220 * np.arange(n) / sr).astype(np.float32)
    return y


def official_reference(ref, syn, sr=SR):
    """A literal re-computation of L-YeZhu/Beats_Scores' definition: list bins, a for loop, plain division."""
    import librosa

    def beat_detect(x):
        onsets = librosa.onset.onset_detect(
            y=x, sr=sr, wait=1, delta=0.2, pre_avg=1, post_avg=1, post_max=1, units="time"
        )
        beats = [0] * int(np.ceil(len(x) / sr))
        for time in onsets:
            beats[int(np.trunc(time))] = 1
        return beats

    gt, gen = beat_detect(ref), beat_detect(syn)
    assert len(gt) == len(gen)
    total = sum(gt)
    hit = 0
    for i in range(len(gt)):
        if gt[i] == 1 and gt[i] == gen[i]:
            hit += 1
    return sum(gen) / total, hit / total


def test_golden_bins_coverage_hit_and_loris():
    # clicks a quarter second into chosen 1-s bins, far from bin edges: reference bins {0, 2, 3, 5},
    # generated bins {0, 1, 3}: coverage 3/4, hit 2/4; LORIS precision 2/3, recall 1/2, F1 4/7
    ref = click_track([0.25, 0.75, 2.25, 2.75, 3.25, 5.25, 5.75], 6.0)
    gen = click_track([0.25, 1.25, 1.75, 3.25], 6.0)
    assert list(B.onset_bins(B.detect_onsets(ref), ref.size)) == [1, 0, 1, 1, 0, 1]
    s = B.beats_scores(ref, gen)
    assert (s.n_ref, s.n_gen, s.n_hit, s.n_bins) == (4, 3, 2, 6)
    assert s.coverage == pytest.approx(0.75) and s.hit == pytest.approx(0.5)
    lo = B.loris_scores(B.beats_scores(ref, gen, params=B.LORIS_ONSET_PARAMS))
    assert lo.coverage == pytest.approx(2 / 3) and lo.hit == pytest.approx(0.5)
    assert B.f1(lo.coverage, lo.hit) == pytest.approx(4 / 7)
    # the reference against itself: everything covered and hit
    same = B.beats_scores(ref, ref)
    assert same.coverage == same.hit == 1.0


def test_coverage_is_not_bounded_by_one():
    ref = click_track([0.5, 3.5], 4.0)
    gen = click_track([0.5, 1.5, 2.5, 3.5], 4.0)
    s = B.beats_scores(ref, gen)
    assert s.coverage == pytest.approx(2.0) and s.hit == pytest.approx(1.0)


def test_matches_a_direct_recomputation_of_the_official_definition():
    rng = np.random.default_rng(7)
    for k in range(4):
        seconds = 4.0 + k
        ref = click_track(np.sort(rng.uniform(0, seconds - 0.1, 6)), seconds, tone=0.02)
        ref += 0.003 * rng.standard_normal(ref.size).astype(np.float32)
        gen = click_track(np.sort(rng.uniform(0, seconds - 0.1, 5)), seconds, tone=0.05)
        gen += 0.003 * rng.standard_normal(gen.size).astype(np.float32)
        cov, hit = official_reference(ref, gen)
        s = B.beats_scores(ref, gen)
        assert s.coverage == pytest.approx(cov) and s.hit == pytest.approx(hit)


def test_reference_without_onsets_is_defined_not_a_division_by_zero():
    silence = np.zeros(3 * SR, np.float32)
    gen = click_track([0.5, 1.5], 3.0)
    s = B.beats_scores(silence, gen)
    assert not s.defined and math.isnan(s.coverage) and math.isnan(s.hit) and s.n_gen == 2
    lo = B.loris_scores(s)
    assert not lo.defined and lo.coverage == 0.0
    # left out of the mean and counted
    good = B.beats_scores(gen, gen)
    agg = B.aggregate_beats_scores([s, good], [lo, B.loris_scores(good)])
    assert agg.coverage == 1.0 and agg.hit == 1.0 and agg.n_undefined == 1 and agg.n_clips == 2
    # nothing generated: LORIS coverage 0 (its convention), official coverage 0
    s2 = B.beats_scores(gen, silence)
    assert s2.coverage == 0.0 and s2.hit == 0.0 and B.loris_scores(s2).coverage == 0.0


def test_different_lengths_compare_over_common_bins():
    ref = click_track([0.5, 1.5, 2.5, 3.5], 4.0)
    gen = click_track([0.5, 1.5], 2.0)
    s = B.beats_scores(ref, gen)
    assert s.n_bins == 2 and s.coverage == 1.0 and s.hit == 1.0


def test_click_track_beats_and_tempo():
    times = np.arange(0.25, 8.0, 0.5)  # 120 BPM
    y = click_track(times, 8.0)
    beats = FB.music_beats(y)
    assert beats.size >= len(times) - 2
    # every tracked beat sits on a click (within a frame and a half: onset strength lags by up to a frame)
    assert np.max(np.min(np.abs(beats[:, None] - times[None]), axis=1)) < 0.035
    tempo = B.estimate_tempo(y)
    assert B.tempo_error(tempo, 120.0, octave=False) < 0.03  # frame-quantized autocorrelation: 117.5 BPM
    assert B.tempo_error(2 * tempo, 120.0) < 0.03 and B.tempo_error(2 * tempo, 120.0, octave=False) > 0.9
    assert math.isnan(B.estimate_tempo(np.zeros(SR))) and FB.music_beats(np.zeros(SR)).size == 0
