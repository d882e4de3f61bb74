"""Render the synthetic dancer into video frames: a shaded humanoid in a room, seen by a moving camera.

The figure is drawn from its 3D skeleton: tapered, shaded limbs (skin or clothing), a torso built as the
convex hull of elliptical cross-sections (so it narrows when the dancer turns sideways), a head with hair,
eyes, brows, nose and mouth facing where the head faces, hands, shoes and a floor shadow. Parts are painted
far to near. The room is a textured wall and floor seen through the same pinhole camera, which pans, zooms
and shakes a little; the light drifts in brightness and colour. Everything is deterministic from the rng.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import skeleton as sk
from .moves import DanceMotion

# ------------------------------------------------------------------------------------------ camera


@dataclass
class Camera:
    """A pinhole camera whose pose and focal length vary smoothly over the clip.

    At time t it sits at ``position(t)`` (m), looks at ``target(t)`` and has focal ``focal(t)`` pixels;
    the image is ``width`` x ``height`` with the principal point at its centre.
    """

    width: int
    height: int
    base_pos: np.ndarray  # [3]
    base_target: np.ndarray  # [3]
    base_focal: float
    follow: float  # how much the camera pans to keep the dancer centred (0 .. 1)
    zoom_amp: float
    zoom_freq: float
    zoom_phase: float
    pan_amp: np.ndarray  # [3] slow drift of the camera position (m)
    pan_freq: float
    pan_phase: float
    shake: np.ndarray  # [T_shake, 3] low-pass noise samples at 10 Hz (m)

    @staticmethod
    def random(rng: np.random.Generator, width: int, height: int) -> Camera:
        dist = rng.uniform(3.2, 4.4)
        orbit = np.radians(rng.uniform(-28, 28))
        cam_h = rng.uniform(0.8, 1.6)
        pos = np.array([dist * np.sin(orbit), cam_h, dist * np.cos(orbit)])
        target = np.array([0.0, rng.uniform(0.85, 1.0), 0.0])
        # Size the dancer to 55-75% of the frame height.
        focal = rng.uniform(0.55, 0.75) * height * dist / 1.75
        shake = rng.normal(0.0, rng.uniform(0.0, 0.012), (200, 3))
        shake = cv2.GaussianBlur(shake, (1, 9), 2.0)
        return Camera(
            width, height, pos, target, focal,
            follow=rng.uniform(0.3, 0.9), zoom_amp=rng.uniform(0.0, 0.15), zoom_freq=rng.uniform(0.03, 0.12),
            zoom_phase=rng.uniform(0, 2 * np.pi), pan_amp=rng.uniform(-0.35, 0.35, 3) * np.array([1, 0.3, 0.6]),
            pan_freq=rng.uniform(0.03, 0.1), pan_phase=rng.uniform(0, 2 * np.pi), shake=shake,
        )  # fmt: skip

    def at(self, t: np.ndarray, dancer_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Camera centres ``[T, 3]``, rotations ``[T, 3, 3]`` (rows: right, up, forward) and focals ``[T]``."""
        t = np.asarray(t, dtype=np.float64)
        drift = np.sin(2 * np.pi * self.pan_freq * t + self.pan_phase)[:, None] * self.pan_amp
        k = np.clip((t * 10).astype(int), 0, len(self.shake) - 1)
        pos = self.base_pos + drift + self.shake[k]
        target = np.repeat(self.base_target[None], len(t), 0).astype(np.float64)
        target[:, 0] += self.follow * dancer_x
        target += self.shake[k] * 0.5
        fwd = target - pos
        fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
        right = np.cross(fwd, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right, axis=1, keepdims=True)
        up = np.cross(right, fwd)
        rot = np.stack([right, up, fwd], axis=1)
        focal = self.base_focal * (1.0 + self.zoom_amp * np.sin(2 * np.pi * self.zoom_freq * t + self.zoom_phase))
        return pos, rot, focal


