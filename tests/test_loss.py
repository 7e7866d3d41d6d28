"""Heatmap Expectation Loss (eq. 9) and its gradient (eq. 10)."""
import math

import torch

from genloc_mmpose.models import HeatmapExpectationLoss


def _distribution(*shape):
    return torch.rand(*shape).flatten(2).softmax(-1).view(*shape)


def test_value_against_hand_computation():
    # one keypoint on a 2x2 map: C = [.1 .2; .3 .4], H = [1 .5; 0 0]
    C = torch.tensor([[[[.1, .2], [.3, .4]]]])
    H = torch.tensor([[[[1., .5], [0., 0.]]]])
    loss = HeatmapExpectationLoss(eps=0)(C, H, torch.ones(1, 1))
    assert math.isclose(loss.item(), -math.log(.1 * 1 + .2 * .5), rel_tol=1e-6)


def test_weighted_mean_over_visible_keypoints():
    C, H = _distribution(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    w = torch.tensor([[1., 0., 2.], [0., 0., 1.]])
    per_kpt = -torch.log((C * H).flatten(2).sum(-1))
    expected = (per_kpt * w).sum() / 3  # 3 visible keypoints
    loss = HeatmapExpectationLoss(eps=0, loss_weight=2.0)(C, H, w)
    torch.testing.assert_close(loss, 2 * expected)


def test_gradient_is_eq10_and_larger_than_mse_on_hard_positive():
    C = torch.full((1, 1, 4, 4), 1 / 16)
    C[0, 0, 0, 0] = 0.001  # the positive location, predicted with low probability
    C = (C / C.sum()).requires_grad_()
    H = torch.zeros(1, 1, 4, 4)
    H[0, 0, 0, 0] = 1.0
    H[0, 0, 0, 1] = 0.5
    HeatmapExpectationLoss(eps=0)(C, H, torch.ones(1, 1)).backward()
    expected = -H / (C * H).sum()  # eq. 10
    torch.testing.assert_close(C.grad, expected.detach())
    mse_grad = -2 * (H - C.detach())
    assert C.grad[0, 0, 0, 0].abs() > mse_grad[0, 0, 0, 0].abs() * 10


def test_finite_without_overlap_and_zero_without_visible_keypoints():
    C = torch.zeros(1, 2, 8, 8)
    C[:, :, 0, 0] = 1.0  # all mass far from the target
    H = torch.zeros(1, 2, 8, 8)
    H[:, :, 7, 7] = 1.0
    C.requires_grad_()
    loss = HeatmapExpectationLoss()(C, H, torch.ones(1, 2))
    loss.backward()
    assert torch.isfinite(loss) and loss > 10
    assert torch.isfinite(C.grad).all() and C.grad[0, 0, 7, 7] < 0

    C.grad = None
    loss = HeatmapExpectationLoss()(C, H, torch.zeros(1, 2))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(C.grad).all()


def test_bf16_inputs_are_computed_in_fp32():
    C, H = _distribution(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    w = torch.ones(2, 3)
    loss = HeatmapExpectationLoss()(C.bfloat16(), H.bfloat16(), w)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, HeatmapExpectationLoss()(C, H, w), rtol=2e-2, atol=1e-2)
