"""What the app shows and lets download from a :class:`~.predict.Prediction`: map
pictures, the keypoint table, the COCO-results json."""
import json
import os.path as osp
import re
from typing import List, Tuple

import cv2
import numpy as np

from .predict import Prediction

MAP_SIDE = 192  # the shorter side of a map picture, px
MAP_BOXES = 8  # maps of at most this many boxes (the table and json hold all)


def overlay(crop: np.ndarray, heatmap: np.ndarray, point=None) -> np.ndarray:
    """A map (h, w) over its crop (H, W, 3) RGB: bilinear to the crop size, scaled to
    its maximum, JET colours blended half and half; ``point`` (x, y) in crop pixels is
    marked. Enlarged so that the shorter side is at least ``MAP_SIDE``."""
    height, width = crop.shape[:2]
    heat = cv2.resize(heatmap.astype(np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    heat = np.uint8(255 * heat / max(float(heat.max()), 1e-12))
    colour = cv2.applyColorMap(heat, cv2.COLORMAP_JET)[..., ::-1]
    out = cv2.addWeighted(np.ascontiguousarray(crop), 0.5, colour, 0.5, 0)
    zoom = max(1, int(np.ceil(MAP_SIDE / min(height, width))))
    out = cv2.resize(out, (width * zoom, height * zoom), interpolation=cv2.INTER_LINEAR)
    if point is not None and np.isfinite(point).all():
        centre = tuple(int(round(c * zoom)) for c in point)
        cv2.circle(out, centre, 2 * zoom + 2, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def map_gallery(pred: Prediction, per_layer: bool = False) -> List[Tuple[np.ndarray, str]]:
    """(picture, caption) per box (the first ``MAP_BOXES``) and keypoint: the fused
    map, then (with ``per_layer``) each CKHE layer's map."""
    items = []
    for n in range(min(len(pred.maps), MAP_BOXES)):
        prefix = f'#{n + 1} ' if len(pred.maps) > 1 else ''
        for k, name in enumerate(pred.names):
            point = pred.crop_keypoints[n, k]
            items.append((overlay(pred.crops[n], pred.maps[n, k], point), prefix + name))
            if per_layer:
                for i, layer in enumerate(pred.layer_maps):
                    h, w = layer.shape[-2:]
                    items.append((overlay(pred.crops[n], layer[n, k], point),
                                  f'{prefix}{name}, layer {i + 1} ({w}x{h})'))
    return items


TABLE_HEADERS = ['box', 'keypoint', 'x', 'y', 'score', 'drawn']


def keypoint_table(pred: Prediction, kpt_thr: float) -> List[list]:
    """One row per box and keypoint: box number, name, x, y (image pixels), score,
    whether it is drawn."""
    return [[n + 1, name, round(float(x), 2), round(float(y), 2),
             round(float(s), 4), bool(s >= kpt_thr)]
            for n in range(len(pred.keypoints))
            for name, (x, y), s in zip(pred.names, pred.keypoints[n], pred.scores[n])]


def image_id(path: str) -> int:
    """COCO image id from a file name of digits (``000000000785.jpg`` -> 785), else 0."""
    stem = osp.splitext(osp.basename(path))[0]
    return int(stem) if re.fullmatch(r'\d+', stem) else 0


def coco_results(pred: Prediction, category_id: int = 1) -> List[dict]:
    """COCO keypoint results (the format of ``CocoMetric``'s outfile_prefix and
    ``pycocotools.loadRes``): per box ``keypoints`` [x, y, score] * K in image pixels
    (full float precision), ``score`` the mean keypoint score, ``bbox`` x, y, w, h."""
    results = []
    for kpts, scores, box in zip(pred.keypoints, pred.scores, pred.bboxes):
        x1, y1, x2, y2 = (float(v) for v in box)
        results.append(dict(
            image_id=image_id(pred.image_path), category_id=category_id,
            keypoints=np.concatenate([kpts, scores[:, None]], 1).ravel().tolist(),
            score=float(np.mean(scores)), bbox=[x1, y1, x2 - x1, y2 - y1]))
    return results


def write_outputs(pred: Prediction, folder: str, stem: str) -> Tuple[str, str]:
    """The drawing (PNG) and the COCO-results json under ``folder``: their paths."""
    image = osp.join(folder, f'{stem}_keypoints.png')
    cv2.imwrite(image, pred.drawing[..., ::-1])
    results = osp.join(folder, f'{stem}_keypoints.json')
    with open(results, 'w') as f:
        json.dump(coco_results(pred), f)
    return image, results
