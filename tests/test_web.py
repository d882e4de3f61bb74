"""The web page (`d2m serve`): its limits without a browser, then the real page in headless Chromium.

The browser tests start ``d2m serve`` as a separate process on 127.0.0.1 with a tiny random model, drive the page
with selenium + Debian's chromedriver, and skip when Chromium is not installed (CI installs it, see ``.ci/run``).
Set ``D2M_WEB_SCREENSHOT=docs/web_page.png`` to save the page with its result.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from dance2music.errors import ConfigError, InputError, VideoError
from dance2music.io.video import probe
from dance2music.web.service import Limits, MusicService, safe_stem

DEMO = Path(__file__).resolve().parents[1] / "src" / "dance2music" / "assets" / "demo.mp4"
LIMIT_S = 10  # the browser tests' server: videos up to 10 s (the demo lasts 8)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or next((p for p in ("/usr/bin/chromedriver",) if Path(p).exists()), None)


# ---------------------------------------------------------------------------------------------- no browser


class _Model:  # MusicService only looks models up by level before generating
    name = "stand-in"


def _service(tmp_path: Path, **limits) -> MusicService:
    return MusicService({"top": _Model()}, upload_root=tmp_path / "up", work_root=tmp_path / "jobs",
                        limits=Limits(**limits))  # fmt: skip


def test_upload_checks_content_size_duration_and_place(tmp_path):
    svc = _service(tmp_path, max_upload_bytes=10 * 2**20, max_seconds=10.0)
    up = tmp_path / "up" / "abc123"
    up.mkdir(parents=True)
    good = up / "dance.mp4"
    shutil.copy(DEMO, good)
    assert svc.check_upload(good).duration == pytest.approx(probe(DEMO).duration)

    text = up / "not_a_video.mp4"  # a video's name, a text's content
    text.write_text("hello, I am not a video\n")
    with pytest.raises(VideoError, match="as a video"):
        svc.check_upload(text)
    with pytest.raises(InputError, match="not uploaded"):  # a path the client made up, outside the upload folder
        svc.check_upload(DEMO)
    with pytest.raises(InputError, match="not uploaded"):
        svc.check_upload(up / ".." / ".." / "elsewhere.mp4")
    with pytest.raises(InputError, match="no video"):
        svc.check_upload(None)
    with pytest.raises(InputError, match="gone"):
        svc.check_upload(up / "expired.mp4")
    with pytest.raises(InputError, match="up to 2.5 s"):
        _service(tmp_path, max_seconds=2.5).check_upload(good)
    with pytest.raises(InputError, match="up to 0.1 MB"):
        _service(tmp_path, max_upload_bytes=100_000).check_upload(good)


def test_run_refuses_bad_options_before_any_work(tmp_path):
    svc = _service(tmp_path)
    with pytest.raises(ConfigError, match="level 'lower' is not served"):
        svc.run(DEMO, level="lower")
    with pytest.raises(ConfigError, match="unknown genre"):
        svc.run(DEMO, genre="polka")
    with pytest.raises(ConfigError, match="seed"):
        svc.run(DEMO, seed=-1)
    with pytest.raises(InputError, match="not uploaded"):
        svc.run(DEMO)
    assert svc.pending_jobs() == []  # nothing left behind by refused requests
    with pytest.raises(ConfigError):
        Limits(max_seconds=0)
    with pytest.raises(ConfigError, match="unknown level"):
        MusicService({"middle": _Model()}, upload_root=tmp_path, work_root=tmp_path / "j")


def test_download_names_cannot_leave_the_job_folder():
    assert safe_stem("my dance (1).mov") == "my_dance_1"
    assert safe_stem("../../etc/passwd") == "passwd"
    assert safe_stem("..") == "dance" and safe_stem("") == "dance" and safe_stem("\u00e9\u00e9.mp4") == "dance"
    assert "/" not in safe_stem("a/b\\c.mp4") and len(safe_stem("x" * 500)) <= 40


def test_serve_options_are_checked_before_loading_anything(capsys):
    from dance2music.cli import main

    assert main(["serve", "--model", "/nonexistent/model.safetensors"]) != 0
    assert "error:" in capsys.readouterr().err
    assert main(["serve", "--concurrency", "0", "--model", "x"]) == 2
    assert "--concurrency" in capsys.readouterr().err


def test_time_said_is_the_time_waited(tmp_path, monkeypatch):
    """ "made in" counts all the user waits for: the check, the music and the plot (a slow plot included)."""
    from test_api import dance, tiny_model

    up = tmp_path / "up"
    up.mkdir()
    shutil.copy(DEMO, up / "dance.mp4")
    monkeypatch.setattr("dance2music.features.extract.extract_features", lambda *a, **k: dance(8.0))
    import dance2music.web.plot as plot

    draw = plot.beat_alignment_plot

    def slow_plot(*args, **kwargs):
        time.sleep(1.0)
        return draw(*args, **kwargs)

    monkeypatch.setattr(plot, "beat_alignment_plot", slow_plot)
    svc = MusicService({"top": tiny_model()}, upload_root=up, work_root=tmp_path / "jobs")
    t0 = time.perf_counter()
    job = svc.run(up / "dance.mp4", seed=0)
    waited = time.perf_counter() - t0
    assert job.meta["seconds_taken"] >= job.meta["seconds_music"] + 1.0 and job.meta["seconds_taken"] <= waited
    assert f"made in {job.meta['seconds_taken']:.1f} s" in job.summary
    svc.discard(job)


def _avi(path: Path, frames: int = 30) -> Path:
    """A real video a browser cannot play: MPEG-4 Part 2 in AVI."""
    import av
    import numpy as np

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width = s.height = 64
        for i in range(frames):
            img = np.full((64, 64, 3), (i * 8) % 256, dtype=np.uint8)
            for pk in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    return path


def _picture(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_upload_status_says_at_once_what_a_file_is(tmp_path):
    """The page's first answer to a file (before Make music): a non-video gets one line, never silence."""
    svc = _service(tmp_path)
    up = tmp_path / "up" / "u1"
    up.mkdir(parents=True)
    (up / "notes.txt").write_text("my dance notes\n")
    (up / "not_a_video.mp4").write_text("hello, I am not a video\n")
    shutil.copy(DEMO, up / "dance.mp4")
    cases = {
        "notes.txt": "cannot read notes.txt as a video",
        "not_a_video.mp4": "cannot read not_a_video.mp4 as a video",
        "photo.png": "photo.png is a picture, not a video",
        "photo.jpg": "photo.jpg is a picture, not a video",
        "still.gif": "still.gif is a picture, not a video",
    }
    for name in ("photo.png", "photo.jpg", "still.gif"):
        _picture(up / name)
    for name, words in cases.items():
        st = svc.upload_status(up / name)
        assert not st.ok and st.message.startswith(words) and "\n" not in st.message, (name, st)
    with pytest.raises(InputError, match="is a picture"):  # and Make music refuses it with the same words
        svc.run(up / "photo.png")
    assert svc.pending_jobs() == []

    from dance2music.web.service import browser_can_play

    st = svc.upload_status(up / "dance.mp4")
    assert st.ok and st.message == "dance.mp4: 8.0 s of video (640x360, 30 fps). Ready: press Make music."
    assert browser_can_play(st.info)  # H.264 in MP4: previewed
    st = svc.upload_status(_avi(up / "clip.avi"))
    assert (
        st.ok
        and not browser_can_play(st.info)
        and "No preview: browsers do not play mpeg4 in a .avi file" in st.message
    )
    assert svc.upload_status(None).message == ""


