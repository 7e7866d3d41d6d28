"""FLOPs and parameters of a model: MMPose's own analysis_tools/get_flops.py with
the GenLoc modules registered (mmengine's FLOP counter, which traces the model).

Usage: python tools/analysis_tools/get_flops.py CONFIG [--input-shape H W]
       [--cfg-options KEY=VALUE ...]
Note MMPose's --input-shape order: H W (e.g. 256 192 for a 192x256 (W x H) crop).
GenLoc SD configs: add --cfg-options model.backbone.pretrained=None (the same
architecture with random weights) when no Stable Diffusion folder is at hand.
"""
import os.path as osp
import sys
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from genloc_mmpose.launcher import run_mmpose_tool  # noqa: E402  (registers GenLoc)

if __name__ == '__main__':
    run_mmpose_tool('analysis_tools/get_flops.py')
