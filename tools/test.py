"""Test a checkpoint: MMPose's own tools/test.py with the GenLoc modules registered.

Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump FILE.pkl]
       [--show-dir DIR] [--cfg-options KEY=VALUE ...]   (-h for all options)
"""
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.launcher import run_mmpose_tool  # noqa: E402  (registers GenLoc)

if __name__ == '__main__':
    run_mmpose_tool('test.py')
