"""A procedural world of four-legged creatures with anatomical keypoints and captions.

Every image holds one creature drawn from the side: torso, neck, head with snout and
eyes, two front and two back legs (shoulder/hip -> elbow/knee -> paw) and a tail.
Its 18 keypoints are the ends and joints of that body (AP-10K's 17 plus the tail
tip; names in :data:`KEYPOINTS`). Five **families** have their own body plan
(:data:`FAMILIES`: proportions, neck / leg / tail length, head shape); colours,
patterns and part colours vary per image (the species-level looks), as do the pose
(stance, head, tail), facing, scale, position, occluders, clutter and the textured
background. The creature is a 3D body seen from its side: facing left it shows its
left side, so the near (drawn over the torso, brighter) legs are the left legs;
facing right, the right legs. A horizontal flip of an image is therefore an image
of this world with left and right swapped, as MMPose's flip augmentation assumes.

Each image has a **caption** made from its parameters, naming parts with
part-specific attributes (``"a spotted yellow long-necked grazer walking facing
left, red tail raised, blue front legs, on sand"``), so a text-to-image model has
to bind part words to image regions. The keypoint labels are never in the caption.

Everything is deterministic: :func:`make_creature` draws image ``index`` of ``split``
from its own generator seeded by ``(seed, split, index)``.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..fileio import atomic_write
from ..resources import config_file

KEYPOINTS = ('left_eye', 'right_eye', 'nose', 'neck', 'tail_base', 'tail_tip',
             'left_shoulder', 'left_elbow', 'left_front_paw',
             'right_shoulder', 'right_elbow', 'right_front_paw',
             'left_hip', 'left_knee', 'left_back_paw',
             'right_hip', 'right_knee', 'right_back_paw')
SKELETON = (('left_eye', 'right_eye'), ('left_eye', 'nose'), ('right_eye', 'nose'),
            ('nose', 'neck'), ('neck', 'tail_base'), ('tail_base', 'tail_tip'),
            ('neck', 'left_shoulder'), ('left_shoulder', 'left_elbow'),
            ('left_elbow', 'left_front_paw'), ('neck', 'right_shoulder'),
            ('right_shoulder', 'right_elbow'), ('right_elbow', 'right_front_paw'),
            ('tail_base', 'left_hip'), ('left_hip', 'left_knee'),
            ('left_knee', 'left_back_paw'), ('tail_base', 'right_hip'),
            ('right_hip', 'right_knee'), ('right_knee', 'right_back_paw'))
SPLITS = ('train', 'val', 'test')
CATEGORY = 'creature'

# Body plans, in units of the torso length. Each value is a (low, high) range drawn
# per image. leg = (upper, lower) lengths; *_w = half-widths; neck_angle / tail_angle
# in degrees above the horizontal (forward for the neck, backward for the tail);
# body_tilt raises the front.
FAMILIES = dict(
    grazer=dict(adjective='long-necked', torso_h=(0.36, 0.44), neck=(0.85, 1.15),
                neck_angle=(55, 72), neck_w=(0.07, 0.09), head=(0.16, 0.2),
                snout=(1.4, 1.8), front_leg=((0.48, 0.56), (0.48, 0.56)),
                back_leg=((0.5, 0.58), (0.5, 0.58)), leg_w=(0.045, 0.055),
                tail=(0.25, 0.35), tail_w=(0.03, 0.04), body_tilt=(-4, 8)),
    hound=dict(adjective='long-tailed', torso_h=(0.34, 0.42), neck=(0.35, 0.48),
               neck_angle=(35, 50), neck_w=(0.1, 0.12), head=(0.2, 0.24),
               snout=(1.3, 1.6), front_leg=((0.32, 0.38), (0.32, 0.38)),
               back_leg=((0.34, 0.4), (0.32, 0.38)), leg_w=(0.055, 0.07),
               tail=(0.65, 0.85), tail_w=(0.04, 0.05), body_tilt=(-4, 6)),
    crawler=dict(adjective='short-legged', torso_h=(0.22, 0.28), neck=(0.15, 0.22),
                 neck_angle=(5, 18), neck_w=(0.08, 0.1), head=(0.17, 0.2),
                 snout=(1.5, 1.9), front_leg=((0.17, 0.21), (0.17, 0.21)),
                 back_leg=((0.19, 0.23), (0.17, 0.21)), leg_w=(0.05, 0.06),
                 tail=(0.95, 1.25), tail_w=(0.06, 0.07), body_tilt=(-3, 3)),
    tusker=dict(adjective='heavy', torso_h=(0.55, 0.66), neck=(0.12, 0.18),
                neck_angle=(15, 30), neck_w=(0.17, 0.2), head=(0.27, 0.32),
                snout=(1.1, 1.3), front_leg=((0.26, 0.3), (0.24, 0.28)),
                back_leg=((0.26, 0.3), (0.24, 0.28)), leg_w=(0.09, 0.11),
                tail=(0.25, 0.35), tail_w=(0.025, 0.035), body_tilt=(-3, 3)),
    hopper=dict(adjective='big-footed', torso_h=(0.42, 0.5), neck=(0.15, 0.22),
                neck_angle=(55, 75), neck_w=(0.1, 0.12), head=(0.2, 0.24),
                snout=(1.2, 1.4), front_leg=((0.18, 0.22), (0.16, 0.2)),
                back_leg=((0.42, 0.5), (0.45, 0.55)), leg_w=(0.045, 0.055),
                tail=(0.8, 1.0), tail_w=(0.07, 0.08), body_tilt=(28, 40)),
)
COLORS = dict(  # RGB
    red=(205, 40, 35), orange=(235, 135, 30), yellow=(235, 210, 45), green=(60, 160, 60),
    blue=(45, 85, 205), purple=(135, 60, 175), pink=(240, 140, 180), brown=(125, 80, 45),
    gray=(128, 128, 128), white=(240, 240, 235), black=(30, 30, 30))
PATTERNS = ('plain', 'spotted', 'striped', 'patched')
STANCES = ('standing', 'walking', 'running', 'crouching')
GROUNDS = dict(  # background name -> (base RGB, texture)
    grass=((80, 150, 60), 'blades'), sand=((215, 190, 130), 'grain'),
    snow=((225, 230, 240), 'grain'), rocks=((130, 125, 120), 'stones'),
    water=((60, 120, 180), 'waves'), leaves=((150, 110, 50), 'blobs'))
# What a caption may colour: regions, and points named as their keypoints (a disc,
# a sock on a paw, the snout, an eye), so that keypoint names are caption words.
REGION_PHRASES = ('head', 'neck', 'tail', 'front legs', 'back legs', 'left legs',
                  'right legs')
POINT_PHRASES = tuple(k.replace('_', ' ') for k in KEYPOINTS if k != 'neck')
SUPERSAMPLE = 2  # drawn at 2x and reduced with area averaging


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _uniform(rng, bounds):
    return float(rng.uniform(*bounds))


def _rot(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _unit(deg: float) -> np.ndarray:
    """Direction at ``deg`` degrees above the forward horizontal (x right, y down)."""
    a = np.deg2rad(deg)
    return np.array([np.cos(a), -np.sin(a)])


def sample_params(rng: np.random.Generator, families: Sequence[str] = tuple(FAMILIES)
                  ) -> dict:
    """The parameters of one creature and its scene (everything the caption and
    the drawing need)."""
    family = str(families[rng.integers(len(families))])
    plan = {k: v for k, v in FAMILIES[family].items() if k != 'adjective'}
    body = {k: ((_uniform(rng, v[0]), _uniform(rng, v[1])) if isinstance(v[0], tuple)
                else _uniform(rng, v)) for k, v in plan.items()}
    names = list(COLORS)
    color = names[rng.integers(len(names))]
    pattern = PATTERNS[rng.integers(len(PATTERNS))]
    pattern_color = names[rng.integers(len(names))]
    while pattern_color == color:
        pattern_color = names[rng.integers(len(names))]
    # 0-3 parts in their own colour (never the body's), each named in the caption
    facing = ('left', 'right')[rng.integers(2)]
    hidden = {f'{"right" if facing == "left" else "left"} {p}' for p in ('shoulder', 'hip')}
    phrases = [p for p in REGION_PHRASES + POINT_PHRASES if p not in hidden]
    parts = {}
    for phrase in rng.permutation(phrases)[:rng.choice(5, p=[0.1, 0.2, 0.3, 0.25, 0.15])]:
        named = {str(phrase), *parts}
        if named & {'left legs', 'right legs'} and named & {'front legs', 'back legs'}:
            continue  # one colour per leg: sides or front/back, not both
        part_color = names[rng.integers(len(names))]
        while part_color == color:
            part_color = names[rng.integers(len(names))]
        parts[str(phrase)] = part_color
    stance = STANCES[rng.integers(len(STANCES))]
    head_pose = ('up', 'level', 'down')[rng.choice(3, p=[0.25, 0.5, 0.25])]
    tail_pose = ('raised', 'level', 'down')[rng.integers(3)]
    ground = list(GROUNDS)[rng.integers(len(GROUNDS))]
    return dict(
        family=family, body=body, color=color, pattern=pattern,
        pattern_color=pattern_color, parts=parts, stance=stance, head_pose=head_pose,
        tail_pose=tail_pose, facing=facing,
        # creature length (torso + head + tail reach) as a share of the image width
        scale=_uniform(rng, (0.32, 0.5)), tilt=_uniform(rng, (-8, 8)), ground=ground,
        occluder=('bush', 'rock', None)[rng.choice(3, p=[0.15, 0.15, 0.7])],
        phase=_uniform(rng, (0, 1)), jitter=rng.normal(0, 1, 16))


def caption(params: dict, rng: Optional[np.random.Generator] = None) -> str:
    """The caption of a creature: family, colour, pattern, stance, facing, then the
    part attributes and poses in random order, then the ground."""
    rng = rng or np.random.default_rng(0)
    family = params['family']
    pattern = '' if params['pattern'] == 'plain' else params['pattern'] + ' '
    if params['pattern'] in ('spotted', 'striped', 'patched') and rng.random() < 0.5:
        pattern = f'{params["pattern"]} {params["pattern_color"]} and '
    adjective = FAMILIES[family]['adjective'] + ' ' if rng.random() < 0.5 else ''
    article = 'an' if (pattern or params['color'])[0] in 'aeiou' else 'a'
    head = f'{article} {pattern}{params["color"]} {adjective}{family} ' \
           f'{params["stance"]} facing {params["facing"]}'
    extras = [f'{color} {part}' for part, color in params['parts'].items()]
    if params['head_pose'] != 'level':
        extras.append(f'head {params["head_pose"]}')
    if params['tail_pose'] != 'level':
        extras.append(f'tail {params["tail_pose"]}')
    extras = [extras[i] for i in rng.permutation(len(extras))]
    tail = [f'behind a {params["occluder"]}'] if params['occluder'] else []
    tail.append(f'on {params["ground"]}')
    return ', '.join([head] + extras + tail)


def skeleton_points(params: dict) -> Dict[str, np.ndarray]:
    """Keypoints and drawing anchors in the creature's own frame (torso length 1,
    facing right, y down, origin at the torso's centre), near side = right."""
    body, stance, jit = params['body'], params['stance'], params['jitter']
    half_h = body['torso_h'] / 2
    tilt = _rot(-body['body_tilt'])  # y down: a negative angle raises the front
    pts = {}

    def on_torso(x, y):
        return tilt @ np.array([x * 0.5, y * half_h])

    pts['torso'] = on_torso(0, 0)
    pts['torso_front'] = on_torso(1, 0)  # the torso's half length ahead of its centre
    pts['neck'] = on_torso(0.82, -0.55)
    pts['tail_base'] = on_torso(-0.92, -0.45)
    head_angle = dict(up=12, level=0, down=-35)[params['head_pose']]
    neck_dir = _unit(body['neck_angle'] + head_angle + 4 * jit[0])
    if params['head_pose'] == 'down':  # grazing: the neck bends down and forward
        neck_dir = _unit(max(-40.0, body['neck_angle'] - 70 + 4 * jit[0]))
    pts['head'] = pts['neck'] + neck_dir * body['neck']
    snout_dir = _unit(-20 + head_angle * 0.5 + 6 * jit[1])
    pts['nose'] = pts['head'] + snout_dir * body['head'] * body['snout']
    up = _unit(90 - 20 + head_angle * 0.5)
    pts['right_eye'] = pts['head'] + body['head'] * (0.35 * snout_dir + 0.42 * up)
    pts['left_eye'] = pts['head'] + body['head'] * (0.62 * snout_dir + 0.55 * up)
    tail_angle = dict(raised=35, level=0, down=-55)[params['tail_pose']] + 8 * jit[2]
    tail_dir = _unit(180 - tail_angle)
    bend = _rot(-15 * np.sign(tail_angle + 1e-3))
    pts['tail_mid'] = pts['tail_base'] + tail_dir * body['tail'] * 0.5
    pts['tail_tip'] = pts['tail_mid'] + bend @ tail_dir * body['tail'] * 0.5
    # legs: swing angles from the vertical (positive = forward), bend at the joint
    swing, bend_deg = dict(standing=(4, 3), walking=(16, 14), running=(34, 28),
                           crouching=(8, 50))[stance]
    phase = 2 * np.pi * params['phase']
    far = np.array([-0.04, -0.05])  # the far side: a little back and up
    for side, offset in (('right', np.zeros(2)), ('left', far)):
        for leg, x, joint, paw in (('front', 0.62, 'elbow', 'front_paw'),
                                   ('back', -0.62, 'knee', 'back_paw')):
            upper, lower = body[f'{leg}_leg']
            if stance == 'running':  # gallop: front legs reach forward, back legs back
                angle = swing * (1 if leg == 'front' else -1) * (0.6 + 0.4 * np.cos(
                    phase + (0 if side == 'right' else 0.8)))
            else:
                angle = swing * np.sin(phase + (0 if side == 'right' else np.pi)
                                       + (0 if leg == 'front' else np.pi / 2))
            angle += 3 * jit[3 + (side == 'left') * 2 + (leg == 'back')]
            top = on_torso(x, 0.35) + offset
            # front legs fold back at the elbow, back legs forward at the knee
            fold = bend_deg * (-1 if leg == 'front' else 1)
            if params['family'] == 'hopper' and leg == 'back':
                fold = 70 + 10 * jit[7]  # the long hind foot
                angle += 35
            d1 = np.array([np.sin(np.deg2rad(angle)), np.cos(np.deg2rad(angle))])
            d2 = _rot(fold) @ d1
            name = f'{side}_{"shoulder" if leg == "front" else "hip"}'
            pts[name] = top
            pts[f'{side}_{joint}'] = top + d1 * upper
            pts[f'{side}_{paw}'] = top + d1 * upper + d2 * lower
    return pts


