"""The high-level Python API: a dance video in, music that fits it out.

    from dance2music import Dance2Music

    model = Dance2Music.from_pretrained("d2m-top")          # shipped weights, no network
    result = model.generate("dance.mp4", seed=0)            # music of exactly the video's length
    result.save_wav("music.wav")
    model.generate_video("dance.mp4", "dance_with_music.mp4")

`Dance2Music.generate` also takes features (`features.extract.VideoFeatures` or a `types.Motion`) so that
dataset clips and pre-extracted features need no video. This module is the I/O and options around
`models.d2m.D2M.generate`, which makes the music (in windows of any length, with the beat lock): features,
genre, options, loudness, files and meta.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .constants import (
    ANALYSIS_FPS_RANGE,
    GENERATE_ANALYSIS_FPS,
    GENRE_NAMES,
    GENRES,
    MOTION_FPS,
    SEED_RANGE,
    TEMPO_RANGE,
)
from .errors import ConfigError, InputError
from .features.extract import VideoFeatures
from .system import usable_cpus
from .types import Motion, Visual

if TYPE_CHECKING:  # torch is imported where it is used: `from_pretrained(background=True)` loads it in a thread
    import torch

    from .models.dance_genre import GenreGuess



@dataclass
class GenerationResult:
    """Music made for one dance.

    audio: float32[N] mono waveform in [-1, 1] at ``sample_rate``; N = round(duration * sample_rate).
    codes: int64[T_code] -- the VQ codes the generator chose (level ``level``).
    features: the dance features it was made from (None when the caller passed a bare Motion).
    meta: model name, level, genre, seed, window count, ...
    """

    audio: np.ndarray
    sample_rate: int
    codes: np.ndarray
    features: VideoFeatures | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def save_wav(self, path: str | os.PathLike) -> Path:
        """Write the music as a 16-bit wav (atomically)."""
        from .io.audio import save_wav

        return save_wav(path, self.audio, self.sample_rate)


#: `parse_genre`'s answer for "none": the generator's own "unknown genre" input (no genre is chosen at all).
NO_GENRE = -1


def parse_genre(genre: str | int | None) -> int | None:
    """A genre given as an AIST++ code (``gBR``), a name (``Break``, case-insensitive) or an index -> its index;
    None or "" -> None (let the dance choose); "none" -> `NO_GENRE` (no genre for the generator)."""
    if genre is None or genre == "":
        return None
    if isinstance(genre, str) and genre.strip().lower() in ("none", "unknown"):
        return NO_GENRE
    if isinstance(genre, int) or (isinstance(genre, str) and genre.isdigit()):
        i = int(genre)
        if 0 <= i < len(GENRES):
            return i
    else:
        key = genre.strip().lower()
        for i, code in enumerate(GENRES):
            if key in (code.lower(), code[1:].lower(), GENRE_NAMES[code].lower()):
                return i
    choices = ", ".join(f"{c} ({GENRE_NAMES[c]})" for c in GENRES)
    raise ConfigError(f"unknown genre {genre!r}; choose one of: {choices}, or none")


def infer_genre(motion: Motion) -> GenreGuess | None:
    """What the shipped dance-genre classifier (`models.dance_genre`) says of the dance: its calibrated best
    genre and whether to use it (``guess.genre`` is None when it is unsure or the movement is unlike its training
    dances, ``guess.reason`` says which), or None when the dance is too short or the classifier is not installed."""
    from .errors import D2MError
    from .models.dance_genre import DanceGenreClassifier

    try:
        return DanceGenreClassifier.from_pretrained().assess(motion)
    except D2MError:
        return None


def _choose_genre(genre: str | int | None, motion: Motion) -> tuple[int | None, dict[str, Any]]:
    """The genre index the generator gets (None: no genre) and the meta that says where it came from."""
    genre_idx, genre_source, genre_prob, genre_note = parse_genre(genre), "given", None, None
    if genre_idx is None and (guess := infer_genre(motion)) is not None:
        genre_prob, genre_source, genre_note = round(guess.probability, 3), guess.verdict, guess.reason or None
        genre_idx = None if guess.genre is None else GENRES.index(guess.genre)
    if genre_idx in (None, NO_GENRE):
        genre_idx = None
        genre_source = genre_source if genre_source in ("uncertain", "unlike-training") else "none"
    return genre_idx, {
        # "given", "dance" (read off the motion), "uncertain" or "unlike-training" (no genre; the note says why)
        "genre_source": genre_source,
        "genre_probability": genre_prob,  # the classifier's calibrated probability of its best guess
        "genre_note": genre_note,
    }


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` -> CUDA when available, else CPU; refuses CUDA when there is none."""
    import torch

    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available")
    return dev


