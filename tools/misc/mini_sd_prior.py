"""Is the miniature Stable Diffusion a prior? Before any GenLoc training: its held-out
denoising error with the caption, with an empty caption and for a random U-Net, and
the PCK of conditions made from keypoint names (docs/experiments.md, "GenLoc on a
miniature Stable Diffusion"). The logic is in genloc_mmpose/mini_sd/prior.py.

Usage: python tools/misc/mini_sd_prior.py [--sd demo/mini-sd] [--num 256] [--seed 0]
    [--out-json work_dirs/mini_sd_prior.json]
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.mini_sd.experiments import MINI_SD  # noqa: E402
from genloc_mmpose.mini_sd.prior import report  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sd', default=MINI_SD, help='the miniature SD folder')
    parser.add_argument('--num', type=int, default=256, help='held-out images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-json', default=None)
    args = parser.parse_args()
    print(report(args.sd, args.num, args.seed, args.out_json))


if __name__ == '__main__':
    main()
