"""Optimizer over the trained parameters only (conditions, LoRA), and AMP only where
there is an accelerator."""
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

# what MMEngine's AmpOptimWrapper accepts (it asserts one of these is available)
AMP_DEVICES = ('cuda', 'npu', 'mlu', 'musa')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` (``paramwise_cfg`` included) that skips
    frozen sub-modules, such as the Stable Diffusion U-Net and VAE weights, instead
    of logging a warning for each of their ~1000 tensors and keeping them in the
    optimizer's parameter groups.

    ``type='AmpOptimWrapper'`` on a machine without an accelerator (MMEngine's
    ``get_device()`` is not one of :data:`AMP_DEVICES`) builds a plain
    ``OptimWrapper`` (fp32; its ``dtype`` and ``loss_scale`` dropped) and logs it, so
    the SD configs train on a CPU as they are instead of failing in
    ``AmpOptimWrapper``'s assertion.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        if optim_wrapper_cfg.get('type') == 'AmpOptimWrapper' \
                and get_device() not in AMP_DEVICES:
            optim_wrapper_cfg = {k: v for k, v in optim_wrapper_cfg.items()
                                 if k not in ('dtype', 'loss_scale')}
            optim_wrapper_cfg['type'] = 'OptimWrapper'
            print_log(f'No accelerator ({get_device()}): AmpOptimWrapper -> OptimWrapper '
                      '(fp32 training).', logger='current')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params, module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        if any(p.requires_grad for p in module.parameters()):
            super().add_params(params, module, prefix, is_dcn_module)
