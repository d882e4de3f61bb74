"""Genre-specific choreography on the music's beat grid, turned into skeleton motion.

A dance is a list of keyframe poses, one per step of the dancer's grid (every beat, every other beat on
half time, every half beat on double time). Between two keyframes every joint turns along a slerp whose
progress follows an eased curve with zero slope at both ends (a Beta CDF, shaped per genre: smooth for
ballet jazz, sharp "hits" for pop and lock). So the body comes to rest exactly at each keyframe and moves
fastest between them: the joint-speed minima -- the kinematic beats of AIST++'s BeatAlign -- sit on the
keyframe times. Keyframe times are the beat times plus human-like jitter, each keyframe's amplitude varies,
and a slow idle sway keeps the body from being perfectly still.

Pose parameters (degrees, metres) are readable names, not rotations: see `NEUTRAL`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

from . import skeleton as sk

#: The relaxed standing pose; every move is written as changes to it.
NEUTRAL: dict[str, float] = {
    # arms: elevation (-90 down .. 90 up), azimuth (0 to the side, 90 forward, < 0 back), elbow flex,
    # twist of the upper arm about its own axis (turns the plane the forearm bends in), collar shrug
    "l_elev": -72.0, "l_azim": 12.0, "l_elbow": 18.0, "l_twist": 0.0, "l_shrug": 0.0,
    "r_elev": -72.0, "r_azim": 12.0, "r_elbow": 18.0, "r_twist": 0.0, "r_shrug": 0.0,
    # legs: hip flexion (thigh forward), abduction (out to the side), hip rotation, knee flex, ankle point
    "l_flex": 4.0, "l_abd": 5.0, "l_rot": 0.0, "l_knee": 8.0, "l_point": 0.0,
    "r_flex": 4.0, "r_abd": 5.0, "r_rot": 0.0, "r_knee": 8.0, "r_point": 0.0,
    # spine (spread over three joints): forward bend, side bend to the left, twist to the left
    "bend": 3.0, "side": 0.0, "twist": 0.0,
    # head: nod down, tilt to the left, turn to the left
    "nod": 0.0, "tilt": 0.0, "turn": 0.0,
    # root: facing (yaw, may pass 360), pelvis pitch forward, roll; travel on the floor (m); jump (m)
    "yaw": 0.0, "pitch": 0.0, "roll": 0.0, "dx": 0.0, "dz": 0.0, "lift": 0.0,
}  # fmt: skip
_ABSOLUTE = ("yaw", "dx", "dz", "lift")  # not scaled by the amplitude variation
#: Not widened by `make_dance(movement=)`: a collar shrug scaled up lifts the shoulders to the ears.
_UNSCALED = ("l_shrug", "r_shrug")


def _arm_local(elev: float, azim: float, elbow: float, twist: float, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations of the shoulder and elbow (side +1 left, -1 right)."""
    e, a = np.radians(elev), np.radians(azim)
    d = np.array([side * np.cos(e) * np.cos(a), np.sin(e), np.cos(e) * np.sin(a)])
    rest = np.array([side, 0.0, 0.0])
    shoulder = sk.axis_angle_to_matrix(d * np.radians(twist) * side) @ sk.rot_between(rest, d)
    # With the palm down in the T-pose, elbow flexion swings the forearm forward (+z).
    elbow_r = sk.rot_y(-side * np.radians(elbow))
    return shoulder, elbow_r


