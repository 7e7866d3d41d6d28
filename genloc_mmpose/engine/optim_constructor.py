"""Optimizer over the trained parameters only (conditions, LoRA)."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` (``paramwise_cfg`` included) that skips
    frozen sub-modules, such as the Stable Diffusion U-Net and VAE weights, instead
    of logging a warning for each of their ~1000 tensors and keeping them in the
    optimizer's parameter groups."""

    def add_params(self, params, module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        if any(p.requires_grad for p in module.parameters()):
            super().add_params(params, module, prefix, is_dcn_module)