def _draw_capsule(img, p0, p1, r0, r1, color):
    """A tapered limb from p0 (radius r0) to p1 (radius r1), in image pixels."""
    s = 16  # cv2 fixed-point shift of 4 bits
    d = np.asarray(p1, float) - p0
    n = np.array([-d[1], d[0]]) / max(np.linalg.norm(d), 1e-6)
    quad = np.array([p0 + n * r0, p1 + n * r1, p1 - n * r1, p0 - n * r0])
    cv2.fillConvexPoly(img, np.round(quad * s).astype(np.int32), color, cv2.LINE_AA, 4)
    for p, r in ((p0, r0), (p1, r1)):
        cv2.circle(img, tuple(np.round(np.asarray(p) * s).astype(int).tolist()),
                   int(round(r * s)), color, -1, cv2.LINE_AA, 4)


def _texture(rng, shape, base, kind, scale):
    """A textured background (H, W, 3) float around ``base`` RGB."""
    height, width = shape
    grid = rng.uniform(-35, 35, (rng.integers(2, 5), rng.integers(2, 5), 1))
    img = np.array(base, float) + cv2.resize(grid, (width, height),
                                             interpolation=cv2.INTER_CUBIC)[..., None]
    img = img + rng.normal(0, 6, 3)
    if kind == 'grain':
        img += rng.normal(0, 10, (height, width, 1))
    elif kind == 'blades':
        for _ in range(int(40 * scale)):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            col = (np.array(base) * rng.uniform(0.6, 1.3)).clip(0, 255).tolist()
            cv2.line(img, (int(x), int(y)), (int(x + rng.normal(0, 2 * scale)),
                                             int(y - rng.uniform(3, 8) * scale)),
                     col, 1, cv2.LINE_AA)
    elif kind == 'stones':
        for _ in range(int(12 * scale)):
            c = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            axes = (int(rng.uniform(3, 9) * scale), int(rng.uniform(2, 6) * scale))
            col = (np.array(base) * rng.uniform(0.7, 1.3)).clip(0, 255).tolist()
            cv2.ellipse(img, c, axes, float(rng.uniform(0, 180)), 0, 360, col, -1)
    elif kind == 'waves':
        yy, xx = np.mgrid[0:height, 0:width]
        img += 18 * np.sin(yy / (2.5 * scale) + np.sin(xx / (6 * scale)) * 2)[..., None]
    else:  # blobs
        for _ in range(int(10 * scale)):
            c = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            col = (np.array(base) * rng.uniform(0.6, 1.4)).clip(0, 255).tolist()
            cv2.circle(img, c, int(rng.uniform(2, 6) * scale), col, -1)
    return img