def _fake_result(seconds: float):
    """What `beat_alignment_plot` reads of a `GenerationResult`: a random dance and clicks every 0.7 s."""
    import types

    import numpy as np

    from test_api import dance

    sr = 22050
    audio = (np.random.default_rng(1).normal(size=int(seconds * sr)) * 0.01).astype(np.float32)
    for t in np.arange(0.3, seconds, 0.7):
        audio[int(t * sr) : int(t * sr) + 200] += 0.8
    return types.SimpleNamespace(features=dance(seconds), audio=audio, sample_rate=sr, duration=seconds)


def test_beat_plot_stays_readable_for_long_videos(tmp_path):
    """At most 30 s a row (a 2-minute video: 4 rows of 30 s), so beats stay apart; past 6 rows, the start is shown."""
    from PIL import Image

    from dance2music.web.plot import beat_alignment_plot, plot_windows

    assert plot_windows(8.0) == [(0.0, 8.0)]
    assert plot_windows(45.0) == [(0.0, 22.5), (22.5, 45.0)]
    assert plot_windows(120.0) == [(0.0, 30.0), (30.0, 60.0), (60.0, 90.0), (90.0, 120.0)]
    assert len(plot_windows(600.0)) == 6 and plot_windows(600.0)[-1][1] == 180.0

    sizes = {}
    for seconds in (8.0, 120.0):
        png = tmp_path / f"beats_{seconds:.0f}.png"
        report = beat_alignment_plot(_fake_result(seconds), png)
        assert report.motion_beats.size > seconds  # a dense dance: more than one beat a second
        with Image.open(png) as im:
            sizes[seconds] = im.size
    w8, h8 = sizes[8.0]
    w120, h120 = sizes[120.0]
    assert (w8, h8) == (720, 306)  # the short video's figure as before
    assert w120 == 720 and h120 > 3 * h8  # four rows, each as tall as the short one's
    # pixels per second along the time axis (the axes span 84% of the width): at least 15, as for a 40-s row
    assert 0.84 * w120 / 30.0 >= 15 and 0.84 * w8 / 8.0 >= 15
    long = beat_alignment_plot(_fake_result(200.0), tmp_path / "beats_200.png")  # past 180 s: the first 180 s
    assert long.motion_beats.max() > 180  # ... but the numbers count all of it
    with Image.open(tmp_path / "beats_200.png") as im:
        assert im.size[0] == 720 and im.size[1] < 2 * h120  # six rows at most