def project(points: np.ndarray, pos: np.ndarray, rot: np.ndarray, focal: np.ndarray, w: int, h: int) -> np.ndarray:
    """Pixels and depth ``[T, P, 3]`` (u, v, z) of world points ``[T, P, 3]`` for per-frame cameras."""
    cam = np.einsum("tij,tpj->tpi", rot, points - pos[:, None])
    z = np.maximum(cam[..., 2], 1e-3)
    u = w / 2 + focal[:, None] * cam[..., 0] / z
    v = h / 2 - focal[:, None] * cam[..., 1] / z
    return np.stack([u, v, z], axis=-1)


# ------------------------------------------------------------------------------------------ room


def _fractal_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4, base: int = 4) -> np.ndarray:
    """Smooth random texture in [0, 1], float32[h, w]."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        gh, gw = base * 2**o, base * 2**o * max(1, w // h)
        g = rng.random((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    return (out - out.min()) / max(1e-6, float(out.max() - out.min()))


def _palette(rng: np.random.Generator, sat: float = 0.35, val: tuple[float, float] = (0.35, 0.85)) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), int(255 * rng.uniform(0, sat)), int(255 * rng.uniform(*val))]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _wall_texture(rng: np.random.Generator, h: int = 512, w: int = 1024) -> np.ndarray:
    kind = rng.choice(["gradient", "brick", "panels", "plaster", "stripes", "studio", "mirror"])
    c1, c2 = _palette(rng), _palette(rng)
    noise = _fractal_noise(rng, h, w)[..., None]
    if kind == "gradient":
        g = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] if rng.random() < 0.6 else np.linspace(
            0, 1, w, dtype=np.float32)[None, :, None]  # fmt: skip
        img = c1 * (1 - g) + c2 * g + (noise - 0.5) * 20
    elif kind == "brick":
        img = np.empty((h, w, 3), np.float32)
        img[:] = c1 * 0.6
        bh, bw = int(rng.integers(18, 34)), int(rng.integers(45, 80))
        for r in range(0, h, bh):
            off = (r // bh % 2) * bw // 2
            for c in range(-off, w, bw):
                col = c2 * rng.uniform(0.75, 1.15)
                cv2.rectangle(img, (c + 2, r + 2), (c + bw - 2, r + bh - 2), col.tolist(), -1)
        img += (noise - 0.5) * 40
    elif kind == "panels":
        img = np.empty((h, w, 3), np.float32)
        pw = int(rng.integers(40, 120))
        for c in range(0, w, pw):
            img[:, c : c + pw] = c1 * rng.uniform(0.85, 1.1)
            img[:, c : c + 3] = c1 * 0.55
        grain = _fractal_noise(rng, h // 8, w, 3, 2)
        img += (cv2.resize(grain, (w, h))[..., None] - 0.5) * 30
    elif kind == "plaster":
        img = c1 + (noise - 0.5) * 70 + (_fractal_noise(rng, h, w, 2, 2)[..., None] - 0.5) * (c2 - c1)
    elif kind == "stripes":
        sw = int(rng.integers(10, 40))
        s = ((np.arange(w) // sw) % 2).astype(np.float32)[None, :, None]
        img = c1 * (1 - s) + (c1 * 0.7 + c2 * 0.3) * s + (noise - 0.5) * 25
    elif kind == "studio":
        base = _palette(rng, 0.5, (0.08, 0.3))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.repeat(base[None, None], h, 0).repeat(w, 1).astype(np.float32)
        for _ in range(int(rng.integers(2, 5))):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h * 0.7), rng.uniform(80, 260)
            img += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None] * _palette(rng, 0.7, (0.4, 1))
        img += (noise - 0.5) * 15
    else:  # a dance studio: mirrors above a skirting, a barre
        img = np.empty((h, w, 3), np.float32)
        img[:] = c1
        mirror = np.float32([150, 160, 170]) * rng.uniform(0.7, 1.1)
        img[int(h * 0.1) : int(h * 0.9)] = mirror + (noise[int(h * 0.1) : int(h * 0.9)] - 0.5) * 50
        for c in range(0, w, int(rng.integers(120, 220))):
            img[:, c : c + 4] = c1 * 0.5
        y_b = int(h * 0.45)
        img[y_b : y_b + 7] = np.float32([120, 85, 50])
    return np.clip(img, 0, 255).astype(np.uint8)


def _floor_texture(rng: np.random.Generator, h: int = 768, w: int = 1024) -> np.ndarray:
    kind = rng.choice(["wood", "tiles", "concrete", "carpet", "dancefloor"])
    c1, c2 = _palette(rng, 0.5, (0.25, 0.75)), _palette(rng, 0.4, (0.2, 0.8))
    noise = _fractal_noise(rng, h, w)[..., None]
    if kind == "wood":
        c1 = np.float32([150, 100, 60]) * rng.uniform(0.6, 1.3)
        img = np.empty((h, w, 3), np.float32)
        pw = int(rng.integers(30, 70))
        for c in range(0, w, pw):
            img[:, c : c + pw] = c1 * rng.uniform(0.8, 1.15)
            img[:, c : c + 2] = c1 * 0.5
        grain = cv2.resize(_fractal_noise(rng, 8, w, 3, 2), (w, h))[..., None]
        img += (grain - 0.5) * 40
    elif kind == "tiles":
        ts = int(rng.integers(48, 128))
        yy, xx = np.mgrid[0:h, 0:w]
        chk = (((yy // ts) + (xx // ts)) % 2).astype(np.float32)[..., None]
        img = c1 * (1 - chk) + c2 * chk + (noise - 0.5) * 20
        img[(yy % ts) < 2] *= 0.6
        img[(xx % ts) < 2] *= 0.6
    elif kind == "concrete":
        img = c1 * 0.5 + 60 + (noise - 0.5) * 60
    elif kind == "carpet":
        img = c1 + (rng.random((h, w, 1)).astype(np.float32) - 0.5) * 30 + (noise - 0.5) * 30
    else:
        img = np.float32([35, 35, 40]) + (noise - 0.5) * 25
        img += np.linspace(30, 0, h, dtype=np.float32)[:, None, None]
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass
class Room:
    """A wall at ``z = -wall_z`` (m) and a floor at ``y = 0``, each with its texture and extent."""

    wall: np.ndarray
    floor: np.ndarray
    wall_z: float
    wall_size: tuple[float, float]  # width, height (m)
    floor_depth: float  # how far towards the camera the floor texture reaches (m)
    backdrop: bool  # a seamless studio backdrop: no visible floor line, the wall texture everywhere

    @staticmethod
    def random(rng: np.random.Generator) -> Room:
        # Textures are made at twice the size they are kept at: the area-averaged shrink gives them the
        # softness of an out-of-focus background and makes each frame's warps cheaper.
        return Room(
            wall=cv2.resize(_wall_texture(rng), (512, 256), interpolation=cv2.INTER_AREA),
            floor=cv2.resize(_floor_texture(rng), (512, 384), interpolation=cv2.INTER_AREA),
            wall_z=rng.uniform(1.5, 3.5),
            wall_size=(rng.uniform(10, 16), rng.uniform(4.5, 7)),
            floor_depth=8.0,
            backdrop=bool(rng.random() < 0.15),
        )

    def draw(self, pos: np.ndarray, rot: np.ndarray, focal: float, w: int, h: int) -> np.ndarray:
        """The room as seen from one camera: uint8[h, w, 3].

        Drawn at half resolution and scaled up: the room is behind the dancer, so a softer background is
        what a real lens focused on the dancer gives anyway, at a quarter of the cost.
        """
        hw, hh = max(16, w // 2), max(16, h // 2)
        f2 = focal * hw / w
        ww, wh = self.wall_size
        th, tw = self.wall.shape[:2]
        wall_pts = np.array([[-ww / 2, wh, -self.wall_z], [ww / 2, wh, -self.wall_z],
                             [ww / 2, 0, -self.wall_z], [-ww / 2, 0, -self.wall_z]])  # fmt: skip
        dst = project(wall_pts[None], pos[None], rot[None], np.array([f2]), hw, hh)[0, :, :2]
        src = np.float32([[0, 0], [tw, 0], [tw, th], [0, th]])
        m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        out = cv2.warpPerspective(self.wall, m, (hw, hh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if not self.backdrop:
            fh, fw = self.floor.shape[:2]
            near = min(pos[2] - 0.4, self.floor_depth)
            floor_pts = np.array([[-ww / 2, 0, -self.wall_z], [ww / 2, 0, -self.wall_z],
                                  [ww / 2, 0, near], [-ww / 2, 0, near]])  # fmt: skip
            dst = project(floor_pts[None], pos[None], rot[None], np.array([f2]), hw, hh)[0, :, :2]
            src = np.float32([[0, 0], [fw, 0], [fw, fh], [0, fh]])
            m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
            # Floor wherever the pixel lies below the wall's foot line (the line through dst[0], dst[1]).
            a, b = dst[0], dst[1]
            big = 4 * (hw + hh)
            d = (b - a) / max(1e-6, np.linalg.norm(b - a))
            p0, p1 = a - d * big, a + d * big
            poly = np.array([p0, p1, p1 + [0, big], p0 + [0, big]])
            mask = np.zeros((hh, hw), np.uint8)
            cv2.fillConvexPoly(mask, np.round(poly * 16).astype(np.int32), 255, cv2.LINE_AA, shift=4)
            floor = cv2.warpPerspective(self.floor, m, (hw, hh), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            np.copyto(out, floor, where=mask[..., None] == 255)
            # Blend the anti-aliased edge only in the rows the wall's foot line crosses.
            edge = np.flatnonzero(((mask > 0) & (mask < 255)).any(axis=1))
            if edge.size:
                r0, r1 = edge[0], edge[-1] + 1
                a = mask[r0:r1, :, None].astype(np.float32) / 255.0
                part = a * floor[r0:r1] + (1.0 - a) * out[r0:r1]
                out[r0:r1] = np.where(a > 0, part, out[r0:r1]).astype(np.uint8)
        return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


# ------------------------------------------------------------------------------------------ figure


@dataclass
class Look:
    """The dancer's appearance (RGB colours 0-255)."""

    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    pants: np.ndarray
    shoes: np.ndarray
    long_sleeves: bool
    shorts: bool
    hair_long: bool
    build: float  # limb thickness factor

    @staticmethod
    def random(rng: np.random.Generator) -> Look:
        skins = np.float32([[255, 219, 185], [233, 188, 150], [205, 150, 110], [160, 110, 75], [110, 75, 50],
                            [85, 58, 40], [240, 200, 170]])  # fmt: skip
        skin = skins[rng.integers(len(skins))] * rng.uniform(0.92, 1.05)
        hair = np.float32([[30, 22, 18], [60, 40, 25], [110, 75, 40], [200, 170, 110], [20, 20, 20]])[
            rng.integers(5)]  # fmt: skip
        shirt = _palette(rng, 0.9, (0.25, 0.95))
        pants = _palette(rng, 0.6, (0.1, 0.6))
        shoes = _palette(rng, 0.3, (0.05, 0.95))
        return Look(np.clip(skin, 0, 255), hair, shirt, pants, shoes, bool(rng.random() < 0.45),
                    bool(rng.random() < 0.15), bool(rng.random() < 0.4), float(rng.uniform(0.9, 1.15)))  # fmt: skip


