"""Project-wide constants: the timelines every part agrees on."""

#: Audio sample rate of everything the models see and make (the paper trains at 22.05 kHz).
SAMPLE_RATE = 22050

#: Motion is resampled to this rate (frames per second) before it reaches a model.
MOTION_FPS = 30.0

#: Visual features are resampled to this rate (frames per second) before they reach a model.
VISUAL_FPS = 30.0

#: Frames per second that `d2m generate` / `Dance2Music.generate` run pose on by default: a third of the cost
#: of MOTION_FPS for about 0.01 less kinematic-beat F1 on the synthetic test set, and the same beats (within
#: 20 ms) on the real clip (measured in docs/evaluation.md, "Analysis rate").
GENERATE_ANALYSIS_FPS = 10.0
#: Accepted ranges of `d2m generate`'s numeric options (`api.check_options` refuses others before any work):
#: seeds fit torch's and the web page's 31 bits; dance music lies within 60-200 BPM; an analysis rate above the
#: video's own analyses every frame.
SEED_RANGE = (0, 2**31 - 1)
TEMPO_RANGE = (40.0, 240.0)
ANALYSIS_FPS_RANGE = (1.0, 120.0)

#: Default clip length in seconds for training pairs (the paper's 2-second segments).
CLIP_SECONDS = 2.0

#: AIST++ genres in the index order of the official code's one-hot genre files (gBR 0 ... gJB 9).
GENRES = ("gBR", "gPO", "gLO", "gMH", "gLH", "gHO", "gWA", "gKR", "gJS", "gJB")
GENRE_NAMES = {
    "gBR": "Break",
    "gPO": "Pop",
    "gLO": "Lock",
    "gMH": "Middle Hip-hop",
    "gLH": "LA Hip-hop",
    "gHO": "House",
    "gWA": "Waack",
    "gKR": "Krump",
    "gJS": "Street Jazz",
    "gJB": "Ballet Jazz",
}

#: COCO-17 keypoint order used by every Motion in the project.
COCO17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
COCO17_INDEX = {name: i for i, name in enumerate(COCO17)}

#: Bones (pairs of COCO-17 indices) for drawing and for rendering the synthetic dancer.
COCO17_BONES = (
    (0, 1), (0, 2), (1, 3), (2, 4),
    (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12),
    (11, 13), (13, 15), (12, 14), (14, 16),
)  # fmt: skip