def _shade(color: str, near_side: bool = True) -> list:
    """RGB (3 floats, 0-255) of the colour named ``color``, darker on the far side."""
    return (np.array(COLORS[color], float) * (1.0 if near_side else 0.72)).clip(0, 255).tolist()


class _Layout(NamedTuple):
    """A creature placed on the supersampled canvas of :func:`render`."""
    params: dict
    points: Dict[str, np.ndarray]  # frame name -> (2,) x, y in canvas pixels
    animal: Dict[str, str]  # frame name -> the creature's name for it (keypoint names)
    px: float  # canvas pixels per torso length


def _background(rng: np.random.Generator, ground: str, big: int) -> np.ndarray:
    """The textured ``ground`` with 0-3 pebbles or twigs: (big, big, 3) float RGB, 0-255."""
    ground_rgb, kind = GROUNDS[ground]
    img = _texture(rng, (big, big), ground_rgb, kind, SUPERSAMPLE).clip(0, 255)
    for _ in range(rng.integers(0, 4)):  # clutter: pebbles, twigs
        col = rng.uniform(20, 235, 3).tolist()
        p0 = rng.uniform(0, big, 2)
        if rng.random() < 0.5:
            cv2.circle(img, tuple(p0.astype(int).tolist()),
                       int(rng.uniform(1, 3.5) * SUPERSAMPLE), col, -1, cv2.LINE_AA)
        else:
            p1 = p0 + rng.normal(0, 8 * SUPERSAMPLE, 2)
            cv2.line(img, tuple(p0.astype(int).tolist()), tuple(p1.astype(int).tolist()),
                     col, SUPERSAMPLE, cv2.LINE_AA)
    return img