def pose_to_local(p: dict[str, float]) -> np.ndarray:
    """Local rotations float[24, 3, 3] of a pose, without the root's yaw (kept apart so spins can pass 360)."""
    r = np.tile(np.eye(3), (24, 1, 1))
    rad = np.radians
    r[sk.J["pelvis"]] = sk.rot_x(rad(p["pitch"])) @ sk.rot_z(rad(p["roll"]))
    for side, s in (("l", 1), ("r", -1)):
        hip = sk.rot_z(s * rad(p[f"{side}_abd"])) @ sk.rot_x(-rad(p[f"{side}_flex"])) @ sk.rot_y(
            -s * rad(p[f"{side}_rot"])
        )
        r[sk.J[f"{side}_hip"]] = hip
        r[sk.J[f"{side}_knee"]] = sk.rot_x(rad(p[f"{side}_knee"]))
        # Keep the sole roughly level whatever the thigh and shin do, then add the pointing.
        level = p[f"{side}_flex"] - p[f"{side}_knee"] + p["pitch"] * 0.5
        r[sk.J[f"{side}_ankle"]] = sk.rot_x(rad(0.6 * level + p[f"{side}_point"]))
        sh, el = _arm_local(p[f"{side}_elev"], p[f"{side}_azim"], p[f"{side}_elbow"], p[f"{side}_twist"], s)
        r[sk.J[f"{side}_shoulder"]] = sh
        r[sk.J[f"{side}_elbow"]] = el
        r[sk.J[f"{side}_collar"]] = sk.rot_z(s * rad(p[f"{side}_shrug"]))
        r[sk.J[f"{side}_wrist"]] = sk.rot_y(-s * rad(0.25 * p[f"{side}_elbow"]))
    spine = sk.rot_y(rad(p["twist"] / 3)) @ sk.rot_x(rad(p["bend"] / 3)) @ sk.rot_z(-rad(p["side"] / 3))
    for name in ("spine1", "spine2", "spine3"):
        r[sk.J[name]] = spine
    r[sk.J["neck"]] = sk.rot_y(rad(0.4 * p["turn"])) @ sk.rot_x(rad(0.4 * p["nod"])) @ sk.rot_z(-rad(0.4 * p["tilt"]))
    r[sk.J["head"]] = sk.rot_y(rad(0.6 * p["turn"])) @ sk.rot_x(rad(0.6 * p["nod"])) @ sk.rot_z(-rad(0.6 * p["tilt"]))
    return r


# ---------------------------------------------------------------------------------------------- moves
# A move returns the poses of its next few keyframes as changes to NEUTRAL (dicts of parameter -> value).
# `a` scales the move's range (make_dance passes 1 and varies each keyframe's amplitude itself), `s` is the
# side (+1 left first, -1 right first), `rng` the clip's generator.
Move = Callable[[np.random.Generator, float, int], list[dict[str, float]]]


def _mirror(d: dict[str, float]) -> dict[str, float]:
    """Swap left and right of a pose change (and flip the sideways quantities)."""
    out = {}
    for k, v in d.items():
        if k.startswith("l_"):
            out["r_" + k[2:]] = v
        elif k.startswith("r_"):
            out["l_" + k[2:]] = v
        elif k in ("side", "twist", "tilt", "turn", "roll", "dx"):
            out[k] = -v
        else:
            out[k] = v
    return out


def _sided(d: dict[str, float], s: int) -> dict[str, float]:
    return d if s > 0 else _mirror(d)


def bounce(rng, a, s):
    down = {"l_knee": 32 * a, "r_knee": 32 * a, "l_flex": 18 * a, "r_flex": 18 * a, "bend": 12 * a,
            "nod": 8 * a, "l_azim": 40, "r_azim": 40, "l_elbow": 50 * a, "r_elbow": 50 * a}
    up = {"l_knee": 6, "r_knee": 6, "bend": -3, "nod": -4, "l_azim": 0, "r_azim": 0, "l_elev": -62, "r_elev": -62}
    return [down, up]


def shoulder_bounce(rng, a, s):
    up = {"l_shrug": 14 * a, "r_shrug": 14 * a, "l_knee": 10, "r_knee": 10, "l_elbow": 70, "r_elbow": 70,
          "l_azim": 45, "r_azim": 45, "nod": -5}
    down = {"l_shrug": -4, "r_shrug": -4, "l_knee": 30 * a, "r_knee": 30 * a, "l_flex": 15, "r_flex": 15,
            "bend": 12 * a, "l_elbow": 30, "r_elbow": 30, "nod": 10 * a}
    return [_sided({**down, "side": 8 * a, "twist": 12 * a}, s), up, _sided({**down, "side": -8 * a}, s), up]