class Dance2Music:
    """A trained D2M-GAN (generator for one VQ level + the VQ-VAE that decodes it), ready to make music.

    model: a `models.d2m.D2M`; name: what it was loaded from (recorded in results).
    """

    def __init__(self, model: torch.nn.Module, *, name: str = "", device: str | torch.device | None = "cpu"):
        self._device = resolve_device(device)
        self._model = model.to(self._device).eval()
        self._loading: _BackgroundLoad | None = None
        self._spec: dict[str, Any] = {}
        self.name = name

    @classmethod
    def from_pretrained(
        cls, name_or_path: str = "d2m-top", *, device: str | torch.device | None = "cpu", background: bool = False
    ):
        """Load shipped weights by name (``d2m-top``, ``d2m-lower``; see `pretrained.registry`) or a file path.

        background: on the CPU, return at once and build the model in a worker thread, so that a video's
            features are extracted meanwhile; the import waits until pose is under way (an import beside the
            people scan slows it, see docs/architecture.md), `model` is first used, or `LOAD_START_TIMEOUT_S`.
            The first use of `model` waits for it (and raises its error).
            A bad name or path still fails here, before any work.
        """
        from .pretrained.registry import resolve

        path = resolve(name_or_path, kind="d2m")
        if not background or str(device) != "cpu":
            from .models.d2m import D2M

            return cls(D2M.load(path, map_location="cpu"), name=str(name_or_path), device=resolve_device(device))
        self = cls.__new__(cls)
        self.name = str(name_or_path)
        self._device = self._model = None
        self._spec = _generator_spec(path)  # what generate needs before the model (its visual input size)
        self._loading = _BackgroundLoad(path)
        return self

    @property
    def model(self) -> torch.nn.Module:
        """The `models.d2m.D2M` (waits for a background load to finish)."""
        if self._loading is not None:
            model = self._loading.result()  # the loader's error, if any, is raised here (and again on the next use)
            self._device = resolve_device("cpu")
            self._model = model.to(self._device).eval()
            self._loading = None
        return self._model

    @property
    def device(self) -> torch.device:
        self.model  # noqa: B018 -- the device is known once the model is
        return self._device

    def _visual_dim(self) -> int:
        """Size of the visual features the generator takes (0: none), known before a background load ends."""
        if self._loading is not None and "visual_dim" in self._spec:
            return int(self._spec["visual_dim"] or 0)
        return self.model.visual_dim

    # ---- properties -----------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    @property
    def hop_length(self) -> int:
        return int(self.model.hop_length)

    @property
    def level(self) -> str:
        return self.model.level_name

    # ---- generation -----------------------------------------------------------------------------------
    def generate(
        self,
        source: str | os.PathLike | VideoFeatures | Motion,
        *,
        visual: Visual | None = None,
        genre: str | int | None = None,
        tempo: float | None = None,
        seed: int | None = None,
        window_seconds: float = 34.0,
        analysis_fps: float | None = GENERATE_ANALYSIS_FPS,
        pose_lanes: int | None = None,
        progress: bool = False,
        loudness: float | None = -16.0,
        beat_lock: bool = True,
    ) -> GenerationResult:
        """Make music for a dance.

        source: a video path (features are extracted: pose + visual), `VideoFeatures`, or a `Motion`
            (then ``visual`` is used if the model has a visual module; zeros otherwise).
        genre: AIST++ code, name or index; None (default) to take the dance's genre as the dance-genre
            classifier sees it (`models.dance_genre`; ``meta["genre_source"]`` says "dance"), or no genre when it
            is unsure ("uncertain") or the movement is unlike its training dances ("unlike-training"),
            ``meta["genre_note"]`` saying why; "none" to give the generator no genre at all.
        tempo: BPM hint, or None. A grid above `features.rhythm.MAX_GRID_BPM` (given or read) is followed in half
            time, on every other beat (``meta["grid_scale"]`` 0.5).
        seed: makes the result reproducible (the generator's noise); None draws a fresh one.
        window_seconds: length of each generation window (memory is bounded by it, not by the video).
        analysis_fps: frames per second that pose (and visual features) analyse (default 10: much cheaper than
            every frame for nearly the same beats, see docs/evaluation.md); None analyses every frame.
        pose_lanes: 2 runs two pose trackers on alternate frames on two cores (`features.extract.PoseLanes`,
            faster for nearly the same beats); 1 is one tracker; None (default) takes 2 when this process may use
            at least two CPUs.
        loudness: integrated loudness (LUFS, ITU-R BS.1770) the music is brought to, its true peak limited to
            -1 dBTP (`io.loudness.normalize_loudness`); ``meta["loudness"]`` records what was measured and done.
            None leaves the decoder's output as it is.
        beat_lock: for a generator that follows the dance's rhythm, also try its beat grid moved by half a beat
            and keep the music whose own beats land nearer the grid's (`models.d2m.D2M.generate`); the music can
            otherwise put its strongest pulse between the dancer's hits. ``meta["beat_lock"]`` says which.
        """
        feats, motion, visual, duration = self._dance(source, visual, progress, analysis_fps, pose_lanes)
        from .features.rhythm import estimate_rhythm  # lazy: scipy.ndimage costs CLI start-up time
        from .models.d2m import dance_tensors

        motion = motion.resample(MOTION_FPS)
        m, v = dance_tensors(motion, visual, self._visual_dim())
        genre_idx, genre_info = _choose_genre(genre, motion)
        model = self.model
        rhythm = None  # the whole dance's pulse, read with the phase window the generator learned from
        if model.follows_rhythm:
            rhythm = estimate_rhythm(motion, tempo=tempo, window_beats=model.rhythm_window)
        music = model.generate(
            m, v, rhythm=rhythm, genre=genre_idx, tempo=tempo, seed=seed,
            num_samples=int(round(duration * self.sample_rate)), window_seconds=window_seconds,
            beat_lock=beat_lock, progress=progress,
        )  # fmt: skip
        meta = {
            "model": self.name,
            "level": self.level,
            "genre": None if genre_idx is None else GENRES[genre_idx],
            **genre_info,
            "tempo": tempo,
            "dance_tempo": None if rhythm is None else round(rhythm.tempo, 1),  # the beat grid the music follows
            "tempo_source": None if rhythm is None else rhythm.source,  # "given", "motion" or "default"
            "beat_lock": music.beat_lock,
            "grid_scale": music.grid_scale,  # 0.5: the grid was too fast for the generator, the music in half time
            "prior_weight": music.prior_weight,  # the lowest genre code prior weight used (lowered where it muted)
            "seed": music.seed,
            "duration": duration,
        }
        if music.prior_weight is not None and music.prior_weight < model.prior_weight:
            meta["prior_lowered"] = round(music.prior_lowered, 3)  # share of the music looked up with a lower weight
            meta["prior_note"] = (
                f"the genre code prior was weakened from weight {model.prior_weight:g} (to {music.prior_weight:g} at "
                f"the lowest) over {100 * music.prior_lowered:.0f} % of the music: at full weight it left the music "
                "silent there"
            )
        audio = music.audio[0, 0].float().cpu().numpy().astype(np.float32)
        if loudness is not None:
            from .io.loudness import normalize_loudness

            audio, meta["loudness"] = normalize_loudness(audio, self.sample_rate, target_lufs=float(loudness))
        return GenerationResult(audio, self.sample_rate, music.codes[0].cpu().numpy(), feats, meta)

    def _dance(
        self,
        source: str | os.PathLike | VideoFeatures | Motion,
        visual: Visual | None,
        progress: bool,
        analysis_fps: float | None,
        pose_lanes: int | None,
    ) -> tuple[VideoFeatures | None, Motion, Visual | None, float]:
        """``source`` -> (its features when it has them, motion, visual, duration in seconds); a path's features
        are extracted (`_video_features`)."""
        feats: VideoFeatures | None = None
        if isinstance(source, (str, os.PathLike)):
            feats = self._video_features(Path(source), progress, analysis_fps, pose_lanes, origin="container")
            motion, visual, duration = feats.motion, feats.visual, feats.duration
        elif isinstance(source, VideoFeatures):
            feats = source
            motion, visual, duration = source.motion, source.visual, source.duration
        elif isinstance(source, Motion):
            motion, duration = source, source.duration
        else:
            raise InputError(f"cannot make music from a {type(source).__name__}; pass a video path or features")
        if motion.num_frames == 0 or duration <= 0:
            raise InputError("the dance is empty (no frames)")
        return feats, motion, visual, duration

    def generate_video(
        self,
        video: str | os.PathLike,
        out_path: str | os.PathLike,
        *,
        wav_path: str | os.PathLike | None = None,
        force: bool = False,
        progress: bool = False,
        **kwargs: Any,
    ) -> GenerationResult:
        """Make music for ``video`` and write ``out_path``: the video with the music as its soundtrack, in the
        container its extension names (mp4, m4v, mov, mkv, webm), or the music alone for .wav or .flac.

        wav_path: also write the music alone there (.wav or .flac).
        Both outputs are checked before any work (`check_outputs`: no overwrite without ``force``, folders
        that can be written, never the input) and appear together when all is done, or neither does: a
        failure leaves no partial file and never destroys an existing one. ``kwargs`` go to `generate`.

        The music is made for the video's frames counted from its first frame (`extract_features` with
        ``origin="first_frame"``), so the same frames give the same music whatever the file's timestamps (an
        .avi and its .mp4 remux); the files written put it on the video's own timeline, sample 0 at the
        container start, like its soundtrack: ``meta["video_start"]`` seconds of silence (the time before the
        first frame, usually 0 or a few tens of ms) come first. ``result.audio`` and ``result.features`` both
        start at the first frame.
        """
        from .io.audio import save_wav
        from .io.files import atomic_outputs
        from .io.video import mux_audio, output_kind

        src = Path(video)
        out, wav = check_outputs(src, out_path, wav_path, force=force)
        check_options(**kwargs)
        if kwargs.get("loudness") is not None:
            from .io.loudness import check_target

            check_target(kwargs["loudness"])
        feats = self._video_features(
            src, progress, kwargs.pop("analysis_fps", GENERATE_ANALYSIS_FPS), kwargs.pop("pose_lanes", None)
        )
        result = self.generate(feats, progress=progress, **kwargs)
        start = float(feats.meta.get("video_start") or 0.0)
        lead = max(0, int(round(start * result.sample_rate)))
        music = np.concatenate([np.zeros(lead, np.float32), result.audio]) if lead else result.audio
        result.meta["video_start"] = start
        with atomic_outputs([out] if wav is None else [out, wav]) as tmps:
            if output_kind(out) == "video":
                mux_audio(src, music, result.sample_rate, tmps[0])
            else:
                save_wav(tmps[0], music, result.sample_rate)
            if wav is not None:
                save_wav(tmps[1], music, result.sample_rate)
        return result

    def _video_features(
        self,
        video: Path,
        progress: bool,
        analysis_fps: float | None,
        pose_lanes: int | None,
        origin: str = "first_frame",
    ) -> VideoFeatures:
        """`extract_features` of ``video``, its times counted from ``origin`` (a background model load starts once
        pose is under way, and is dropped when the video fails: the program can then exit without torch)."""
        from .features.extract import extract_features

        if pose_lanes is None:
            pose_lanes = 2 if usable_cpus() >= 2 else 1
        loading = self._loading
        try:
            return extract_features(
                video,
                progress=progress,
                visual=self._visual_dim() > 0,
                analysis_fps=analysis_fps,
                pose_lanes=pose_lanes,
                on_pose_start=None if loading is None else loading.start,
                origin=origin,
            )
        except BaseException:
            if loading is not None:
                loading.cancel()
            raise