def test_models_are_served_by_their_level(tmp_path):
    from dance2music.web.app import load_models

    path = _tiny_model_file(tmp_path)
    models = load_models([str(path)])
    assert list(models) == ["top"] and models["top"].name == str(path)
    with pytest.raises(ConfigError, match="two models for the top level"):
        load_models([str(path), str(path)])


# ---------------------------------------------------------------------------------------------- the real page

browser_only = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are not installed"
)


def _tiny_model_file(folder: Path) -> Path:
    """A tiny random D2M (real architecture, untrained) saved like shipped weights; hops 32 and 128."""
    import torch

    from dance2music.features.visual import FLOWGRID_DIM
    from dance2music.models.d2m import D2M, build_generator
    from dance2music.models.vqvae import VQVAE

    torch.manual_seed(0)
    vqvae = VQVAE.from_preset("tiny", downs_t=(5, 2))
    for block in vqvae.bottleneck:  # spread the codebook like a trained one (a fresh one is all zeros)
        block.k.normal_()
    gen = build_generator("tiny", latent_dim=vqvae.emb_width, hop_length=128, visual_dim=FLOWGRID_DIM, noise_dim=2)
    vq_path = vqvae.save(folder / "vqvae.safetensors")
    model = D2M(gen, vqvae, vqvae_ref=str(vq_path))
    gen.set_sigma_from_codebook(model.codebook)
    return model.save(folder / "tiny_d2m.safetensors")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``d2m serve`` in its own process; yields (url, its TMPDIR). Checks on exit that it removed its files."""
    folder = tmp_path_factory.mktemp("serve")
    model = _tiny_model_file(folder)
    tmp = folder / "tmp"
    tmp.mkdir()
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    log = open(folder / "server.log", "w")  # noqa: SIM115 -- closed below
    cmd = [sys.executable, "-m", "dance2music", "serve", "--model", str(model), "--port", str(port)]
    if not os.environ.get("D2M_WEB_SCREENSHOT"):  # the README's picture shows the default limits
        cmd += ["--max-seconds", str(LIMIT_S), "--max-upload-mb", "5"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"d2m serve exited: {(folder / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("d2m serve did not answer within 120 s")
        time.sleep(0.5)
    yield url, tmp
    proc.send_signal(signal.SIGTERM)  # as a service manager stops it
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    left = [p for p in tmp.rglob("*") if "d2m-serve-" in str(p)]
    assert not left, f"files left after shutdown: {left[:5]}"
    logged = (folder / "server.log").read_text()
    assert "serving top: " in logged and "share=True" not in logged  # no hint that a user cannot act on


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="d2m-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                 "--window-size=1280,1100", f"--user-data-dir={profile}"):  # fmt: skip
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open_page(driver, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#d2m-run")))


def _upload(driver, path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, "#d2m-input input[type=file]").send_keys(str(path))
    # the server has read the file (status line) and the page previews it before the run button may be pressed
    WebDriverWait(driver, 60).until(lambda d: "Ready" in _status(d))
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#d2m-preview video[src]"))


def _toasts(driver) -> list[str]:
    """Gradio's popups (e.g. its video box's "Video not playable")."""
    from selenium.webdriver.common.by import By

    return [t.text for t in driver.find_elements(By.CSS_SELECTOR, "[data-testid=toast-body]")]


def _status(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#d2m-status").text


def _requested_hosts(driver) -> set[str]:
    import json

    hosts = set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            u = urllib.parse.urlsplit(msg["params"]["request"]["url"])
            if u.scheme in ("http", "https", "ws", "wss"):
                hosts.add(u.hostname)
    return hosts


@browser_only
def test_demo_video_comes_back_with_music(server, browser):
    """Upload the demo in the real page, wait for the result: a playable video with an audio track."""
    import av
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, tmp = server
    _open_page(browser, url)
    if not os.environ.get("D2M_WEB_SCREENSHOT"):  # the options reached the page
        assert f"Videos up to {LIMIT_S} s and 5 MB" in browser.find_element(By.TAG_NAME, "body").text
    _upload(browser, DEMO)
    browser.find_element(By.CSS_SELECTOR, "#d2m-run").click()
    WebDriverWait(browser, 150, poll_frequency=0.5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#d2m-result video[src]") or "Error" in _status(d)
    )
    assert "s of music" in _status(browser), _status(browser)
    video = browser.find_element(By.CSS_SELECTOR, "#d2m-result video")

    # The browser decodes an audio track: play it (muted) until audio bytes have been decoded.
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return arguments[0].webkitAudioDecodedByteCount;", video) > 0
    )
    info = probe(DEMO)
    assert browser.execute_script("return arguments[0].videoWidth;", video) == info.width

    # The served file itself: the demo's video with an audio track of the same length.
    src = video.get_attribute("src")
    assert urllib.parse.urlsplit(src).hostname == "127.0.0.1"
    data = urllib.request.urlopen(src, timeout=30).read()
    got = tmp / "served.mp4"
    got.write_bytes(data)
    with av.open(str(got)) as c:
        assert c.streams.video and c.streams.audio
        audio = c.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(info.duration, abs=0.15)
    got.unlink()

    # Downloads and the beat plot are shown.
    for sel in ("#d2m-download-mp4", "#d2m-download-wav"):
        assert browser.find_element(By.CSS_SELECTOR, sel).is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#d2m-plot img[src]")
    assert "movement beats" in _status(browser)
    # The job folder was removed once the page had its copies; the page talked to nothing but the server.
    assert not [p for p in tmp.glob("d2m-serve-*/jobs/*")]
    assert _requested_hosts(browser) <= {"127.0.0.1"}, _requested_hosts(browser)

    shot = os.environ.get("D2M_WEB_SCREENSHOT")
    if shot:
        browser.execute_script("window.scrollTo(0, 0);")
        browser.save_screenshot(shot)


@browser_only
@pytest.mark.parametrize(
    "name, words",
    [
        ("not_a_video.mp4", "cannot read not_a_video.mp4 as a video"),  # passes any filter on the name
        ("notes.txt", "cannot read notes.txt as a video"),
        ("photo.png", "photo.png is a picture, not a video"),
    ],
)
def test_non_video_file_shows_the_error(server, browser, tmp_path, name, words):
    """A non-video gets one line in the page as soon as it is dropped (no popup, no preview); Make music repeats it
    in the same place."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    bad = tmp_path / name
    if name.endswith(".png"):
        _picture(bad)
    else:
        bad.write_text("this is a text file, not a dance\n" * 10)
    _open_page(browser, url)
    browser.find_element(By.CSS_SELECTOR, "#d2m-input input[type=file]").send_keys(str(bad))
    WebDriverWait(browser, 60, poll_frequency=0.3).until(lambda d: "Error" in _status(d))
    assert _status(browser).startswith(f"Error: {words}"), _status(browser)
    time.sleep(1.5)  # a browser's failed attempt to play the file would show its popup by now
    assert _toasts(browser) == [] and not browser.find_elements(By.CSS_SELECTOR, "#d2m-preview video[src]")

    # Make music: wait for the request's progress overlay on the status line to come and go
    browser.execute_script(
        "window.d2mRan = false; new MutationObserver(() => {"
        " if (document.querySelector('#d2m-status .progress-text')) window.d2mRan = true; })"
        ".observe(document.querySelector('#d2m-status'), {subtree: true, childList: true, attributes: true});"
    )
    browser.find_element(By.CSS_SELECTOR, "#d2m-run").click()
    WebDriverWait(browser, 60, poll_frequency=0.2).until(
        lambda d: (
            d.execute_script("return window.d2mRan;")
            and not d.find_elements(By.CSS_SELECTOR, "#d2m-status .progress-text")
        )
    )
    time.sleep(1.0)
    status = _status(browser)
    assert status.count(words) == 1 and status.count("Error") == 1, status  # the error once
    assert _toasts(browser) == []
    assert not browser.find_elements(By.CSS_SELECTOR, "#d2m-result video[src]")


