"""Top-down estimator whose flip test is one batched pass."""
from typing import Callable, Tuple

import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList
from torch import Tensor


def maps_with_mirrors(extract: Callable, inputs: Tensor) -> Tuple[tuple, tuple]:
    """Crops (B, C, H, W) -> (per-layer maps of the crops, of their mirrors), both
    from one ``extract`` call on the 2B crops (the batched flip test)."""
    batch_size = inputs.shape[0]
    both = extract(torch.cat([inputs, inputs.flip(-1)]))
    return tuple(f[:batch_size] for f in both), tuple(f[batch_size:] for f in both)


@MODELS.register_module()
class BatchFlipTopdownPoseEstimator(TopdownPoseEstimator):
    """mmpose's ``TopdownPoseEstimator``, except that with ``test_cfg.flip_test`` the
    crops and their mirrors go through the backbone as one batch (2B, C, H, W)
    instead of two passes of B: one U-Net call, and one compiled graph with
    ``compile=True``. The head receives the same ``[feats, feats_flipped]``."""

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        if not self.test_cfg.get('flip_test', False):
            return super().predict(inputs, data_samples)
        feats = list(maps_with_mirrors(self.extract_feat, inputs))
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        pred_instances, pred_fields = preds if isinstance(preds, tuple) else (preds, None)
        return self.add_pred_to_datasample(pred_instances, pred_fields, data_samples)