def check_options(
    *, seed: int | None = None, tempo: float | None = None, analysis_fps: float | None = None, **_: Any
) -> None:
    """Refuse, in one line (`ConfigError`), a seed, tempo or analysis rate outside its range (`constants`:
    `SEED_RANGE`, `TEMPO_RANGE`, `ANALYSIS_FPS_RANGE`); None means the default (a fresh seed, the dance's own
    tempo, every frame)."""
    if seed is not None and not (SEED_RANGE[0] <= int(seed) <= SEED_RANGE[1]):
        raise ConfigError(f"--seed must be a whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]}, not {seed}")
    if tempo is not None and not (TEMPO_RANGE[0] <= float(tempo) <= TEMPO_RANGE[1]):
        raise ConfigError(
            f"--tempo must be between {TEMPO_RANGE[0]:g} and {TEMPO_RANGE[1]:g} BPM, not {tempo:g} "
            "(leave it out to let the music follow the dance)"
        )
    if analysis_fps is not None and not (ANALYSIS_FPS_RANGE[0] <= float(analysis_fps) <= ANALYSIS_FPS_RANGE[1]):
        raise ConfigError(
            f"--analysis-fps must be between {ANALYSIS_FPS_RANGE[0]:g} and {ANALYSIS_FPS_RANGE[1]:g} frames per "
            f"second, not {analysis_fps:g} (a rate above the video's own analyses every frame)"
        )


