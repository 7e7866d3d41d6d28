"""Write a small COCO-format keypoint dataset of procedurally drawn "marker creatures".

Each instance is a creature of K = 9 keypoints: a marker of its own colour and shape
at each keypoint (a left/right pair shares a colour and has mirror-image glyphs),
on a translucent body with skeleton lines. Layout jitter, scale, aspect, rotation,
horizontal flips (mirror + left/right relabel), occluders (a marker whose centre is
covered is unlabelled, v=0), 1-2 instances per image, and textured, cluttered
backgrounds with decoy shapes vary from image to image. Every image is drawn from
its own RNG seeded by (seed, split, index): the output is byte-identical for a
seed, and the test split holds images the train split never shows.

Layout of OUT (:func:`write_dataset`; ``tools/misc/make_synthetic_keypoints.py``
writes data/synthetic_markers/):
    images/{train,test}_NNNNNN.png
    annotations/synthetic_{train,test}.json   (COCO keypoints, one category)
    annotations/synthetic_train-seen200.json  (the first 200 train images: AP on
                                               seen images vs. held-out test AP)
    .gitignore                                (generated data stays out of git)

The keypoint names, skeleton and flip pairs come from the MMPose metainfo file
configs/genloc/synthetic/_base_/datasets/synthetic_markers.py.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

from ..resources import config_file

METAINFO = config_file('genloc', 'synthetic', '_base_', 'datasets', 'synthetic_markers.py')
SPLITS = ('train', 'test')


def _circle(n=24):
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(a), np.sin(a)], 1)


def _left_half_disc(n=16):
    a = np.linspace(np.pi / 2, 3 * np.pi / 2, n)  # flat side on the right
    return np.stack([np.cos(a), np.sin(a)], 1) + [0.45, 0]


# Glyphs as polygons in a unit frame (x right, y down, radius ~1). Only one glyph of
# each left/right pair is listed; its partner is the mirror image (x -> -x).
GLYPHS = dict(
    crown=_circle(),
    core=np.array([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]]),
    tail=np.array([[-0.3, -1], [0.3, -1], [0.3, -0.3], [1, -0.3], [1, 0.3], [0.3, 0.3],
                   [0.3, 1], [-0.3, 1], [-0.3, 0.3], [-1, 0.3], [-1, -0.3], [-0.3, -0.3]]),
    left_wing=np.array([[-1.0, 0.0], [0.8, -0.95], [0.8, 0.95]]),
    left_hand=np.array([[-0.45, -1], [0.15, -1], [0.15, 0.4], [1.0, 0.4], [1.0, 1],
                        [-0.45, 1]]),
    left_foot=_left_half_disc(),
)
COLORS = dict(  # RGB; a pair shares its colour
    crown=(220, 30, 30), core=(30, 60, 220), tail=(230, 210, 20), wing=(200, 40, 200),
    hand=(20, 200, 210), foot=(240, 130, 20))
# Canonical layout in the unit box (x right, y down); deliberately asymmetric, so a
# flipped creature is a different layout.
TEMPLATE = dict(
    crown=(0.35, 0.08), core=(0.50, 0.45), tail=(0.55, 0.74), left_wing=(0.10, 0.30),
    right_wing=(0.90, 0.36), left_hand=(0.20, 0.62), right_hand=(0.80, 0.66),
    left_foot=(0.30, 0.94), right_foot=(0.72, 0.92))
GLYPH_RADIUS = 0.09  # in units of the creature's width / height
JITTER = 0.05
MARGIN = 0.05  # creature box = unit box grown by this


def load_metainfo(path: str = METAINFO) -> dict:
    """Keypoint names, flip indices and 0-based skeleton links of the metainfo."""
    from mmengine.config import Config
    info = Config.fromfile(path).dataset_info
    kpts = info['keypoint_info']
    names = [kpts[i]['name'] for i in range(len(kpts))]
    flip = [names.index(kpts[i]['swap']) if kpts[i]['swap'] else i
            for i in range(len(names))]
    skeleton = [[names.index(a), names.index(b)]
                for a, b in (s['link'] for s in info['skeleton_info'].values())]
    return dict(names=names, flip_indices=flip, skeleton=skeleton,
                dataset_name=info['dataset_name'])


def glyph(name: str) -> np.ndarray:
    """The glyph polygon of a keypoint name (right_* = mirrored left_*)."""
    if name.startswith('right_'):
        return GLYPHS['left_' + name[len('right_'):]] * [-1, 1]
    return GLYPHS[name]


def color(name: str):
    key = name.split('_')[-1] if '_' in name else name
    return COLORS[key]


def _poly(img, pts, col):
    cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], col, cv2.LINE_AA, shift=4)


def _background(rng, height, width):
    grid = rng.uniform(40, 220, (rng.integers(2, 7), rng.integers(2, 7), 3))
    img = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    kind = rng.integers(4)
    if kind == 0:  # stripes
        ang, freq = rng.uniform(0, np.pi), rng.uniform(0.1, 0.6)
        wave = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * freq)
        img += rng.uniform(10, 35) * wave[..., None] * rng.uniform(0.5, 1, 3)
    elif kind == 1:  # checkerboard
        cell = rng.integers(4, 16)
        img += rng.uniform(10, 30) * (((xx // cell + yy // cell) % 2) * 2 - 1)[..., None]
    elif kind == 2:  # grain
        img += rng.normal(0, rng.uniform(5, 18), img.shape)
    else:  # blobs
        for _ in range(rng.integers(3, 9)):
            over = img.copy()
            center = (int(rng.integers(width)), int(rng.integers(height)))
            axes = (int(rng.integers(5, width // 3)), int(rng.integers(5, height // 3)))
            cv2.ellipse(over, center, axes, float(rng.uniform(0, 180)), 0, 360,
                        rng.uniform(30, 230, 3).tolist(), -1)
            img = img * 0.5 + over * 0.5
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 11)):  # clutter lines
        p1 = (int(rng.integers(width)), int(rng.integers(height)))
        p2 = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.line(img, p1, p2, rng.uniform(0, 255, 3).tolist(), int(rng.integers(1, 3)),
                 cv2.LINE_AA)
    for _ in range(rng.integers(0, 4)):  # decoys: glyph-like shapes, random colours
        shape = list(GLYPHS.values())[rng.integers(len(GLYPHS))]
        center = rng.uniform([0, 0], [width, height])
        _poly(img, center + shape * rng.uniform(3, 7), rng.uniform(0, 255, 3).tolist())
    return img


def _creature_frame(rng, width, height):
    """Random pose: (forward map unit box -> image, flipped, bbox xywh) or None."""
    w = rng.uniform(48, 110)
    h = w * rng.uniform(0.85, 1.2)
    theta = np.deg2rad(rng.uniform(-25, 25))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    lin = rot @ np.diag([w, h])
    corners = (np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) - 0.5) * (1 + 2 * MARGIN)
    ext = corners @ lin.T
    lo, hi = ext.min(0), ext.max(0)
    if np.any(hi - lo > [width - 2, height - 2]):
        return None
    center = rng.uniform(-lo + 1, [width - 1, height - 1] - hi)
    flipped = bool(rng.random() < 0.5)

    def to_image(p):
        p = np.asarray(p, dtype=np.float64)
        if flipped:
            p = p * [-1, 1] + [1, 0]
        return (p - 0.5) @ lin.T + center

    bbox = np.concatenate([center + lo, hi - lo])
    return to_image, flipped, bbox


def _draw_creature(img, rng, frame, meta):
    to_image, flipped, bbox = frame
    names, flip = meta['names'], meta['flip_indices']
    num = len(names)
    canon = np.array([TEMPLATE[n] for n in names]) + np.clip(
        rng.normal(0, JITTER, (num, 2)), -2 * JITTER, 2 * JITTER)
    pts = to_image(canon)
    # body and skeleton
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    body_col = rng.uniform(60, 200, 3)
    over = img.copy()
    _poly(over, hull, body_col.tolist())
    img[:] = cv2.addWeighted(over, 0.55, img, 0.45, 0)
    thick = max(1, int(round(bbox[2] / 40)))
    for a, b in meta['skeleton']:
        cv2.line(img, tuple(np.round(pts[a] * 16).astype(int).tolist()),
                 tuple(np.round(pts[b] * 16).astype(int).tolist()),
                 (body_col * 0.5).tolist(), thick, cv2.LINE_AA, shift=4)
    # markers: canonical glyph i drawn through a mirrored frame looks like glyph
    # flip[i] and is labelled so
    labels = [flip[i] if flipped else i for i in range(num)]
    keypoints = np.zeros((num, 2))
    for i in range(num):
        size = GLYPH_RADIUS * rng.uniform(0.85, 1.15)
        verts = to_image(canon[i] + glyph(names[i]) * size)
        col = np.clip(np.array(color(names[i]))[::-1] + rng.integers(-15, 16, 3), 0, 255)
        _poly(img, verts, col.tolist())
        keypoints[labels[i]] = pts[i]
    visible = np.ones(num, dtype=bool)
    if rng.random() < 0.4:  # occluder over a random marker
        size = rng.uniform(0.25, 0.45, 2) * bbox[2:]
        c = keypoints[rng.integers(num)] + rng.uniform(-0.3, 0.3, 2) * size
        x0, y0 = np.round(c - size / 2).astype(int)
        x1, y1 = np.round(c + size / 2).astype(int)
        patch = img[max(y0, 0):y1, max(x0, 0):x1]
        patch[:] = np.clip(rng.uniform(40, 220, 3) + rng.normal(0, 12, patch.shape), 0,
                           255).astype(np.uint8)
        inside = ((keypoints[:, 0] >= x0) & (keypoints[:, 0] < x1)
                  & (keypoints[:, 1] >= y0) & (keypoints[:, 1] < y1))
        visible &= ~inside
    return keypoints, visible, float(cv2.contourArea(hull.astype(np.float32)))


def make_image(seed: int, split: str, index: int, width: int, height: int, meta: dict):
    """One image (H, W, 3) BGR uint8 and its instances (keypoints, visible, bbox,
    area), all determined by (seed, split, index)."""
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    img = _background(rng, height, width)
    num_instances = 1 if rng.random() < 0.65 else 2
    frames = []
    for _ in range(30):
        if len(frames) == num_instances:
            break
        frame = _creature_frame(rng, width, height)
        if frame is None:
            continue
        x, y, w, h = frame[2]
        if all(x + w <= fx or fx + fw <= x or y + h <= fy or fy + fh <= y
               for fx, fy, fw, fh in (f[2] for f in frames)):
            frames.append(frame)
    instances = []
    for frame in frames:
        kpts, vis, area = _draw_creature(img, rng, frame, meta)
        instances.append(dict(keypoints=kpts, visible=vis, bbox=frame[2], area=area))
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 0.9))
    return img, instances


def make_split(out_dir: str, split: str, num_images: int, seed: int = 0,
               width: int = 160, height: int = 160, meta: dict = None) -> dict:
    """Write the split's images; return its COCO dict (also written to
    annotations/synthetic_{split}.json)."""
    meta = meta or load_metainfo()
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    id_base = SPLITS.index(split) * 1_000_000
    images, annotations = [], []
    for index in range(num_images):
        img, instances = make_image(seed, split, index, width, height, meta)
        img_id = id_base + index + 1
        file_name = f'{split}_{index:06d}.png'
        cv2.imwrite(osp.join(out_dir, 'images', file_name), img)
        images.append(dict(id=img_id, file_name=file_name, width=width, height=height))
        for inst in instances:
            kpts = []
            for (x, y), v in zip(inst['keypoints'], inst['visible']):
                kpts += [round(float(x), 2), round(float(y), 2), 2] if v else [0, 0, 0]
            annotations.append(dict(
                id=id_base + len(annotations) + 1,
                image_id=img_id,
                category_id=1,
                bbox=[round(float(v), 2) for v in inst['bbox']],
                area=round(inst['area'], 2),
                iscrowd=0,
                num_keypoints=int(inst['visible'].sum()),
                keypoints=kpts))
    coco = dict(
        info=dict(description=f'GenLoc synthetic marker creatures, {split} split',
                  seed=seed, version='1.0'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[dict(id=1, name='marker_creature', supercategory='synthetic',
                         keypoints=meta['names'],
                         skeleton=[[a + 1, b + 1] for a, b in meta['skeleton']])])
    with open(osp.join(out_dir, 'annotations', f'synthetic_{split}.json'), 'w') as f:
        json.dump(coco, f, sort_keys=True)
    return coco


def write_subset(coco: dict, num_images: int, path: str) -> dict:
    """Write the first ``num_images`` images of ``coco`` (and their annotations)."""
    images = coco['images'][:num_images]
    ids = {img['id'] for img in images}
    subset = dict(coco, images=images,
                  annotations=[a for a in coco['annotations'] if a['image_id'] in ids])
    with open(path, 'w') as f:
        json.dump(subset, f, sort_keys=True)
    return subset


def write_dataset(out: str, seed: int = 0, num_train: int = 1200, num_test: int = 300,
                  num_seen: int = 200, size=(160, 160)) -> list:
    """Both splits (and the seen-train subset) under ``out``; a line per split."""
    meta = load_metainfo()
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, '.gitignore'), 'w') as f:
        f.write('# generated by genloc_mmpose.synthetic.markers\n*\n')
    lines = []
    for split, num in zip(SPLITS, (num_train, num_test)):
        coco = make_split(out, split, num, seed, *size, meta=meta)
        num_kpts = sum(a['num_keypoints'] for a in coco['annotations'])
        lines.append(f'{split}: {len(coco["images"])} images, {len(coco["annotations"])} '
                     f'instances, {num_kpts} labelled keypoints -> '
                     f'{osp.join(out, "annotations", f"synthetic_{split}.json")}')
        if split == 'train' and num_seen:
            write_subset(coco, num_seen, osp.join(
                out, 'annotations', f'synthetic_train-seen{num_seen}.json'))
    return lines
