"""A fix for mmpose 1.3.2's inferencer, applied on ``import genloc_mmpose``.

mmpose <= 1.3.2 ``Pose2DInferencer.preprocess_single`` resets its ``bboxes``
argument, so ``MMPoseInferencer(...)(img, bboxes=...)`` silently runs on the whole
image. With the fix, given boxes are used whenever no detector is set
(``det_model='whole_image'``); every other case runs mmpose's own code.
"""
import functools

import numpy as np
from mmengine.utils import digit_version


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
        else:
            data_info = dict(img=input, img_path=f'{index}.jpg'.rjust(10, '0'))
        data_info.update(self.model.dataset_meta)
        data_infos = []
        for box in boxes:
            inst = dict(data_info, bbox=box[None, :4],
                        bbox_score=box[4:5] if len(box) == 5 else np.ones(1, np.float32))
            data_infos.append(self.pipeline(inst))
        return data_infos

    preprocess_single.__genloc_fix__ = True
    return preprocess_single


def fix_pose2d_inferencer_bboxes():
    """Make ``Pose2DInferencer`` honour given ``bboxes`` (mmpose <= 1.3.2)."""
    import mmpose
    from mmpose.apis.inferencers import Pose2DInferencer
    if digit_version(mmpose.__version__) > digit_version('1.3.2'):
        return
    if not getattr(Pose2DInferencer.preprocess_single, '__genloc_fix__', False):
        Pose2DInferencer.preprocess_single = _preprocess_single(
            Pose2DInferencer.preprocess_single)
