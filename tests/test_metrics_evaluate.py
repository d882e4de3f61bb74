"""`d2m evaluate` end to end on a tiny dataset in the AIST++ layout written by the test, and the genre model.

The fixture's dancers sway with speed minima exactly on their music's click beats, so the ground truth must
align and another sequence's music (a different tempo) must not.
"""

import json
import math
import pickle

import numpy as np
import pytest
import soundfile as sf

from dance2music.cli import main
from dance2music.errors import InputError, ModelError
from dance2music.metrics import genre as G
from dance2music.metrics.evaluate import evaluate, mismatch_partners, parse_clip_name, parse_generated
from dance2music.models import genre_cnn as GC
from dance2music.pretrained import registry
from dance2music.training import genre_cnn as TG

SR = 22050
SECONDS = 4.0
GENRE_CODES = ("gBR", "gPO", "gLO", "gMH", "gHO", "gKR")


@pytest.fixture(autouse=True)
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def click_music(beats, seconds, tone_hz):
    n = int(round(seconds * SR))
    y = 0.05 * np.sin(2 * np.pi * tone_hz * np.arange(n) / SR).astype(np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = (np.sin(2 * np.pi * 1800 * t) * np.exp(-t / 0.004)).astype(np.float32)
    for b in beats:
        i = int(round(b * SR))
        seg = y[i : i + click.size]
        seg += click[: seg.size]
    return y


def swaying_keypoints(first, period, seconds, fps=60):
    """keypoints2d [1, N, 17, 3] in pixels: the body sways sideways with zero speed at first + k * period."""
    t = np.arange(int(round(seconds * fps))) / fps
    x = 30.0 * (1 - np.cos(np.pi * (t - first) / period))
    body = np.array(
        [[0, -170], [-5, -175], [5, -175], [-10, -172], [10, -172], [-20, -140], [20, -140], [-30, -110],
         [30, -110], [-35, -80], [35, -80], [-12, -60], [12, -60], [-14, -30], [14, -30], [-15, 0], [15, 0]],
        float,
    )  # fmt: skip
    kp = np.zeros((1, t.size, 17, 3))
    kp[0, :, :, :2] = body[None] + [320.0, 300.0]
    kp[0, :, :, 0] += x[:, None]
    kp[0, :, 9:11, 1] -= 0.5 * x[:, None]  # hands move too, with the same timing
    kp[0, :, :, 2] = 0.9
    return kp


def write_dataset(root, n=6):
    for d in ("keypoints2d", "music", "splits", "labels"):
        (root / d).mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        g = GENRE_CODES[i % len(GENRE_CODES)]
        mid = f"m{g[1:]}{10 + i}"
        seq = f"{g}_sFM_cAll_d01_{mid}_ch{i:02d}"
        bpm = 84 + 9 * i
        period, first = 60.0 / bpm, 0.2 + 0.03 * i
        beats = np.arange(first, SECONDS, period)
        sf.write(root / "music" / f"{mid}.wav", click_music(beats, SECONDS, 150.0 + 60 * i), SR)
        kp = swaying_keypoints(first, period, SECONDS)
        with open(root / "keypoints2d" / f"{seq}.pkl", "wb") as f:
            det = np.ones(kp.shape[:2])
            pickle.dump({"keypoints2d": kp, "det_scores": det, "timestamps": np.arange(kp.shape[1])}, f)
        labels = {"genre": g, "tempo": bpm, "beats": beats.tolist(), "downbeats": beats[::4].tolist(), "music_id": mid,
                  "timing": "normal"}  # fmt: skip
        (root / "labels" / f"{seq}.json").write_text(json.dumps(labels))
        names.append(seq)
    split = {"train": names[:2], "val": [], "test": names[2:]}
    for s, v in split.items():
        (root / "splits" / f"crossmodal_{s}.txt").write_text("".join(x + "\n" for x in v))
    return names


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("aist")
    names = write_dataset(root)
    return root, names


@pytest.fixture(scope="module")
def tiny_genre_model(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    kwargs = {"n_mels": 16, "channels": [4, 8], "embed_dim": 8}
    model = GC.GenreCNN(**kwargs)
    path = tmp_path_factory.mktemp("genre") / "tiny_genre.safetensors"
    GC.save_genre_model(model, path, {"note": "random weights for tests"})
    return path


def test_baselines_report_and_alignment(dataset, tmp_path):
    root, names = dataset
    out = tmp_path / "report"
    rep = evaluate(root, out_dir=out, genre_model=None, max_plots=1, progress=False)
    assert rep.methods == ["ground truth", "mismatched", "shift null"]
    gt, mis = rep.summary["ground truth"], rep.summary["mismatched"]
    assert gt["clips"] == 4 and mis["clips"] == 4
    # official scores of the reference against itself
    assert gt["bc"] == 1.0 and gt["bh"] == 1.0
    # the metrics see alignment: the dance's own music against another tempo's music
    assert gt["ba_bailando"] > 0.6 and gt["ba_bailando"] > mis["ba_bailando"] + 0.3
    assert gt["beat_f1"] > 0.8 and gt["beat_f1"] > mis["beat_f1"] + 0.3
    assert rep.checks["motion_beats_vs_labels_f1"] > 0.9
    for f in ("report.md", "report.json", "summary.png"):
        assert (out / f).is_file()
    assert len(list((out / "plots").glob("*.png"))) == 1
    data = json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert {r["method"] for r in data["clips"]} == set(rep.methods) and len(data["clips"]) == 12
    md = (out / "report.md").read_text()
    assert "| ground truth |" in md and "BA (Bailando)" in md
    with pytest.raises(InputError, match="report exists"):
        evaluate(root, out_dir=out, genre_model=None, progress=False)


def test_generated_folders_segments_and_undefined_scores(dataset, tmp_path, tiny_genre_model):
    root, names = dataset
    copy, silent = tmp_path / "copy", tmp_path / "silent"
    copy.mkdir()
    silent.mkdir()
    for seq in names[2:4]:
        y, _ = sf.read(root / "music" / f"{seq.split('_')[4]}.wav", dtype="float32")
        sf.write(copy / f"{seq}_seg1.wav", y[2 * SR : 4 * SR], SR)  # segment 1 of 2-s clips: 2 s to 4 s
        sf.write(silent / f"{seq}_seg1.wav", np.zeros(2 * SR, np.float32), SR)
    sf.write(copy / "not_a_clip.wav", np.zeros(SR, np.float32), SR)
    gen = parse_generated([str(copy), f"quiet={silent}"])
    assert list(gen) == ["copy", "quiet"]
    rep = evaluate(root, generated=gen, genre_model=str(tiny_genre_model), progress=False)
    assert rep.methods == ["ground truth", "mismatched", "shift null", "copy", "quiet"]
    gt, cp, q = rep.summary["ground truth"], rep.summary["copy"], rep.summary["quiet"]
    assert cp["clips"] == gt["clips"] == 2
    for key in ("bc", "bh", "ba_bailando", "ba_fact", "beat_f1", "genre_acc", "fad"):
        assert cp[key] == pytest.approx(gt[key]), key
    # silence: nothing covered, no music beat (Bailando BA undefined and counted), FACT BA and F1 zero
    assert q["bc"] == 0.0 and q["bh"] == 0.0
    assert math.isnan(q["ba_bailando"]) and q["ba_bailando_undefined"] == 2
    assert q["ba_fact"] == 0.0 and q["beat_f1"] == 0.0
    assert math.isfinite(gt["fad"]) and 0.0 <= gt["genre_retrieval_acc"] <= 1.0
    assert rep.settings["bank_windows"] == 4  # two 4-s training tracks in 2-s windows
    assert any("not_a_clip" not in n and "1 file" in n for n in rep.notes)


def test_cli(dataset, tmp_path, capsys):
    root, _ = dataset
    out = tmp_path / "r"
    args = ["evaluate", "--data", str(root), "--out", str(out), "--genre-model", "none", "--max-clips", "2",
            "--max-plots", "0", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "| ground truth | 2 |" in capsys.readouterr().out
    assert (out / "report.md").is_file() and not list((out / "plots").glob("*.png"))
    assert main(args) == 2 and "error: report exists" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert main(["evaluate", "--data", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "error: no such dataset folder" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(root), "--out", str(out), "--generated", str(tmp_path / "nope")]) == 2
    assert main(["evaluate", "--data", str(root), "--out", str(out), "--force", "--genre-model", "nope"]) == 4
    assert "error: unknown model 'nope'" in capsys.readouterr().err


def test_clip_names():
    seqs = {"gBR_sFM_cAll_d01_mBR0_ch01"}
    assert parse_clip_name("gBR_sFM_cAll_d01_mBR0_ch01_seg3", seqs) == ("gBR_sFM_cAll_d01_mBR0_ch01", 3)
    assert parse_clip_name("gBR_sFM_cAll_d01_mBR0_ch01", seqs) == ("gBR_sFM_cAll_d01_mBR0_ch01", None)
    assert parse_clip_name("gBR_sFM_cAll_d01_mBR0_ch02_seg0", seqs) is None


def test_mismatch_partners_are_a_derangement_of_the_music():
    seqs = [f"s{i}" for i in range(9)]
    music = ["a", "a", "a", "b", "b", "c", "d", "e", "f"]  # songs shared as in AIST++
    p = mismatch_partners(seqs, music, seed=3)
    assert set(p) == set(seqs) and sorted(p.values()) == seqs  # every music used exactly once
    assert all(p[s] != s and music[seqs.index(p[s])] != music[seqs.index(s)] for s in seqs)
    assert p == mismatch_partners(seqs, music, seed=3) and p != mismatch_partners(seqs, music, seed=4)
    assert mismatch_partners(["x"], ["a"], 0) == {"x": None}
    assert set(mismatch_partners(["x", "y"], ["a", "a"], 0).values()) == {None}  # only one song: no partner


def test_genre_checkpoint_round_trip_and_registry(tiny_genre_model, tmp_path, monkeypatch):
    model = GC.load_genre_model(tiny_genre_model)
    y = np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32) * 0.1
    p1 = G.classify(model, y)
    assert p1.probs.shape == (10,) and p1.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert p1.embeddings.shape == (2, 8)  # 3 s -> one 2-s window + the last 2 s (the tail is over half a window)
    again = GC.load_genre_model(GC.save_genre_model(model, tmp_path / "again"))
    np.testing.assert_allclose(G.classify(again, y).probs, p1.probs, atol=1e-6)
    # registry: a local path is accepted as is; a name is looked up in the cache folder and checksummed
    assert registry.resolve(tiny_genre_model) == tiny_genre_model
    monkeypatch.setenv("D2M_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    entry = registry.Entry("tiny", "tiny_genre.safetensors", registry.sha256_file(tiny_genre_model), "genre_cnn")
    monkeypatch.setitem(registry.REGISTRY, "tiny", entry)
    with pytest.raises(ModelError, match="not found"):
        GC.load_genre_model("tiny")
    (tmp_path / "home" / entry.file).write_bytes(tiny_genre_model.read_bytes())
    (tmp_path / "home" / "tiny_genre.json").write_text(registry.config_path(tiny_genre_model).read_text())
    assert GC.load_genre_model("tiny").head.out_features == 10
    monkeypatch.setitem(registry.REGISTRY, "tiny", registry.Entry("tiny", entry.file, "0" * 64, "genre_cnn"))
    with pytest.raises(ModelError, match="checksum"):
        GC.load_genre_model("tiny")
    monkeypatch.setitem(registry.REGISTRY, "tiny", registry.Entry("tiny", entry.file, entry.sha256, "vqvae"))
    with pytest.raises(ModelError, match="expected a genre_cnn"):
        GC.load_genre_model("tiny")
    with pytest.raises(ModelError, match="unknown model"):
        GC.load_genre_model("no-such-model")


def test_genre_classifier_learns_and_retrieval():
    # two "genres" that differ in timbre and rhythm: low tones with sparse clicks vs high tones with dense clicks
    rng = np.random.default_rng(0)

    def track(g, k):
        period = 0.5 if g == 0 else 0.2
        hz = 110 * (1 + 0.1 * k) if g == 0 else 880 * (1 + 0.1 * k)
        y = click_music(np.arange(rng.uniform(0, 0.2), 2.0, period), 2.0, hz) * 4
        return G.GenreTrack(f"t{g}{k}", y + 0.01 * rng.standard_normal(y.size).astype(np.float32), SR, g)

    train = [track(g, k) for g in (0, 1) for k in range(4)]
    test = [track(g, k) for g in (0, 1) for k in range(4, 6)]
    res = TG.train_genre_classifier(
        train, test, model_kwargs={"n_mels": 16, "channels": (4, 8), "embed_dim": 8, "num_genres": 2},
        epochs=15, batch_size=8, lr=1e-2, crops_per_window=2, log=None,
    )  # fmt: skip
    assert res.val_accuracy == 1.0 and G.clip_accuracy(res.model, test) == 1.0
    bank = np.concatenate([G.embed_windows(res.model, t.audio) for t in train])
    genres = np.array([t.genre for t in train])
    assert [G.retrieve_genre(G.embed_windows(res.model, t.audio), bank, genres) for t in test] == [0, 0, 1, 1]


def test_degrade_keeps_shape_and_loudness_and_changes_spectrum():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    clean = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    batch = np.stack([clean] * 16)
    out = TG.degrade(batch, SR, rng, p=1.0)
    assert out.shape == batch.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert np.array_equal(batch[0], clean)  # the input is not modified in place
    rms = np.sqrt((out**2).mean(1)) / np.sqrt((clean**2).mean())
    assert np.all((rms > 0.3) & (rms < 3.0))  # damage, not silence or clipping-level blow-ups
    assert all(not np.allclose(o, clean, atol=1e-3) for o in out)  # p=1: every window is changed
    assert np.array_equal(TG.degrade(batch, SR, rng, p=0.0), batch)  # p=0: untouched
    # the silent half of the gated tone gets energy (noise or reverb tail) in most windows
    silent = (np.sin(2 * np.pi * 2 * t) <= 0) & (t > 0.3)
    assert np.mean([np.abs(o[silent]).mean() > 1e-3 for o in out]) > 0.5


def test_evaluate_own_videos(tmp_path, capsys, monkeypatch):
    """`d2m evaluate --videos`: wavs named after each video, scored against the dancer's movement beats next to
    the soundtrack, its shifted copy and mismatched real music."""
    import itertools

    from dance2music.cli.demo import demo_video
    from dance2music.data import music
    from dance2music.io.video import iter_frames, read_audio, write_video

    demo = demo_video()
    frames = [rgb for _, rgb in itertools.islice(iter_frames(demo, max_side=320), 90)]
    sound = read_audio(demo, SR)[: 3 * SR]
    videos, gen = tmp_path / "videos", tmp_path / "gen"
    videos.mkdir()
    gen.mkdir()
    write_video(frames, 30, videos / "a.mp4", sound, SR)  # 3 s with its music
    write_video(frames[::-1], 30, videos / "b.mp4")  # no soundtrack
    (videos / "notes.txt").write_text("not a video")
    sf.write(gen / "a.wav", sound, SR)  # "generated" = the soundtrack itself
    real_tracks = music.immich_tracks
    monkeypatch.setattr(music, "immich_tracks", lambda split="all": real_tracks(split)[:1])  # one is enough here
    args = ["evaluate", "--videos", str(videos), "--generated", f"mine={gen}", "--out", str(tmp_path / "r"),
            "--analysis-fps", "10", "--no-progress"]  # fmt: skip
    assert main(args) == 0 and "| mine | 1 |" in capsys.readouterr().out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    s, notes = report["summary"], report["notes"]
    assert s["mine"]["videos"] == 1 and s["own soundtrack"]["videos"] == 1 and s["mismatched real music"]["videos"] == 2
    assert s["mine"]["ba_bailando"] == s["own soundtrack"]["ba_bailando"]  # the same music, the same score
    assert "own soundtrack, shifted" in s
    assert "mine: no b.wav, b.mp4 not scored" in notes
    assert any("other videos' soundtracks" in n and "immich" in n for n in notes)  # b takes a's; a takes immich's
    assert (tmp_path / "r" / "report.md").read_text().startswith("# d2m evaluate --videos")
    assert main(args) == 2 and "error: report exists" in capsys.readouterr().err
    assert main(["evaluate", "--videos", str(videos), "--out", str(tmp_path / "s")]) == 2  # no --generated
    assert main(["evaluate", "--videos", str(gen), "--generated", str(gen), "--out", str(tmp_path / "s")]) == 2
    assert "error: no videos" in capsys.readouterr().err
