"""Train a model: MMPose's own tools/train.py with the GenLoc modules registered.

Usage: python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
       [--cfg-options KEY=VALUE ...]   (python tools/train.py -h for all options)
Works with any MMPose config; GenLoc configs also import the plugin themselves.
"""
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.launcher import run_mmpose_tool  # noqa: E402  (registers GenLoc)

if __name__ == '__main__':
    run_mmpose_tool('train.py')
