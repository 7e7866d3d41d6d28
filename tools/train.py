"""Train a model: MMPose's own tools/train.py with the GenLoc modules registered.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
       [--cfg-options KEY=VALUE ...]   (python tools/train.py -h for all options)
Works with any MMPose config; GenLoc configs also import the plugin themselves.
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
        osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', 'train.py'),
        run_name='__main__')