def step_side(rng, a, s):
    d = 0.22 * a
    open_ = {"l_abd": 22 * a, "r_abd": 12, "l_knee": 20, "r_knee": 20, "dx": s * d, "side": -6 * a,
             "l_elev": -45, "r_elev": -45, "l_elbow": 60, "r_elbow": 60, "l_azim": 40, "r_azim": 40}
    close = {"l_abd": 3, "r_abd": 3, "l_knee": 30 * a, "r_knee": 30 * a, "l_flex": 12, "r_flex": 12,
             "dx": s * d * 1.6, "bend": 10, "l_elbow": 90, "r_elbow": 90, "l_azim": 70, "r_azim": 70}
    back_ = {**_mirror(open_), "dx": s * d * 0.6}
    home = {**close, "dx": 0.0}
    return [_sided(open_, s), close, back_, home]


def arm_hit(rng, a, s):
    elevs, azims, elbows = (-40, 0, 0, 40, 80), (0, 20, 50, 90), (0, 10, 90, 100)
    out = []
    for _ in range(int(rng.integers(2, 5))):
        d = {}
        for side in ("l", "r"):
            d[f"{side}_elev"] = float(rng.choice(elevs)) * a
            d[f"{side}_azim"] = float(rng.choice(azims))
            d[f"{side}_elbow"] = float(rng.choice(elbows))
            d[f"{side}_twist"] = float(rng.choice((-60, 0, 60)))
        d["turn"] = float(rng.uniform(-25, 25))
        d["l_knee"] = d["r_knee"] = float(rng.choice((8, 25)))
        d["twist"] = float(rng.uniform(-15, 15)) * a
        out.append(d)
    return out


def chest_pop(rng, a, s):
    pop = {"bend": -10 * a, "l_shrug": 8, "r_shrug": 8, "l_elbow": 95, "r_elbow": 95, "l_azim": 35,
           "r_azim": 35, "l_elev": -30, "r_elev": -30, "nod": -8, "l_knee": 18, "r_knee": 18}
    rel = {"bend": 18 * a, "l_elbow": 70, "r_elbow": 70, "l_azim": 60, "r_azim": 60, "l_elev": -55,
           "r_elev": -55, "nod": 12, "l_knee": 35 * a, "r_knee": 35 * a, "l_flex": 18, "r_flex": 18}
    return [pop, rel, _sided({**pop, "twist": 15 * a}, s), rel]


def point(rng, a, s):
    pt = {"l_elev": 45 * a, "l_azim": 50, "l_elbow": 0, "r_elev": -55, "r_azim": -25, "r_elbow": 110,
          "r_twist": -40, "turn": 25, "l_knee": 25, "r_knee": 25, "l_flex": 12, "r_flex": 12, "side": -8}
    cross = {"l_elev": -10, "l_azim": 85, "l_elbow": 100, "r_elev": -10, "r_azim": 85, "r_elbow": 100,
             "l_twist": 40, "r_twist": 40, "l_knee": 40 * a, "r_knee": 40 * a, "l_flex": 25, "r_flex": 25,
             "bend": 15}
    return [_sided(pt, s), cross, _sided(pt, -s), cross]


def lock_freeze(rng, a, s):
    lock = {"l_elev": 5, "r_elev": 5, "l_azim": 10, "r_azim": 10, "l_elbow": 95, "r_elbow": 95,
            "l_twist": 80, "r_twist": 80, "l_knee": 45 * a, "r_knee": 45 * a, "l_flex": 30, "r_flex": 30,
            "bend": 20 * a, "nod": -10}
    up = {"l_elev": -20, "r_elev": -20, "l_azim": 70, "r_azim": 70, "l_elbow": 40, "r_elbow": 40,
          "l_knee": 10, "r_knee": 10, "bend": -4}
    return [lock, up]


def wrist_roll(rng, a, s):
    x = {"l_elev": -25, "r_elev": -25, "l_azim": 75, "r_azim": 75, "l_elbow": 110, "r_elbow": 80,
         "l_twist": 30, "r_twist": -30, "l_knee": 25, "r_knee": 25, "turn": 10}
    y = {"l_elev": -5, "r_elev": -45, "l_azim": 85, "r_azim": 60, "l_elbow": 80, "r_elbow": 115,
         "l_twist": -30, "r_twist": 30, "l_knee": 12, "r_knee": 12, "turn": -10}
    return [_sided(x, s), _sided(y, s)] * 2


