"""The Gradio page of ``d2m serve``: upload a dance video (or take the demo), get it back with its music.

The page only wires widgets to `service.MusicService`, which calls the library. Safety and resource limits:

- the server binds to 127.0.0.1 unless told otherwise; Gradio's analytics and the Hugging Face hub are off and
  the theme uses system fonts, so neither the server nor the page contacts anything but the server itself;
- uploads larger than the limit are refused by Gradio (in the browser and at the upload route); the service
  then checks the file's content and duration and that it lies in the upload folder;
- one queue with a concurrency limit (default 1) and a bounded length: simultaneous uploads wait their turn
  instead of each decoding video and holding a model's activations at once;
- every server-side file lives under one private temporary folder: job folders are removed as soon as Gradio
  has copied their files for the page, Gradio's cache is swept of files older than ``keep_minutes``, and the
  whole folder is removed when the server stops.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..api import Dance2Music
from ..constants import GENRE_NAMES, GENRES
from ..errors import ConfigError, D2MError, ModelError
from .service import LEVELS, Limits, MusicService, browser_can_play

#: The video shipped with the package, offered with one click.
DEMO_VIDEO = Path(__file__).resolve().parents[1] / "assets" / "demo.mp4"

#: Registered model names tried for each level when ``--model`` is not given.
DEFAULT_MODELS: tuple[str, ...] = ("d2m-top", "d2m-lower")

_INTRO = """# dance2music
Upload a dance video (or try the demo): a D2M-GAN model watches the dancer and makes music whose beats land on
the moves. You get the video back with its new soundtrack, the music alone, and a plot of how the movement beats
line up with the music."""

_READY_HINT = "Upload a video and press **Make music**."


@dataclass(frozen=True)
class ServeConfig:
    """How ``d2m serve`` runs.

    host, port: where to listen (127.0.0.1: this machine only).
    limits: upload size and video duration per request.
    concurrency: requests generating at once; the others wait in the queue.
    queue_size: requests that may wait; more are turned away with a "queue is full" message.
    keep_minutes: uploads and results older than this are deleted from the server's cache.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    limits: Limits = field(default_factory=Limits)
    concurrency: int = 1
    queue_size: int = 8
    keep_minutes: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535, not {self.port}")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        if self.queue_size < 1:
            raise ConfigError("--queue-size must be at least 1")
        if not self.keep_minutes > 0:
            raise ConfigError("--keep-minutes must be positive")


def quiet_environment() -> None:
    """No analytics, update checks or hub calls: the page must work with no network. Call before importing gradio."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def load_models(names: Sequence[str] | None, *, device: str = "cpu") -> dict[str, Dance2Music]:
    """Load the models to serve, keyed by their VQ level (``top``/``lower``, read from each model).

    names: registered names or paths; None tries `DEFAULT_MODELS` and keeps those that exist.
    Raises `ModelError` when a named model fails to load or nothing is left to serve, and `ConfigError` when
    two models have the same level.
    """
    explicit = bool(names)
    models: dict[str, Dance2Music] = {}
    skipped: list[str] = []
    for name in names or DEFAULT_MODELS:
        try:
            model = Dance2Music.from_pretrained(name, device=device)
        except ModelError as e:
            if explicit:
                raise
            skipped.append(f"{name} ({e})")
            continue
        if model.level in models:
            raise ConfigError(f"two models for the {model.level} level ({models[model.level].name} and {name})")
        models[model.level] = model
    if not models:
        raise ModelError("no model to serve: " + "; ".join(skipped) + ". Pass --model NAME_OR_PATH")
    return {lvl: models[lvl] for lvl in LEVELS if lvl in models}


def build_app(service: MusicService, *, keep_minutes: float = 30.0, demo_video: Path | None = DEMO_VIDEO):
    """The page as a ``gradio.Blocks`` (not launched). Uploads must arrive in ``service.upload_root``."""
    quiet_environment()
    import gradio as gr

    genre_choices = [("From the dance (chosen by the model)", "")] + [(f"{GENRE_NAMES[g]} ({g})", g) for g in GENRES]
    keep_s = max(1, int(keep_minutes * 60))
    limits = service.limits
    make_music, uploaded = _music_handler(service), _upload_handler(service)

    limits_txt = (
        f"Videos up to {limits.max_seconds:g} s and {limits.max_upload_bytes / 2**20:.0f} MB; "
        "mp4, mov, webm, avi, mkv ... (the content is checked, not the name)."
    )
    with gr.Blocks(title="dance2music", delete_cache=(max(1, keep_s // 4), keep_s)) as app:
        gr.Markdown(_INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                # A file box, not gr.Video: a video box plays the file in the browser before the server has seen
                # it, so a text file named .mp4 got a "Video not playable" popup besides the page's own message,
                # and a .txt or a picture dropped on it got no word at all. Here every file reaches the server,
                # which reads its content (`MusicService.upload_status`) and answers in the status line; the
                # preview below shows only videos that passed and that a browser can play.
                video_in = gr.File(label="Dance video", file_count="single", type="filepath", elem_id="d2m-input",
                                   height=110)  # fmt: skip
                preview = gr.Video(label="Your video", elem_id="d2m-preview", height=240, interactive=False,
                                   visible=False)  # fmt: skip
                gr.Markdown(limits_txt)
                # one widget a row: the genre box gets the column's width, so its longest names are not cut off
                level = gr.Radio(
                    list(service.levels),
                    value=service.levels[0],
                    label="Level (top: coarser, faster; lower: finer, slower)",
                    interactive=len(service.levels) > 1,
                    elem_id="d2m-level",
                )
                genre = gr.Dropdown(genre_choices, value="", label="Genre", elem_id="d2m-genre")
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed (same seed, same music)")
                with gr.Row():
                    demo_btn = gr.Button("Use the demo dance", elem_id="d2m-demo", visible=demo_video is not None)
                    run_btn = gr.Button("Make music", variant="primary", elem_id="d2m-run")
            with gr.Column(scale=1):
                status = gr.Markdown(_READY_HINT, elem_id="d2m-status")
                video_out = gr.Video(label="Your dance with its music", elem_id="d2m-result", height=320,
                                     interactive=False)  # fmt: skip
                with gr.Row():
                    dl_mp4 = gr.DownloadButton("Download video (mp4)", visible=False, elem_id="d2m-download-mp4")
                    dl_wav = gr.DownloadButton("Download music (wav)", visible=False, elem_id="d2m-download-wav")
                plot = gr.Image(label="Beat alignment", type="filepath", interactive=False, elem_id="d2m-plot")

        # queue=False: the check is a quick probe and must not wait behind other people's generations
        video_in.change(uploaded, inputs=video_in, outputs=[status, preview], queue=False, api_name=False)
        if demo_video is not None:
            # queue=False: filling in the demo must not wait behind other people's generations
            demo_btn.click(lambda: str(demo_video), outputs=video_in, queue=False, api_name=False)
        run_btn.click(
            make_music,
            inputs=[video_in, level, genre, seed],
            outputs=[status, video_out, dl_mp4, dl_wav, plot],
            api_name="generate",
            show_progress="full",
        )
    return app


def _music_handler(service: MusicService):
    """The page's **Make music** handler (a generator of the page's outputs) for ``service``."""
    import gradio as gr

    def make_music(video, level, genre, seed, progress=gr.Progress(track_tqdm=True)) -> Iterator[tuple]:
        """One request: yields the page's outputs once, then removes the job folder (Gradio has copied it)."""
        hidden = gr.update(value=None, visible=False)
        try:
            job = service.run(
                video,
                level=level,
                genre=genre or None,
                seed=0 if seed is None else int(seed),
                progress=lambda fraction, text: progress(fraction, desc=text),
            )
        except D2MError as e:
            yield f"**Error:** {_plain(str(e))}", None, hidden, hidden, None
            return
        except Exception as e:  # a bug, not the user's input: keep the trace on the server
            traceback.print_exc(file=sys.stderr)
            msg = _plain(" ".join(str(e).split()) or type(e).__name__)
            yield f"**Error:** internal error ({type(e).__name__}): {msg}", None, hidden, hidden, None
            return
        try:
            yield (
                job.summary,
                str(job.video),
                gr.update(value=str(job.video), visible=True),
                gr.update(value=str(job.music), visible=True),
                str(job.plot),
            )
        finally:  # runs when Gradio asks for the next item, i.e. after it copied the files above
            service.discard(job)

    return make_music


