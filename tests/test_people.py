"""Several people: detect them, choose the most prominent, make pose follow that one, and say so.

The two-person video is split-screen from the synthetic renderer: a tall dancer on the right (x ~ 430) and
one at 0.75x scale on the left panel (x ~ 120), both moving, 2 s at 10 fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dance2music.constants import COCO17_INDEX as J
from dance2music.features.people.detect import PersonBox, PersonDetector
from dance2music.features.people.follow import FollowedPose
from dance2music.features.people.scan import PeopleScan, sample_frames, scan_frames, scan_people, scan_times
from dance2music.features.people.track import PersonTrack, choose_person, link_tracks

cv2 = pytest.importorskip("cv2")

FPS = 10.0
TALL = (1.2, 430.0)  # (zoom, hip x) of the right dancer
SMALL = (0.75, 120.0)  # the left dancer
SPLIT = 230  # the left panel's width


def _render(seed: int, genre: str) -> tuple[list[np.ndarray], np.ndarray]:
    from dance2music.data.synth import moves as mv
    from dance2music.data.synth.render import Scene, project_keypoints, render_video_frames

    rng = np.random.default_rng(seed)
    dance = mv.make_dance(genre, np.arange(0.3, 2.0, 0.5), 2.0, rng, timing="normal")
    scene = Scene.random(rng, 640, 360)
    frames = list(render_video_frames(dance, scene, FPS))
    step = int(round(dance.fps / FPS))
    return frames, project_keypoints(dance, scene)[::step][: len(frames)]


def _placement(zoom: float, x: float) -> np.ndarray:
    """2x3 affine that scales a rendered frame by ``zoom`` and puts its dancer (x ~ 325) at ``x``."""
    return np.float32([[zoom, 0, x - 325 * zoom], [0, zoom, 340 - 290 * zoom]])


def _place(img: np.ndarray, zoom: float, x: float) -> np.ndarray:
    interp = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(img, _placement(zoom, x), (640, 360), flags=interp, borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dance2music.io.video import write_video

    tall, _ = _render(5, "gLO")
    small, small_kp = _render(7, "gHO")
    two = []
    for a, b in zip(tall, small):
        frame = _place(a, *TALL)
        frame[:, :SPLIT] = _place(b, *SMALL)[:, :SPLIT]
        two.append(frame)
    root = tmp_path_factory.mktemp("people")
    m = _placement(*SMALL)
    return {
        "two": write_video(two, FPS, root / "two.mp4"),
        "one": write_video([_place(a, *TALL) for a in tall[:10]], FPS, root / "one.mp4"),
        "two_frames": two,
        "small_kp": small_kp * m[0, 0] + m[:, 2],  # the left dancer's true joints in the composite, [T, 17, 2]
    }


# ---------------------------------------------------------------------------------------------- no network


def test_link_and_choose_prefer_persistent_then_tall_then_central() -> None:
    times = [0.5, 1.5, 2.5, 3.5]
    walker = PersonBox(100, 200, 300)  # the tallest, but seen once
    dancer = [PersonBox(400 + 10 * k, 200, 240) for k in range(4)]  # seen throughout
    dets = [[walker, dancer[0]], [dancer[1]], [dancer[2]], [dancer[3]]]
    tracks = link_tracks(times, dets)
    assert [len(t.boxes) for t in tracks] == [1, 4]  # the moving dancer stays one track
    k, how = choose_person(tracks, 4, 640, 360)
    assert k == 1 and how == "seen most often, centre-right"
    # two equally tall people seen throughout: the one nearer the centre wins the tie
    left = PersonTrack([0.5, 1.5], [PersonBox(60, 180, 200)] * 2)
    mid = PersonTrack([0.5, 1.5], [PersonBox(300, 180, 195)] * 2)
    k, how = choose_person([left, mid], 2, 640, 360)
    assert k == 1 and how.startswith("most central")
    # clearly taller wins wherever it stands
    big = PersonTrack([0.5, 1.5], [PersonBox(600, 180, 300)] * 2)
    assert choose_person([mid, big], 2, 640, 360) == (1, "tallest, right")


def test_track_interpolates_and_holds() -> None:
    tr = PersonTrack()
    tr.add(2.0, PersonBox(200, 100, 50))
    tr.add(1.0, PersonBox(100, 100, 30))  # inserted in time order
    assert tr.times == [1.0, 2.0]
    assert tr.at(1.5).cx == pytest.approx(150) and tr.at(1.5).height == pytest.approx(40)
    assert tr.at(0.0).cx == 100 and tr.at(9.0).cx == 200
    assert tr.last_before(1.9) == 1.0 and tr.last_before(0.5) is None


class _Recorder:
    """Stands in for PoseLanes: records what FollowedPose hands it."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, tuple[int, ...], tuple[float, float]]] = []

    def update(self, t, rgb, scale, origin=(0.0, 0.0)) -> None:
        self.calls.append((t, rgb.shape, origin))

    def close(self) -> None:
        pass

    def finish(self, *, duration, fps, meta):
        return None