def _place(params: dict, rng: np.random.Generator, big: int) -> _Layout:
    """Scale (``params['scale']`` of the canvas), tilt, mirror (facing left) and
    position at random the points of :func:`skeleton_points` on the (big, big)
    canvas, keeping the torso's half height plus 0.1 torso lengths inside it."""
    body = params['body']
    pts = skeleton_points(params)
    frame = np.array(list(pts.values()))
    lo, hi = frame.min(0), frame.max(0)
    px = params['scale'] * big / max(hi[0] - lo[0], (hi[1] - lo[1]) * 0.9) * 1.6
    mirror = np.array([-1.0 if params['facing'] == 'left' else 1.0, 1.0])
    placed = {k: (_rot(params['tilt']) @ (p - (lo + hi) / 2)) * px * mirror
              for k, p in pts.items()}
    pad = px * (body['torso_h'] / 2 + 0.1)
    all_pts = np.array(list(placed.values()))
    room_lo, room_hi = pad - all_pts.min(0), big - pad - all_pts.max(0)
    center = np.where(room_hi > room_lo, rng.uniform(np.minimum(room_lo, room_hi),
                                                     np.maximum(room_lo, room_hi)), big / 2)
    placed = {k: p + center for k, p in placed.items()}
    # The frame's right side is the near side; facing left the mirror makes it the
    # creature's left side.
    near = 'left' if params['facing'] == 'left' else 'right'
    swap = dict(left='right', right='left')
    animal = {k: (swap[k.split('_', 1)[0]] + '_' + k.split('_', 1)[1]
                  if near == 'left' and k.startswith(('left_', 'right_')) else k)
              for k in placed}
    return _Layout(params, placed, animal, px)


