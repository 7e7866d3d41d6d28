"""CorrelationMapHead: fuses the CKHE maps of all layers into one map per keypoint."""
import functools
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptSampleList, Predictions
from torch import Tensor


@functools.lru_cache(maxsize=None)
def _bilinear_column_sums(size: int, out_size: int) -> np.ndarray:
    """(size,) sums over the outputs of PyTorch's 1-D linear interpolation weights
    (align_corners=False) from ``size`` to ``out_size`` samples."""
    sums = np.zeros(size, np.float64)
    scale = size / out_size
    for out in range(out_size):
        src = max(scale * (out + 0.5) - 0.5, 0.0)
        low = int(src)
        high = low + (low < size - 1)
        frac = src - low
        sums[low] += 1 - frac
        sums[high] += frac
    return sums


@functools.lru_cache(maxsize=None)
def _resize_weight(size: Tuple[int, int], out_size: Tuple[int, int]) -> np.ndarray:
    if size == out_size:
        return np.ones(size, np.float32)
    return np.outer(_bilinear_column_sums(size[0], out_size[0]),
                    _bilinear_column_sums(size[1], out_size[1])).astype(np.float32)


@MODELS.register_module()
class CorrelationMapHead(BaseHead):
    """Parameter-free head over :class:`GenLocBackbone` maps.

    Each layer's map (B, K, h_l, w_l) is resized (bilinear) to the codec's heatmap
    size, renormalised to sum 1, and the layers are averaged: the fused map
    (B, K, H, W) is one distribution per keypoint. ``predict`` decodes its argmax
    with the codec; flip test and ``output_heatmaps`` work as in mmpose's
    ``HeatmapHead``.

    Args:
        decoder (dict): The codec (e.g. ``GenLocHeatmap``); its ``heatmap_size``
            sets the output size.
        loss (dict): Loss config, :class:`HeatmapExpectationLoss` by default.
    """

    def __init__(self,
                 decoder: ConfigType,
                 loss: ConfigType = dict(type='HeatmapExpectationLoss'),
                 init_cfg: Optional[ConfigType] = None):
        super().__init__(init_cfg)
        self.decoder = KEYPOINT_CODECS.build(decoder)
        self.heatmap_size = tuple(self.decoder.heatmap_size)  # (W, H)
        self.loss_module = MODELS.build(loss)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Per-layer maps -> fused map (B, K, H, W), summing to 1 over H * W.

        Computed as the mean over layers of ``resize(m) / sum(resize(m))``, with
        one resize per map size instead of one per layer: the resize is linear, so
        ``sum(resize(m)) = <w, m>`` with ``w`` the resize's column sums at the
        layer's own size, and the layers of one size are normalised, summed, then
        resized together (SD-1.5: 3 resizes for 9 layers; none at the heatmap
        size). Resizing dominated the head at K = 133 (docs/benchmarks.md)."""
        width, height = self.heatmap_size
        groups = {}
        for corr in feats:
            groups.setdefault(tuple(corr.shape[-2:]), []).append(corr)
        fused = 0
        for size, maps in groups.items():
            resize = size != (height, width)
            weight = self._resize_weight(size, (height, width), maps[0].device)
            total = 0
            for corr in maps:
                corr = corr.float()
                mass = (corr * weight if resize else corr).sum((-2, -1), keepdim=True)
                total = total + corr / mass.clamp_min(1e-12)
            if resize:
                total = F.interpolate(total, size=(height, width), mode='bilinear',
                                      align_corners=False)
            fused = fused + total
        return fused / len(feats)

    @staticmethod
    def _resize_weight(size: Tuple[int, int], out_size: Tuple[int, int],
                       device) -> Tensor:
        """(h, w): how much each cell of an h x w map contributes to the sum of its
        bilinear resize to ``out_size`` (align_corners=False; ones when the sizes
        are equal). A constant of the shapes: traceable and exportable."""
        return torch.as_tensor(_resize_weight(tuple(size), tuple(out_size)), device=device)

    @staticmethod
    def _check_num_keypoints(num_keypoints: int, batch_data_samples, num_gt=None):
        flip_indices = batch_data_samples[0].metainfo.get('flip_indices')
        num_data = num_gt if num_gt is not None else (
            len(flip_indices) if flip_indices is not None else num_keypoints)
        if num_data != num_keypoints:
            raise ValueError(
                f'The model predicts {num_keypoints} keypoints but the dataset has '
                f'{num_data}: set model.backbone.num_keypoints={num_data}.')

    def predict(self,
                feats,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Predictions:
        """Keypoints in input-crop pixels (per sample ``InstanceData`` with
        ``keypoints`` (1, K, 2), ``keypoint_scores`` (1, K)); with
        ``test_cfg.output_heatmaps`` also ``PixelData(heatmaps=(K, H, W))``."""
        if test_cfg.get('flip_test', False):
            assert isinstance(feats, list) and len(feats) == 2
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            heatmaps = self.forward(feats[0])
            heatmaps_flip = flip_heatmaps(
                self.forward(feats[1]),
                flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                flip_indices=flip_indices,
                shift_heatmap=test_cfg.get('shift_heatmap', False))
            heatmaps = (heatmaps + heatmaps_flip) * 0.5
        else:
            heatmaps = self.forward(feats)
        self._check_num_keypoints(heatmaps.shape[1], batch_data_samples)
        preds = self.decode(heatmaps)
        bad = [i for i, pred in enumerate(preds)
               if not (np.isfinite(pred.keypoints).all() and
                       np.isfinite(pred.keypoint_scores).all())]
        if bad:
            images = [batch_data_samples[i].metainfo.get('img_path') for i in bad]
            raise ValueError(
                f'Non-finite correlation maps for {len(bad)} crop(s) of {images}: the '
                'model weights are not finite (a diverged checkpoint?) or the input is. '
                'Use a checkpoint saved before the divergence (docs/reliability.md).')
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
        return preds

    def loss(self,
             feats: Tuple[Tensor, ...],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """-> dict(loss_kpt=0-dim loss, acc_pose=PCK of the argmax)."""
        pred = self.forward(feats)
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        keypoint_weights = torch.cat(
            [d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        self._check_num_keypoints(pred.shape[1], batch_data_samples, gt_heatmaps.shape[1])
        losses = dict(loss_kpt=self.loss_module(pred, gt_heatmaps, keypoint_weights))
        if train_cfg.get('compute_acc', True):
            _, avg_acc, _ = pose_pck_accuracy(
                output=to_numpy(pred),
                target=to_numpy(gt_heatmaps),
                mask=to_numpy(keypoint_weights) > 0)
            losses['acc_pose'] = torch.tensor(avg_acc, device=gt_heatmaps.device)
        return losses