# (joint a, joint b, radius at a, radius at b (m), material) for the limbs; "shirt" / "pants" / "skin" / "shoes"
_LIMBS = (
    ("l_hip", "l_knee", 0.085, 0.06, "thigh"), ("r_hip", "r_knee", 0.085, 0.06, "thigh"),
    ("l_knee", "l_ankle", 0.058, 0.042, "shin"), ("r_knee", "r_ankle", 0.058, 0.042, "shin"),
    ("l_ankle", "l_foot", 0.045, 0.04, "shoes"), ("r_ankle", "r_foot", 0.045, 0.04, "shoes"),
    ("l_shoulder", "l_elbow", 0.052, 0.042, "upperarm"), ("r_shoulder", "r_elbow", 0.052, 0.042, "upperarm"),
    ("l_elbow", "l_wrist", 0.040, 0.030, "forearm"), ("r_elbow", "r_wrist", 0.040, 0.030, "forearm"),
    ("l_wrist", "l_hand", 0.034, 0.036, "hand"), ("r_wrist", "r_hand", 0.034, 0.036, "hand"),
    ("neck", "head", 0.048, 0.045, "skin"),
)  # fmt: skip
# Torso cross-sections: (joint, height offset along the joint's up axis (m), half width, half depth)
_TORSO_LOW = (("pelvis", -0.05, 0.165, 0.11), ("spine1", 0.0, 0.15, 0.10), ("spine2", 0.0, 0.145, 0.10))
_TORSO_HIGH = (("spine2", 0.0, 0.145, 0.10), ("spine3", 0.08, 0.165, 0.105), ("spine3", 0.17, 0.19, 0.085))
_RING = np.stack([np.cos(np.linspace(0, 2 * np.pi, 10, endpoint=False)),
                  np.sin(np.linspace(0, 2 * np.pi, 10, endpoint=False))], 1)  # fmt: skip


