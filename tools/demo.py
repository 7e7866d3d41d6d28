"""The README's demo: GenLoc few-shot on the shipped miniature Stable Diffusion
(demo/mini-sd) beside random weights (genloc_mmpose/mini_sd/demo.py); installed, the
same command is ``genloc-demo``.

Usage: python tools/demo.py [--work-dir work_dirs/demo/creatures] [--sd demo/mini-sd]
    [--labels 25] [--iters 200] [--test-images 100] [--seed 0]
"""
import os.path as osp
import sys
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from genloc_mmpose.mini_sd.demo import cli  # noqa: E402

if __name__ == '__main__':
    cli()