def arm_swing(rng, a, s):
    f = {"l_elev": -40, "l_azim": 85 * a, "r_elev": -70, "r_azim": -35 * a, "l_elbow": 40, "r_elbow": 25,
         "twist": 15 * a, "l_knee": 22, "r_knee": 22, "l_flex": 14, "r_flex": 8}
    return [_sided(f, s), _sided(f, -s)]


def body_roll(rng, a, s):
    top = {"bend": -12 * a, "pitch": -6, "nod": -12, "l_knee": 12, "r_knee": 12, "l_elev": -60,
           "r_elev": -60, "l_azim": -10, "r_azim": -10, "l_shrug": 10, "r_shrug": 10}
    low = {"bend": 25 * a, "pitch": 10, "nod": 15, "l_knee": 40 * a, "r_knee": 40 * a, "l_flex": 20,
           "r_flex": 20, "l_elev": -35, "r_elev": -35, "l_azim": 70, "r_azim": 70, "l_elbow": 60, "r_elbow": 60}
    return [top, _sided({**low, "side": 10 * a}, s), top, _sided({**low, "side": -10 * a}, s)]


def footwork(rng, a, s):
    lift = {"l_flex": 45 * a, "l_knee": 75 * a, "r_knee": 22, "bend": 14, "l_elbow": 80, "r_elbow": 80,
            "l_azim": 40, "r_azim": 40, "l_elev": -50, "r_elev": -50, "side": -5}
    tap = {"l_flex": 18, "l_abd": 20 * a, "l_knee": 20, "r_knee": 30, "bend": 2, "dx": 0.05 * s,
           "l_point": 25, "l_elbow": 50, "r_elbow": 50, "l_azim": 20, "r_azim": 20}
    return [_sided(lift, s), _sided(tap, s), _sided(lift, -s), _sided(tap, -s)]


def jack(rng, a, s):
    fwd = {"bend": 24 * a, "pitch": 8, "l_knee": 35 * a, "r_knee": 35 * a, "l_flex": 20, "r_flex": 20,
           "nod": 10, "l_elbow": 90, "r_elbow": 90, "l_azim": 60, "r_azim": 60, "l_elev": -45, "r_elev": -45}
    back = {"bend": -8, "pitch": -6, "l_knee": 8, "r_knee": 8, "nod": -10, "l_elev": -60, "r_elev": -60,
            "l_azim": -15, "r_azim": -15, "dz": 0.04}
    return [fwd, back]


def waack_whip(rng, a, s):
    over = {"l_elev": 70 * a, "l_azim": 25, "l_elbow": 110, "l_twist": 90, "r_elev": -10, "r_azim": -5,
            "r_elbow": 10, "turn": -15, "l_knee": 15, "r_knee": 15, "side": 6}
    out = {"l_elev": 15, "l_azim": -5, "l_elbow": 5, "r_elev": 65 * a, "r_azim": 30, "r_elbow": 115,
           "r_twist": 90, "turn": 15, "l_knee": 20, "r_knee": 20, "side": -6}
    both = {"l_elev": 80 * a, "r_elev": 80 * a, "l_azim": 40, "r_azim": 40, "l_elbow": 120, "r_elbow": 120,
            "l_twist": 90, "r_twist": 90, "l_knee": 12, "r_knee": 12, "nod": -10}
    return [_sided(over, s), _sided(out, s), both, _sided(out, -s)]


def stomp(rng, a, s):
    lift = {"l_flex": 60 * a, "l_knee": 85, "r_knee": 25, "bend": -8, "l_elev": 10, "r_elev": 10,
            "l_azim": 40, "r_azim": 40, "l_elbow": 100, "r_elbow": 100, "l_twist": 70, "r_twist": 70,
            "nod": -12, "l_shrug": 12, "r_shrug": 12}
    down = {"l_flex": 30, "l_abd": 20, "r_abd": 20, "l_knee": 55 * a, "r_knee": 55 * a, "r_flex": 30,
            "bend": 30 * a, "l_elev": -30, "r_elev": -30, "l_azim": 80, "r_azim": 80, "l_elbow": 100,
            "r_elbow": 100, "nod": 20}
    return [_sided(lift, s), down, _sided(lift, -s), down]