def _material(look: Look, kind: str) -> np.ndarray:
    if kind == "thigh":
        return look.pants
    if kind == "shin":
        return look.skin if look.shorts else look.pants
    if kind == "upperarm":
        return look.shirt
    if kind == "forearm":
        return look.shirt if look.long_sleeves else look.skin
    if kind in ("hand", "skin"):
        return look.skin
    if kind == "shoes":
        return look.shoes
    return look.shirt


def _shade(c: np.ndarray, k: float) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.clip(c * k, 0, 255))


def _capsule(img: np.ndarray, p: np.ndarray, q: np.ndarray, r1: float, r2: float, color) -> None:
    """A tapered limb from ``p`` to ``q`` (pixels) with radii ``r1``, ``r2``; sub-pixel, anti-aliased."""
    d = q - p
    n = np.array([-d[1], d[0]]) / max(1e-6, float(np.hypot(d[0], d[1])))
    poly = np.array([p + n * r1, q + n * r2, q - n * r2, p - n * r1])
    cv2.fillConvexPoly(img, np.round(poly * 4).astype(np.int32), color, cv2.LINE_AA, shift=2)
    cv2.circle(img, (int(round(p[0] * 4)), int(round(p[1] * 4))), int(round(r1 * 4)), color, -1, cv2.LINE_AA, shift=2)
    cv2.circle(img, (int(round(q[0] * 4)), int(round(q[1] * 4))), int(round(r2 * 4)), color, -1, cv2.LINE_AA, shift=2)