def _capsule(img: np.ndarray, mask: np.ndarray, p0, p1, r0: float, r1: float, color):
    """A body part (see :func:`_draw_capsule`) in ``color`` on ``img``, added to
    ``mask`` (the creature's pixels, uint8)."""
    _draw_capsule(img, p0, p1, r0, r1, color)
    _draw_capsule(mask, p0, p1, r0, r1, 255)


def _draw_marks(img: np.ndarray, layout: _Layout, frame_names: Sequence[str],
                radius: float, near_side: bool = True) -> None:
    """Discs (``radius`` canvas pixels) on the points ``frame_names`` in the colour
    the caption gives a point part (``params['parts']``)."""
    parts = layout.params['parts']
    for k in frame_names:
        phrase = layout.animal[k].replace('_', ' ')
        if phrase in parts:
            _draw_capsule(img, layout.points[k], layout.points[k], radius, radius,
                          _shade(parts[phrase], near_side))


def _draw_legs(img: np.ndarray, mask: np.ndarray, layout: _Layout, frame_side: str) -> None:
    """The front and back leg of the frame's ``frame_side`` ('right' is the near
    side: brighter, its shoulder and hip marked too) in the colour of their legs,
    with the socks and joint marks the caption gives them."""
    params, placed = layout.params, layout.points
    parts = params['parts']
    near_side = frame_side == 'right'
    r_leg = params['body']['leg_w'] * layout.px
    for top, joint, paw, kind in (('shoulder', 'elbow', 'front_paw', 'front'),
                                  ('hip', 'knee', 'back_paw', 'back')):
        top, joint, paw = (f'{frame_side}_{n}' for n in (top, joint, paw))
        side = layout.animal[top].split('_', 1)[0]  # the creature's side
        name = parts.get(f'{kind} legs', parts.get(f'{side} legs', params['color']))
        col = _shade(name, near_side)
        r_top = r_leg * (1.6 if kind == 'back' else 1.3)
        _capsule(img, mask, placed[top], placed[joint], r_top, r_leg, col)
        _capsule(img, mask, placed[joint], placed[paw], r_leg, r_leg * 0.85, col)
        paw_phrase = layout.animal[paw].replace('_', ' ')
        if paw_phrase in parts:  # a sock
            _draw_capsule(img, placed[paw] + (placed[joint] - placed[paw]) * 0.3,
                          placed[paw], r_leg * 0.95, r_leg * 0.9,
                          _shade(parts[paw_phrase], near_side))
        _draw_marks(img, layout, [joint] + ([top] if near_side else []), r_leg * 1.15,
                    near_side)


