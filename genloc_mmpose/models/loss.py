"""Heatmap Expectation Loss (HEL), paper eq. 9."""
from typing import Optional

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class HeatmapExpectationLoss(nn.Module):
    """``L_i = -log(sum_j C_i[j] * H_i[j])`` averaged over visible keypoints.

    ``C_i`` is the predicted distribution of keypoint i over the map (sums to 1) and
    ``H_i`` the un-normalised Gaussian ground truth (peak 1), so the sum is the
    expected ground-truth value under the prediction, in [0, 1].

    Args:
        use_target_weight (bool): Weight each keypoint's loss by its target weight.
        loss_weight (float): Multiplier of the loss.
        eps (float): Added inside the log, so the loss stays finite (and keeps a
            gradient) when C has no mass inside H.
    """

    def __init__(self,
                 use_target_weight: bool = True,
                 loss_weight: float = 1.0,
                 eps: float = 1e-6):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self,
                output: Tensor,
                target: Tensor,
                target_weights: Optional[Tensor] = None) -> Tensor:
        """output, target (B, K, H, W); target_weights (B, K) -> 0-dim loss.

        A keypoint counts as visible when its weight is > 0; with none visible the
        loss is 0 (still connected to ``output`` for the backward pass).
        """
        expectation = (output.float() * target.float()).flatten(2).sum(-1)
        loss = -torch.log(expectation + self.eps)
        if target_weights is None or not self.use_target_weight:
            weights = torch.ones_like(loss)
        else:
            weights = target_weights.float()
        num_visible = (weights > 0).sum().clamp_min(1)
        return (loss * weights).sum() / num_visible * self.loss_weight
