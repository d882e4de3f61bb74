"""The feature cache: `d2m data prepare` (resumable, atomic) and the training Dataset over it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import dance2music.data.cache as cache_mod
from dance2music.cli import main
from dance2music.constants import MOTION_FPS, SAMPLE_RATE, VISUAL_FPS
from dance2music.data.aist import AISTDataset
from dance2music.data.cache import FeatureCache, prepare, read_manifest
from dance2music.data.clips import Sequence, SequenceSource, cut_clips
from dance2music.data.dataset import CachedClipDataset
from dance2music.errors import ConfigError, InputError
from dance2music.types import MOTION_FEATURE_DIM, Motion, Visual
from dataset_fixtures import POSE, make_aist


class ClockSource(SequenceSource):
    """In-memory sequences whose streams encode time: nose x = visual[:, 0] = audio = seconds."""

    kind = "clock"

    def __init__(self, durations: dict[str, float], fail: tuple[str, ...] = ()) -> None:
        self.durations, self.fail, self.loads = durations, fail, []

    def names(self):
        return list(self.durations)

    def load(self, name):
        self.loads.append(name)
        if name in self.fail:
            raise InputError(f"{name} is broken")
        d = self.durations[name]
        n = int(round(d * MOTION_FPS))
        kp = np.zeros((n, 17, 3), np.float32)
        kp[..., :2] = POSE
        kp[..., 2] = 1.0
        kp[:, 0, 0] = np.arange(n) / MOTION_FPS
        vis = np.zeros((int(round(d * VISUAL_FPS)), 4), np.float32)
        vis[:, 0] = np.arange(len(vis)) / VISUAL_FPS
        audio = (np.arange(int(round(d * SAMPLE_RATE))) / SAMPLE_RATE).astype(np.float32)
        genre = int(name[-1]) if name[-1].isdigit() else None
        return Sequence(name, Motion(kp, MOTION_FPS), audio, SAMPLE_RATE, Visual(vis, VISUAL_FPS), genre, "train",
                        {"beats": [0.5, 1.5], "tempo": 60.0})  # fmt: skip


def _no_partials(out):
    return [p for p in out.rglob("*") if ".part" in p.name]


def test_prepare_aist_round_trip(tmp_path):
    src = tmp_path / "aist"
    make_aist(src, seconds=3.0)
    out = tmp_path / "cache"
    ds = AISTDataset(src, "all", smpl219=True)
    report = prepare(ds, out, min_seconds=2.0, progress=False)
    assert len(report.written) == 5 and not report.failed
    entries = read_manifest(out / "manifest.jsonl")
    assert [e["name"] for e in entries] == ds.names()
    e = entries[0]
    assert e["genre"] == 0 and e["genre_name"] == "gBR" and e["split"] == "train" and e["duration"] == 3.0
    assert e["beats"][0] == 0.25 and e["tempo"] == 120.0 and e["visual_dim"] is None
    cache = FeatureCache(out)
    with np.load(out / e["arrays"]) as z:
        assert set(z.files) == {"keypoints", "valid", "root", "smpl219"}
        assert z["keypoints"].shape == (90, 17, 3) and z["smpl219"].shape == (180, 219)
    # clips cut from the cache equal clips cut from the dataset itself
    for name in ds.names()[:2]:
        a, b = cut_clips(ds.load(name), 1.0), cut_clips(cache.load(name), 1.0)
        assert [c.name for c in a] == [c.name for c in b] and len(a) == 3
        for ca, cb in zip(a, b):
            np.testing.assert_array_equal(ca.motion.keypoints, cb.motion.keypoints)
            np.testing.assert_array_equal(ca.motion.valid, cb.motion.valid)
            np.testing.assert_array_equal(ca.audio, cb.audio)
            np.testing.assert_array_equal(ca.meta["smpl219"], cb.meta["smpl219"])
            assert ca.meta["beats"] == cb.meta["beats"] and ca.genre == cb.genre
    assert FeatureCache(out, split="val").names() == ["gBR_sBM_cAll_d05_mBR0_ch02"]


def test_prepare_resumes_after_interruption(tmp_path, monkeypatch):
    source = ClockSource({f"s{k}": 2.5 for k in range(5)})
    out = tmp_path / "cache"
    real_write = cache_mod._write_sequence
    calls = {"n": 0}

    def write_then_die(seq, out_dir, fmt):
        calls["n"] += 1
        if calls["n"] == 3:  # killed while writing the third sequence: its arrays are half done
            with cache_mod.atomic_output(out_dir / "arrays" / f"{seq.name}.npz") as tmp:
                tmp.write_bytes(b"half")
                raise KeyboardInterrupt
        return real_write(seq, out_dir, fmt)

    monkeypatch.setattr(cache_mod, "_write_sequence", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        prepare(source, out, progress=False)
    assert [e["name"] for e in read_manifest(out / "manifest.jsonl")] == ["s0", "s1"]
    assert not (out / "arrays" / "s2.npz").exists() and not _no_partials(out)
    # a hard kill could also leave a stray temporary file and a torn manifest line
    (out / "audio" / ".s3.abc123.part.wav").write_bytes(b"junk")
    with open(out / "manifest.jsonl", "a") as f:
        f.write('{"name": "s3", "arr')
    monkeypatch.setattr(cache_mod, "_write_sequence", real_write)
    source.loads.clear()
    report = prepare(source, out, progress=False)
    assert source.loads == ["s2", "s3", "s4"] and report.existing == ["s0", "s1"]
    lines = (out / "manifest.jsonl").read_text().splitlines()
    names = [json.loads(ln)["name"] for ln in lines]
    assert sorted(names) == ["s0", "s1", "s2", "s3", "s4"] and len(names) == 5
    assert not _no_partials(out)
    assert sorted(p.name for p in (out / "arrays").iterdir()) == [f"s{k}.npz" for k in range(5)]
    # a third run has nothing to do
    source.loads.clear()
    assert len(prepare(source, out, progress=False).existing) == 5 and source.loads == []


def test_prepare_in_worker_processes(tmp_path):
    source = ClockSource({f"s{k}": 2.0 for k in range(4)}, fail=("s2",))
    report = prepare(source, tmp_path / "cache", progress=False, workers=2)
    assert sorted(report.written) == ["s0", "s1", "s3"] and report.failed[0][0] == "s2"
    serial = prepare(ClockSource({f"s{k}": 2.0 for k in range(4)}), tmp_path / "serial", progress=False)
    assert serial.written == ["s0", "s1", "s2", "s3"]
    cache, ref = FeatureCache(tmp_path / "cache"), FeatureCache(tmp_path / "serial")
    assert sorted(cache.names()) == ["s0", "s1", "s3"]
    for name in cache.names():
        np.testing.assert_array_equal(cache.load(name).audio, ref.load(name).audio)


def test_prepare_failures_short_sequences_and_settings(tmp_path):
    out = tmp_path / "cache"
    source = ClockSource({"ok0": 3.0, "short1": 1.0, "bad2": 3.0}, fail=("bad2",))
    report = prepare(source, out, min_seconds=2.0, audio_format="npy", progress=False)
    assert report.written == ["ok0"] and report.too_short == ["short1"] and report.failed[0][0] == "bad2"
    assert "1 failed" in report.summary()
    # the failed one is tried again next time
    source.fail = ()
    assert prepare(source, out, min_seconds=2.0, audio_format="npy", progress=False).written == ["bad2"]
    assert np.load(out / "audio" / "ok0.npy").shape == (3 * SAMPLE_RATE,)
    with pytest.raises(ConfigError, match="audio_format"):
        prepare(source, out, audio_format="wav", progress=False)
    report = prepare(source, out, audio_format="wav", force=True, progress=False, min_seconds=2.0)
    assert report.written == ["ok0", "bad2"] and FeatureCache(out).info["audio_format"] == "wav"
    with pytest.raises(InputError):
        FeatureCache(tmp_path)


def test_dataset_items_aligned_and_reproducible(tmp_path):
    out = tmp_path / "cache"
    prepare(ClockSource({"a3": 3.0, "b5": 4.2, "tiny": 0.5}), out, progress=False)
    ds = CachedClipDataset(out, 2.0, split="train", seed=7)
    assert len(ds) == 1 + 2  # back-to-back 2 s clips of 3.0 s and 4.2 s; 0.5 s gives none
    item = ds[1]
    assert item["motion"].shape == (60, MOTION_FEATURE_DIM) and item["motion"].dtype == torch.float32
    assert item["audio"].shape == (1, 2 * SAMPLE_RATE) and item["visual"].shape == (60, 4)
    assert item["genre"].item() == 5 and item["genre"].dtype == torch.int64
    for i in range(len(ds)):
        it = ds[i]
        t0 = it["start"].item()
        # every stream starts at the same instant: nose x, visual[0] and the audio ramp all read t0
        assert it["motion"][0, 0].item() == pytest.approx(t0, abs=1e-5)
        assert it["visual"][0, 0].item() == pytest.approx(t0, abs=1e-5)
        assert it["audio"][0, 0].item() == pytest.approx(t0, abs=1e-4)
        assert it["audio"][0, -1].item() == pytest.approx(t0 + 2.0 - 1 / SAMPLE_RATE, abs=1e-4)
    starts = [ds[i]["start"].item() for i in range(len(ds))]
    assert starts == [ds[i]["start"].item() for i in range(len(ds))]  # same seed and epoch: same crops
    ds.set_epoch(1)
    assert starts != [ds[i]["start"].item() for i in range(len(ds))]
    fixed = CachedClipDataset(out, 2.0, random_crop=False, visual=False)
    assert [fixed[i]["start"].item() for i in range(3)] == [0.0, 0.0, 2.0] and "visual" not in fixed[0]
    batch = next(iter(torch.utils.data.DataLoader(fixed, batch_size=3)))
    assert batch["motion"].shape == (3, 60, MOTION_FEATURE_DIM) and batch["audio"].shape == (3, 1, 44100)
    gained = CachedClipDataset(out, 1.0, random_crop=False, gain=(0.3, 0.5))
    ratio = gained[1]["audio"][0, -1] / CachedClipDataset(out, 1.0, random_crop=False)[1]["audio"][0, -1]
    assert 0.3 <= ratio.item() <= 0.5
    with pytest.raises(InputError):
        CachedClipDataset(out, 10.0)
    with pytest.raises(InputError):
        CachedClipDataset(out, 2.0, split="test")


def test_cli_prepare_and_info(tmp_path, capsys):
    src = tmp_path / "aist"
    make_aist(src, seconds=2.5)
    out = tmp_path / "cache"
    assert main(["data", "prepare", "aist", str(src), "--out", str(out), "--split", "train", "-q"]) == 0
    assert "3 sequence(s) written" in capsys.readouterr().out
    assert main(["data", "prepare", "aist", str(src), "--out", str(out), "--split", "test", "-q"]) == 0
    assert main(["data", "prepare", "aist", str(src), "--out", str(out), "-q"]) == 0
    assert "4 already cached" in capsys.readouterr().out
    assert len(FeatureCache(out).entries) == 5
    assert main(["data", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "5 sequence(s)" in info and "train 3" in info and "gBR 2" in info
    # settings that differ from the cache's: one-line error, non-zero exit
    code = main(["data", "prepare", "aist", str(src), "--out", str(out), "--camera", "perspective", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert main(["data", "prepare", "aist", str(tmp_path / "nope"), "--out", str(out)]) == 2


def test_cli_synth_missing_generator(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "dance2music.data.synth", None)  # as if the module were absent
    assert main(["data", "synth", "--out", "x", "--clips", "1", "--seconds", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the synthetic dataset generator is not available") and err.count("\n") == 1