def _shaded_capsule(img, p, q, r1, r2, shades, light: np.ndarray) -> None:
    """A limb with cylinder-like shading: dark rim, mid body, highlight towards the light."""
    _capsule(img, p, q, r1, r2, shades[0])
    off = light * 0.3
    _capsule(img, p + off * r1, q + off * r2, r1 * 0.72, r2 * 0.72, shades[1])
    off = light * 0.45
    _capsule(img, p + off * r1, q + off * r2, r1 * 0.3, r2 * 0.3, shades[2])


def _ellipse(img, c, axes, angle, color) -> None:
    cv2.ellipse(img, (int(round(c[0] * 4)), int(round(c[1] * 4))), tuple(max(1, int(round(a * 4))) for a in axes),
                float(angle), 0, 360, color, -1, cv2.LINE_AA, shift=2)  # fmt: skip


# Points on the head in the head joint's frame (m, before the dancer's scale), beyond `sk.HEAD_POINTS`.
_HEAD_EXTRA = {
    "up": (0.0, 0.21, 0.015), "back": (0.0, 0.13, -0.015), "low": (0.0, -0.01, -0.035),
    "face": (0.0, 0.1, 0.04), "top": (0.0, 0.175, 0.005), "brow_l": (0.034, 0.14, 0.095),
    "brow_r": (-0.034, 0.14, 0.095), "mouth": (0.0, 0.055, 0.105),
}  # fmt: skip
_HEAD_NAMES = tuple(sk.HEAD_POINTS) + tuple(_HEAD_EXTRA)


