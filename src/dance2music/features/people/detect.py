"""Every person in one image: MediaPipe's BlazePose detector run for several people.

The detector. MediaPipe's BlazePose detector (``mediapipe/modules/pose_detection/pose_detection.tflite``,
inside the wheel) is a multi-person SSD: 2254 anchors, each with a box and 4 keypoints (hip centre, a point
on the full-body circle, shoulder centre, a point on the upper-body circle). It is run here through
MediaPipe's own ``PoseDetectionCpu`` subgraph, compiled into the wheel, in a graph of its own (the pose
solution keeps only the first detection). That subgraph holds the model's real decoding parameters, read
from the wheel's compiled graph: input 224x224 letterboxed into [-1, 1]; SSD anchors with 5 layers, strides
8, 16, 32, 32, 32, scales 0.1484375 to 0.75, aspect ratio 1, fixed anchor size, offset 0.5; 12 coordinates per
box with ``reverse_output_order``, scaled by 224; sigmoid scores clipped at 100, kept above 0.5; weighted
non-maximum suppression at IoU 0.3; letterbox removal. The alternatives (the same ``.tflite`` through the
``ai-edge-litert`` interpreter with anchors decoded in numpy; MediaPipe's face detector, which misses dancers
facing away) and how they compared are in docs/people.md.

The network was trained with one person per picture, and it shows: beside a prominent dancer it scores a
second, smaller one low. `PersonDetector` therefore paints over each person it finds and looks again, until
a pass finds nobody new: one extra pass per frame for a single dancer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..mediapipe_import import GraphOwner, import_mediapipe, quiet_native_stderr

#: Detections scoring below this are dropped (the value MediaPipe's pose solution uses).
DETECTION_MIN_SCORE = 0.5

#: Most people one frame is searched for (each costs one more pass of the detector).
MAX_PEOPLE = 8

#: Around each person found, the area painted over before the detector looks again: half-width and
#: half-height in heights of that person, centred on the hip (the torso and legs, most of the arms).
ERASE_HALF_WIDTH = 0.3
ERASE_HALF_HEIGHT = 0.6

#: MediaPipe's pose ROI is the full-body circle's diameter times this (``PoseDetectionToRoi``: scale 1.25).
ROI_SCALE = 1.25

#: Two detections (or a detection and a track) are the same person at or above this IoU of their ROIs.
MATCH_IOU = 0.2


@dataclass(frozen=True)
class PersonBox:
    """One detected person, in pixels of the full-size (displayed) frame.

    cx, cy: body centre (MediaPipe's hip-centre keypoint).
    height: diameter of the circle around the whole body, about the person's height when upright.
    score: detector confidence in [0, 1].
    """

    cx: float
    cy: float
    height: float
    score: float = 1.0

    @property
    def roi(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of MediaPipe's square pose ROI for this person (may extend past the frame)."""
        h = 0.5 * ROI_SCALE * self.height
        return (self.cx - h, self.cy - h, self.cx + h, self.cy + h)

    def iou(self, other: PersonBox) -> float:
        """Intersection over union of the two ROIs."""
        a, b = self.roi, other.roi
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, s: float) -> PersonBox:
        """The same box in pixels of an image ``s`` times the size."""
        return PersonBox(self.cx * s, self.cy * s, self.height * s, self.score)


