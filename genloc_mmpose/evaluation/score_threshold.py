"""A model's own keypoint-score threshold, from its predictions on validation images.

Drawing "keypoints with score >= thr" (MMPose's ``kpt_thr``, the app's slider) needs a
threshold on *this* model's scores: a GenLoc model's scores are the peak of a fused
map that sums to 1, and their range depends on the map size and the model (0.1 on the
miniature SD's creatures, where MMPose's habitual 0.3 hides every keypoint).
:class:`KeypointScoreThreshold` picks the threshold that best separates correct
keypoints (PCK: within ``thr`` of the box size, as MMPose's ``PCKAccuracy``) from wrong
ones, by F1 of "drawn" against "correct"; :func:`calibrate_score_threshold` runs it on
a checkpoint and stores the result in the checkpoint's ``meta`` (``SCORE_THR_KEY``),
where the app reads it.
"""
import io
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpose.evaluation.functional.keypoint_eval import _calc_distances
from mmpose.registry import METRICS

SCORE_THR_KEY = 'keypoint_score_thr'


@METRICS.register_module()
class KeypointScoreThreshold(BaseMetric):
    """The score threshold with the best F1 of "score >= thr" for "the keypoint is
    within ``thr`` x box size of its label" over the labelled keypoints.

    Returns ``score_thr`` and, at it, ``precision`` (drawn keypoints that are
    correct), ``recall`` (correct keypoints that are drawn) and ``correct`` (the
    share of labelled keypoints that are correct: the PCK).
    """
    default_prefix = 'score_thr'

    def __init__(self, thr: float = 0.1, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = thr

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            gt = sample['gt_instances']
            visible = np.asarray(gt['keypoints_visible']).astype(bool).reshape(1, -1)
            size = np.max(gt['bboxes'][0][2:] - gt['bboxes'][0][:2])
            distances = _calc_distances(
                sample['pred_instances']['keypoints'], gt['keypoints'], visible,
                np.full((1, 2), size, np.float32))[:, 0]  # (K, ), -1: unlabelled
            scores = np.asarray(sample['pred_instances']['keypoint_scores']).reshape(-1)
            labelled = distances >= 0
            self.results.append((scores[labelled], distances[labelled] <= self.thr))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        scores = np.concatenate([s for s, _ in results])
        correct = np.concatenate([c for _, c in results])
        if not len(scores):
            raise ValueError('KeypointScoreThreshold: no labelled keypoint in the '
                             'evaluated images.')
        order = np.argsort(-scores, kind='stable')
        hits = np.cumsum(correct[order])  # correct among the i + 1 best scored
        drawn = np.arange(1, len(scores) + 1)
        precision = hits / drawn
        recall = hits / max(correct.sum(), 1)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        # a threshold between two scores draws a prefix of ``order`` ending at a change
        last = np.r_[scores[order][1:] != scores[order][:-1], True]
        best = int(np.flatnonzero(last)[np.argmax(f1[last])])
        return dict(score_thr=float(scores[order][best]), precision=float(precision[best]),
                    recall=float(recall[best]), correct=float(correct.mean()))


def calibrate_score_threshold(config: str, checkpoint: str,
                              ann_file: Optional[str] = None, thr: float = 0.1,
                              work_dir: Optional[str] = None) -> Dict[str, float]:
    """Run the model of ``config`` + ``checkpoint`` on its validation images
    (``val_dataloader``; ``ann_file``: other labelled images of that dataset, never
    the test images, read with the ``val_dataloader``'s settings, else the
    ``test_dataloader``'s), compute :class:`KeypointScoreThreshold` and store its
    ``score_thr`` in the checkpoint's ``meta[SCORE_THR_KEY]`` (rewritten atomically).
    Returns the metric's values."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from ..fileio import atomic_write
    cfg = Config.fromfile(config)
    loader = cfg.get('val_dataloader')
    if ann_file is not None:
        loader = loader or cfg.test_dataloader
        loader.dataset.ann_file = ann_file
    elif loader is None:
        raise ValueError(f'{config} has no val_dataloader: the threshold is chosen on '
                         'validation images; add one or pass ann_file.')
    cfg.test_dataloader = loader
    cfg.test_evaluator = dict(type='KeypointScoreThreshold', thr=thr)
    cfg.test_cfg = cfg.get('test_cfg') or dict()
    cfg.load_from = checkpoint
    cfg.work_dir = work_dir or osp.join(osp.dirname(osp.abspath(checkpoint)),
                                        'score_threshold')
    cfg.visualizer.name = f'score_threshold_{osp.abspath(checkpoint)}'
    metrics = {k.split('/')[-1]: v for k, v in Runner.from_cfg(cfg).test().items()}
    ckpt = torch.load(checkpoint, map_location='cpu')  # safe where torch allows (checkpoint.py)
    ckpt.setdefault('meta', {})[SCORE_THR_KEY] = metrics['score_thr']
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    atomic_write(checkpoint, buffer.getvalue(), 'wb')
    return metrics
