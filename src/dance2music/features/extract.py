"""The whole feature pipeline for one video: decode -> pose -> Motion, and visual features -> Visual.

(Contract fixed first so that dataset readers, the CLI and the API agree; implemented in this module.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..types import Motion, Visual


@dataclass
class VideoFeatures:
    """What one video gives the model: motion and visual features, plus what is known of the file."""

    motion: Motion  # at constants.MOTION_FPS
    visual: Visual  # at constants.VISUAL_FPS
    duration: float  # seconds of video
    fps: float  # the video's own (average) frame rate
    meta: dict[str, Any] = field(default_factory=dict)  # size, rotation, person-tracking notes, ...


def extract_features(video: str | Path, *, progress: bool = False) -> VideoFeatures:
    """Decode ``video`` as a stream and return its `VideoFeatures`.

    Raises `InputError`/`VideoError` for unreadable input and `NoPersonError` when no person is found.
    """
    raise NotImplementedError("extract_features is being implemented")
