from .hooks import InvalidLossError, InvalidLossHook
from .optim_constructor import TrainableOptimWrapperConstructor

__all__ = ['InvalidLossError', 'InvalidLossHook', 'TrainableOptimWrapperConstructor']