def test_followed_pose_crops_around_the_track_in_analysed_pixels() -> None:
    # track in full-size pixels (1280 wide); analysed frames are 640 wide: everything halves
    track = PersonTrack([0.0, 1.0], [PersonBox(400, 300, 200), PersonBox(600, 300, 200)])
    rec = _Recorder()
    follow = FollowedPose(rec, track, 1280, live_interval=None, crop_heights=1.5)
    frame = np.zeros((360, 640, 3), np.uint8)
    follow.update(0.0, frame, 2.0)
    follow.update(0.5, frame, 2.0)
    follow.update(1.0, frame, 2.0)
    # centre (200, 150) -> (250, 150) -> (300, 150) in analysed pixels, side 1.5 * 100 = 150
    assert rec.calls[0] == (0.0, (150, 150, 3), (125.0, 75.0))
    assert rec.calls[1][2] == (175.0, 75.0)
    assert rec.calls[2][2] == (225.0, 75.0)
    # near the edge the crop is clipped to the frame; a box far outside gives the whole frame
    assert follow.crop_box(0.0, 640, 360)[0] == 125
    edge = FollowedPose(rec, PersonTrack([0.0], [PersonBox(20, 340, 200)]), 640, live_interval=None)
    assert edge.crop_box(0.0, 640, 360) == (0, 165, 195, 360)
    gone = FollowedPose(rec, PersonTrack([0.0], [PersonBox(-900, 100, 100)]), 640, live_interval=None)
    assert gone.crop_box(0.0, 640, 360) == (0, 0, 640, 360)


def test_scan_times() -> None:
    assert scan_times(2.9) == pytest.approx([2.9 / 6, 2.9 / 2, 2.9 * 5 / 6])  # about one a second
    assert len(scan_times(600.0)) == 12 and scan_times(0.2) == pytest.approx([0.1])


# ---------------------------------------------------------------------------------------------- MediaPipe


def test_detector_finds_both_dancers(clips: dict) -> None:
    with PersonDetector() as det:
        found = det(clips["two_frames"][0])
        once = det.detect_once(clips["two_frames"][0])
    assert len(found) == 2
    tall, small = found  # tallest first
    assert abs(tall.cx - TALL[1]) < 25 and abs(small.cx - SMALL[1]) < 25
    assert tall.height > 1.1 * small.height
    assert len(once) <= len(found)  # a single pass tends to miss the smaller one


def test_sample_frames_match_the_stream(clips: dict) -> None:
    from dance2music.io.video import iter_frames

    stream = list(iter_frames(clips["two"], max_side=640))
    # the clip's only keyframe is at 0: it serves 0.32; the others are decoded (the frame not taken yet
    # nearest each instant)
    got = sample_frames(clips["two"], [0.32, 1.0, 1.04, 1.92])
    assert [round(t, 2) for t, _ in got] == [0.0, 1.0, 1.1, 1.9]
    exact = sample_frames(clips["two"], [0.32, 1.0], keyframe_tolerance=0)
    assert [round(t, 2) for t, _ in exact] == [0.3, 1.0]
    for t, rgb in got + exact:
        ref = next(f for s, f in stream if abs(s - t) < 1e-6)
        assert rgb.shape == ref.shape and np.array_equal(rgb, ref)


def _with_keyframes_every(frames: list[np.ndarray], seconds: float, gop: int, path: Path) -> Path:
    """``frames`` ping-ponged to ``seconds`` at `FPS` as H.264 with a keyframe every ``gop`` frames."""
    import av

    n = int(round(seconds * FPS))
    loop = frames + frames[-2:0:-1]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(
            "libx264", rate=int(FPS), options={"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        )
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        for i in range(n):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(loop[i % len(loop)], format="rgb24")))
        out.mux(vs.encode())
    return path