def jazz_extension(rng, a, s):
    ext = {"l_elev": 60 * a, "l_azim": 35, "l_elbow": 5, "r_elev": 5, "r_azim": -10, "r_elbow": 10,
           "r_abd": 38 * a, "r_knee": 0, "r_point": 35, "l_knee": 12, "side": 12 * a, "tilt": 10, "turn": 20}
    gather = {"l_elev": -30, "r_elev": -30, "l_azim": 80, "r_azim": 80, "l_elbow": 70, "r_elbow": 70,
              "l_knee": 35 * a, "r_knee": 35 * a, "l_flex": 22, "r_flex": 22, "bend": 16, "nod": 10}
    return [_sided(ext, s), gather, _sided(ext, -s), gather]


def kick(rng, a, s):
    k = {"r_flex": 75 * a, "r_knee": 10, "r_point": 30, "l_knee": 15, "bend": -6, "l_elev": 20,
         "r_elev": 20, "l_azim": -15, "r_azim": -15, "l_elbow": 5, "r_elbow": 5}
    land = {"l_knee": 35, "r_knee": 35, "l_flex": 20, "r_flex": 20, "bend": 14, "l_elev": -40, "r_elev": -40,
            "l_azim": 60, "r_azim": 60, "l_elbow": 80, "r_elbow": 80, "dz": 0.05}
    return [_sided(k, s), land]


def ballet(rng, a, s):
    fifth = {"l_elev": 72, "r_elev": 72, "l_azim": 65, "r_azim": 65, "l_elbow": 45, "r_elbow": 45,
             "l_twist": 60, "r_twist": 60, "l_point": 35, "r_point": 35, "nod": -8}
    devel = {"l_flex": 70 * a, "l_knee": 5, "l_point": 40, "r_knee": 5, "l_elev": 10, "r_elev": 10,
             "l_azim": 20, "r_azim": -10, "l_elbow": 15, "r_elbow": 15, "bend": -5, "turn": -15}
    arab = {"r_flex": -40 * a, "r_knee": 5, "r_point": 40, "bend": 10, "pitch": 12, "l_elev": 25,
            "l_azim": 85, "l_elbow": 5, "r_elev": 15, "r_azim": -30, "r_elbow": 5, "nod": -10}
    plie = {"l_knee": 45 * a, "r_knee": 45 * a, "l_flex": 25, "r_flex": 25, "l_abd": 25, "r_abd": 25,
            "l_rot": 35, "r_rot": 35, "l_elev": -50, "r_elev": -50, "l_azim": 60, "r_azim": 60,
            "l_elbow": 40, "r_elbow": 40, "l_twist": 40, "r_twist": 40}
    return [_sided(devel, s), plie, _sided(arab, s), fifth]


def spin(rng, a, s):
    tuck = {"l_elev": -10, "r_elev": -10, "l_azim": 85, "r_azim": 85, "l_elbow": 100, "r_elbow": 100,
            "l_twist": 30, "r_twist": 30, "r_flex": 40, "r_knee": 80, "l_point": 30, "_spin": s * 360.0}
    land = {"l_elev": -10, "r_elev": -10, "l_azim": 10, "r_azim": 10, "l_elbow": 10, "r_elbow": 10,
            "l_knee": 30, "r_knee": 30, "l_flex": 15, "r_flex": 15, "l_abd": 15, "r_abd": 15}
    return [tuck, land]


def toprock(rng, a, s):
    cross = {"l_flex": 20, "l_abd": -15, "l_rot": -20, "r_knee": 25, "l_knee": 20, "twist": 20 * a,
             "l_elev": -40, "r_elev": -30, "l_azim": 80, "r_azim": 30, "l_elbow": 100, "r_elbow": 70,
             "bend": 10, "dx": -0.06 * s}
    open_ = {"l_abd": 20, "r_abd": 20, "l_knee": 25 * a, "r_knee": 25 * a, "l_elev": -25, "r_elev": -25,
             "l_azim": -10, "r_azim": -10, "l_elbow": 40, "r_elbow": 40, "bend": 4, "dx": 0.0}
    return [_sided(cross, s), open_, _sided(cross, -s), open_]