def _draw_tail(img: np.ndarray, mask: np.ndarray, layout: _Layout) -> None:
    """The tail: two tapering segments, its tip in its own colour if captioned."""
    params, placed = layout.params, layout.points
    parts = params['parts']
    tail_w = params['body']['tail_w'] * layout.px
    tail_col = _shade(parts.get('tail', params['color']))
    _capsule(img, mask, placed['tail_base'], placed['tail_mid'], tail_w, tail_w * 0.8,
             tail_col)
    _capsule(img, mask, placed['tail_mid'], placed['tail_tip'], tail_w * 0.8, tail_w * 0.5,
             tail_col)
    if 'tail tip' in parts:
        tip = placed['tail_tip'] + (placed['tail_mid'] - placed['tail_tip']) * 0.3
        _draw_capsule(img, tip, placed['tail_tip'], tail_w * 0.7, tail_w * 0.55,
                      _shade(parts['tail tip']))


def _torso_pattern(rng: np.random.Generator, pattern: str, inside: np.ndarray,
                   px: float) -> np.ndarray:
    """Spots, stripes or patches (``pattern``) over the box of ``inside`` (H, W) bool,
    sized by ``px`` canvas pixels per torso length: (H, W) uint8, 255 on the pattern."""
    out = np.zeros(inside.shape, np.uint8)
    ys, xs = np.nonzero(inside)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    if pattern == 'spotted':
        for _ in range(int(rng.integers(5, 10))):
            c = (int(rng.uniform(x0, x1)), int(rng.uniform(y0, y1)))
            cv2.circle(out, c, max(2, int(rng.uniform(0.05, 0.09) * px)), 255, -1)
    elif pattern == 'striped':
        step = max(4, int(rng.uniform(0.12, 0.16) * px))
        for x in range(int(x0) + step // 2, int(x1), step):
            cv2.line(out, (x, int(y0)), (x + int(rng.normal(0, 2)), int(y1)), 255,
                     max(2, step // 3))
    else:
        for _ in range(int(rng.integers(2, 4))):
            c = (int(rng.uniform(x0, x1)), int(rng.uniform(y0, y1)))
            axes = (max(3, int(rng.uniform(0.12, 0.22) * px)),
                    max(3, int(rng.uniform(0.08, 0.15) * px)))
            cv2.ellipse(out, c, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return out


def _draw_torso(img: np.ndarray, mask: np.ndarray, layout: _Layout,
                rng: np.random.Generator) -> None:
    """The torso: an ellipse in the body colour with its pattern, added to ``mask``."""
    params, placed, px = layout.params, layout.points, layout.px
    axis = placed['torso_front'] - placed['torso']
    torso = np.zeros(mask.shape, np.uint8)
    cv2.ellipse(torso, (tuple(placed['torso'].tolist()),
                        (2 * float(np.linalg.norm(axis)), params['body']['torso_h'] * px),
                        float(np.degrees(np.arctan2(axis[1], axis[0])))),
                255, -1, cv2.LINE_AA)
    inside = torso > 127
    img[inside] = _shade(params['color'])
    if params['pattern'] != 'plain':
        pattern = _torso_pattern(rng, params['pattern'], inside, px)
        img[inside & (pattern > 0)] = _shade(params['pattern_color'])
    mask |= torso


def _draw_head(img: np.ndarray, mask: np.ndarray, layout: _Layout) -> None:
    """Neck, round head and snout in their colours, the nose's colour and the eyes
    (the frame's right eye is the near one: larger; the far eye darker)."""
    params, placed, px = layout.params, layout.points, layout.px
    body, parts = params['body'], params['parts']
    neck_w, head_r = body['neck_w'] * px, body['head'] * px
    _capsule(img, mask, placed['neck'], placed['head'], neck_w * 1.3, neck_w,
             _shade(parts.get('neck', params['color'])))
    head_col = _shade(parts.get('head', params['color']))
    _capsule(img, mask, placed['head'], placed['head'], head_r, head_r, head_col)
    _capsule(img, mask, placed['head'], placed['nose'], head_r * 0.75, head_r * 0.38,
             head_col)
    if 'nose' in parts:
        snout = placed['nose'] + (placed['head'] - placed['nose']) * 0.22
        _draw_capsule(img, snout, placed['nose'], head_r * 0.42, head_r * 0.38,
                      _shade(parts['nose']))
    eye_default = 'white' if parts.get('head', params['color']) == 'black' else 'black'
    for eye, radius in (('left_eye', 0.15), ('right_eye', 0.2)):
        col = parts.get(layout.animal[eye].replace('_', ' '), eye_default)
        _draw_capsule(img, placed[eye], placed[eye], max(1.0, head_r * radius),
                      max(1.0, head_r * radius), _shade(col, eye == 'right_eye'))


def _draw_occluder(img: np.ndarray, mask: np.ndarray, layout: _Layout,
                   rng: np.random.Generator) -> np.ndarray:
    """The bush or rock of ``params['occluder']`` (if any) near a random keypoint,
    drawn on ``img`` and cut from ``mask``: its pixels (H, W) uint8, all 0 if none."""
    params, placed, px = layout.params, layout.points, layout.px
    occluder = np.zeros(mask.shape, np.uint8)
    if params['occluder']:
        names = [k for k in placed if k in KEYPOINTS]
        c = placed[names[rng.integers(len(names))]] + rng.normal(0, 0.15 * px, 2)
        rad = rng.uniform(0.25, 0.4) * px
        if params['occluder'] == 'bush':
            col = (np.array(GROUNDS['grass'][0]) * rng.uniform(0.6, 1.0)).tolist()
            for _ in range(6):
                cc = c + rng.normal(0, rad * 0.5, 2)
                cv2.circle(occluder, tuple(cc.astype(int).tolist()), int(rad * 0.6), 255, -1)
        else:
            col = (np.array(GROUNDS['rocks'][0]) * rng.uniform(0.6, 1.2)).clip(0, 255).tolist()
            cv2.ellipse(occluder, tuple(c.astype(int).tolist()), (int(rad), int(rad * 0.75)),
                        float(rng.uniform(0, 180)), 0, 360, 255, -1)
        img[occluder > 0] = col
        mask[occluder > 0] = 0
    return occluder


def _keypoints(layout: _Layout, occluder: np.ndarray) -> np.ndarray:
    """Keypoints (K, 3): x, y in output pixels (pixel centres at integers; 0 where
    unlabelled) and visibility (2 visible, 1 the far shoulder and hip under the
    torso, 0 off the canvas or under the ``occluder`` (H, W) mask)."""
    big = occluder.shape[0]
    visible = np.full(len(KEYPOINTS), 2)
    for k in ('left_shoulder', 'left_hip'):  # the far ones lie under the torso
        visible[KEYPOINTS.index(layout.animal[k])] = 1
    keypoints = np.zeros((len(KEYPOINTS), 3))
    for k, name in layout.animal.items():
        if name not in KEYPOINTS:
            continue
        i, p = KEYPOINTS.index(name), layout.points[k]
        on_image = (p >= 0).all() and (p < big).all()
        if not on_image or occluder[int(p[1]), int(p[0])]:
            visible[i] = 0
        else:
            keypoints[i, :2] = (p + 0.5) / SUPERSAMPLE - 0.5  # pixel centres at integers
    keypoints[:, 2] = visible
    return keypoints


def _reduce(img: np.ndarray, mask: np.ndarray, keypoints: np.ndarray, size: int
            ) -> Tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """The canvas area-averaged to (size, size): image (size, size, 3) uint8, bbox
    xywh (the creature's pixels and every labelled keypoint +-1 px, in the image),
    area (pixels) and mask (size, size) bool."""
    img = cv2.resize(img.clip(0, 255).astype(np.uint8), (size, size),
                     interpolation=cv2.INTER_AREA)
    small = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA) > 64
    ys, xs = np.nonzero(small)
    labelled = keypoints[keypoints[:, 2] > 0, :2]
    lo = np.min([[xs.min(), ys.min()]] + list(labelled - 1), 0) if len(xs) else np.zeros(2)
    hi = np.max([[xs.max() + 1, ys.max() + 1]] + list(labelled + 1), 0) if len(xs) else \
        np.full(2, size)
    lo, hi = lo.clip(0, size), hi.clip(0, size)  # the box holds every labelled point
    return img, np.concatenate([lo, hi - lo]), float(small.sum()), small


def render(params: dict, rng: np.random.Generator, size: int = 64
           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Draw the scene of ``params``: image (size, size, 3) RGB uint8, keypoints
    (K, 3) as x, y (image pixels, pixel centres at integers) and visibility (2:
    visible, 1: hidden by the creature's own body, 0: unlabelled: occluded or off
    the image), bbox xywh, area (pixels of the creature) and its mask (size, size)
    bool. Drawn at ``SUPERSAMPLE`` times ``size``, far parts first."""
    big = size * SUPERSAMPLE
    img = _background(rng, params['ground'], big)
    layout = _place(params, rng, big)
    mask = np.zeros((big, big), np.uint8)  # the creature's pixels
    _draw_legs(img, mask, layout, 'left')  # far legs first: the torso covers their tops
    _draw_tail(img, mask, layout)
    _draw_torso(img, mask, layout, rng)
    _draw_marks(img, layout, ['tail_base'], params['body']['tail_w'] * layout.px * 1.5)
    _draw_head(img, mask, layout)
    _draw_legs(img, mask, layout, 'right')  # near legs over the torso
    occluder = _draw_occluder(img, mask, layout, rng)
    keypoints = _keypoints(layout, occluder)
    image, bbox, area, small = _reduce(img, mask, keypoints, size)
    return image, keypoints, bbox, area, small


def make_creature(seed: int, split: str, index: int, size: int = 64,
                  families: Sequence[str] = tuple(FAMILIES)) -> dict:
    """Image ``index`` of ``split``: dict(image (size, size, 3) RGB uint8, keypoints
    (K, 3), bbox (4,) xywh, area, mask (size, size), caption, params)."""
    rng = _rng(seed, split, index)
    params = sample_params(rng, families)
    text = caption(params, rng)
    image, keypoints, bbox, area, mask = render(params, rng, size)
    return dict(image=image, keypoints=keypoints, bbox=bbox, area=area, mask=mask,
                caption=text, params=params)


def metainfo_file() -> str:
    """The MMPose metainfo config of this world (keypoints, flip pairs, skeleton)."""
    return config_file('genloc', 'creatures', '_base_', 'datasets', 'creatures.py')


def write_coco(out_dir: str, split: str, num: int, seed: int = 0, size: int = 64,
               families: Sequence[str] = tuple(FAMILIES), name: Optional[str] = None,
               start: int = 0) -> str:
    """Write images ``start .. start + num - 1`` of ``split`` (PNG) and their COCO
    keypoint annotations (with the captions, which the keypoint models never read)
    under ``out_dir``; returns the annotation file (``annotations/{name}.json``,
    ``name`` defaulting to ``creatures_{split}``)."""
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for index in range(start, start + num):
        item = make_creature(seed, split, index, size, families)
        file_name = f'{split}_{seed}_{index:06d}.png'
        path = osp.join(out_dir, 'images', file_name)
        if not osp.exists(path):
            cv2.imwrite(path, item['image'][..., ::-1])
        image_id = SPLITS.index(split) * 10_000_000 + index + 1
        images.append(dict(id=image_id, file_name=file_name, width=size, height=size,
                           caption=item['caption'], family=item['params']['family']))
        kpts = item['keypoints']
        annotations.append(dict(
            id=image_id, image_id=image_id, category_id=1, iscrowd=0,
            bbox=[round(float(v), 2) for v in item['bbox']], area=item['area'],
            num_keypoints=int((kpts[:, 2] > 0).sum()),
            keypoints=[round(float(v), 2) if j % 3 < 2 else int(v)
                       for j, v in enumerate(kpts.reshape(-1))]))
    coco = dict(
        info=dict(description=f'genloc creature world, split {split}, seed {seed}, '
                  f'families {list(families)}'),
        images=images, annotations=annotations,
        categories=[dict(id=1, name=CATEGORY, supercategory='animal',
                         keypoints=list(KEYPOINTS),
                         skeleton=[[KEYPOINTS.index(a) + 1, KEYPOINTS.index(b) + 1]
                                   for a, b in SKELETON])])
    path = osp.join(out_dir, 'annotations', f'{name or "creatures_" + split}.json')
    atomic_write(path, json.dumps(coco), 'w')
    return path


def write_examples(out_dir: str, num: int = 4, enlarge: int = 4, seed: int = 0,
                   split: str = 'test') -> str:
    """The app's example creatures (``demo/data/creatures``): images ``0 .. num - 1``
    of ``split`` enlarged ``enlarge`` times (nearest: the 64-px pixels kept, big enough
    to see), as ``{split}_{index:06d}.jpg`` (quality 95) beside ``{split}_creatures.json``
    (COCO keypoints in the enlarged pixels: boxes times ``enlarge``, keypoints
    ``(x + 0.5) * enlarge - 0.5``, pixel centres at integers). Returns the json's
    path."""
    with open(write_coco(osp.join(out_dir, '.64px'), split, num, seed)) as f:
        coco = json.load(f)
    for image in coco['images']:
        small = cv2.imread(osp.join(out_dir, '.64px', 'images', image['file_name']))
        image['file_name'] = f'{split}_{image["id"] % 10_000_000 - 1:06d}.jpg'
        image['width'] *= enlarge
        image['height'] *= enlarge
        cv2.imwrite(osp.join(out_dir, image['file_name']),
                    cv2.resize(small, None, fx=enlarge, fy=enlarge,
                               interpolation=cv2.INTER_NEAREST),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    for ann in coco['annotations']:
        ann['bbox'] = [v * enlarge for v in ann['bbox']]
        ann['area'] *= enlarge**2
        kpts = np.array(ann['keypoints'], np.float64).reshape(-1, 3)
        kpts[:, :2] = np.where(kpts[:, 2:] > 0, (kpts[:, :2] + 0.5) * enlarge - 0.5, 0)
        ann['keypoints'] = [round(float(v), 2) if j % 3 < 2 else int(v)
                            for j, v in enumerate(kpts.reshape(-1))]
    shutil.rmtree(osp.join(out_dir, '.64px'))
    path = osp.join(out_dir, f'{split}_creatures.json')
    atomic_write(path, json.dumps(coco), 'w')
    return path