@dataclass
class FigureGeometry:
    """The figure's 3D points for every frame, laid out so one projection serves the whole clip.

    points: float[N, P, 3] world points: 24 joints, 2 per limb (`_LIMBS` order), 30 + 30 torso ring
    points (lower, upper), 10 shadow points, then the head points (`_HEAD_NAMES` order).
    facing: float[N] cosine between where the face points and the direction to the camera;
    ears: bool[N, 2] whether the left / right ear faces the camera.
    """

    points: np.ndarray
    facing: np.ndarray
    ears: np.ndarray
    scale: float
    build: float


_LIMB0, _TORSO0 = 24, 24 + 2 * len(_LIMBS)
_SHADOW0 = _TORSO0 + 60
_HEAD0 = _SHADOW0 + 10
_H = {name: _HEAD0 + i for i, name in enumerate(_HEAD_NAMES)}


def figure_geometry(
    joints: np.ndarray, rots: np.ndarray, scale: float, build: float, cam_pos: np.ndarray
) -> FigureGeometry:
    """All the figure's points for frames ``joints[N, 24, 3]`` / ``rots[N, 24, 3, 3]`` seen from ``cam_pos[N, 3]``."""
    n = joints.shape[0]
    b = build * scale
    pts = [joints]
    for ja, jb, _, _, kind in _LIMBS:
        ia, ib = sk.J[ja], sk.J[jb]
        pa, pb = joints[:, ia], joints[:, ib]
        if kind == "hand":  # hands reach a little past the SMPL hand joint
            pb = pb + (pb - pa) * 0.6
        if kind == "shoes":  # the shoe runs from the heel to past the toe joint
            pa = pa + rots[:, ia] @ (np.array([0.0, -0.04, -0.05]) * scale)
            pb = pb + rots[:, ib] @ (np.array([0.0, -0.02, 0.04]) * scale)
        pts += [pa[:, None], pb[:, None]]
    for sections in (_TORSO_LOW, _TORSO_HIGH):
        for jn, up, hw, hd in sections:
            j = sk.J[jn]
            ring = np.stack([hw * _RING[:, 0] * b, np.full(10, up * scale), hd * _RING[:, 1] * b], 1)
            pts.append(joints[:, j, None] + np.einsum("nij,pj->npi", rots[:, j], ring))
    pel = joints[:, 0]
    shadow = np.stack([pel[:, None, 0] + 0.38 * _RING[None, :, 0], np.zeros((n, 10)),
                       pel[:, None, 2] + 0.25 * _RING[None, :, 1]], -1)  # fmt: skip
    pts.append(shadow)
    hp, hr = joints[:, sk.J["head"]], rots[:, sk.J["head"]]
    local = np.array([sk.HEAD_POINTS[k] if k in sk.HEAD_POINTS else _HEAD_EXTRA[k] for k in _HEAD_NAMES]) * scale
    pts.append(hp[:, None] + np.einsum("nij,pj->npi", hr, local))
    points = np.concatenate(pts, axis=1)
    skull = points[:, _H["skull"]]
    to_cam = cam_pos - skull
    to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
    facing = np.einsum("ni,ni->n", hr[:, :, 2], to_cam)
    side = np.einsum("ni,ni->n", hr[:, :, 0], to_cam)  # the head's left axis towards the camera
    ears = np.stack([side > 0, side < 0], 1)
    return FigureGeometry(points, facing, ears, scale, build)


def _look_colors(look: Look) -> dict[str, object]:
    """Every colour the figure uses, computed once per clip."""
    c: dict[str, object] = {}
    for _, _, _, _, kind in _LIMBS:
        m = _material(look, kind)
        c[kind] = (_shade(m, 0.62), _shade(m, 0.9), _shade(m, 1.12))
    c["pants"] = (_shade(look.pants, 0.7), _shade(look.pants, 0.95))
    c["shirt"] = (_shade(look.shirt, 0.7), _shade(look.shirt, 0.95))
    c["hair"], c["hair_dark"], c["hair_brow"] = _shade(look.hair, 1.0), _shade(look.hair, 0.9), _shade(look.hair, 0.8)
    c["face_rim"], c["face"] = _shade(look.skin, 0.75), _shade(look.skin, 0.97)
    c["ear"], c["nose"] = _shade(look.skin, 0.8), _shade(look.skin, 0.68)
    return c