def crouch(rng, a, s):
    low = {"l_flex": 85, "r_flex": 85, "l_knee": 110 * a, "r_knee": 110 * a, "l_abd": 25, "r_abd": 25,
           "bend": 35, "l_elev": -40, "r_elev": -40, "l_azim": 70, "r_azim": 70, "l_elbow": 70, "r_elbow": 70,
           "nod": -15}
    rise = {"l_knee": 30, "r_knee": 30, "l_flex": 15, "r_flex": 15, "l_elev": 30, "r_elev": 30, "l_azim": 10,
            "r_azim": 10, "l_elbow": 30, "r_elbow": 30, "bend": -5}
    return [low, rise]


@dataclass(frozen=True)
class GenreDance:
    """How one genre dances: its moves (with weights), ease shape, jitter and timing odds."""

    moves: tuple[tuple[Move, float], ...]
    # Beta(a, b) progress between keyframes. Kept symmetric (a == b): a lopsided profile would move the
    # smoothed speed minimum off the keyframe. a < 2 gives sharp "hits" (a V-shaped speed dip), a > 2 glides.
    ease: tuple[float, float]
    jitter_ms: float  # standard deviation of the keyframe timing around the beat
    energy: tuple[float, float]  # range of the per-keyframe amplitude factor
    half: float  # probability that a clip is danced on half time
    double: float  # probability that a clip is danced on double time
    travel: float  # metres of wandering about the floor


DANCES: dict[str, GenreDance] = {
    "gBR": GenreDance(((toprock, 3), (spin, 1.2), (crouch, 1.0), (arm_swing, 1), (bounce, 1)),
                      (1.9, 1.9), 22, (0.8, 1.2), 0.1, 0.05, 0.35),
    "gPO": GenreDance(((arm_hit, 3), (chest_pop, 2), (bounce, 1), (step_side, 0.5)),
                      (1.45, 1.45), 14, (0.8, 1.15), 0.1, 0.05, 0.2),
    "gLO": GenreDance(((point, 2), (lock_freeze, 2), (wrist_roll, 1.5), (bounce, 1), (kick, 0.5)),
                      (1.5, 1.5), 16, (0.85, 1.2), 0.1, 0.05, 0.25),
    "gMH": GenreDance(((bounce, 3), (shoulder_bounce, 2), (arm_swing, 1.5), (step_side, 1)),
                      (2.0, 2.0), 22, (0.8, 1.15), 0.1, 0.08, 0.3),
    "gLH": GenreDance(((body_roll, 2), (arm_hit, 1), (step_side, 1.5), (bounce, 1.5)),
                      (2.0, 2.0), 20, (0.8, 1.2), 0.12, 0.05, 0.3),
    "gHO": GenreDance(((footwork, 3), (jack, 2), (step_side, 2), (spin, 0.5)),
                      (1.8, 1.8), 18, (0.8, 1.15), 0.05, 0.12, 0.5),
    "gWA": GenreDance(((waack_whip, 4), (point, 1), (bounce, 0.5)),
                      (1.7, 1.7), 16, (0.85, 1.2), 0.08, 0.1, 0.2),
    "gKR": GenreDance(((stomp, 2.5), (chest_pop, 2), (arm_hit, 1), (crouch, 0.7)),
                      (1.6, 1.6), 20, (0.9, 1.25), 0.1, 0.1, 0.3),
    "gJS": GenreDance(((jazz_extension, 2), (kick, 1.5), (body_roll, 1), (spin, 1), (arm_hit, 1)),
                      (2.0, 2.0), 18, (0.85, 1.2), 0.15, 0.05, 0.35),
    "gJB": GenreDance(((ballet, 3), (jazz_extension, 1.5), (spin, 1)),
                      (2.3, 2.3), 20, (0.85, 1.15), 0.35, 0.0, 0.3),
}  # fmt: skip


