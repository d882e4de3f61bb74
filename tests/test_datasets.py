"""Dataset readers on tiny fixtures in each dataset's exact layout: aligned clips of any length."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import dance2music.features.extract as extract_mod
import dance2music.io.video as video_mod
from dance2music.constants import GENRES, MOTION_FPS, SAMPLE_RATE
from dance2music.data.aist import AISTDataset, parse_seq_name
from dance2music.data.clips import cut_clips
from dance2music.data.tiktok import TikTokRaw, TikTokSegments, open_tiktok
from dance2music.data.videos import VideoFolder
from dance2music.errors import ConfigError, InputError, VideoError
from dance2music.features.visual import FLOWGRID_DIM
from dataset_fixtures import (
    COCO_TO_BODY25,
    dancing_pixels,
    fake_features,
    make_aist,
    tone,
    write_openpose_frame,
    write_tiny_video,
)


@pytest.fixture(scope="module")
def aist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("aist")
    make_aist(root, seconds=5.0)
    return root


def test_parse_seq_name():
    assert parse_seq_name("gBR_sBM_cAll_d04_mBR0_ch01") == ("gBR", "mBR0")
    assert parse_seq_name("gLH_sFM_cAll_d16_mLH12_ch04") == ("gLH", "mLH12")


def test_aist_splits_ignore_and_genres(aist_root):
    train = AISTDataset(aist_root, "train")
    # the ignore list drops gPO; the split file order is kept
    assert train.names() == ["gBR_sBM_cAll_d04_mBR0_ch01", "gHO_sFM_cAll_d20_mHO3_ch09", "gJB_sBM_cAll_d07_mJB2_ch03"]
    assert AISTDataset(aist_root, "val").names() == ["gBR_sBM_cAll_d05_mBR0_ch02"]
    assert len(AISTDataset(aist_root, "all")) == 5
    seq = train.load("gJB_sBM_cAll_d07_mJB2_ch03")
    assert seq.genre == GENRES.index("gJB") == 9 and seq.split == "train" and seq.meta["music_id"] == "mJB2"
    assert seq.meta["tempo"] == 120.0 and seq.meta["beats"][:2] == [0.25, 0.75]
    with pytest.raises(ConfigError):
        AISTDataset(aist_root, "dev")
    with pytest.raises(InputError):
        AISTDataset(aist_root / "music")


def test_aist_sequence_streams(aist_root):
    ds = AISTDataset(aist_root, "all")
    seq = ds.load("gBR_sBM_cAll_d04_mBR0_ch01")
    assert seq.motion.fps == MOTION_FPS and seq.motion.num_frames == 150  # 5 s at 60 fps -> 30 fps
    assert seq.motion.meta["view"] == 0 and seq.visual is None  # no videos/ folder
    assert seq.sr == SAMPLE_RATE and seq.audio.dtype == np.float32 and len(seq.audio) == 6 * SAMPLE_RATE
    assert seq.duration == pytest.approx(5.0)
    # the same music id gives the same music
    other = ds.load("gBR_sBM_cAll_d05_mBR0_ch02")
    np.testing.assert_array_equal(seq.audio, other.audio)
    # 3D-only sequence: projected keypoints; forcing keypoints2d fails in one line
    ho = ds.load("gHO_sFM_cAll_d20_mHO3_ch09")
    assert ho.motion.meta["format"] == "aist-keypoints3d"
    with pytest.raises(InputError):
        AISTDataset(aist_root, motion_source="keypoints2d").load("gHO_sFM_cAll_d20_mHO3_ch09")


@pytest.mark.parametrize(("seconds", "hop", "count"), [(2.0, None, 2), (1.0, 0.5, 9), (4.5, None, 1), (6.0, None, 0)])
def test_aist_clips_any_length(aist_root, seconds, hop, count):
    ds = AISTDataset(aist_root, "all", smpl219=True)
    seq = ds.load("gBR_sBM_cAll_d04_mBR0_ch01")
    clips = cut_clips(seq, seconds, hop)
    assert len(clips) == count
    for k, clip in enumerate(clips):
        assert clip.name == f"gBR_sBM_cAll_d04_mBR0_ch01_seg{k}"
        assert clip.motion.num_frames == round(seconds * MOTION_FPS)
        assert clip.audio.shape == (round(seconds * SAMPLE_RATE),)
        assert clip.meta["smpl219"].shape == (round(seconds * 60), 219)
        start = k * (hop or seconds)
        assert clip.meta["start"] == pytest.approx(start)
        i0 = round(start * SAMPLE_RATE)
        np.testing.assert_array_equal(clip.audio, seq.audio[i0 : i0 + len(clip.audio)])
        m0 = round(start * MOTION_FPS)
        np.testing.assert_array_equal(clip.motion.keypoints, seq.motion.keypoints[m0 : m0 + clip.motion.num_frames])
        # beats shifted into the clip's own time
        expect = [b - start for b in seq.meta["beats"] if start <= b < start + seconds]
        np.testing.assert_allclose(clip.meta["beats"], expect)
        assert clip.genre == 0 and clip.sr == SAMPLE_RATE


def test_aist_with_videos(tmp_path, monkeypatch):
    root = tmp_path / "aist"
    make_aist(root, seconds=3.0)
    write_tiny_video(root / "videos" / "gBR_sBM_c01_d04_mBR0_ch01.mp4", 3.0)
    (root / "videos" / "gKR_sBM_c02_d28_mKR4_ch07.mp4").write_bytes(b"stand-in: the pose pipeline is faked")
    ds = AISTDataset(root, "all")
    # keypoints give the motion; the real visual extractor runs on the real video
    seq = ds.load("gBR_sBM_cAll_d04_mBR0_ch01")
    assert seq.motion.meta["format"] == "aist-keypoints2d" and seq.meta["video"].endswith("c01_d04_mBR0_ch01.mp4")
    assert seq.visual.kind == "flowgrid" and seq.visual.dim == FLOWGRID_DIM and seq.visual.num_frames == 90
    clip = cut_clips(seq, 1.0)[1]
    assert clip.visual.num_frames == 30 and clip.motion.num_frames == 30 and len(clip.audio) == SAMPLE_RATE
    # motion from the pose pipeline when asked; any camera's video is found
    calls = []

    def fake_extract(path, *, progress=False):
        calls.append(path.name)
        return fake_features(3.0)

    monkeypatch.setattr(extract_mod, "extract_features", fake_extract)
    seq = AISTDataset(root, "test", motion_source="video").load("gKR_sBM_cAll_d28_mKR4_ch07")
    assert calls == ["gKR_sBM_c02_d28_mKR4_ch07.mp4"] and seq.motion.meta == {}
    clip = cut_clips(seq, 1.0)[2]
    # motion, visual and music of a clip start at the same instant (the fake features encode time)
    assert clip.visual.features[0, 0] == pytest.approx(2.0) and clip.motion.keypoints[0, 0, 0] == pytest.approx(2.0)
    # no visual for a sequence without video, unless required
    assert ds.load("gJB_sBM_cAll_d07_mJB2_ch03").visual is None
    with pytest.raises(InputError):
        AISTDataset(root, "all", visual="video").load("gJB_sBM_cAll_d07_mJB2_ch03")
    assert AISTDataset(root, "all", visual="none").load("gBR_sBM_cAll_d04_mBR0_ch01").visual is None


def test_aist_missing_music_and_keypoints(tmp_path):
    root = tmp_path / "aist"
    make_aist(root, seconds=2.0)
    (root / "music" / "mJB2.wav").unlink()
    ds = AISTDataset(root, "train")
    with pytest.raises(InputError, match="mJB2"):
        ds.load("gJB_sBM_cAll_d07_mJB2_ch03")
    (root / "keypoints2d" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl").unlink()
    with pytest.raises(InputError, match="SMPL"):
        ds.load("gBR_sBM_cAll_d04_mBR0_ch01")


def test_aist_reads_the_synthetic_set(tmp_path):
    synth = pytest.importorskip("dance2music.data.synth")
    if not hasattr(synth, "make_dataset"):
        pytest.skip("synthetic dataset generator not available yet")
    out = tmp_path / "synth"
    synth.make_dataset(out, 1, 2.0, 0, progress=False)
    ds = AISTDataset(out, "all", visual="none", smpl219=True)
    assert len(ds) == 1
    seq = ds.load(ds.names()[0])
    assert seq.genre is not None and seq.split in ("train", "val", "test") and seq.duration == pytest.approx(2.0)
    assert seq.motion.meta["format"] == "aist-keypoints2d" and seq.motion.valid.mean() > 0.9
    assert seq.meta["tempo"] > 0 and all(0 <= b < 2.0 for b in seq.meta["beats"])
    clips = cut_clips(seq, 1.0)
    assert len(clips) == 2 and all(c.motion.num_frames == 30 and len(c.audio) == SAMPLE_RATE for c in clips)
    assert clips[1].meta["smpl219"].shape == (60, 219)


# ---------------------------------------------------------------- TikTok


def _body25(kp17: np.ndarray) -> np.ndarray:
    kp25 = np.zeros(kp17.shape[:-2] + (25, 3))
    kp25[..., list(COCO_TO_BODY25), :] = kp17
    return kp25


def make_tiktok_segments(root, segs_by_split):
    d = root / "tiktok"
    for sub in ("audio_s2", "motion_s2", "video_s2"):
        (d / sub).mkdir(parents=True)
    for split, segs in segs_by_split.items():
        for kind, folder, ext in (
            ("audio", "audio_s2", "wav"),
            ("motion", "motion_s2", "npy"),
            ("video", "video_s2", "npy"),
        ):
            lines = [f"./tiktok/{folder}/{s}.{ext}" for s in segs]
            (root / f"tiktok_{kind}_{split}_segment.txt").write_text("\n".join(lines) + "\n")
        for s in segs:
            k = int(s.rsplit("seg", 1)[1])
            np.save(d / "motion_s2" / f"{s}.npy", _body25(dancing_pixels(60, 30.0, seed=k)).reshape(60, 75))
            # every segment's music is a constant level k/10, so the joined order is visible
            sf.write(d / "audio_s2" / f"{s}.wav", np.full(2 * SAMPLE_RATE, k / 10, np.float32), SAMPLE_RATE)
            np.save(d / "video_s2" / f"{s}.npy", np.full((1, 16), float(k), np.float32))


def test_tiktok_segments_joined(tmp_path):
    make_tiktok_segments(
        tmp_path,
        {
            "train": ["000007_7_188_seg3", "000007_7_188_seg1", "000007_7_188_seg2", "000009_26_231_seg1",
                      "000009_26_231_seg2", "000009_26_231_seg4"],
            "test": ["000010_69_289_seg1"],
        },
    )  # fmt: skip
    ds = TikTokSegments(tmp_path, "train")
    assert ds.names() == ["000007_7_188", "000009_26_231_from1", "000009_26_231_from4"]
    seq = ds.load("000007_7_188")
    assert seq.genre is None and seq.split == "train" and seq.duration == pytest.approx(6.0)
    assert seq.motion.num_frames == 180 and seq.visual.num_frames == 180 and seq.visual.dim == 16
    levels = seq.audio[:: SAMPLE_RATE * 2]
    np.testing.assert_allclose(levels, [0.1, 0.2, 0.3], atol=1e-4)
    np.testing.assert_allclose(seq.visual.features[::60, 0], [1, 2, 3])
    clips = cut_clips(seq, 2.0)
    assert [c.name for c in clips] == [f"000007_7_188_seg{k}" for k in range(3)]
    assert all(c.motion.num_frames == 60 and c.audio.shape == (44100,) for c in clips)
    assert TikTokSegments(tmp_path, "test").names() == ["000010_69_289"]
    assert len(TikTokSegments(tmp_path, "all")) == 4
    assert TikTokSegments(tmp_path, visual="none").load("000010_69_289").visual is None
    assert isinstance(open_tiktok(tmp_path), TikTokSegments)


def test_tiktok_segments_without_lists(tmp_path):
    make_tiktok_segments(tmp_path, {"train": ["000011_74_320_seg1", "000011_74_320_seg2"]})
    for p in tmp_path.glob("*.txt"):
        p.unlink()
    ds = TikTokSegments(tmp_path / "tiktok")  # the tiktok/ folder itself also works
    assert ds.names() == ["000011_74_320"] and ds.load("000011_74_320").split is None
    with pytest.raises(InputError):
        TikTokSegments(tmp_path, "train")


def test_tiktok_raw_layout(tmp_path):
    for vid, n in (("000001", 45), ("000002", 30)):
        kp = dancing_pixels(n, 15.0)
        for t in range(n):
            write_openpose_frame(tmp_path / "openpose" / vid / f"{vid}_{t:012d}_keypoints.json", [kp[t]])
        (tmp_path / "music").mkdir(exist_ok=True)
        sf.write(tmp_path / "music" / f"{vid}.wav", tone(4.0, 22050), 22050)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("000002\n")
    write_tiny_video(tmp_path / "videos" / "000002.mp4", 2.0, fps=15.0)  # gives its fps and visual features
    ds = open_tiktok(tmp_path, fps=15.0)
    assert isinstance(ds, TikTokRaw) and ds.names() == ["000001", "000002"]
    seq = ds.load("000001")
    assert seq.motion.fps == MOTION_FPS and seq.motion.num_frames == 90 and seq.duration == pytest.approx(3.0)
    assert seq.split is None and seq.visual is None
    with_video = TikTokRaw(tmp_path, fps=99.0).load("000002")  # the video's own frame rate wins
    assert with_video.split == "test" and with_video.motion.num_frames == 60 and with_video.visual.num_frames == 60
    assert TikTokRaw(tmp_path, "test").names() == ["000002"]
    clips = cut_clips(seq, 1.5)
    assert len(clips) == 2 and clips[1].motion.num_frames == 45 and len(clips[1].audio) == round(1.5 * 22050)


# ---------------------------------------------------------------- folders of videos


def test_video_folder(tmp_path, monkeypatch):
    (tmp_path / "House").mkdir()
    (tmp_path / "gBR" / "studio").mkdir(parents=True)
    for rel in ("House/a.mp4", "gBR/studio/b.MOV", "c.webm", "silent.mp4", "notes.txt"):
        (tmp_path / rel).write_bytes(b"stand-in")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("House/a\n")

    def fake_audio(path, sr=SAMPLE_RATE, mono=True):
        if path.name == "silent.mp4":
            raise VideoError(f"{path.name} has no audio track")
        return tone(4.0, sr)

    monkeypatch.setattr(video_mod, "read_audio", fake_audio)
    monkeypatch.setattr(extract_mod, "extract_features", lambda path, progress=False: fake_features(4.0))
    ds = VideoFolder(tmp_path)
    assert ds.names() == ["House__a", "c", "gBR__studio__b", "silent"]
    a = ds.load("House__a")
    assert a.genre == GENRES.index("gHO") and a.split == "test" and a.visual.dim == 8
    assert ds.load("gBR__studio__b").genre == 0 and ds.load("c").genre is None
    with pytest.raises(InputError, match="no audio"):
        ds.load("silent")
    clips = cut_clips(a, 2.0)
    assert len(clips) == 2 and clips[1].visual.features[0, 0] == pytest.approx(2.0)
    assert VideoFolder(tmp_path, "test").names() == ["House__a"]
    with pytest.raises(InputError):
        VideoFolder(tmp_path / "splits")
