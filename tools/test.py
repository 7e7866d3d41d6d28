"""Test a checkpoint: MMPose's own tools/test.py with the GenLoc modules registered.

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump FILE.pkl]
       [--show-dir DIR] [--cfg-options KEY=VALUE ...]   (-h for all options)
"""
import os.path as osp
import runpy
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

import mmpose  # noqa: E402
import torch  # noqa: E402

import genloc_mmpose  # noqa: F401,E402  (registers GenLoc into MMPose's registries)

if __name__ == '__main__':
    if not torch.cuda.is_available():
        # mmengine 0.10's PyTorch launcher calls torch.cuda.set_device even for gloo
        # on the CPU; without a GPU there is no device to set. (Multi-process CPU
        # runs also need --cfg-options model_wrapper_cfg.device_ids=None.)
        torch.cuda.set_device = lambda device: None
    runpy.run_path(
        osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', 'test.py'),
        run_name='__main__')
