from .optim_constructor import TrainableOptimWrapperConstructor

__all__ = ['TrainableOptimWrapperConstructor']
