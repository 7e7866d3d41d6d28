"""Test a checkpoint: MMPose's own tools/test.py with the GenLoc modules registered.

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump FILE.pkl]
       [--show-dir DIR] [--cfg-options KEY=VALUE ...]   (-h for all options)
"""
import os.path as osp
import runpy

import mmpose

import genloc_mmpose  # noqa: F401  (registers GenLoc into MMPose's registries)

if __name__ == '__main__':
    runpy.run_path(
        osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', 'test.py'),
        run_name='__main__')