def draw_figure(
    img: np.ndarray, uvz: np.ndarray, geom: FigureGeometry, i: int, look: Look, focal: float, light: np.ndarray,
    colors: dict[str, object] | None = None,
) -> None:  # fmt: skip
    """Paint the dancer of frame ``i`` onto ``img`` (uint8[H, W, 3], in place).

    uvz: float[P, 3] the frame's projected `FigureGeometry.points` (pixels and depth).
    """
    colors = colors or _look_colors(look)
    b = look.build * geom.scale

    # Floor shadow first (it is on the floor, behind everything), blended only where it falls.
    sh = uvz[_SHADOW0 : _SHADOW0 + 10, :2]
    x0, y0 = np.maximum(np.floor(sh.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(sh.max(0)).astype(int) + 2, [img.shape[1], img.shape[0]])
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        ov = roi.copy()
        cv2.fillConvexPoly(ov, np.round((sh - [x0, y0]) * 4).astype(np.int32), (0, 0, 0), cv2.LINE_AA, shift=2)
        cv2.addWeighted(ov, 0.35, roi, 0.65, 0, dst=roi)

    items: list[tuple[float, int]] = []  # (depth, part): parts 0..12 limbs, 13 lower torso, 14 upper, 15 head
    for k in range(len(_LIMBS)):
        items.append(((uvz[_LIMB0 + 2 * k, 2] + uvz[_LIMB0 + 2 * k + 1, 2]) / 2, k))
    items.append((float(uvz[_TORSO0 : _TORSO0 + 30, 2].mean()) + 0.02, 13))
    items.append((float(uvz[_TORSO0 + 30 : _TORSO0 + 60, 2].mean()) + 0.02, 14))
    items.append((float(uvz[sk.J["head"], 2]) - 0.01, 15))
    items.sort(key=lambda it: -it[0])
    for _, part in items:
        if part < 13:
            _, _, ra, rb, kind = _LIMBS[part]
            za, zb = uvz[_LIMB0 + 2 * part], uvz[_LIMB0 + 2 * part + 1]
            _shaded_capsule(img, za[:2], zb[:2], focal * ra * b / za[2], focal * rb * b / zb[2], colors[kind], light)
        elif part < 15:
            pp = uvz[_TORSO0 + 30 * (part - 13) : _TORSO0 + 30 * (part - 12), :2]
            rim, body = colors["pants" if part == 13 else "shirt"]
            cv2.fillConvexPoly(img, cv2.convexHull(np.round(pp * 4).astype(np.int32)), rim, cv2.LINE_AA, shift=2)
            c = pp.mean(0)
            inner = (pp - c) * 0.72 + c + light * 4.0
            cv2.fillConvexPoly(img, cv2.convexHull(np.round(inner * 4).astype(np.int32)), body, cv2.LINE_AA, shift=2)
        else:
            _draw_head(img, uvz, geom, i, look, focal, light, colors)


def _draw_head(img, uvz, geom: FigureGeometry, i: int, look: Look, focal: float, light, colors) -> None:
    p = {k: uvz[j] for k, j in _H.items()}
    rad = focal * 0.1 * geom.scale / p["skull"][2]
    up2 = p["up"][:2] - p["skull"][:2]
    angle = np.degrees(np.arctan2(up2[1], up2[0])) + 90
    facing = geom.facing[i]  # 1 facing the camera, -1 away
    # Hair behind the head (long hair falls to the shoulders).
    if look.hair_long:
        _capsule(img, p["back"][:2], p["low"][:2], rad * 1.0, rad * 0.85, colors["hair_dark"])
    _ellipse(img, p["back"][:2], (rad * 1.05, rad * 1.15), angle, colors["hair"])
    # Face: an ellipse pushed towards where the head points, shaded away from the light.
    if facing > -0.3:
        _ellipse(img, p["face"][:2], (rad * 0.9, rad * 1.1), angle, colors["face_rim"])
        _ellipse(img, p["face"][:2] + light * rad * 0.15, (rad * 0.72, rad * 0.95), angle, colors["face"])
    _ellipse(img, p["top"][:2], (rad * 0.95, rad * 0.5), angle, colors["hair"])  # hairline on top
    for k, ear in enumerate(("left_ear", "right_ear")):
        if geom.ears[i, k]:
            _ellipse(img, p[ear][:2], (rad * 0.16, rad * 0.26), angle, colors["ear"])
    if facing > 0.15:
        eye_r = rad * 0.11
        for eye, brow in (("left_eye", "brow_l"), ("right_eye", "brow_r")):
            _ellipse(img, p[eye][:2], (eye_r * 1.5, eye_r), angle - 90, (240.0, 240.0, 235.0))
            _ellipse(img, p[eye][:2], (eye_r * 0.8, eye_r * 0.8), 0, (40.0, 30.0, 25.0))
            _ellipse(img, p[brow][:2], (eye_r * 1.8, eye_r * 0.45), angle - 90, colors["hair_brow"])
        _ellipse(img, p["nose"][:2], (rad * 0.09, rad * 0.14), angle, colors["nose"])
        _ellipse(img, p["mouth"][:2], (rad * 0.28, rad * 0.08), angle - 90, (150.0, 60.0, 60.0))


# ------------------------------------------------------------------------------------------ clip


@dataclass
class Scene:
    """Everything fixed for one clip's video: camera, room, dancer's look and the light's drift."""

    camera: Camera
    room: Room
    look: Look
    light_dir: np.ndarray  # [2] direction of the light in the image
    light_freq: float
    light_phase: float
    light_amp: float
    tint: np.ndarray  # [3] colour drift amplitude per channel

    @staticmethod
    def random(rng: np.random.Generator, width: int, height: int) -> Scene:
        ang = rng.uniform(0, 2 * np.pi)
        return Scene(
            Camera.random(rng, width, height), Room.random(rng), Look.random(rng),
            np.array([np.cos(ang), -abs(np.sin(ang))]), rng.uniform(0.05, 0.25), rng.uniform(0, 2 * np.pi),
            rng.uniform(0.05, 0.2), rng.uniform(-0.08, 0.08, 3),
        )  # fmt: skip

    def cameras(self, times: np.ndarray, dancer_x: np.ndarray):
        return self.camera.at(times, dancer_x)

    def light(self, t: float) -> np.ndarray:
        """Per-channel gain at time ``t``: slow brightness and colour-temperature drift."""
        s = np.sin(2 * np.pi * self.light_freq * t + self.light_phase)
        return 1.0 + self.light_amp * s + self.tint * np.sin(2 * np.pi * self.light_freq * 0.7 * t)


def render_video_frames(dance: DanceMotion, scene: Scene, video_fps: float = 30.0):
    """Yield uint8[H, W, 3] RGB frames at ``video_fps`` (frame i shows time i / video_fps)."""
    cam = scene.camera
    n = int(round(dance.joints.shape[0] / dance.fps * video_fps))
    t = np.arange(n) / video_fps
    idx = np.clip(np.round(t * dance.fps).astype(int), 0, dance.joints.shape[0] - 1)
    pos, rot, focal = scene.cameras(t, dance.trans[idx, 0])
    geom = figure_geometry(dance.joints[idx], dance.global_rot[idx], dance.scale, scene.look.build, pos)
    uvz = project(geom.points, pos, rot, focal, cam.width, cam.height)
    colors = _look_colors(scene.look)
    lit = np.array([scene.light(x) for x in t])
    for i in range(n):
        img = scene.room.draw(pos[i], rot[i], focal[i], cam.width, cam.height)
        draw_figure(img, uvz[i], geom, i, scene.look, focal[i], scene.light_dir, colors)
        # Light drift over the whole picture, and a soft lens.
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
        yield cv2.transform(img, np.diag(lit[i]).astype(np.float32))


def project_keypoints(dance: DanceMotion, scene: Scene) -> np.ndarray:
    """Pixel positions float[N, 17, 2] of the COCO-17 joints at the motion's fps, as the video shows them."""
    t = np.arange(dance.joints.shape[0]) / dance.fps
    pos, rot, focal = scene.cameras(t, dance.trans[:, 0])
    uvz = project(dance.coco, pos, rot, focal, scene.camera.width, scene.camera.height)
    return uvz[..., :2]