#: A video shorter than this (s) is too short for music to follow a dance: a movement beat needs a few others
#: around it, and the dance-genre classifier reads 2-s windows.
SHORT_VIDEO_S = 2.0


def short_video_note(duration: float, frames: int | None = None) -> str | None:
    """What to tell the user about a video too short for music to follow the dance (None: long enough)."""
    if duration >= SHORT_VIDEO_S:
        return None
    count = f", {frames} frame{'s' if frames != 1 else ''}" if frames is not None else ""
    return (
        f"the video lasts {duration:.2f} s{count}: too short for music to follow a dance (that takes a few "
        f"movement beats, about {SHORT_VIDEO_S:g} s); made {duration:.2f} s of music all the same"
    )


def check_outputs(
    video: str | os.PathLike,
    out_path: str | os.PathLike,
    wav_path: str | os.PathLike | None = None,
    *,
    force: bool = False,
) -> tuple[Path, Path | None]:
    """Check the outputs of `Dance2Music.generate_video` before any work; returns them as paths.

    Refuses in one line (`InputError`): an output that is the input video (even with ``force``: the input is
    read while the output is written), an extension no writer takes (`io.video.output_kind`), a ``wav_path``
    that is not .wav/.flac, the two outputs being one file, and what `io.files.check_output_path` refuses.
    """
    from .io.files import check_output_paths
    from .io.video import AUDIO_EXTENSIONS, output_kind

    src = Path(video).resolve()
    for flag, p in (("-o", out_path), ("--wav", wav_path)):
        if p is not None and Path(p).resolve() == src:
            raise InputError(
                f"the output {flag} {p} is the input video itself; dance2music reads the input while it writes, so "
                "it never overwrites it (not even with --force): choose another name"
            )
    out, wav = check_output_paths([out_path, wav_path], force=force)
    output_kind(out)
    if wav is not None and wav.suffix.lower() not in AUDIO_EXTENSIONS:
        raise InputError(f"--wav {wav}: the music alone is written as .wav or .flac; end the name in one of them")
    return out, wav


