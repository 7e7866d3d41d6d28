"""Train a model: MMPose's own tools/train.py with the GenLoc modules registered.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
       [--cfg-options KEY=VALUE ...]   (python tools/train.py -h for all options)
Works with any MMPose config; GenLoc configs also import the plugin themselves.
"""
import os.path as osp
import runpy

import mmpose

import genloc_mmpose  # noqa: F401  (registers GenLoc into MMPose's registries)

if __name__ == '__main__':
    runpy.run_path(
        osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', 'train.py'),
        run_name='__main__')