def test_scan_takes_keyframes_when_they_cover_the_video(clips: dict, tmp_path: Path) -> None:
    from dance2music.io.video import iter_frames

    every2s = _with_keyframes_every(clips["two_frames"], 8.0, 20, tmp_path / "gop20.mp4")
    got = scan_frames(every2s, 8.0)  # 8 one-second slices; keyframes at 0, 2, 4, 6 serve four of them
    assert [round(t, 2) for t, _ in got] == [0.0, 2.0, 4.0, 6.0]
    stream = {round(t, 3): rgb for t, rgb in iter_frames(every2s, max_side=640)}
    assert all(np.array_equal(rgb, stream[round(t, 3)]) for t, rgb in got)
    scan = scan_people(every2s)
    assert scan.times == pytest.approx([0.0, 2.0, 4.0, 6.0]) and scan.people == 2
    assert abs(scan.tracks[scan.chosen].mean_box().cx - TALL[1]) < 25
    # a single keyframe serves one slice of eight: the slices' centres are decoded instead
    once = _with_keyframes_every(clips["two_frames"], 8.0, 1000, tmp_path / "gop1000.mp4")
    assert [round(t, 2) for t, _ in scan_frames(once, 8.0)] == [0.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]


def test_scan_and_extract_follow_the_tall_dancer(clips: dict) -> None:
    from dance2music.features.extract import extract_features

    scan = scan_people(clips["two"])
    assert scan.people == 2 and scan.chosen is not None
    chosen = scan.tracks[scan.chosen].mean_box()
    assert abs(chosen.cx - TALL[1]) < 25
    assert scan.note == "2 people in the video; following the most prominent (tallest, centre-right)"

    feats = extract_features(clips["two"], visual=False)
    for meta in (feats.meta, feats.motion.meta):
        assert meta["people"] == 2
        assert meta["followed"]["how"] == "tallest, centre-right"
        assert meta["people_note"].startswith("2 people in the video")
    x0, y0, x1, y1 = feats.meta["followed"]["box"]
    hip_x, hip_y = feats.motion.meta["root_px0"]  # the followed dancer's hip in full-frame pixels
    assert x0 < hip_x < x1 and y0 < hip_y < y1 and hip_x > SPLIT
    assert feats.meta["detection_rate"] > 0.9


def test_the_crop_makes_pose_follow_whoever_is_chosen(clips: dict) -> None:
    """Following the smaller dancer instead: every keypoint lands on them, in full-frame pixels."""
    from dance2music.features.pose import PoseTracker

    scan = scan_people(clips["two"])
    other = next(tr for k, tr in enumerate(scan.tracks) if k != scan.chosen)
    follow = FollowedPose(PoseTracker(max_side=None), other, 640, live_interval=None)
    for i, frame in enumerate(clips["two_frames"]):
        follow.update(i / FPS, frame, 1.0)
    follow.close()
    tracker = follow.lanes
    assert sum(tracker.detected) >= 18
    truth = clips["small_kp"]
    hips = [J["left_hip"], J["right_hip"]]
    for i, (kp, ok) in enumerate(zip(tracker.keypoints, tracker.detected)):
        if ok:
            assert kp[hips, 0].max() < SPLIT  # on the left dancer, never the tall one
            assert np.linalg.norm(kp[hips, :2].mean(0) - truth[i, hips].mean(0)) < 20


def test_live_detections_refresh_the_followed_box(clips: dict) -> None:
    """Known only at 0 s, the followed box is refreshed once a second from the analysed frames themselves."""
    with PersonDetector() as det:
        start = det(clips["two_frames"][0])[0]  # the tall dancer
        rec = _Recorder()
        follow = FollowedPose(rec, PersonTrack([0.0], [start]), 640, detector=det)
        for i, frame in enumerate(clips["two_frames"]):
            follow.update(i / FPS, frame, 1.0)
    assert follow.live_updates == 1 and follow.track.times == pytest.approx([0.0, 1.0])
    assert follow.track.boxes[1] != start and abs(follow.track.boxes[1].cx - TALL[1]) < 25
    assert len(rec.calls) == len(clips["two_frames"])


def test_one_person_is_not_cropped(clips: dict) -> None:
    """One dancer: no crop and exactly the keypoints of the plain pose path."""
    from dance2music.features.extract import AnalysisGrid, PoseLanes, extract_features
    from dance2music.io.video import iter_frames, probe

    scan = scan_people(clips["one"])
    assert scan.people == 1 and scan.chosen is None and scan.note is None
    lanes = PoseLanes(1)
    assert scan.follow(lanes) is lanes
    lanes.close()

    feats = extract_features(clips["one"], visual=False)
    assert feats.meta["people"] == 1 and feats.meta["followed"] is None and feats.meta["people_note"] is None
    info = probe(clips["one"])
    plain = PoseLanes(1)
    for t, rgb in iter_frames(clips["one"], max_side=640, keep=AnalysisGrid(30.0, info.fps)):
        plain.update(t, rgb, 1.0)
    ref = plain.finish(duration=info.duration, fps=30.0, meta={})
    assert np.array_equal(ref.keypoints, feats.motion.keypoints)


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dance"