def _upload_handler(service: MusicService):
    """The handler of the upload box: a status line and the preview for the file that arrived."""
    import gradio as gr

    def uploaded(path):
        """A file arrived (or the demo was filled in, or the box was cleared): say at once what it is."""
        if path is None:
            return _READY_HINT, gr.update(value=None, visible=False)
        try:
            check = service.upload_status(path)
        except Exception as e:  # a bug, not the user's file
            traceback.print_exc(file=sys.stderr)
            return f"**Error:** internal error ({type(e).__name__})", gr.update(value=None, visible=False)
        if not check.ok:
            return f"**Error:** {_plain(check.message)}", gr.update(value=None, visible=False)
        show = browser_can_play(check.info)
        return _plain(check.message), gr.update(value=str(path) if show else None, visible=show)

    return uploaded


def serve(
    models: Mapping[str, Dance2Music], config: ServeConfig | None = None, *, demo_video: Path | None = DEMO_VIDEO
):
    """Run the page until interrupted (Ctrl-C or SIGTERM), then remove every file it made."""
    config = config or ServeConfig()
    quiet_environment()
    root = Path(tempfile.mkdtemp(prefix="d2m-serve-"))  # private (0700): uploads, Gradio's cache, job folders
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")  # read by Gradio when components are built
    previous = signal.getsignal(signal.SIGTERM)
    try:
        # SIGTERM -> KeyboardInterrupt: Gradio then closes the server and the `finally` below runs
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    app = None
    try:
        service = MusicService(models, upload_root=root / "uploads", work_root=root / "jobs", limits=config.limits)
        app = build_app(service, keep_minutes=config.keep_minutes, demo_video=demo_video)
        app.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
        app.launch(
            server_name=config.host,
            server_port=config.port,
            max_file_size=config.limits.max_upload_bytes,
            allowed_paths=[str(demo_video)] if demo_video is not None else None,
            share=False,
            ssr_mode=False,
            mcp_server=False,
            enable_monitoring=False,
            inbrowser=False,
            quiet=True,  # Gradio's own banner ends with "set share=True", which a `d2m serve` user cannot do
            theme=_theme(),
        )
    finally:
        if app is not None:
            app.close(verbose=False)  # launch() stops only the HTTP server; this also stops the queue
        shutil.rmtree(root, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _plain(text: str) -> str:
    """``text`` shown literally in Markdown (messages quote the client's file name)."""
    return re.sub(r"([\\`*_{}\[\]<>#|~])", r"\\\1", text)


def _theme():
    """Gradio's default look with system fonts (the stock theme fetches web fonts from Google)."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