class PersonDetector(GraphOwner):
    """MediaPipe's BlazePose detector on single RGB images -> every person in it (see the module docstring).

    Each call is independent (no tracking): people in pixels of the given image, tallest first.
    """

    def __init__(self, *, min_score: float = DETECTION_MIN_SCORE, max_people: int = MAX_PEOPLE) -> None:
        self.max_people = max_people
        with quiet_native_stderr():
            import_mediapipe()
            from mediapipe.framework import calculator_pb2
            from mediapipe.python.solution_base import SolutionBase

            config = calculator_pb2.CalculatorGraphConfig()
            config.input_stream.append("image")
            config.output_stream.append("detections")
            node = config.node.add()
            node.calculator = "PoseDetectionCpu"  # the subgraph compiled into the wheel
            node.input_stream.append("IMAGE:image")
            node.output_stream.append("DETECTIONS:detections")
            self._graph = SolutionBase(
                graph_config=config,
                # the subgraph's node names are prefixed by the lower-cased subgraph type once expanded
                calculator_params={"posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": min_score},
            )
            self._graph.process({"image": np.zeros((64, 64, 3), np.uint8)})  # opens the model while silenced
        self._closed = False

    def detect_once(self, rgb: np.ndarray) -> list[PersonBox]:
        """One pass of the network over ``rgb`` (uint8[H, W, 3]): the people it scores above ``min_score``."""
        result = self._graph.process({"image": np.ascontiguousarray(rgb)})
        h, w = rgb.shape[:2]
        out = []
        for det in result.detections or []:
            kp = det.location_data.relative_keypoints
            if len(kp) < 2:
                continue
            cx, cy = kp[0].x * w, kp[0].y * h  # hip centre
            # keypoint 1 lies on the circle around the whole body (MediaPipe aligns its ROI with it)
            radius = math.hypot(kp[1].x * w - cx, kp[1].y * h - cy)
            out.append(PersonBox(float(cx), float(cy), float(2.0 * radius), float(det.score[0])))
        return out

    def __call__(self, rgb: np.ndarray) -> list[PersonBox]:
        """People in ``rgb`` (uint8[H, W, 3]), tallest first.

        The network was trained for one person per picture: next to a prominent person it scores the others
        low (docs/people.md). So it runs again
        with the people already found painted over (`ERASE_HALF_WIDTH` x `ERASE_HALF_HEIGHT` heights around
        each hip centre, in the picture's mean colour) until a pass finds nobody new, at most ``max_people``
        people. A find whose hip centre lies in a painted area is a remnant of someone found already.
        """
        img = np.array(rgb, np.uint8, copy=True)
        fill = img.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        h, w = img.shape[:2]
        found: list[PersonBox] = []
        painted: list[tuple[int, int, int, int]] = []
        while len(found) < self.max_people:
            new = [
                b
                for b in self.detect_once(img)
                if not any(x0 <= b.cx < x1 and y0 <= b.cy < y1 for x0, y0, x1, y1 in painted)
            ]
            if not new:
                break
            for b in sorted(new, key=lambda b: -b.score)[: self.max_people - len(found)]:
                found.append(b)
                x0, x1 = int(b.cx - ERASE_HALF_WIDTH * b.height), int(b.cx + ERASE_HALF_WIDTH * b.height) + 1
                y0, y1 = int(b.cy - ERASE_HALF_HEIGHT * b.height), int(b.cy + ERASE_HALF_HEIGHT * b.height) + 1
                painted.append((x0, y0, x1, y1))
                img[max(0, y0) : max(0, min(h, y1)), max(0, x0) : max(0, min(w, x1))] = fill
        return sorted(found, key=lambda b: -b.height)

    def in_tiles(self, rgb: np.ndarray, side: int) -> list[PersonBox]:
        """People in ``rgb`` searched in square tiles of ``side`` pixels, half a tile apart (the last ones flush
        with the far edges), in its pixels, tallest first; one person seen in overlapping tiles counts once."""
        h, w = rgb.shape[:2]
        side = max(16, min(int(side), h, w))

        def starts(n: int) -> list[int]:
            return sorted({*range(0, n - side + 1, max(1, side // 2)), n - side})

        found: list[PersonBox] = []
        for y in starts(h):
            for x in starts(w):
                for b in self(rgb[y : y + side, x : x + side]):
                    found.append(PersonBox(b.cx + x, b.cy + y, b.height, b.score))
        kept: list[PersonBox] = []
        for b in sorted(found, key=lambda b: -b.score):
            if all(b.iou(k) < MATCH_IOU for k in kept):
                kept.append(b)
        return sorted(kept, key=lambda b: -b.height)


def detect_people(rgb: np.ndarray) -> list[PersonBox]:
    """Every person in one image (uint8[H, W, 3]), tallest first, in its pixels."""
    with PersonDetector() as det:
        return det(rgb)
