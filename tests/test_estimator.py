"""BatchFlipTopdownPoseEstimator: the flip test as one batched pass gives what
mmpose's TopdownPoseEstimator gives with two passes."""
import copy

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs

import genloc_mmpose  # noqa: F401


def _model(cfg, estimator):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.type = estimator
    model_cfg.test_cfg = dict(flip_test=True, shift_heatmap=False, output_heatmaps=True)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    return model.eval()


def test_batched_flip_equals_two_passes(tiny_cfg):
    packed = get_packed_inputs(batch_size=3, num_keypoints=17, input_size=(96, 128),
                               heatmap_size=(48, 64), with_reg_label=False,
                               with_simcc_label=False)
    flip_indices = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    for s in packed['data_samples']:
        s.set_metainfo(dict(flip_indices=flip_indices))
    torch.manual_seed(1)
    inputs = torch.rand(3, 3, 128, 96) * 2 - 1

    two_passes = _model(tiny_cfg, 'TopdownPoseEstimator')
    batched = _model(tiny_cfg, 'BatchFlipTopdownPoseEstimator')
    batched.load_state_dict(two_passes.state_dict())
    calls = []
    batched.backbone.register_forward_hook(lambda m, args, out: calls.append(args[0].shape))
    with torch.no_grad():
        ref = two_passes.predict(inputs, copy.deepcopy(packed['data_samples']))
        out = batched.predict(inputs, copy.deepcopy(packed['data_samples']))
    assert calls == [(6, 3, 128, 96)]  # one backbone call on crops + mirrors
    for a, b in zip(ref, out):
        # random weights give near-flat maps, where DARK's Newton step magnifies the
        # float noise between batch sizes: hundredths of a pixel
        np.testing.assert_allclose(b.pred_instances.keypoints, a.pred_instances.keypoints,
                                   atol=0.05)
        np.testing.assert_allclose(b.pred_instances.keypoint_scores,
                                   a.pred_instances.keypoint_scores, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(b.pred_fields.heatmaps, a.pred_fields.heatmaps,
                                   rtol=1e-4, atol=1e-7)
    # the mirrored half really differs (the fused map is not just the first half's)
    with torch.no_grad():
        plain = batched.backbone(inputs)
    fused_plain = batched.head(plain)
    assert not torch.allclose(fused_plain[0], out[0].pred_fields.heatmaps, atol=1e-4)
