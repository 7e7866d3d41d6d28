"""Ground truth and decoding for GenLoc correlation maps."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.codecs.utils import generate_unbiased_gaussian_heatmaps
from mmpose.registry import KEYPOINT_CODECS
from torch import Tensor


@KEYPOINT_CODECS.register_module()
class GenLocHeatmap(BaseKeypointCodec):
    """Gaussian targets (peak 1) for HEL, argmax decoding, calibrated scores.

    Geometry: heatmap cell ``(u, v)`` covers input pixels around
    ``((u + 0.5) * sx - 0.5, (v + 0.5) * sy - 0.5)`` with ``s = input / heatmap``,
    the center of the input area that the cell (and the latent token behind it)
    sees. Targets are centered at the exact, un-rounded keypoint position in that
    frame, so a horizontal flip of the input is a plain mirror of the map (flip test
    with ``shift_heatmap=False``).

    Score: the predicted distribution's mass under a Gaussian of the same sigma
    centered at the argmax, ``sum_j C[j] * G_argmax[j]`` in [0, 1] (the HEL
    expectation at the prediction). A softmax peak value alone is far below
    CocoMetric's ``keypoint_score_thr`` (0.2) and would zero every instance score.

    Args:
        input_size (tuple): Input image size [W, H].
        heatmap_size (tuple): Heatmap size [W, H].
        sigma (float): Gaussian sigma in heatmap cells.
    """

    field_mapping_table = dict(heatmaps='heatmaps')
    label_mapping_table = dict(keypoint_weights='keypoint_weights')

    def __init__(self, input_size: Tuple[int, int], heatmap_size: Tuple[int, int],
                 sigma: float = 2.0):
        super().__init__()
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.sigma = sigma
        self.stride = np.array(input_size, dtype=np.float32) / np.array(
            heatmap_size, dtype=np.float32)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """keypoints (N, K, 2) in input pixels -> heatmaps (K, H, W) in [0, 1],
        keypoint_weights (N, K) (0 where the Gaussian is off the map)."""
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], dtype=np.float32)
        heatmaps, keypoint_weights = generate_unbiased_gaussian_heatmaps(
            heatmap_size=self.heatmap_size,
            keypoints=(keypoints + 0.5) / self.stride - 0.5,
            keypoints_visible=keypoints_visible,
            sigma=self.sigma)
        return dict(heatmaps=heatmaps, keypoint_weights=keypoint_weights)

    def batch_decode(self, batch_heatmaps: Tensor
                     ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """(B, K, H, W) maps -> B arrays of keypoints (1, K, 2) in input pixels and
        B arrays of scores (1, K). Runs on the maps' device, one host copy."""
        _, _, height, width = batch_heatmaps.shape
        maps = batch_heatmaps.float()
        index = maps.flatten(2).argmax(-1)
        u, v = (index % width).float(), torch.div(index, width, rounding_mode='floor').float()
        xs = torch.arange(width, device=maps.device, dtype=torch.float32)
        ys = torch.arange(height, device=maps.device, dtype=torch.float32)
        gx = torch.exp(-(xs - u[..., None])**2 / (2 * self.sigma**2))  # (B, K, W)
        gy = torch.exp(-(ys - v[..., None])**2 / (2 * self.sigma**2))  # (B, K, H)
        # elementwise products and sums: no autocast to bf16 here
        scores = (maps * gy[..., :, None] * gx[..., None, :]).sum((-2, -1))
        stride = torch.as_tensor(self.stride, device=maps.device)
        keypoints = (torch.stack([u, v], -1) + 0.5) * stride - 0.5
        keypoints, scores = keypoints.cpu().numpy(), scores.clamp(0, 1).cpu().numpy()
        return list(keypoints[:, None]), list(scores[:, None])

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(K, H, W) -> keypoints (1, K, 2), scores (1, K)."""
        keypoints, scores = self.batch_decode(torch.from_numpy(encoded)[None])
        return keypoints[0], scores[0]