@dataclass
class DanceMotion:
    """The skeleton's motion at ``fps`` (N frames).

    local_rot: float[N, 24, 3, 3] parent-relative rotations, joint 0 including the facing yaw;
    joints: float[N, 24, 3] world joint positions (m, y up, floor at y = 0);
    coco: float[N, 17, 3] COCO-17 keypoints (m); skull: float[N, 3]; trans: float[N, 3] pelvis position (m);
    keyframes: float[K] the keyframe (rest) times in seconds; timing: "normal" / "half" / "double".
    """

    local_rot: np.ndarray
    joints: np.ndarray
    global_rot: np.ndarray
    coco: np.ndarray
    skull: np.ndarray
    trans: np.ndarray
    keyframes: np.ndarray
    timing: str
    fps: float
    scale: float


def choose_timing(genre: str, rng: np.random.Generator) -> str:
    """Whether this clip is danced on the beat, on half time or on double time."""
    d = DANCES[genre]
    u = rng.random()
    return "half" if u < d.half else "double" if u < d.half + d.double else "normal"


def dance_grid(beats: np.ndarray, timing: str) -> np.ndarray:
    """The dancer's step times from the music's beats: every beat, every other one, or every half beat."""
    beats = np.asarray(beats, dtype=np.float64)
    if timing == "half":
        return beats[::2]
    if timing == "double" and len(beats) > 1:
        mids = (beats[:-1] + beats[1:]) / 2
        return np.sort(np.concatenate([beats, mids]))
    return beats


def _eased(phase: np.ndarray, ease: tuple[float, float]) -> np.ndarray:
    return betainc(ease[0], ease[1], np.clip(phase, 0.0, 1.0))


def _hit_times(grid: np.ndarray, style: GenreDance, rng: np.random.Generator, offbeat: float) -> tuple:
    """(the dancer's hit times, the grid's step): each grid time jittered, clipped so that hits stay in order and
    at least 40% of a step apart; then, with ``offbeat``, that share of the half beats between them as well."""
    step = float(np.median(np.diff(grid))) if len(grid) > 1 else 0.5
    jit = rng.normal(0.0, style.jitter_ms / 1000.0, len(grid))
    jit = np.clip(jit, -0.3 * step, 0.3 * step) + rng.normal(0.0, 0.006)  # a small personal lead or lag
    times = grid + jit
    if offbeat > 0 and len(times) > 1:
        mids = (times[:-1] + times[1:]) / 2
        times = np.sort(np.concatenate([times, mids[rng.random(mids.size) < offbeat]]))
    return times, step


