from .backbone import GenLocBackbone
from .ckhe import CKHEAttnProcessor
from .estimator import BatchFlipTopdownPoseEstimator
from .head import CorrelationMapHead
from .loss import HeatmapExpectationLoss

__all__ = ['GenLocBackbone', 'CKHEAttnProcessor', 'BatchFlipTopdownPoseEstimator',
           'CorrelationMapHead', 'HeatmapExpectationLoss']
