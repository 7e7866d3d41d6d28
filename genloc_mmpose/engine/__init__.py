from .checkpoint_hook import AtomicCheckpointHook
from .hooks import InvalidLossError, InvalidLossHook
from .optim_constructor import TrainableOptimWrapperConstructor

__all__ = ['AtomicCheckpointHook', 'InvalidLossError', 'InvalidLossHook', 'TrainableOptimWrapperConstructor']
