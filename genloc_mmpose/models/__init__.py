from .backbone import GenLocBackbone
from .ckhe import CKHEAttnProcessor
from .head import CorrelationMapHead
from .loss import HeatmapExpectationLoss

__all__ = ['GenLocBackbone', 'CKHEAttnProcessor', 'CorrelationMapHead',
           'HeatmapExpectationLoss']