#: A background load (`Dance2Music.from_pretrained`) starts at the latest this many seconds after it was asked for.
LOAD_START_TIMEOUT_S = 10.0


class _BackgroundLoad:
    """`_load_model` in a worker thread that waits for `start` (or `LOAD_START_TIMEOUT_S`) before importing torch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._go = threading.Event()
        self._cancelled = False
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="d2m-load")
        self._future: Future = pool.submit(self._run)
        pool.shutdown(wait=False)  # the thread ends when the model is built

    def _run(self) -> torch.nn.Module | None:
        self._go.wait(LOAD_START_TIMEOUT_S)
        return None if self._cancelled else _load_model(self.path)

    def start(self) -> None:
        self._go.set()

    def cancel(self) -> None:
        """The work it was for failed: a load that has not begun is dropped, so exiting need not wait for it."""
        self._cancelled = True
        self._go.set()

    def result(self) -> torch.nn.Module:
        """The model (waits for it; loads it here when a cancelled load dropped it)."""
        self.start()
        model = self._future.result()
        return model if model is not None else _load_model(self.path)


def _load_model(path: Path) -> torch.nn.Module:
    from .models.d2m import D2M

    return D2M.load(path, map_location="cpu")


def _generator_spec(path: Path) -> dict[str, Any]:
    """The generator spec in a generator file's metadata, read without torch ({} if unreadable)."""
    from .models.generator_file import generator_header, read_metadata

    fields = generator_header(read_metadata(path))
    return fields["generator"] if fields else {}