def test_real_single_dancer_is_one_person() -> None:
    clip = REAL / "hiphop_studio_2.9s.mp4"
    if not clip.exists():
        pytest.skip("shared real-dance clip not available")
    scan = scan_people(clip)
    assert scan.counts == [1, 1, 1] and scan.chosen is None


def test_generate_says_whom_it_follows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`d2m generate` prints the people note as its own `note:` line on stderr, the summary stays on stdout."""
    from dance2music.api import Dance2Music
    from dance2music.cli import main
    from dance2music.io.video import write_video
    from test_api import dance, tiny_model

    video = write_video([np.zeros((64, 96, 3), np.uint8)] * 30, 30.0, tmp_path / "group.mp4")
    feats = dance(1.0)
    feats.meta.update(people=3, people_note="3 people in the video; following the most prominent (tallest, left)")
    monkeypatch.setattr("dance2music.features.extract.extract_features", lambda *a, **k: feats)
    monkeypatch.setattr(Dance2Music, "from_pretrained", classmethod(lambda cls, *a, **k: tiny_model()))
    assert main(["generate", str(video), "-o", str(tmp_path / "out.mp4"), "--seed", "0"]) == 0
    out, err = capsys.readouterr()
    assert "note: 3 people in the video; following the most prominent (tallest, left)\n" in err
    assert "people" not in out and "out.mp4" in out


def test_a_dancer_far_from_the_camera_is_found_in_tiles_and_followed(tmp_path: Path) -> None:
    """A dancer too small for the whole-frame detector (a 1280x720 frame, the dancer in its lower right) is
    found in tiles and followed, although alone, so that pose sees them."""
    from dance2music.features.extract import extract_features
    from dance2music.io.video import write_video

    tall, _ = _render(5, "gLO")
    frames = []
    for a in tall[:20]:
        small = cv2.resize(_place(a, *TALL), (424, 238), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((720, 1280, 3), np.uint8)
        canvas[720 - 238 :, 1280 - 424 - 100 : 1280 - 100] = small
        frames.append(canvas)
    path = write_video(frames, FPS, tmp_path / "far.mp4")
    with PersonDetector() as det:
        frame = cv2.resize(frames[0], (640, 360), interpolation=cv2.INTER_AREA)
        assert det(frame) == []  # what pose alone would see: nobody
        (box,) = det.in_tiles(frame, 360)
    assert 1280 - 424 - 100 < 2 * box.cx < 1280 - 100 and 2 * box.cy > 720 - 238
    scan = scan_people(path)
    assert scan.small and scan.people == 1 and scan.chosen is not None
    assert scan.note.startswith("the dancer is small in the frame (about") and scan.note.endswith("following them")
    feats = extract_features(path, visual=False)
    assert feats.meta["detection_rate"] > 0.9 and feats.meta["people_note"] == scan.note
    hip_x, hip_y = feats.motion.meta["root_px0"]
    assert 1280 - 424 - 100 < hip_x < 1280 - 100 and hip_y > 720 - 238


def test_people_seen_in_one_sampled_frame_only_are_not_counted() -> None:
    """A remnant of a dancer's spread limbs (or a passer-by) in one sample does not make a solo "2 people"."""
    a = PersonTrack([0.0, 1.0, 2.0, 3.0], [PersonBox(300, 200, 200)] * 4)
    b = PersonTrack([0.0, 1.0, 2.0], [PersonBox(600, 200, 180)] * 3)
    ghost = PersonTrack([1.0], [PersonBox(420, 260, 90)])
    solo = PeopleScan([0.0, 1.0, 2.0, 3.0], [1, 2, 1, 1], [a, ghost], 0, "tallest over the video, centre", 1280, 720)
    assert solo.people == 1 and solo.note is None and solo.meta()["people"] == 1
    two = PeopleScan([0.0, 1.0, 2.0, 3.0], [2, 3, 2, 1], [a, b, ghost], 0, "tallest over the video, left", 1280, 720)
    assert two.people == 2 and two.note.startswith("2 people in the video")
    short = PeopleScan([0.0, 1.0], [1, 2], [a, ghost], 0, "tallest over the video, centre", 1280, 720)
    assert short.people == 2  # two samples: too few to tell a passing find from a person
