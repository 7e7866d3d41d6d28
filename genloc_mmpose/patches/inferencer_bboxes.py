"""mmpose <= 1.3.2: ``Pose2DInferencer.preprocess_single`` resets its ``bboxes``
argument (``bboxes = []`` before the detector branch), so
``MMPoseInferencer(...)(img, bboxes=...)`` silently runs on the whole image.

The fix: given boxes are used whenever no detector is set (``det_model='whole_image'``);
every other case runs mmpose's own code. Given boxes are checked: an empty or
off-image box is an error, not 17 confident keypoints. Applied when mmpose's
inferencer module is imported (:func:`when_imported`), not by ``import genloc_mmpose``
itself (mmpose's inferencers import mmdet's: 0.4 s).
"""
import functools
import importlib.abc
import importlib.util
import sys

import numpy as np
from mmengine.utils import digit_version

FIXED_UP_TO = '1.3.2'  # the newest mmpose release; checked by tests/test_patches.py


def _preprocess_single(original):

    @functools.wraps(original)
    def preprocess_single(self, input, index, bbox_thr=0.3, nms_thr=0.3, bboxes=()):
        boxes = np.asarray(bboxes, dtype=np.float32)
        if self.cfg.data_mode != 'topdown' or self.detector is not None or boxes.size == 0:
            return original(self, input, index, bbox_thr=bbox_thr, nms_thr=nms_thr)
        boxes = boxes.reshape(-1, boxes.shape[-1])
        if boxes.shape[-1] not in (4, 5):
            raise ValueError(f'bboxes must be [x1, y1, x2, y2] or [x1, y1, x2, y2, score] '
                             f'per box in image pixels, got shape {boxes.shape}')
        if isinstance(input, str):
            data_info = dict(img_path=input)
            name = input
        else:
            data_info = dict(img=input, img_path=f'{index}.jpg'.rjust(10, '0'))
            name = f'image {index}'
        _check_boxes(boxes, name, None if isinstance(input, str) else input.shape[:2])
        data_info.update(self.model.dataset_meta)
        data_infos = []
        for box in boxes:
            inst = dict(data_info, bbox=box[None, :4],
                        bbox_score=box[4:5] if len(box) == 5 else np.ones(1, np.float32))
            data_infos.append(self.pipeline(inst))
        return data_infos

    preprocess_single.__genloc_fix__ = True
    return preprocess_single


def _check_boxes(boxes: np.ndarray, name: str, shape=None) -> None:
    """Given boxes (N, 4+) x1, y1, x2, y2 must be finite, at least one pixel wide
    and high, and (when the image size is known) overlap the image."""
    for box in boxes:
        x1, y1, x2, y2 = box[:4]
        problem = None
        if not np.isfinite(box[:4]).all():
            problem = 'has non-finite coordinates'
        elif x2 - x1 < 1 or y2 - y1 < 1:
            problem = f'is {x2 - x1:g} x {y2 - y1:g} px (x2 <= x1 or y2 <= y1?)'
        elif shape is not None and (x2 <= 0 or y2 <= 0 or x1 >= shape[1] or y1 >= shape[0]):
            problem = f'lies outside the {shape[1]} x {shape[0]} image'
        if problem:
            raise ValueError(f'bboxes for {name}: box {box.tolist()} {problem}. Boxes are '
                             '[x1, y1, x2, y2] in image pixels, with x2 > x1 and y2 > y1.')


def when_imported(name: str, patch) -> None:
    """``patch(module)`` on module ``name``: now if it is imported, else as soon as
    its code has run (a one-shot finder on ``sys.meta_path`` wraps its loader), so
    ``import genloc_mmpose`` does not import what it patches (mmpose's inferencers
    import mmdet's: 0.4 s)."""
    if name in sys.modules:
        patch(sys.modules[name])
        return

    class Finder(importlib.abc.MetaPathFinder):

        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            exec_module = spec.loader.exec_module

            def exec_and_patch(module):
                exec_module(module)
                patch(module)

            spec.loader.exec_module = exec_and_patch
            return spec

    sys.meta_path.insert(0, Finder())


def applies() -> bool:
    import mmpose
    return digit_version(mmpose.__version__) <= digit_version(FIXED_UP_TO)


def apply() -> None:
    """Make ``Pose2DInferencer`` honour given ``bboxes``, when mmpose's inferencer
    is imported."""
    if not applies():
        return

    def patch(module):
        inferencer = module.Pose2DInferencer
        if not getattr(inferencer.preprocess_single, '__genloc_fix__', False):
            inferencer.preprocess_single = _preprocess_single(inferencer.preprocess_single)

    when_imported('mmpose.apis.inferencers.pose2d_inferencer', patch)