def make_dance(
    genre: str,
    beats: np.ndarray,
    duration: float,
    rng: np.random.Generator,
    *,
    fps: float = 60.0,
    timing: str | None = None,
    movement: float = 1.0,
    offbeat: float = 0.0,
) -> DanceMotion:
    """Choreograph a clip of ``duration`` seconds on the music's ``beats`` (seconds) for ``genre``.

    movement: scales every move's range (joint angles away from `NEUTRAL`) and the wandering about the floor;
        real dancers move faster, wider and further than the defaults (scripts/motion_stats.py, docs/data.md).
        The random draws are the same whatever its value.
    offbeat: the share of the dancer's half beats that get a hit (a keyframe) too, as real dancers hit between
        beats (scripts/motion_stats.py); 0 keeps every dance as it was. A double-time dancer has them all already.
    """
    style = DANCES[genre]
    timing = timing or choose_timing(genre, rng)
    times, step = _hit_times(dance_grid(beats, timing), style, rng, offbeat if timing != "double" else 0.0)
    # Rest poses before the first hit and after the last, so that the whole clip is covered.
    t_first, t_last = times[0] - step, times[-1] + step
    key_t = np.concatenate([[min(t_first, -0.01)], times, [max(t_last, duration + 0.01)]])

    moves, weights = zip(*style.moves)
    p = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    keys: list[dict[str, float]] = []
    yaw = float(rng.uniform(-25, 25))
    spin_yaw = 0.0
    pos = np.zeros(2)
    s = int(rng.choice((-1, 1)))
    while len(keys) < len(times):
        mv = moves[int(rng.choice(len(moves), p=p))]
        if mv is spin and step < 0.36:  # a turn needs time: none on fast double time
            continue
        for change in mv(rng, 1.0, s):
            a = float(rng.uniform(*style.energy))
            pose = dict(NEUTRAL)
            for k, v in change.items():
                if k == "_spin":
                    spin_yaw += v
                elif k in _ABSOLUTE:
                    pose[k] = v
                else:
                    gain = a if k in _UNSCALED else a * movement
                    pose[k] = NEUTRAL[k] + gain * (v - NEUTRAL[k]) if k in NEUTRAL else v
            pose["yaw"] = yaw + spin_yaw + pose["yaw"]
            # Wander about the floor a little and come back towards the centre.
            travel = style.travel * movement
            pos = 0.85 * pos + rng.normal(0.0, travel * 0.25, 2)
            pose["dx"] = float(np.clip(pos[0] + change.get("dx", 0.0), -travel, travel))
            pose["dz"] = float(np.clip(pos[1] * 0.6 + change.get("dz", 0.0), -0.4 * movement, 0.4 * movement))
            keys.append(pose)
        s = -s
        yaw = float(np.clip(yaw + rng.normal(0, 12), -40, 40))
    keys = keys[: len(times)]
    rest = dict(NEUTRAL, yaw=keys[0]["yaw"], dx=keys[0]["dx"], dz=keys[0]["dz"])
    end = dict(NEUTRAL, yaw=keys[-1]["yaw"], dx=keys[-1]["dx"], dz=keys[-1]["dz"])
    keys = [rest] + keys + [end]

    n = int(round(duration * fps))
    t = np.arange(n) / fps
    seg = np.clip(np.searchsorted(key_t, t, side="right") - 1, 0, len(key_t) - 2)
    phase = (t - key_t[seg]) / (key_t[seg + 1] - key_t[seg])
    w = _eased(phase, style.ease)

    quats = sk.matrix_to_quat(np.stack([pose_to_local(k) for k in keys]))  # [K, 24, 4]
    local_q = sk.slerp(quats[seg], quats[seg + 1], np.repeat(w[:, None], 24, axis=1))
    local = sk.quat_to_matrix(local_q)
    vals = {k: np.array([kp[k] for kp in keys]) for k in ("yaw", "dx", "dz", "lift")}
    lerp = {k: v[seg] + (v[seg + 1] - v[seg]) * w for k, v in vals.items()}

    # Idle sway: slow, small and independent of the beat, so the body is never perfectly still.
    f_sway = rng.uniform(0.15, 0.35)
    ph = rng.uniform(0, 2 * np.pi)
    sway = np.radians(2.0) * np.sin(2 * np.pi * f_sway * t + ph)
    local[:, sk.J["spine2"]] = local[:, sk.J["spine2"]] @ sk.rot_z(sway)
    local[:, sk.J["head"]] = local[:, sk.J["head"]] @ sk.rot_y(1.5 * sway)
    local[:, 0] = sk.rot_y(np.radians(lerp["yaw"])) @ local[:, 0]

    scale = float(rng.uniform(0.92, 1.08))
    joints, glob = sk.forward_kinematics(local, sk.REST_OFFSETS * scale)
    skull = sk.head_points(joints, glob)["skull"]
    coco = sk.coco17(joints, glob)
    # Keep the feet on the floor: the pelvis sits as high as the lowest foot point allows (plus any jump).
    soles = np.minimum(joints[:, sk.J["l_ankle"], 1] - 0.07 * scale, joints[:, sk.J["r_ankle"], 1] - 0.07 * scale)
    soles = np.minimum(soles, np.minimum(joints[:, sk.J["l_foot"], 1], joints[:, sk.J["r_foot"], 1]) - 0.02 * scale)
    trans = np.stack([lerp["dx"], -soles + lerp["lift"], lerp["dz"]], axis=1)
    joints = joints + trans[:, None]
    coco = coco + trans[:, None]
    skull = skull + trans
    return DanceMotion(local, joints, glob, coco, skull, trans, times, timing, fps, scale)


def kinematic_beats(joints: np.ndarray, fps: float, sigma: float = 2.0) -> np.ndarray:
    """Times (s) of local minima of the mean joint speed of ``joints`` float[N, J, D] (Gaussian-smoothed)."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import argrelextrema

    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(axis=1)
    if sigma > 0:
        speed = gaussian_filter1d(speed, sigma)
    idx = argrelextrema(speed, np.less)[0]
    # Speed sample k is the motion between frames k and k+1: its time is (k + 0.5) / fps.
    return (idx + 0.5) / fps