@browser_only
def test_genre_names_fit_their_box(server, browser):
    """The genre box is as wide as its column: every choice, and longer names still, show whole."""
    from selenium.webdriver.common.by import By

    _open_page(browser, server[0])
    box = browser.find_element(By.CSS_SELECTOR, "#d2m-genre input")
    from dance2music.constants import GENRE_NAMES, GENRES

    names = ["From the dance (chosen by the model)", "Middle Hip-hop (unlike-training: no genre)"]
    names += [f"{GENRE_NAMES[g]} ({g})" for g in GENRES]
    for text in names:
        fits = browser.execute_script(
            "const e = arguments[0]; e.value = arguments[1]; return [e.scrollWidth, e.clientWidth];", box, text
        )
        assert fits[0] <= fits[1], (text, fits)
    # the box has its own row: as wide as the upload box above it
    left = browser.find_element(By.CSS_SELECTOR, "#d2m-input").size["width"]
    assert browser.find_element(By.CSS_SELECTOR, "#d2m-genre").size["width"] >= 0.9 * left


@browser_only
def test_demo_button_fills_in_the_bundled_video(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open_page(browser, server[0])
    assert not browser.find_elements(By.CSS_SELECTOR, "#d2m-preview video[src]")
    browser.find_element(By.CSS_SELECTOR, "#d2m-demo").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#d2m-preview video[src]"))
    assert _status(browser) == "demo.mp4: 8.0 s of video (640x360, 30 fps). Ready: press Make music."
    src = browser.find_element(By.CSS_SELECTOR, "#d2m-preview video").get_attribute("src")
    assert urllib.request.urlopen(src, timeout=30).read() == DEMO.read_bytes()  # served from the server's copy
